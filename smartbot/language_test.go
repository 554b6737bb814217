package smartbot

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDetectLanguage(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   string
		want LanguageInfo
	}{
		"empty":               {"", LanguageInfo{}},
		"emoji only":          {"🎉🎉", LanguageInfo{}},
		"digits only":         {"12345", LanguageInfo{}},
		"english":             {"where is my card?", LanguageInfo{Lang: LangEnglish}},
		"arabic":              {"أين بطاقتي؟", LanguageInfo{Lang: LangArabic}},
		"arabic with digits":  {"أريد ٣ تذاكر", LanguageInfo{Lang: LangArabic}},
		"mixed":               {"أريد iPhone جديد", LanguageInfo{Lang: LangArabic, Mixed: true}},
		"arabizi digits":      {"ana 3ayez a7gez", LanguageInfo{Lang: LangArabic, Arabizi: true}},
		"arabizi words":       {"shukran ya habibi", LanguageInfo{Lang: LangArabic, Arabizi: true}},
		"ordinal not arabizi": {"meet me on the 2nd floor", LanguageInfo{Lang: LangEnglish}},
		"cyrillic":            {"привет", LanguageInfo{Lang: LangOther}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, DetectLanguage(tt.in))
		})
	}
}
