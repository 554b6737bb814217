package template

import (
	"bytes"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// RenderOpts are the optional settings of [Template.Render]. A nil
// *RenderOpts means all defaults.
type RenderOpts struct {
	// Location is the time zone {{date}} and {{time}} are given in. Defaults
	// to UTC.
	Location *time.Location
	// Now is the instant {{date}} and {{time}} show, unless vars sets them.
	// Defaults to the time of the call (time.Now).
	Now time.Time
	// Seed chooses the alternative of every {{random:...}}. The same
	// template, Seed and vars always give the same text (on every platform
	// and release), so a message re-rendered after a crash is the one
	// rendered before it; different seeds spread the choices evenly. A
	// campaign derives it from the campaign and the recipient with
	// [SeedFor]; for variety without reproducibility pass
	// math/rand/v2.Uint64(). Defaults to 0.
	Seed uint64
}

// Render fills the template. Values come from vars and are inserted as they
// are, never parsed again. A name is looked up by its exact spelling first,
// then by a key that differs only in letter case ({{Name}} finds
// vars["name"]; among several such keys, the first in sort order with a
// value); a value that is empty or blank counts as no value. opts may be nil.
func (t *Template) Render(vars map[string]string, opts *RenderOpts) string {
	var o RenderOpts
	if opts != nil {
		o = *opts
	}
	var now time.Time
	if t.clock {
		now = o.Now
		if now.IsZero() {
			now = time.Now()
		}
		now = now.In(cmpLocation(o.Location))
	}
	b := make([]byte, 0, len(t.src)+16*len(vars))
	tidy := false // an empty value was just left out
	for _, p := range t.parts {
		var v string
		switch p.kind {
		case partText:
			v = p.text
		case partRandom:
			v = p.alts[pick(o.Seed, p.index, len(p.alts))]
		case partVar:
			v, _ = lookup(vars, p.name)
			if v == "" {
				switch p.builtin {
				case BuiltinDate:
					v = now.Format("2006-01-02")
				case BuiltinTime:
					v = now.Format("15:04")
				}
			}
			if v == "" {
				v = p.fallback
			}
		}
		if v == "" {
			if p.kind != partText {
				tidy = true
			}
			continue
		}
		if tidy {
			b, v = tidyJoin(b, v)
			tidy = false
		}
		b = append(b, v...)
	}
	if tidy {
		b = bytes.TrimRight(b, " \t")
	}
	return string(b)
}

func cmpLocation(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}

// lookup returns the value of name in vars: the key spelled exactly so,
// else the first key in sort order that differs only in letter case; blank
// values do not count.
func lookup(vars map[string]string, name string) (string, bool) {
	if v := vars[name]; !isBlank(v) {
		return v, true
	}
	var keys []string
	for k, v := range vars {
		if k != name && strings.EqualFold(k, name) && !isBlank(v) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", false
	}
	return vars[slices.Min(keys)], true
}

func isBlank(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) == ""
}

// SeedFor returns a [RenderOpts.Seed] derived from keys, such as a
// campaign's ID and a recipient's phone number: the same keys always give
// the same seed (on every platform and release), and keys that differ give
// unrelated seeds. Keys are hashed with their lengths, so ("ab", "c") and
// ("a", "bc") differ.
func SeedFor(keys ...string) uint64 {
	const (
		offset = 14695981039346656037 // FNV-1a 64
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, k := range keys {
		for n := uint64(len(k)); ; n >>= 8 {
			h = (h ^ (n & 0xff)) * prime
			if n < 0x100 {
				break
			}
		}
		for i := 0; i < len(k); i++ {
			h = (h ^ uint64(k[i])) * prime
		}
	}
	return splitmix64(h)
}

// pick chooses one of n alternatives for the random part at index from
// seed. It mixes both with SplitMix64 (whose output is fixed forever, unlike
// a library generator's) and scales the result to [0, n) without modulo
// bias worth the name.
func pick(seed uint64, index, n int) int {
	x := splitmix64(seed ^ splitmix64(uint64(index)))
	hi, _ := bits.Mul64(x, uint64(n))
	return int(hi)
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// tidyJoin removes the double space or the space before punctuation that an
// empty value leaves between what is already written (b) and next.
func tidyJoin(b []byte, next string) ([]byte, string) {
	trimmed := bytes.TrimRight(b, " \t")
	lineStart := len(trimmed) == 0 || trimmed[len(trimmed)-1] == '\n'
	if len(trimmed) == len(b) {
		if lineStart {
			next = strings.TrimLeft(next, " \t")
		}
		return b, next
	}
	// b ends with spaces.
	first, _ := utf8.DecodeRuneInString(next)
	if first == ' ' || first == '\t' || first == '\n' || strings.ContainsRune(",.!?;:)،؛؟", first) {
		b = trimmed
		if (first == ' ' || first == '\t') && lineStart {
			next = strings.TrimLeft(next, " \t")
		}
	}
	return b, next
}
