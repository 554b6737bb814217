package smartbot

import "github.com/waqtor/waqtor/internal/textnorm"

// Normalize returns the canonical matching form of a chat message. The same
// function is applied to rule triggers and to incoming messages, so they
// compare equal when a customer writes the "same" thing differently:
//
//   - invalid UTF-8 and control characters are dropped;
//   - Unicode NFKC and full case folding ("ＨＥＬＬＯ" → "hello", "Straße" → "strasse");
//   - accents and Arabic diacritics (tashkeel) are removed, as is tatweel (ـ);
//   - Arabic letter variants are unified: أ إ آ ٱ → ا, ى ی ئ → ي, ة → ه,
//     ؤ → و, standalone ء is dropped, ک → ك;
//   - Arabic-Indic (٠-٩) and Persian (۰-۹) digits become ASCII digits;
//   - apostrophes inside words are removed ("don't" → "dont");
//   - punctuation and symbols of both scripts (including ، ؛ ؟ and emoji)
//     become spaces;
//   - letters repeated three times or more are shortened ("pleeease" →
//     "pleease", "شكراااا" → "شكرا");
//   - runs of spaces are collapsed and the result is trimmed.
//
// It is the normalisation the Core applies to opt-out keywords
// (waqtor.Config.OptOutKeywords) as well, so a keyword and a trigger written
// alike match alike. Normalize is safe for concurrent use. It does not cap
// the length of its input: [Matcher] does that before calling it (see
// [MatcherConfig.MaxInputBytes]).
func Normalize(s string) string { return textnorm.Normalize(s) }

// fold applies the character-level normalization but keeps punctuation, so
// that regex triggers can still see it (see textnorm.Fold).
func fold(s string) string { return textnorm.Fold(s) }

// squash turns punctuation into spaces when words is true, and tidies
// letters and spaces (see textnorm.Squash).
func squash(s string, words bool) string { return textnorm.Squash(s, words) }

// isArabic reports whether r belongs to the Arabic script blocks.
func isArabic(r rune) bool { return textnorm.IsArabic(r) }
