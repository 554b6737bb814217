package smartbot

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTemplateRender(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 17, 5, 0, 0, time.UTC)
	vars := map[string]string{"name": "Sara", "phone": "+201234", "order": "A-17"}
	tests := map[string]struct {
		src  string
		vars map[string]string
		want string
	}{
		"plain text":                {"Hello", vars, "Hello"},
		"name":                      {"Hello {{name}}!", vars, "Hello Sara!"},
		"spaces inside braces":      {"Hello {{ name }}!", vars, "Hello Sara!"},
		"phone and custom":          {"{{phone}} order {{order}}", vars, "+201234 order A-17"},
		"fallback unused":           {"Hi {{name|friend}}", vars, "Hi Sara"},
		"fallback used":             {"Hi {{name|friend}}", nil, "Hi friend"},
		"fallback with spaces":      {"Hi {{name | dear customer }}", nil, "Hi dear customer"},
		"empty value uses fallback": {"Hi {{name|friend}}", map[string]string{"name": ""}, "Hi friend"},
		"missing before comma":      {"Hello {{name}}, welcome", nil, "Hello, welcome"},
		"missing mid sentence":      {"Hi {{name}} how are you", nil, "Hi how are you"},
		"missing at end":            {"Thanks {{name}}", nil, "Thanks"},
		"missing at start":          {"{{name}} welcome", nil, "welcome"},
		"missing before newline":    {"Hi {{name}}\nBye", nil, "Hi\nBye"},
		"two missing":               {"Hi {{a}} {{b}} there", nil, "Hi there"},
		"date default":              {"Today is {{date}}", nil, "Today is 2026-03-04"},
		"time default":              {"It is {{time}}", nil, "It is 17:05"},
		"date overridden":           {"{{date}}", map[string]string{"date": "tomorrow"}, "tomorrow"},
		"escaped braces":            {`Use \{{name}} literally`, vars, "Use {{name}} literally"},
		"escaped closing":           {`a \}} b`, nil, "a }} b"},
		"single braces untouched":   {"{a} {b}", nil, "{a} {b}"},
		"value not re-parsed":       {"{{name}}", map[string]string{"name": "{{phone}}"}, "{{phone}}"},
		"arabic":                    {"أهلاً {{name|صديقي}}، كيف أساعدك؟", nil, "أهلاً صديقي، كيف أساعدك؟"},
		"arabic missing name":       {"أهلاً {{name}}، كيف أساعدك؟", nil, "أهلاً، كيف أساعدك؟"},
		"unicode variable name":     {"{{الاسم}}", map[string]string{"الاسم": "سارة"}, "سارة"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := ParseTemplate(tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.want, tmpl.RenderAt(tt.vars, now))
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ src string }{
		"unclosed":           {"Hello {{name"},
		"unmatched closing":  {"Hello }}"},
		"empty name":         {"{{}}"},
		"blank name":         {"{{  |x}}"},
		"bad name character": {"{{first name}}"},
		"nested":             {"{{a{{b}}}}"},
		"brace in fallback":  {"{{a|{b}}"},
		"too long":           {strings.Repeat("x", MaxTemplateBytes+1)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTemplate(tt.src)
			require.ErrorIs(t, err, ErrInvalidTemplate)
			require.Contains(t, err.Error(), "smartbot: ")
		})
	}
}

func TestTemplateVariables(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate("{{name}} {{phone|-}} {{name}} {{date}}")
	require.NoError(t, err)
	require.Equal(t, []string{"name", "phone", "date"}, tmpl.Variables())
	require.Equal(t, "{{name}} {{phone|-}} {{name}} {{date}}", tmpl.String())
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "Hello {{name|friend}}", `\{{x}}`, "{{a}} {{b}}, c", "}}", "{{", "{{date}} {{time}}", "أهلاً {{name}}،"} {
		f.Add(s, "Sara")
	}
	f.Fuzz(func(t *testing.T, src, value string) {
		tmpl, err := ParseTemplate(src)
		if err != nil {
			return
		}
		if strings.Contains(value, "{{") || strings.Contains(value, "}}") {
			value = ""
		}
		escaped := strings.Contains(src, `\{{`) || strings.Contains(src, `\}}`)
		for _, vars := range []map[string]string{nil, {"name": value}} {
			out := tmpl.RenderAt(vars, time.Unix(0, 0).UTC())
			if !escaped && (strings.Contains(out, "{{") || strings.Contains(out, "}}")) {
				t.Fatalf("raw braces in %q rendered from %q", out, src)
			}
		}
	})
}
