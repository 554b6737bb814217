package smartbot

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestStemEnglish(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ a, b string }{
		"plural":      {"cards", "card"},
		"ing":         {"activating", "activate"},
		"ed":          {"topped", "top"},
		"ies":         {"fees", "fee"},
		"ment":        {"replacement", "replace"},
		"ation":       {"activation", "activate"},
		"short stays": {"is", "is"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, stemEnglish(tt.b), stemEnglish(tt.a))
		})
	}
}

func TestStemArabic(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ in, want string }{
		"definite article":     {"الكتاب", "كتاب"},
		"wal prefix":           {"والكتاب", "كتاب"},
		"bal prefix":           {"بالسياره", "سيار"},
		"plural suffix":        {"معلمات", "معلم"},
		"possessive suffix":    {"كتابها", "كتاب"},
		"short word untouched": {"من", "من"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, stemArabic(Normalize(tt.in)))
		})
	}
}

func TestSkeletonArabizi(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ latin, arabic string }{
		"3ayez":   {"3ayez", "عايز"},
		"7abibi":  {"7abibi", "حبيبي"},
		"shukran": {"shokr", "شكر"},
		"mish":    {"mish", "مش"},
		"khalas":  {"5alas", "خلاص"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, skeleton(tt.latin))
			require.Equal(t, skeleton(Normalize(tt.arabic)), skeleton(tt.latin))
		})
	}
	require.Empty(t, skeleton("привет"))
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "Hello", "أَهْلاً", "٣ تذاكر", "😀", "a\xffb", "don't", "ﻻ", strings.Repeat("ا", 10), "3ayez a7gez"} {
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
		_ = DetectLanguage(s)
		_ = (&featurizer{charMin: 2, charMax: 5, skeleton: true}).extract(n)
	})
}
