package smartbot

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Template is a parsed reply template. Templates are plain text with
// variables in double braces:
//
//		Hello {{name|friend}}, your order ships on {{date}}.
//
//	  - {{name}} is replaced by the value of the variable "name". Names are
//	    letters, digits, '_', '-' and '.'; spaces inside the braces are ignored.
//	  - {{name|friend}} falls back to "friend" when "name" has no value.
//	  - A variable with no value and no fallback renders as nothing, and the
//	    spaces around it are tidied ("Hello {{name}}, hi" → "Hello, hi").
//	  - {{date}} and {{time}} default to the current date (2006-01-02) and time
//	    (15:04) when the caller does not set them; {{name}}, {{phone}} and any
//	    custom variable come from the caller.
//	  - \{{ and \}} produce literal braces; any other unbalanced brace pair is
//	    a parse error, so a customer never sees raw template syntax.
//
// Values are inserted as they are, never re-parsed. A Template is immutable
// and safe for concurrent use.
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	text     string // literal text, when name == ""
	name     string
	fallback string
	hasFB    bool
}

// MaxTemplateBytes is the longest template [ParseTemplate] accepts.
const MaxTemplateBytes = 64 << 10

// ParseTemplate parses a reply template. Errors wrap [ErrInvalidTemplate]
// and give the byte offset of the problem.
func ParseTemplate(src string) (*Template, error) {
	if len(src) > MaxTemplateBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidTemplate, MaxTemplateBytes)
	}
	t := &Template{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, templatePart{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], `\{{`):
			// An escaped opening makes the whole {{...}} literal.
			end := strings.Index(src[i+3:], "}}")
			if end < 0 {
				lit.WriteString("{{")
				i += 3
				break
			}
			lit.WriteString("{{" + src[i+3:i+3+end] + "}}")
			i += 3 + end + 2
		case strings.HasPrefix(src[i:], `\}}`):
			lit.WriteString("}}")
			i += 3
		case strings.HasPrefix(src[i:], "{{"):
			end := strings.Index(src[i+2:], "}}")
			if end < 0 {
				return nil, fmt.Errorf("%w: unclosed {{ at offset %d (escape a literal one as \\{{)", ErrInvalidTemplate, i)
			}
			body := src[i+2 : i+2+end]
			if strings.Contains(body, "{{") {
				return nil, fmt.Errorf("%w: nested {{ at offset %d", ErrInvalidTemplate, i)
			}
			p, err := parseVar(body)
			if err != nil {
				return nil, fmt.Errorf("%w: at offset %d: %v", ErrInvalidTemplate, i, err)
			}
			if strings.HasPrefix(src[i+2+end+2:], "}") {
				return nil, fmt.Errorf("%w: stray } after the variable at offset %d", ErrInvalidTemplate, i)
			}
			flush()
			t.parts = append(t.parts, p)
			i += 2 + end + 2
		case strings.HasPrefix(src[i:], "}}"):
			return nil, fmt.Errorf("%w: unmatched }} at offset %d (escape a literal one as \\}})", ErrInvalidTemplate, i)
		default:
			lit.WriteByte(src[i])
			i++
		}
	}
	flush()
	return t, nil
}

func parseVar(body string) (templatePart, error) {
	name, fb, hasFB := strings.Cut(body, "|")
	name = strings.TrimSpace(name)
	if name == "" {
		return templatePart{}, fmt.Errorf("empty variable name in {{%s}}", body)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' && r != '.' {
			return templatePart{}, fmt.Errorf("invalid character %q in variable name %q", r, name)
		}
	}
	if strings.ContainsAny(fb, "{}") {
		return templatePart{}, fmt.Errorf("braces in the fallback of %q", name)
	}
	return templatePart{name: name, fallback: strings.TrimSpace(fb), hasFB: hasFB}, nil
}

// String returns the template source.
func (t *Template) String() string { return t.src }

// Variables returns the variable names used by the template, in order of
// first use.
func (t *Template) Variables() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.name != "" && !seen[p.name] {
			seen[p.name] = true
			out = append(out, p.name)
		}
	}
	return out
}

// Render fills the template with vars. "date" and "time" default to
// time.Now; use [Template.RenderAt] for a fixed clock.
func (t *Template) Render(vars map[string]string) string {
	return t.RenderAt(vars, time.Now())
}

// RenderAt is [Template.Render] with "date" and "time" taken from now when
// vars does not set them.
func (t *Template) RenderAt(vars map[string]string, now time.Time) string {
	var b strings.Builder
	tidy := false
	for _, p := range t.parts {
		if p.name == "" {
			text := p.text
			if tidy {
				text = tidyJoin(&b, text)
				tidy = false
			}
			b.WriteString(text)
			continue
		}
		v, ok := vars[p.name]
		if !ok || v == "" {
			switch {
			case p.name == "date":
				v = now.Format("2006-01-02")
			case p.name == "time":
				v = now.Format("15:04")
			}
		}
		if v == "" && p.hasFB {
			v = p.fallback
		}
		if v == "" {
			tidy = true
			continue
		}
		if tidy {
			v = tidyJoin(&b, v)
			tidy = false
		}
		b.WriteString(v)
	}
	out := b.String()
	if tidy {
		out = strings.TrimRight(out, " \t")
	}
	return out
}

// tidyJoin removes the double space or space-before-punctuation that an
// empty variable leaves between what is already written and next.
func tidyJoin(b *strings.Builder, next string) string {
	cur := b.String()
	trimmed := strings.TrimRight(cur, " \t")
	if len(trimmed) == len(cur) {
		if trimmed == "" || strings.HasSuffix(trimmed, "\n") {
			return strings.TrimLeft(next, " \t")
		}
		return next
	}
	// cur ends with spaces.
	if next == "" {
		return next
	}
	first := []rune(next)[0]
	if first == ' ' || first == '\t' || first == '\n' || strings.ContainsRune(",.!?;:)،؛؟", first) {
		b.Reset()
		b.WriteString(trimmed)
		if first == ' ' || first == '\t' {
			if trimmed == "" || strings.HasSuffix(trimmed, "\n") {
				return strings.TrimLeft(next, " \t")
			}
		}
	}
	return next
}
