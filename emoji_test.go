package waqtor

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var emojiCases = map[string]struct {
	in   string
	want bool
}{
	"ThumbsUp":            {"👍", true},
	"HeartWithVS16":       {"❤️", true},
	"HeartBare":           {"❤", true},
	"SkinTone":            {"👍🏽", true},
	"ZWJFamily":           {"👨‍👩‍👧‍👦", true},
	"ZWJProfession":       {"👩🏽‍💻", true},
	"ZWJRainbowFlag":      {"🏳️‍🌈", true},
	"ZWJCoupleSkinTones":  {"🧑🏻‍❤️‍💋‍🧑🏼", true},
	"FlagEgypt":           {"🇪🇬", true},
	"FlagScotland":        {"🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", true},
	"KeycapOne":           {"1️⃣", true},
	"KeycapHash":          {"#️⃣", true},
	"KeycapUnqualified":   {"1⃣", true},
	"Copyright":           {"©️", true},
	"NewerEmoji":          {"\U0001FAE9", true}, // face with bags under eyes (Emoji 16.0)
	"Empty":               {"", false},
	"Word":                {"not an emoji", false},
	"Letter":              {"a", false},
	"Digit":               {"1", false},
	"DigitVS16":           {"1️", false},
	"Hash":                {"#", false},
	"TwoEmoji":            {"👍👍", false},
	"EmojiAndText":        {"👍 ok", false},
	"LeadingSpace":        {" 👍", false},
	"TwoFlags":            {"🇪🇬🇺🇸", false},
	"LoneRegional":        {"🇪", false},
	"ThreeRegionals":      {"🇪🇬🇺", false},
	"TrailingZWJ":         {"👍\u200d", false},
	"LeadingZWJ":          {"\u200d👍", false},
	"DoubleZWJ":           {"👨\u200d\u200d👩", false},
	"LoneZWJ":             {"\u200d", false},
	"LoneVS16":            {"\ufe0f", false},
	"TextPresentation":    {"❤\ufe0e", false},
	"ModifierThenVS":      {"👍🏽\ufe0f", false},
	"TwoModifiers":        {"👍🏽🏽", false},
	"LoneModifier":        {"🏽", false},
	"ModifierPair":        {"🏽🏽", false},
	"UnterminatedTags":    {"🏴\U000E0067\U000E0062", false},
	"KeycapWithoutMark":   {"1\ufe0f", false},
	"CombiningMark":       {"👍\u0301", false},
	"InvalidUTF8":         {"\xff", false},
	"ControlChar":         {"\x00", false},
	"TooManyZWJElements":  {strings.Repeat("👨\u200d", 8) + "👨", false},
	"ArabicLetter":        {"ع", false},
	"CJK":                 {"中", false},
	"PictographBlockChar": {"🤔", true},
}

func TestIsEmoji(t *testing.T) {
	t.Parallel()
	for name, tt := range emojiCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, isEmoji(tt.in), "%q", tt.in)
		})
	}
}

// FuzzIsEmoji checks properties any answer must have: an emoji is short valid
// UTF-8 without letters, digits standing alone, spaces or controls; two
// emoji side by side, or an emoji with anything around it but a ZWJ and
// another emoji, are never one emoji.
func FuzzIsEmoji(f *testing.F) {
	for _, c := range emojiCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isEmoji(s) {
			return
		}
		require.True(t, utf8.ValidString(s))
		require.LessOrEqual(t, len(s), maxEmojiBytes)
		for _, r := range s {
			require.False(t, unicode.IsLetter(r) || unicode.IsSpace(r) || unicode.IsControl(r), "%q in %q", r, s)
		}
		if r, _ := utf8.DecodeRuneInString(s); r >= '0' && r <= '9' || r == '#' || r == '*' {
			require.True(t, strings.HasSuffix(s, "\u20e3") || strings.Contains(s, "\u20e3\u200d"), "a digit only as a keycap: %q", s)
		}
		require.False(t, isEmoji(s+s), "two emoji %q are not one", s+s)
		require.False(t, isEmoji(s+"a"), "trailing text")
		require.False(t, isEmoji("a"+s), "leading text")
		require.False(t, isEmoji(s+"\u200d"), "trailing joiner")
		require.False(t, isEmoji(s+" "), "trailing space")
	})
}
