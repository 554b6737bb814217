package template

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxBytes is the longest source [Parse] accepts (64 KiB). WhatsApp caps a
// text message well below it, so a longer source is a mistake.
const MaxBytes = 64 << 10

// Built-in variable names. Their spelling in a template is matched without
// regard to letter case ({{Date}} is {{date}}).
const (
	// BuiltinDate is {{date}}: the date of [RenderOpts.Now] as 2006-01-02.
	BuiltinDate = "date"
	// BuiltinPhone is {{phone}}: the recipient's phone number, which the
	// caller passes in vars like any other value (a campaign always does).
	BuiltinPhone = "phone"
	// BuiltinTime is {{time}}: the time of [RenderOpts.Now] as 15:04.
	BuiltinTime = "time"
)

// randomKeyword introduces a random variant: {{random:a|b|c}}.
const randomKeyword = "random"

// Template is a parsed template; see the package documentation for the
// syntax. A Template is immutable, and all its methods are safe for
// concurrent use.
type Template struct {
	src    string
	parts  []part
	clock  bool // uses {{date}} or {{time}}
	random int  // number of {{random:...}} parts
}

type partKind uint8

const (
	partText partKind = iota
	partVar
	partRandom
)

type part struct {
	kind     partKind
	text     string // partText: the literal text
	name     string // partVar: the name as written
	builtin  string // partVar: BuiltinDate, BuiltinPhone, BuiltinTime or ""
	fallback string // partVar
	hasFB    bool   // partVar: a | was written, even with nothing after it
	alts     []string
	index    int // partRandom: its ordinal among the random parts
}

