package template_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/waqtor/waqtor/template"
)

// Variables with fallbacks, the built-in date, and escapes. A variable with
// no value vanishes together with its extra space.
func ExampleParse() {
	t, err := template.Parse("Hello {{name}}, your code is {{code|unknown}} ({{date}}). Type \\{{help}} for help.")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC)
	fmt.Println(t.Render(map[string]string{"code": "X42"}, &template.RenderOpts{Now: now}))
	// Output:
	// Hello, your code is X42 (2026-05-01). Type {{help}} for help.
}

// Errors say where the template is wrong and what is wrong.
func ExampleParse_error() {
	_, err := template.Parse("Hi {{first name}}")
	fmt.Println(err)
	fmt.Println(errors.Is(err, template.ErrInvalid))
	// Output:
	// template: invalid template at byte 10: invalid character ' ' in variable name "first name" (names are letters, digits, _ - and .)
	// true
}

// A random variant is chosen by the seed: the same seed always gives the
// same text, different seeds spread the choices.
func ExampleTemplate_Render_random() {
	t := template.MustParse("{{random:Hi|Hello|Salam}} {{الاسم|صديقي}}!")
	for seed := range uint64(4) {
		fmt.Println(t.Render(map[string]string{"الاسم": "سارة"}, &template.RenderOpts{Seed: seed}))
	}
	// Output:
	// Hello سارة!
	// Hi سارة!
	// Salam سارة!
	// Salam سارة!
}

// A campaign checks its contact list before it sends anything.
func ExampleTemplate_Missing() {
	t := template.MustParse("Hi {{name}}, your {{plan|plan}} renews on {{renewal}}. Call {{phone}}.")
	fmt.Println(t.Variables())
	fmt.Println(t.Missing(map[string]string{"name": "Sara", "phone": "+201001234567"}))
	fmt.Println(t.Missing(map[string]string{"Name": "Omar", "renewal": "1 June"}))
	// Output:
	// [name plan renewal]
	// [renewal]
	// [phone]
}
