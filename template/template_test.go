package template

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 3, 4, 17, 5, 0, 0, time.UTC)

var testVars = map[string]string{"name": "Sara", "phone": "+201234", "order": "A-17"}

// renderCases are rendered at testNow with seed 0; FuzzParse starts from
// their sources too.
var renderCases = map[string]struct {
	src  string
	vars map[string]string
	want string
}{
	"plain text":                {"Hello", testVars, "Hello"},
	"empty":                     {"", testVars, ""},
	"name":                      {"Hello {{name}}!", testVars, "Hello Sara!"},
	"spaces inside braces":      {"Hello {{ name }}!", testVars, "Hello Sara!"},
	"phone and custom":          {"{{phone}} order {{order}}", testVars, "+201234 order A-17"},
	"fallback unused":           {"Hi {{name|friend}}", testVars, "Hi Sara"},
	"fallback used":             {"Hi {{name|friend}}", nil, "Hi friend"},
	"fallback with spaces":      {"Hi {{name | dear customer }}", nil, "Hi dear customer"},
	"fallback with colon":       {"At {{when|9:00}}", nil, "At 9:00"},
	"empty fallback":            {"Hi {{name|}}, welcome", nil, "Hi, welcome"},
	"empty value uses fallback": {"Hi {{name|friend}}", map[string]string{"name": ""}, "Hi friend"},
	"blank value uses fallback": {"Hi {{name|friend}}", map[string]string{"name": " \t"}, "Hi friend"},
	"value kept as is":          {"[{{name}}]", map[string]string{"name": " Sara "}, "[ Sara ]"},
	"missing before comma":      {"Hello {{name}}, welcome", nil, "Hello, welcome"},
	"missing mid sentence":      {"Hi {{name}} how are you", nil, "Hi how are you"},
	"missing at end":            {"Thanks {{name}}", nil, "Thanks"},
	"missing at start":          {"{{name}} welcome", nil, "welcome"},
	"missing before newline":    {"Hi {{name}}\nBye", nil, "Hi\nBye"},
	"missing after newline":     {"Hi\n{{name}} there", nil, "Hi\nthere"},
	"two missing":               {"Hi {{a}} {{b}} there", nil, "Hi there"},
	"missing phone":             {"Call {{phone}} now", nil, "Call now"},
	"date default":              {"Today is {{date}}", nil, "Today is 2026-03-04"},
	"time default":              {"It is {{time}}", nil, "It is 17:05"},
	"built-in in any case":      {"{{Date}} {{TIME}}", nil, "2026-03-04 17:05"},
	"date overridden":           {"{{date}}", map[string]string{"date": "tomorrow"}, "tomorrow"},
	"blank date is the clock":   {"{{date}}", map[string]string{"date": " "}, "2026-03-04"},
	"escaped braces":            {`Use \{{name}} literally`, testVars, "Use {{name}} literally"},
	"escaped unclosed":          {`a \{{ b`, nil, "a {{ b"},
	"escaped closing":           {`a \}} b`, nil, "a }} b"},
	"single braces untouched":   {"{a} {b}", nil, "{a} {b}"},
	"value not re-parsed":       {"{{name}}", map[string]string{"name": "{{phone}}"}, "{{phone}}"},
	"variable named random":     {"{{random}}", map[string]string{"random": "r"}, "r"},
	"arabic":                    {"أهلاً {{name|صديقي}}، كيف أساعدك؟", nil, "أهلاً صديقي، كيف أساعدك؟"},
	"arabic missing name":       {"أهلاً {{name}}، كيف أساعدك؟", nil, "أهلاً، كيف أساعدك؟"},
	"arabic variable name":      {"مرحباً {{الاسم}}", map[string]string{"الاسم": "سارة"}, "مرحباً سارة"},
	"arabic name with marks":    {"{{الاسمُ}}", map[string]string{"الاسمُ": "سارة"}, "سارة"},
	"arabic-indic digits":       {"{{عمود٢}}", map[string]string{"عمود٢": "x"}, "x"},
	"dotted and dashed names":   {"{{order.id}}/{{first-name}}/{{a_b}}", map[string]string{"order.id": "1", "first-name": "2", "a_b": "3"}, "1/2/3"},
	"case-insensitive lookup":   {"Hi {{Name}}", testVars, "Hi Sara"},
	"exact case wins":           {"Hi {{name}}", map[string]string{"Name": "Upper", "name": "lower"}, "Hi lower"},
	"first key in sort order":   {"Hi {{name}}", map[string]string{"NAME": "A", "Name": "B"}, "Hi A"},
	"blank exact falls to fold": {"Hi {{name}}", map[string]string{"name": "", "Name": "Sara"}, "Hi Sara"},
	"single random":             {"{{random:Hi}}", nil, "Hi"},
	"random keyword any case":   {"{{ Random : Hi }} there", nil, "Hi there"},
}

