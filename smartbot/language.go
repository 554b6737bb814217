package smartbot

import (
	"strings"
	"unicode"
)

// Language is a coarse language code for a message or a rule.
type Language string

// Languages known to the matcher. Any other script is reported as [LangOther].
const (
	// LangAny, the empty string, means "no language restriction" on a rule
	// and "no letters at all" for a message.
	LangAny Language = ""
	// LangArabic is Arabic, in Arabic script or in Latin letters (Arabizi).
	LangArabic Language = "ar"
	// LangEnglish is English, and more generally Latin-script text that does
	// not look like Arabizi.
	LangEnglish Language = "en"
	// LangOther is any other script.
	LangOther Language = "other"
)

// LanguageInfo is the result of [DetectLanguage].
type LanguageInfo struct {
	// Lang is the dominant language.
	Lang Language `json:"lang"`
	// Mixed is true when at least two scripts each make up a sizeable share
	// (15% or more) of the letters, e.g. Arabic with English product names.
	Mixed bool `json:"mixed,omitempty"`
	// Arabizi is true when Latin-script text looks like Arabic written in
	// Latin letters and digits ("3ayez a7gez", "shukran ya habibi").
	Arabizi bool `json:"arabizi,omitempty"`
}

// arabiziWords are frequent Arabizi chat words (a generic linguistic
// resource, not domain vocabulary) used as a weak signal by [DetectLanguage].
var arabiziWords = map[string]bool{
	"ana": true, "el": true, "enta": true, "inta": true, "enti": true, "inti": true, "howa": true, "heya": true,
	"ehna": true, "e7na": true, "ahla": true, "ahlan": true, "marhaba": true, "salam": true, "shukran": true,
	"shokran": true, "mashi": true, "mesh": true, "mish": true, "msh": true, "feh": true,
	"esh": true, "shu": true, "shou": true, "leh": true, "lesh": true, "keda": true, "kda": true,
	"ya": true, "yalla": true, "habibi": true, "wallah": true, "inshallah": true, "momken": true,
	"mumkin": true, "3ayez": true, "3awez": true, "3ayz": true, "bas": true, "kman": true, "kaman": true,
	"kteer": true, "ktir": true, "awi": true, "gedan": true, "jiddan": true, "aiwa": true, "aywa": true,
	"la2": true, "laa": true, "na3am": true, "ma3": true, "3ala": true, "3an": true, "ezay": true, "izay": true,
	"kif": true, "keef": true, "wein": true, "fein": true, "feen": true, "emta": true, "imta": true, "3shan": true,
	"3ashan": true, "lazem": true, "lazim": true, "ba3d": true, "abl": true, "delwa2ty": true, "hala": true,
}

// DetectLanguage classifies text by script: Arabic script → [LangArabic];
// Latin script → [LangEnglish], or [LangArabic] with Arabizi set when it
// looks like Arabic written in Latin letters; other scripts → [LangOther].
// Text without letters yields [LangAny]. It is cheap and safe for concurrent
// use.
func DetectLanguage(text string) LanguageInfo {
	return detectNormalized(Normalize(text))
}

func detectNormalized(norm string) LanguageInfo {
	var ar, lat, other int
	for _, r := range norm {
		switch {
		case !unicode.IsLetter(r):
		case isArabic(r):
			ar++
		case r < 0x250:
			lat++
		default:
			other++
		}
	}
	total := ar + lat + other
	if total == 0 {
		return LanguageInfo{}
	}
	share := func(n int) float64 { return float64(n) / float64(total) }
	var info LanguageInfo
	big := 0
	for _, n := range []int{ar, lat, other} {
		if share(n) >= 0.15 {
			big++
		}
	}
	info.Mixed = big >= 2
	switch {
	case ar >= lat && ar >= other:
		info.Lang = LangArabic
	case lat >= other:
		info.Lang = LangEnglish
		if looksArabizi(norm) {
			info.Lang = LangArabic
			info.Arabizi = true
		}
	default:
		info.Lang = LangOther
	}
	return info
}

// looksArabizi scores Latin tokens: digits used as letters (3, 7, 5, 2, 9
// inside words, as in "a7gez", "3ayez", "la2") and frequent Arabizi words.
func looksArabizi(norm string) bool {
	score, latin := 0, 0
	for _, tok := range strings.Fields(norm) {
		rs := []rune(tok)
		hasLetter, digitLetter := false, false
		for i, r := range rs {
			if r < 0x250 && unicode.IsLetter(r) {
				hasLetter = true
			}
			if !strings.ContainsRune("235679", r) {
				continue
			}
			prevL := i > 0 && unicode.IsLetter(rs[i-1])
			nextL := i+1 < len(rs) && unicode.IsLetter(rs[i+1])
			switch {
			case prevL && nextL:
				digitLetter = true
			case i == 0 && nextL && len(rs) >= 3 && !ordinal(tok):
				digitLetter = true
			case prevL && i == len(rs)-1 && len(rs) <= 4:
				digitLetter = true
			}
		}
		if !hasLetter {
			continue
		}
		latin++
		if digitLetter || arabiziWords[tok] {
			score++
		}
	}
	return score > 0 && (score*3 >= latin || score >= 2)
}

// ordinal reports whether tok looks like "2nd", "3rd", "5th" or a unit such as "5km".
func ordinal(tok string) bool {
	i := strings.IndexFunc(tok, func(r rune) bool { return !unicode.IsDigit(r) })
	if i <= 0 {
		return false
	}
	switch tok[i:] {
	case "st", "nd", "rd", "th", "am", "pm", "k", "m", "km", "kg", "g", "h", "min", "mb", "gb", "x", "d", "s":
		return true
	}
	return false
}
