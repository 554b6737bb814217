package smartbot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Feature groups of the built-in embedder. Each group is weighted and
// length-normalized on its own so that, for example, the many character
// n-grams of a long message do not drown its few words.
const (
	groupWord   = iota
	groupBigram // word bigrams and skip-grams
	groupChar
	groupSkeleton
	numGroups
)

// feature is one hashed feature of a text with its raw term frequency.
type feature struct {
	key   uint64
	group uint8
	tf    float32
}

// featurizer turns normalized text into hashed features. It is immutable
// and safe for concurrent use.
type featurizer struct {
	charMin, charMax int
	skeleton         bool // emit Arabic/Arabizi consonant skeletons
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(seed uint64, s string) uint64 {
	h := uint64(fnvOffset) ^ seed*fnvPrime
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	// final avalanche (splitmix64 finalizer) so that h % D is well spread
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// extract returns the features of an already normalized text.
func (f *featurizer) extract(norm string) []feature {
	toks := strings.Fields(norm)
	if len(toks) == 0 {
		return nil
	}
	acc := make(map[uint64]int, 16*len(toks))
	out := make([]feature, 0, 16*len(toks))
	add := func(group uint8, s string) {
		k := hashString(uint64(group)+1, s)
		if i, ok := acc[k]; ok {
			out[i].tf++
			return
		}
		acc[k] = len(out)
		out = append(out, feature{key: k, group: group, tf: 1})
	}
	stems := make([]string, len(toks))
	for i, t := range toks {
		stems[i] = stem(t)
		add(groupWord, stems[i])
	}
	for i := 0; i+1 < len(stems); i++ {
		add(groupBigram, stems[i]+" "+stems[i+1])
		if i+2 < len(stems) { // skip-gram: "card _ arrive" also matches "card not arrive"
			add(groupBigram, stems[i]+" _ "+stems[i+2])
		}
	}
	var buf []byte
	var offs []int
	for _, t := range toks {
		buf = append(buf[:0], '<')
		buf = append(buf, t...)
		buf = append(buf, '>')
		offs = offs[:0]
		for i := range string(buf) {
			offs = append(offs, i)
		}
		offs = append(offs, len(buf))
		nr := len(offs) - 1
		for n := f.charMin; n <= f.charMax; n++ {
			if n > nr {
				break
			}
			for i := 0; i+n <= nr; i++ {
				add(groupChar, string(buf[offs[i]:offs[i+n]]))
			}
		}
	}
	if f.skeleton {
		for _, t := range toks {
			if sk := skeleton(t); utf8.RuneCountInString(sk) >= 2 {
				add(groupSkeleton, sk)
			}
		}
	}
	return out
}

// stem applies a light, script-aware stemmer to one normalized token.
func stem(t string) string {
	r, _ := utf8.DecodeRuneInString(t)
	if isArabic(r) {
		return stemArabic(t)
	}
	if r < 0x250 && unicode.IsLetter(r) {
		return stemEnglish(t)
	}
	return t
}

// stemEnglish is a light English suffix stripper in the spirit of Porter's
// step 1 and a few derivational suffixes. Its output is a matching key, not
// a word.
func stemEnglish(w string) string {
	if len(w) <= 3 {
		return w
	}
	hasVowel := func(s string) bool { return strings.ContainsAny(s, "aeiouy") }
	for _, p := range [...][2]string{
		{"ational", "ate"}, {"ization", "ize"}, {"ations", "ate"}, {"ation", "ate"},
		{"fulness", "ful"}, {"iveness", "ive"}, {"ousness", "ous"},
	} {
		if strings.HasSuffix(w, p[0]) && len(w)-len(p[0]) >= 3 {
			w = w[:len(w)-len(p[0])] + p[1]
			break
		}
	}
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s") && len(w) > 3:
		w = w[:len(w)-1]
	}
	stripped := false
	for _, suf := range [...]string{"ingly", "edly", "ing", "ed"} {
		if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 3 && hasVowel(w[:len(w)-len(suf)]) {
			w = w[:len(w)-len(suf)]
			stripped = true
			break
		}
	}
	if stripped && len(w) >= 4 {
		a, b := w[len(w)-1], w[len(w)-2]
		if a == b && !strings.ContainsRune("lsz", rune(a)) && !strings.ContainsRune("aeiou", rune(a)) {
			w = w[:len(w)-1]
		}
	}
	for _, suf := range [...]string{"ment", "ness", "ful", "ly"} {
		if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 4 {
			w = w[:len(w)-len(suf)]
			break
		}
	}
	if len(w) > 3 && strings.HasSuffix(w, "e") {
		w = w[:len(w)-1]
	}
	if len(w) > 3 && strings.HasSuffix(w, "y") {
		w = w[:len(w)-1] + "i"
	}
	return w
}

var (
	arabicPrefixes = [...]string{"وال", "بال", "كال", "فال", "لل", "ال"}
	arabicSuffixes = [...]string{"ها", "ان", "ات", "ون", "ين", "يه", "كم", "هم", "نا", "ه", "ي"}
)

// stemArabic is a light Arabic stemmer (after Larkey et al.'s Light10) that
// works on normalized text (ة already folded to ه, alef variants to ا).
func stemArabic(w string) string {
	n := utf8.RuneCountInString(w)
	for _, p := range arabicPrefixes {
		if strings.HasPrefix(w, p) && n-utf8.RuneCountInString(p) >= 2 {
			w = w[len(p):]
			n -= utf8.RuneCountInString(p)
			break
		}
	}
	if n >= 4 && strings.HasPrefix(w, "و") {
		w = w[len("و"):]
		n--
	}
	for _, s := range arabicSuffixes {
		sn := utf8.RuneCountInString(s)
		if strings.HasSuffix(w, s) && n-sn >= 2 {
			w = w[:len(w)-len(s)]
			n -= sn
		}
	}
	return w
}

// skeleton maps an Arabic-script or Arabizi token to a consonant skeleton,
// so that "3ayez" and "عايز", "7abibi" and "حبيبي" share a key. Vowels and
// the long-vowel letters ا و ي are dropped and similar sounds share a class.
// Tokens of other scripts return "".
func skeleton(t string) string {
	rs := []rune(t)
	var b strings.Builder
	emit := func(c byte) {
		if b.Len() > 0 && b.String()[b.Len()-1] == c {
			return // doubled consonants (shadda, "habbibi") collapse
		}
		b.WriteByte(c)
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		var next rune
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		if isArabic(r) {
			switch r {
			case 'ب':
				emit('B')
			case 'ت', 'ط', 'ث':
				emit('T')
			case 'ج':
				emit('J')
			case 'ح':
				emit('H')
			case 'ه':
				if i < len(rs)-1 {
					emit('H')
				}
			case 'خ':
				emit('X')
			case 'د', 'ض', 'ذ':
				emit('D')
			case 'ر':
				emit('R')
			case 'ز', 'ظ':
				emit('Z')
			case 'س', 'ص':
				emit('S')
			case 'ش':
				emit('C')
			case 'ع':
				emit('E')
			case 'غ':
				emit('G')
			case 'ف':
				emit('F')
			case 'ق', 'ك':
				emit('K')
			case 'ل':
				emit('L')
			case 'م':
				emit('M')
			case 'ن':
				emit('N')
			}
			continue
		}
		if r >= 0x250 {
			return ""
		}
		switch r {
		case 's':
			if next == 'h' {
				emit('C')
				i++
			} else {
				emit('S')
			}
		case 'c':
			if next == 'h' {
				emit('C')
				i++
			} else {
				emit('K')
			}
		case 'k':
			if next == 'h' {
				emit('X')
				i++
			} else {
				emit('K')
			}
		case 'g':
			if next == 'h' {
				emit('G')
				i++
			} else {
				emit('J')
			}
		case 't':
			if next == 'h' {
				emit('T')
				i++
			} else {
				emit('T')
			}
		case 'd':
			if next == 'h' {
				i++
			}
			emit('D')
		case '3':
			if next == '\'' {
				emit('G')
				i++
			} else {
				emit('E')
			}
		case '7':
			emit('H')
		case 'h':
			if i < len(rs)-1 {
				emit('H')
			}
		case '5', 'x':
			emit('X')
		case '6':
			emit('T')
		case '8':
			emit('G')
		case '9', 'q':
			emit('K')
		case 'b', 'p':
			emit('B')
		case 'j':
			emit('J')
		case 'r':
			emit('R')
		case 'z':
			emit('Z')
		case 'f', 'v':
			emit('F')
		case 'l':
			emit('L')
		case 'm':
			emit('M')
		case 'n':
			emit('N')
		case 'a', 'e', 'i', 'o', 'u', 'y', 'w', '2':
		default:
			if !unicode.IsDigit(r) {
				return ""
			}
		}
	}
	return b.String()
}