func TestRender(t *testing.T) {
	t.Parallel()
	for name, tt := range renderCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := Parse(tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.want, tmpl.Render(tt.vars, &RenderOpts{Now: testNow}))
			require.Equal(t, tt.src, tmpl.String())
		})
	}
}

// parseErrorCases are sources Parse refuses, with the offset and the words
// of the error; FuzzParse starts from them too.
var parseErrorCases = map[string]struct {
	src    string
	offset int
	msg    string
}{
	"unclosed":               {"Hello {{name", 6, "unclosed {{"},
	"unmatched closing":      {"Hello }}", 6, "unmatched }}"},
	"empty name":             {"{{}}", 2, "empty variable name"},
	"blank name":             {"{{  |x}}", 2, "empty variable name"},
	"space in name":          {"{{first name}}", 7, `invalid character ' ' in variable name "first name"`},
	"bad character offset":   {"Hi {{ ab$c }}", 8, `invalid character '$'`},
	"arabic bad character":   {"{{الاسم؟}}", 12, `invalid character '؟'`},
	"nested":                 {"{{a{{b}}}}", 3, "nested {{ inside the {{ at byte 0"},
	"stray closing brace":    {"{{a}}}", 5, "stray }"},
	"brace in fallback":      {"{{a|{b}}", 4, `brace in the fallback of "a"`},
	"closing in fallback":    {"{{a|x}y}}", 5, `brace in the fallback of "a"`},
	"two fallbacks":          {"{{name|a|b}}", 8, "second |"},
	"unknown keyword":        {"{{rand:a|b}}", 6, `invalid character ':' in variable name "rand"`},
	"random without choices": {"{{random:}}", 9, "at least one non-empty alternative"},
	"random all empty":       {"{{random: | }}", 9, "at least one non-empty alternative"},
	"random nested":          {"{{random:a|{b}|c}}", 11, "brace in a random alternative"},
	"random nested variable": {"{{random:a|{{b}}}}", 11, "nested {{"},
	"invalid utf-8":          {"ok \xff", 3, "invalid UTF-8"},
	"too long":               {strings.Repeat("x", MaxBytes+1), MaxBytes, "longer than the limit of 65536 bytes"},
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for name, tt := range parseErrorCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := Parse(tt.src)
			require.Nil(t, tmpl)
			require.ErrorIs(t, err, ErrInvalid)
			require.NotErrorIs(t, err, ErrEmpty)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tt.offset, pe.Offset, "offset")
			require.Contains(t, err.Error(), tt.msg)
			require.Contains(t, err.Error(), fmt.Sprintf("template: invalid template at byte %d: ", tt.offset))
		})
	}
}

func TestParseMaxBytes(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse(strings.Repeat("x", MaxBytes))
	require.NoError(t, err)
	require.Len(t, tmpl.Render(nil, nil), MaxBytes)
}

