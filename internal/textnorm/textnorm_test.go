package textnorm

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
	}{
		"empty":                      {"", ""},
		"spaces only":                {"  \t\n ", ""},
		"case folding":               {"HeLLo World", "hello world"},
		"full-width NFKC":            {"ＨＥＬＬＯ １２３", "hello 123"},
		"sharp s folds":              {"Straße", "strasse"},
		"cherokee folds to capitals": {"ꭻᏸ Ꭻ", "ᎫᏰ Ꭻ"},
		"latin accents":              {"Café crème", "cafe creme"},
		"english punctuation":        {"Hi!!! How are you?", "hi how are you"},
		"apostrophe in word":         {"don't can’t", "dont cant"},
		"apostrophe at edge":         {"'quoted'", "quoted"},
		"latin elongation":           {"pleeeeease", "pleease"},
		"emoji only":                 {"😀🎉👍", ""},
		"emoji between words":        {"ok👍thanks", "ok thanks"},
		"control characters":         {"a\x00b\x07c", "abc"},
		"invalid utf8":               {"ab\xffcd", "abcd"},
		"bidi controls":              {"\u202bمرحبا\u202c", "مرحبا"},
		"zero width joiner":          {"a\u200db", "ab"},
		"arabic fatha kasra":         {"كَتَبَ", "كتب"},
		"arabic shadda tanween":      {"شكرًا مُحَمَّد", "شكرا محمد"},
		"arabic sukun":               {"أَنْتَ", "انت"},
		"tatweel":                    {"مـــرحبا", "مرحبا"},
		"alef with hamza above":      {"أحمد", "احمد"},
		"alef with hamza below":      {"إسلام", "اسلام"},
		"alef madda":                 {"آمن", "امن"},
		"alef wasla":                 {"ٱلله", "الله"},
		"alef maqsura":               {"على", "علي"},
		"farsi yeh":                  {"علی", "علي"},
		"yeh with hamza":             {"سائق", "سايق"},
		"ta marbuta":                 {"مدرسة", "مدرسه"},
		"waw with hamza":             {"مؤتمر", "موتمر"},
		"standalone hamza":           {"شيء سماء", "شي سما"},
		"keheh":                      {"کتاب", "كتاب"},
		"superscript alef":           {"هٰذا", "هذا"},
		"arabic-indic digits":        {"٠١٢٣٤٥٦٧٨٩", "0123456789"},
		"persian digits":             {"۱۲۳", "123"},
		"arabic comma question":      {"مرحبا، كيف حالك؟", "مرحبا كيف حالك"},
		"arabic semicolon":           {"نعم؛ لا", "نعم لا"},
		"arabic percent":             {"٥٠٪", "50"},
		"arabic elongation":          {"شكراااا", "شكرا"},
		"arabic double letter":       {"الله", "الله"},
		"presentation forms":         {"ﻻ", "لا"},
		"mixed script":               {"أريد iPhone ١٥", "اريد iphone 15"},
		"arabizi kept as is":         {"3ayez a7gez", "3ayez a7gez"},
		"rtl mark and latin":         {"\u200fhello\u200e", "hello"},
		"newlines become spaces":     {"a\nb\r\nc", "a b c"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Normalize(tt.in))
		})
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"أَهْلاً وسَهْلاً!", "HELLO wörld", "٣ تذاكر please", "don't"} {
		once := Normalize(s)
		require.Equal(t, once, Normalize(once), s)
	}
}

func TestFoldKeepsPunctuation(t *testing.T) {
	t.Parallel()
	require.Equal(t, "order #123!", Fold("ORDER #١٢٣!"))
}

// TestNormalizeIdempotentEveryRune checks every code point alone and after
// a letter: the fuzzer found Cherokee, which golang.org/x/text/cases.Fold
// swaps between capital and small letters.
func TestNormalizeIdempotentEveryRune(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("walks all of Unicode")
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		for _, s := range []string{string(r), "a" + string(r)} {
			if n := Normalize(s); Normalize(n) != n {
				t.Fatalf("U+%04X: %q → %q → %q", r, s, n, Normalize(n))
			}
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "Hello", "أَهْلاً", "٣ تذاكر", "😀", "a\xffb", "don't", "ﻻ", strings.Repeat("ا", 10), " stop! ", "إلغاء"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 output %q", n)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("untidy spaces in %q", n)
		}
		if Normalize(n) != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, Normalize(n))
		}
	})
}
