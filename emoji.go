package waqtor

import (
	"unicode/utf8"

	"go.mau.fi/util/emojirunes"
)

// Code points of emoji sequences (Unicode Technical Standard #51).
const (
	zwj             = 0x200D // ZERO WIDTH JOINER: glues emoji into one (👨‍👩‍👧)
	emojiVS         = 0xFE0F // VARIATION SELECTOR-16: emoji presentation
	textVS          = 0xFE0E // VARIATION SELECTOR-15: text presentation
	keycapMark      = 0x20E3 // COMBINING ENCLOSING KEYCAP
	regionalA       = 0x1F1E6
	regionalZ       = 0x1F1FF
	modifierFirst   = 0x1F3FB // skin tones, light to dark
	modifierLast    = 0x1F3FF
	tagFirst        = 0xE0020
	tagLast         = 0xE007E
	cancelTag       = 0xE007F
	maxEmojiBytes   = 64 // the longest RGI emoji (a couple with skin tones) is 35 bytes
	maxZWJElements  = 8
	pictographBegin = 0x1F900 // blocks where new emoji keep being added:
	pictographEnd   = 0x1FAFF // Supplemental Symbols and Pictographs, Extended-A
)

// isEmoji reports whether s is exactly one emoji, as WhatsApp takes for a
// reaction: a single emoji character (optionally with VS-16 and a skin tone),
// a flag (two regional indicators), a keycap (0-9, # or * with VS-16 and the
// keycap mark), a tag sequence (🏴 with tags, as the flag of Scotland), or
// such elements joined by ZWJ (👩🏽‍💻, 🏳️‍🌈). It follows UTS #51's emoji
// sequence grammar; emoji characters are those of Unicode's emoji-test data
// (go.mau.fi/util/emojirunes), plus the pictograph blocks where future emoji
// are assigned, so a newer emoji than that data is not refused.
func isEmoji(s string) bool {
	if s == "" || len(s) > maxEmojiBytes || !utf8.ValidString(s) {
		return false
	}
	rs := []rune(s)
	i, elements := 0, 0
	for {
		n := emojiElement(rs[i:])
		if n == 0 {
			return false
		}
		i += n
		elements++
		if i == len(rs) {
			return true
		}
		if rs[i] != zwj || elements == maxZWJElements {
			return false
		}
		i++ // the joiner; an element must follow
	}
}

// emojiElement returns the length of the emoji element rs starts with, or 0.
func emojiElement(rs []rune) int {
	if len(rs) == 0 {
		return 0
	}
	r := rs[0]
	switch {
	case isRegional(r):
		if len(rs) >= 2 && isRegional(rs[1]) {
			return 2
		}
		return 0
	case r >= '0' && r <= '9' || r == '#' || r == '*':
		// Keycap: the VS-16 is optional in the grammar (unqualified keycaps).
		n := 1
		if n < len(rs) && rs[n] == emojiVS {
			n++
		}
		if n < len(rs) && rs[n] == keycapMark {
			return n + 1
		}
		return 0
	case !isEmojiChar(r):
		return 0
	}
	n := 1
	switch {
	case n < len(rs) && rs[n] == emojiVS:
		n++
	case n < len(rs) && isModifier(rs[n]):
		n++
	case n < len(rs) && rs[n] >= tagFirst && rs[n] <= tagLast:
		for n < len(rs) && rs[n] >= tagFirst && rs[n] <= tagLast {
			n++
		}
		if n < len(rs) && rs[n] == cancelTag {
			return n + 1
		}
		return 0
	}
	return n
}

// isEmojiChar reports whether r can stand as (or start) an emoji element.
func isEmojiChar(r rune) bool {
	switch {
	case r == zwj, r == emojiVS, r == textVS, r == keycapMark, r == cancelTag,
		r >= tagFirst && r <= tagLast, isRegional(r), isModifier(r):
		return false // components, never an element's base
	case r == 0xA9 || r == 0xAE: // © and ®, left out of the emojirunes table with the rest of Latin-1
		return true
	case r >= pictographBegin && r <= pictographEnd:
		return true
	}
	return emojirunes.Is(r)
}

func isRegional(r rune) bool { return r >= regionalA && r <= regionalZ }

func isModifier(r rune) bool { return r >= modifierFirst && r <= modifierLast }