func TestParseNonEmpty(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"empty":           "",
		"spaces":          "  \n\t ",
		"no-break space":  "\u00a0",
		"direction marks": "\u200f \u200e\u200b\ufeff",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseNonEmpty(src)
			require.ErrorIs(t, err, ErrEmpty)
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), "template: invalid template at byte 0: the template has no text")

			tmpl, err := Parse(src)
			require.NoError(t, err, "Parse accepts it")
			require.Equal(t, src, tmpl.Render(nil, nil))
		})
	}
	tmpl, err := ParseNonEmpty(" {{name|x}} ")
	require.NoError(t, err)
	require.Equal(t, " x ", tmpl.Render(nil, nil))
	_, err = ParseNonEmpty("  {{name")
	require.ErrorIs(t, err, ErrInvalid)
	require.NotErrorIs(t, err, ErrEmpty)
	_, err = ParseNonEmpty(strings.Repeat(" ", MaxBytes+1))
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), "MaxBytes")
}

func TestMustParse(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Hi friend", MustParse("Hi {{name|friend}}").Render(nil, nil))
	require.PanicsWithError(t, "template: invalid template at byte 3: unclosed {{ (escape a literal one as \\{{)", func() { MustParse("Hi {{name") })
}

func TestRandomSpread(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("{{random:Hi|Hello|Salam}} Sara")
	counts := map[string]int{}
	for seed := range uint64(1000) {
		counts[tmpl.Render(nil, &RenderOpts{Seed: seed})]++
	}
	require.Len(t, counts, 3, "every variant and nothing else: %v", counts)
	for _, v := range []string{"Hi Sara", "Hello Sara", "Salam Sara"} {
		require.GreaterOrEqual(t, counts[v], 200, "variant %q got %d of 1000: %v", v, counts[v], counts)
	}
}

// TestRandomEmptyAlternative: an empty alternative says nothing, and the
// spaces around it are tidied as for an empty variable.
func TestRandomEmptyAlternative(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("Hi {{random:|dear}} {{name}}, {{random:|ok}}")
	counts := map[string]int{}
	for seed := range uint64(100) {
		counts[tmpl.Render(map[string]string{"name": "Sara"}, &RenderOpts{Seed: seed})]++
	}
	require.Len(t, counts, 4, "%v", counts)
	for _, want := range []string{"Hi Sara,", "Hi dear Sara,", "Hi Sara, ok", "Hi dear Sara, ok"} {
		require.Positive(t, counts[want], "%q never rendered: %v", want, counts)
	}
}

// TestRandomIndependent: two random parts in one template choose
// independently, so every combination shows up.
func TestRandomIndependent(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("{{random:a|b|c}}{{random:1|2|3}}")
	counts := map[string]int{}
	for seed := range uint64(900) {
		counts[tmpl.Render(nil, &RenderOpts{Seed: seed})]++
	}
	require.Len(t, counts, 9, "%v", counts)
	for combo, n := range counts {
		require.GreaterOrEqual(t, n, 50, "combination %q got %d of 900", combo, n)
	}
}

// TestRandomStable pins the choices for a few seeds: a campaign that
// re-renders a recipient after a crash or an upgrade must get the text it
// rendered before. A change here breaks that promise.
func TestRandomStable(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("{{random:a|b|c|d|e|f|g}}{{random:1|2|3|4|5|6|7}}")
	var got []string
	for seed := range uint64(8) {
		got = append(got, tmpl.Render(nil, &RenderOpts{Seed: seed}))
	}
	got = append(got, tmpl.Render(nil, &RenderOpts{Seed: 1 << 63}), tmpl.Render(nil, &RenderOpts{Seed: ^uint64(0)}))
	require.Equal(t, []string{"e3", "a7", "f6", "f4", "a7", "b5", "d2", "c4", "c6", "b5"}, got)

	// Same seed, same text, whatever else changes.
	for seed := range uint64(50) {
		a := tmpl.Render(map[string]string{"x": "1"}, &RenderOpts{Seed: seed})
		b := tmpl.Render(nil, &RenderOpts{Seed: seed, Now: testNow})
		require.Equal(t, a, b)
	}
	require.Equal(t, tmpl.Render(nil, nil), tmpl.Render(nil, &RenderOpts{}), "nil options are seed 0")
}

