package smartbot

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

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
// Normalize is safe for concurrent use. It does not cap the length of its
// input: [Matcher] does that before calling it (see [MatcherConfig.MaxInputBytes]).
func Normalize(s string) string {
	return squash(fold(s), true)
}

// fold applies the character-level normalization (validity, NFKC, case
// folding, accent and diacritic stripping, Arabic unification, digits) but
// keeps punctuation, so that regex triggers can still see it.
func fold(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if m, ok := mapRune(r); ok {
			if m >= 0 {
				b.WriteRune(m)
			}
			continue
		}
		b.WriteRune(r)
	}
	// Decompose to strip combining marks (accents, remaining Arabic marks)
	// after Latin and Arabic base letters only, then recompose.
	d := norm.NFD.String(b.String())
	b.Reset()
	strip := false
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) {
			if strip {
				continue
			}
			b.WriteRune(r)
			continue
		}
		strip = r < 0x250 || isArabic(r)
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// mapRune returns the replacement for r, -1 to drop it, and whether r is
// mapped at all.
func mapRune(r rune) (rune, bool) {
	switch {
	case r >= 0x0660 && r <= 0x0669: // Arabic-Indic digits
		return '0' + (r - 0x0660), true
	case r >= 0x06F0 && r <= 0x06F9: // Extended Arabic-Indic (Persian) digits
		return '0' + (r - 0x06F0), true
	case r >= 0x064B && r <= 0x065F, r == 0x0670, r >= 0x0610 && r <= 0x061A,
		r >= 0x06D6 && r <= 0x06DC, r >= 0x06DF && r <= 0x06E8, r >= 0x06EA && r <= 0x06ED:
		return -1, true // tashkeel, Quranic marks, superscript alef
	case r == 0x0640: // tatweel
		return -1, true
	case r == 0x0621: // standalone hamza
		return -1, true
	case r == 0x0622, r == 0x0623, r == 0x0625, r == 0x0671, r == 0x0672, r == 0x0673:
		return 0x0627, true // alef variants → bare alef
	case r == 0x0649, r == 0x06CC, r == 0x0626, r == 0x06D0:
		return 0x064A, true // alef maqsura, Farsi yeh, yeh with hamza → yeh
	case r == 0x0629:
		return 0x0647, true // ta marbuta → heh
	case r == 0x0624:
		return 0x0648, true // waw with hamza → waw
	case r == 0x06A9:
		return 0x0643, true // keheh → kaf
	case r == 0x06C1, r == 0x06BE, r == 0x06D5:
		return 0x0647, true // heh goal, heh doachashmee, ae → heh
	case r == 0x200C, r == 0x200D, r == 0x200E, r == 0x200F, r == 0xFEFF,
		r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return -1, true // joiners and bidi controls
	case unicode.IsControl(r) && r != '\n' && r != '\t':
		return -1, true
	}
	return 0, false
}

// isArabic reports whether r belongs to the Arabic script blocks.
func isArabic(r rune) bool {
	return (r >= 0x0600 && r <= 0x06FF) || (r >= 0x0750 && r <= 0x077F) ||
		(r >= 0x08A0 && r <= 0x08FF) || (r >= 0xFB50 && r <= 0xFDFF) || (r >= 0xFE70 && r <= 0xFEFF)
}

// isApostrophe reports whether r is an apostrophe-like character.
func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == '‘' || r == '`' || r == 'ʼ'
}

// squash turns punctuation and symbols into spaces (when words is true),
// removes apostrophes inside words, shortens long letter repetitions and
// collapses whitespace.
func squash(s string, words bool) string {
	var b strings.Builder
	b.Grow(len(s))
	var prev rune
	run := 0
	space := true // suppress leading spaces
	rs := []rune(s)
	for i, r := range rs {
		keep := unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
		if !keep && isApostrophe(r) && i > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]) {
			continue // "don't" → "dont"
		}
		if !keep && (words || unicode.IsSpace(r)) {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			prev, run = 0, 0
			continue
		}
		if r == prev && unicode.IsLetter(r) {
			run++
			limit := 2
			if isArabic(r) {
				limit = 1
				if run == 2 && i+1 < len(rs) && rs[i+1] != r {
					// exactly two identical Arabic letters are kept (rare but valid)
					limit = 2
				}
			}
			if run > limit {
				continue
			}
		} else {
			prev, run = r, 1
		}
		b.WriteRune(r)
		space = false
	}
	return strings.TrimRight(b.String(), " ")
}
