// Package textnorm is the text normalisation shared by the Core (opt-out
// keywords) and smartbot (rule matching): one function, so that a keyword and
// a trigger written the same way match the same messages. It is internal: its
// API is not promised to stay stable.
package textnorm

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
// input: callers bound it first.
func Normalize(s string) string {
	return Squash(Fold(s), true)
}

// Fold applies the character-level normalization (validity, NFKC, case
// folding, accent and diacritic stripping, Arabic unification, digits) but
// keeps punctuation, so that regex triggers can still see it.
func Fold(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	// Decompose, so that letters with a hamza or madda mark become their
	// base letter plus a mark; then map letters and strip combining marks
	// (accents, tashkeel) after Latin and Arabic base letters only.
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	strip := false
	for _, r := range d {
		if m, ok := mapRune(r); ok {
			if m >= 0 {
				b.WriteRune(m)
				strip = true
			}
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			if !strip {
				b.WriteRune(r)
			}
			continue
		}
		strip = r < 0x250 || IsArabic(r)
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
	case r >= 0xAB70 && r <= 0xABBF: // Cherokee small letters
		return 0x13A0 + (r - 0xAB70), true
	case r >= 0x13F8 && r <= 0x13FD:
		// Unicode folds Cherokee to its capital letters, but
		// golang.org/x/text/cases.Fold swaps capital and small, which
		// would make Normalize flip a Cherokee word on every call.
		return 0x13F0 + (r - 0x13F8), true
	case unicode.IsControl(r) && r != '\n' && r != '\t':
		return -1, true
	}
	return 0, false
}

// IsArabic reports whether r belongs to the Arabic script blocks.
func IsArabic(r rune) bool {
	return (r >= 0x0600 && r <= 0x06FF) || (r >= 0x0750 && r <= 0x077F) ||
		(r >= 0x08A0 && r <= 0x08FF) || (r >= 0xFB50 && r <= 0xFDFF) || (r >= 0xFE70 && r <= 0xFEFF)
}

// isApostrophe reports whether r is an apostrophe-like character.
func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == '‘' || r == '`' || r == 'ʼ'
}

// Squash turns punctuation and symbols into spaces (when words is true),
// removes apostrophes inside words, shortens long letter repetitions and
// collapses whitespace.
func Squash(s string, words bool) string {
	in := []rune(s)
	// Pass 1: drop apostrophes inside words, turn separators into spaces.
	rs := make([]rune, 0, len(in))
	for i, r := range in {
		mark := unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Me, r)
		keep := unicode.IsLetter(r) || unicode.IsNumber(r) || mark
		switch {
		case mark && (len(rs) == 0 || rs[len(rs)-1] == ' '):
			// a combining mark with nothing to combine with
		case keep:
			rs = append(rs, r)
		case isApostrophe(r) && i > 0 && i+1 < len(in) && unicode.IsLetter(in[i-1]) && unicode.IsLetter(in[i+1]):
			// "don't" → "dont"
		case words || unicode.IsSpace(r):
			rs = append(rs, ' ')
		default:
			rs = append(rs, r)
		}
	}
	// Pass 2: collapse spaces and shorten letter runs.
	var b strings.Builder
	b.Grow(len(s))
	space := true // suppress leading spaces
	for i := 0; i < len(rs); {
		r := rs[i]
		if r == ' ' {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			i++
			continue
		}
		n := 1
		for i+n < len(rs) && rs[i+n] == r {
			n++
		}
		keep := n
		if unicode.IsLetter(r) {
			switch {
			case IsArabic(r) && n > 2:
				keep = 1 // "شكراااا" → "شكرا"; a doubled letter is kept
			case !IsArabic(r) && n > 2:
				keep = 2 // "pleeease" → "pleease"
			}
		}
		for range keep {
			b.WriteRune(r)
		}
		space = false
		i += n
	}
	return strings.TrimRight(b.String(), " ")
}