// TestSeedFor pins the seeds of a few keys (a campaign stores none: it
// derives them again after a restart) and checks that keys are separated.
func TestSeedFor(t *testing.T) {
	t.Parallel()
	require.Equal(t, []uint64{0xc3817c016ba4ff30, 0x71b8262bb6e2e086, 0xed41b91a401d1882, 0xf51e0a8ad24ab000}, []uint64{SeedFor(), SeedFor(""), SeedFor("cmp_1", "+201001234567"), SeedFor("cmp_1", "+201001234568")})
	require.NotEqual(t, SeedFor("ab", "c"), SeedFor("a", "bc"))
	require.NotEqual(t, SeedFor("a", ""), SeedFor("a"))
	require.NotEqual(t, SeedFor("", "a"), SeedFor("a"))
	long := strings.Repeat("x", 300)
	require.NotEqual(t, SeedFor(long, "y"), SeedFor(long+"y"))

	tmpl := MustParse("{{random:Hi|Hello|Salam}}")
	counts := map[string]int{}
	for i := range 900 {
		counts[tmpl.Render(nil, &RenderOpts{Seed: SeedFor("cmp_1", fmt.Sprintf("+2010%08d", i))})]++
	}
	for v, n := range counts {
		require.GreaterOrEqual(t, n, 200, "variant %q got %d of 900 recipients: %v", v, n, counts)
	}
	require.Len(t, counts, 3)
}

func TestRenderClock(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("{{date}} {{time}}")
	cairo := time.FixedZone("Cairo", 2*60*60)
	late := time.Date(2026, 3, 4, 23, 30, 0, 0, time.UTC)
	require.Equal(t, "2026-03-04 23:30", tmpl.Render(nil, &RenderOpts{Now: late}), "UTC by default")
	require.Equal(t, "2026-03-05 01:30", tmpl.Render(nil, &RenderOpts{Now: late, Location: cairo}))
	inCairo := late.In(cairo)
	require.Equal(t, "2026-03-04 23:30", tmpl.Render(nil, &RenderOpts{Now: inCairo}), "Now's own zone is not used")
	require.Equal(t, "2026-03-05 01:30", tmpl.Render(nil, &RenderOpts{Now: inCairo, Location: inCairo.Location()}))

	before := time.Now().UTC().Truncate(time.Minute)
	got := tmpl.Render(nil, nil)
	after := time.Now().UTC()
	require.Contains(t, []string{before.Format("2006-01-02 15:04"), after.Format("2006-01-02 15:04")}, got, "the zero Now is the time of the call")
}

func TestVariables(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		src  string
		want []string
	}{
		"none":               {"Hello", nil},
		"sorted unique":      {"{{order}} {{name}} {{name|x}} {{Name}}", []string{"Name", "name", "order"}},
		"built-ins left out": {"{{phone}} {{date}} {{TIME}} {{Phone|-}} {{city}}", []string{"city"}},
		"random left out":    {"{{random:a|b}} {{random}}", []string{"random"}},
		"escapes left out":   {`\{{name}} {{الاسم}}`, []string{"الاسم"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, MustParse(tt.src).Variables())
		})
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("{{name}} {{city|Cairo}} {{order}} {{order}} {{phone}} {{date}} {{time}} {{note|}} {{Zone}} {{random:a|}}")
	tests := map[string]struct {
		vars map[string]string
		want []string
	}{
		"nothing":                 {nil, []string{"Zone", "name", "order", "phone"}},
		"all":                     {map[string]string{"name": "S", "order": "1", "phone": "+20", "zone": "z"}, nil},
		"blank counts as none":    {map[string]string{"name": " ", "order": "1", "phone": "+20", "zone": "z"}, []string{"name"}},
		"case-insensitive":        {map[string]string{"NAME": "S", "Order": "1", "PHONE": "+20", "ZONE": "z"}, nil},
		"fallbacks never missing": {map[string]string{"name": "S", "order": "1", "phone": "+20", "Zone": "z", "city": ""}, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tmpl.Missing(tt.vars))
		})
	}
	// A name used once with a fallback and once without is missing.
	require.Equal(t, []string{"name"}, MustParse("{{name|x}} {{name}}").Missing(nil))
}

