package template

import (
	"strings"
	"testing"
)

// benchSource is a campaign-sized message: a few variables, fallbacks, two
// random variants and the clock, in Arabic and English.
const benchSource = "{{random:Hi|Hello|Salam}} {{name|friend}}, أهلاً {{الاسم|صديقي}}!\n" +
	"Your order {{order}} ships on {{date}} at {{time}}. {{random:Thanks|Thank you|شكراً}}.\n" +
	"Questions? Reply here or call {{phone}}. Type \\{{stop}} to unsubscribe."

func BenchmarkParse(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSource)))
	for b.Loop() {
		if _, err := Parse(benchSource); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMax parses a template of MaxBytes made of variables.
func BenchmarkParseMax(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	unit := "Hi {{name|x}} "
	src := strings.Repeat(unit, MaxBytes/len(unit))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	tmpl := MustParse(benchSource)
	vars := map[string]string{"name": "Sara", "الاسم": "سارة", "order": "A-17", "phone": "+201001234567", "city": "Cairo"}
	opts := &RenderOpts{Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		opts.Seed++
		_ = tmpl.Render(vars, opts)
	}
}

// BenchmarkRenderMissing renders with no values, so every lookup falls back
// to the case-insensitive scan and the spaces are tidied.
func BenchmarkRenderMissing(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	tmpl := MustParse(benchSource)
	vars := map[string]string{"Email": "s@example.com", "City": "Cairo", "Zone": "A", "Tier": "gold"}
	opts := &RenderOpts{Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		_ = tmpl.Render(vars, opts)
	}
}

// BenchmarkMissing is the check a campaign runs per recipient at creation.
func BenchmarkMissing(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	tmpl := MustParse(benchSource)
	vars := map[string]string{"name": "Sara", "order": "A-17", "phone": "+201001234567"}
	b.ReportAllocs()
	for b.Loop() {
		_ = tmpl.Missing(vars)
	}
}