// Parse parses a template. Errors are [*ParseError]s wrapping [ErrInvalid]
// that give the byte offset of the problem and say what is wrong. An empty
// source is a valid template that renders as ""; use [ParseNonEmpty] where
// the text must not be blank.
func Parse(src string) (*Template, error) {
	if len(src) > MaxBytes {
		return nil, &ParseError{Offset: MaxBytes, Msg: fmt.Sprintf("the template is %d bytes, longer than the limit of %d bytes (MaxBytes)", len(src), MaxBytes)}
	}
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, size := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return nil, &ParseError{Offset: off, Msg: "invalid UTF-8"}
	}
	t := &Template{src: src, parts: make([]part, 0, 2*strings.Count(src, "{{")+1)}
	lit := literal{src: src}
	for i := 0; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], `\{{`):
			// An escaped opening makes the whole {{...}} literal.
			end := strings.Index(src[i+3:], "}}")
			if end < 0 {
				lit.add(i+1, i+3)
				i += 3
				break
			}
			lit.add(i+1, i+3+end+2)
			i += 3 + end + 2
		case strings.HasPrefix(src[i:], `\}}`):
			lit.add(i+1, i+3)
			i += 3
		case strings.HasPrefix(src[i:], "{{"):
			end := strings.Index(src[i+2:], "}}")
			if end < 0 {
				return nil, &ParseError{Offset: i, Msg: `unclosed {{ (escape a literal one as \{{)`}
			}
			bodyAt := i + 2
			body := src[bodyAt : bodyAt+end]
			if j := strings.Index(body, "{{"); j >= 0 {
				return nil, &ParseError{Offset: bodyAt + j, Msg: fmt.Sprintf(`nested {{ inside the {{ at byte %d (values cannot contain variables; escape a literal one as \{{)`, i)}
			}
			after := bodyAt + end + 2
			if strings.HasPrefix(src[after:], "}") {
				return nil, &ParseError{Offset: after, Msg: "stray } after }}"}
			}
			p, err := parseBody(body, bodyAt)
			if err != nil {
				return nil, err
			}
			t.parts = lit.flush(t.parts)
			switch {
			case p.kind == partRandom:
				p.index = t.random
				t.random++
			case p.builtin == BuiltinDate || p.builtin == BuiltinTime:
				t.clock = true
			}
			t.parts = append(t.parts, p)
			i = after
		case strings.HasPrefix(src[i:], "}}"):
			return nil, &ParseError{Offset: i, Msg: `unmatched }} (escape a literal one as \}})`}
		default:
			// Copy up to the next character that may start something.
			j := strings.IndexAny(src[i+1:], `{}\`)
			if j < 0 {
				j = len(src) - i - 1
			}
			lit.add(i, i+1+j)
			i += 1 + j
		}
	}
	t.parts = lit.flush(t.parts)
	return t, nil
}

// literal gathers the text between variables without copying it while it
// is one span of the source (escapes drop their backslash and split it).
type literal struct {
	src        string
	start, end int    // the span of src, while buf is nil
	buf        []byte // the text, once it is not one span
}

func (l *literal) add(from, to int) {
	switch {
	case l.buf == nil && l.start == l.end:
		l.start, l.end = from, to
	case l.buf == nil && l.end == from:
		l.end = to
	default:
		if l.buf == nil {
			l.buf = append([]byte(nil), l.src[l.start:l.end]...)
		}
		l.buf = append(l.buf, l.src[from:to]...)
	}
}

func (l *literal) flush(parts []part) []part {
	text := l.src[l.start:l.end]
	if l.buf != nil {
		text = string(l.buf)
	}
	l.start, l.end, l.buf = 0, 0, nil
	if text == "" {
		return parts
	}
	return append(parts, part{kind: partText, text: text})
}

// ParseNonEmpty is [Parse] for text that must say something, such as a
// campaign's message: a source that is empty or holds only white space and
// invisible formatting characters (direction marks, zero-width spaces) is an
// error wrapping both [ErrEmpty] and [ErrInvalid].
func ParseNonEmpty(src string) (*Template, error) {
	if len(src) <= MaxBytes && blank(src) {
		return nil, &ParseError{Offset: 0, Msg: "the template has no text", Err: ErrEmpty}
	}
	return Parse(src)
}

// MustParse is [Parse] for sources known to be valid, such as constants in
// a program; it panics on an error.
func MustParse(src string) *Template {
	t, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return t
}

// blank reports whether s holds nothing a reader would see.
func blank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// parseBody parses what is between {{ and }}; at is the body's offset in
// the source.
func parseBody(body string, at int) (part, error) {
	head, rest, hasColon := strings.Cut(body, ":")
	if hasColon && !strings.Contains(head, "|") {
		if !strings.EqualFold(strings.TrimSpace(head), randomKeyword) {
			return part{}, &ParseError{Offset: at + len(head), Msg: fmt.Sprintf("invalid character ':' in variable name %q (random variants are written {{random:a|b}})", strings.TrimSpace(head))}
		}
		return parseRandom(rest, at+len(head)+1)
	}
	name, fb, hasFB := strings.Cut(body, "|")
	lead := len(name) - len(strings.TrimLeft(name, " \t"))
	name = strings.TrimSpace(name)
	if name == "" {
		return part{}, &ParseError{Offset: at, Msg: fmt.Sprintf("empty variable name in {{%s}}", body)}
	}
	for j, r := range name {
		if !nameRune(r) {
			return part{}, &ParseError{Offset: at + lead + j, Msg: fmt.Sprintf("invalid character %q in variable name %q (names are letters, digits, _ - and .)", r, name)}
		}
	}
	fbAt := at + len(body) - len(fb)
	if j := strings.IndexAny(fb, "{}"); j >= 0 {
		return part{}, &ParseError{Offset: fbAt + j, Msg: fmt.Sprintf("brace in the fallback of %q (a fallback is plain text)", name)}
	}
	if j := strings.IndexByte(fb, '|'); j >= 0 {
		return part{}, &ParseError{Offset: fbAt + j, Msg: fmt.Sprintf("second | in {{%s}} (a variable has one fallback; random variants are written {{random:a|b}})", body)}
	}
	p := part{kind: partVar, name: name, fallback: strings.TrimSpace(fb), hasFB: hasFB}
	for _, b := range []string{BuiltinDate, BuiltinPhone, BuiltinTime} {
		if strings.EqualFold(name, b) {
			p.builtin = b
		}
	}
	return p, nil
}

// parseRandom parses the alternatives of {{random:...}}; at is their offset
// in the source.
func parseRandom(s string, at int) (part, error) {
	if j := strings.IndexAny(s, "{}"); j >= 0 {
		return part{}, &ParseError{Offset: at + j, Msg: "brace in a random alternative (alternatives are plain text and cannot hold variables)"}
	}
	alts := strings.Split(s, "|")
	some := false
	for k, a := range alts {
		alts[k] = strings.TrimSpace(a)
		some = some || alts[k] != ""
	}
	if !some {
		return part{}, &ParseError{Offset: at, Msg: "{{random:...}} needs at least one non-empty alternative, as in {{random:Hi|Hello}}"}
	}
	return part{kind: partRandom, alts: alts}, nil
}

// nameRune reports whether r may appear in a variable name.
func nameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) || r == '_' || r == '-' || r == '.'
}

// IsBuiltin reports whether name is a built-in variable ({{phone}},
// {{date}}, {{time}}), in any letter case.
func IsBuiltin(name string) bool {
	return strings.EqualFold(name, BuiltinDate) || strings.EqualFold(name, BuiltinPhone) || strings.EqualFold(name, BuiltinTime)
}

// Missing returns the variables the template uses without a fallback that
// have no non-blank value in vars (looked up as [Template.Render] does),
// sorted and without duplicates, so that a campaign can report "12
// recipients lack {{name}}" before it sends anything. {{date}} and {{time}}
// are never missing (the clock provides them); {{phone}} is, when vars has
// none. A variable written {{name|}} (an empty fallback) is optional and never
// missing.
func (t *Template) Missing(vars map[string]string) []string {
	var out []string
	for _, p := range t.parts {
		if p.kind != partVar || p.hasFB || p.builtin == BuiltinDate || p.builtin == BuiltinTime {
			continue
		}
		if _, ok := lookup(vars, p.name); !ok {
			out = append(out, p.name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Variables returns the names of the custom variables the template uses, as
// written, sorted and without duplicates: every {{name}} except the
// built-ins ({{phone}}, {{date}}, {{time}}, see [IsBuiltin]) and
// {{random:...}}. It is the list of columns a contact list must provide.
func (t *Template) Variables() []string {
	var out []string
	for _, p := range t.parts {
		if p.kind == partVar && p.builtin == "" {
			out = append(out, p.name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