// TestRenderConcurrent: one Template rendered from many goroutines (run
// with -race).
func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	tmpl := MustParse("Hi {{name|friend}}, {{random:a|b|c}} {{date}}")
	want := tmpl.Render(map[string]string{"name": "S"}, &RenderOpts{Seed: 7, Now: testNow})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 200 {
				if got := tmpl.Render(map[string]string{"name": "S"}, &RenderOpts{Seed: 7, Now: testNow}); got != want {
					errs <- fmt.Errorf("got %q, want %q", got, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

// fuzzSeeds are the table cases' sources and a few more, so the fuzzer
// starts from every construct the syntax has.
func fuzzSeeds() []string {
	seeds := []string{"{{a}} {{b}}, c", "{{", "{ {{a}}{", "{\\{{x}}", "{\\{{{}}", "Hi {{random:|dear}} {{name}}, {{random:|ok}}"}
	for _, c := range renderCases {
		seeds = append(seeds, c.src)
	}
	for _, c := range parseErrorCases {
		if len(c.src) < 1024 {
			seeds = append(seeds, c.src)
		}
	}
	slices.Sort(seeds) // a stable corpus order
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, "Sara", uint64(1))
	}
	f.Fuzz(func(t *testing.T, src, value string, seed uint64) {
		tmpl, err := Parse(src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a *ParseError wrapping ErrInvalid", err)
			}
			if pe.Offset < 0 || pe.Offset > len(src) {
				t.Fatalf("offset %d outside the source of %d bytes", pe.Offset, len(src))
			}
			return
		}
		if tmpl.String() != src {
			t.Fatalf("String() = %q, want %q", tmpl.String(), src)
		}
		vs := tmpl.Variables()
		if !slices.IsSorted(vs) || len(slices.Compact(slices.Clone(vs))) != len(vs) {
			t.Fatalf("Variables() = %q is not sorted and unique", vs)
		}
		for _, m := range tmpl.Missing(nil) {
			if !slices.Contains(vs, m) && !strings.EqualFold(m, BuiltinPhone) {
				t.Fatalf("Missing(nil) has %q, which Variables() = %q lacks", m, vs)
			}
		}
		opts := &RenderOpts{Now: testNow, Seed: seed}
		out := tmpl.Render(nil, opts)
		if out != tmpl.Render(nil, opts) {
			t.Fatal("two renders with the same seed differ")
		}
		// Without values, every {{ or }} in the output comes from an escape,
		// and rendering never makes up a brace.
		if !strings.Contains(src, `\{{`) && !strings.Contains(src, `\}}`) && (strings.Contains(out, "{{") || strings.Contains(out, "}}")) {
			t.Fatalf("raw braces in %q rendered from %q", out, src)
		}
		for _, b := range []string{"{", "}"} {
			if strings.Count(out, b) > strings.Count(src, b) {
				t.Fatalf("more %s in %q than in its source %q", b, out, src)
			}
		}
		vars := map[string]string{BuiltinPhone: value}
		for _, v := range vs {
			vars[v] = value
		}
		_ = tmpl.Render(vars, opts)
		if len(tmpl.Missing(vars)) > 0 && !isBlank(value) {
			t.Fatalf("Missing(%q) = %q", vars, tmpl.Missing(vars))
		}
	})
}
