package campaign

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
)

// compiled is a campaign's content with its templates parsed.
type compiled struct {
	c        *Content
	text     *tmpl
	caption  *tmpl
	question *tmpl
	options  []*tmpl
}

// compileContent validates content and parses its templates. Errors are
// *FieldError naming the field ("content.text", "content.poll.options[2]").
func compileContent(c *Content) (*compiled, error) {
	n := 0
	if c.Text != "" {
		n++
	}
	if c.Media != nil {
		n++
	}
	if c.Poll != nil {
		n++
	}
	if n != 1 {
		return nil, fieldErr("content", "must have exactly one of text, media and poll")
	}
	k := &compiled{c: c}
	parse := func(field, src string, required bool) (*tmpl, error) {
		if required && strings.TrimSpace(src) == "" {
			return nil, fieldErr(field, "is empty")
		}
		if len(src) > MaxTemplateBytes {
			return nil, fieldErr(field, "is longer than %d bytes", MaxTemplateBytes)
		}
		t, err := parseTmpl(src)
		if err != nil {
			return nil, fieldErr(field, "%v", err)
		}
		return t, nil
	}
	var err error
	switch {
	case c.Text != "":
		k.text, err = parse("content.text", c.Text, true)
	case c.Media != nil:
		m := c.Media
		if (len(m.Data) == 0) == (m.URL == "") {
			return nil, fieldErr("content.media", "must have exactly one of data and url")
		}
		switch m.Kind {
		case "", waqtor.ContentImage, waqtor.ContentVideo, waqtor.ContentAudio, waqtor.ContentDocument:
		default:
			return nil, fieldErr("content.media.kind", "must be image, video, audio or document")
		}
		k.caption, err = parse("content.media.caption", m.Caption, false)
	case c.Poll != nil:
		p := c.Poll
		if k.question, err = parse("content.poll.question", p.Question, true); err != nil {
			return nil, err
		}
		if len(p.Options) < 2 || len(p.Options) > waqtor.MaxPollOptions {
			return nil, fieldErr("content.poll.options", "must have 2 to %d options", waqtor.MaxPollOptions)
		}
		for i, o := range p.Options {
			t, err := parse(fmt.Sprintf("content.poll.options[%d]", i), o, true)
			if err != nil {
				return nil, err
			}
			k.options = append(k.options, t)
		}
		if p.MaxSelections < 0 || p.MaxSelections > len(p.Options) {
			return nil, fieldErr("content.poll.max_selections", "must be 0 to %d", len(p.Options))
		}
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// MaxTemplateBytes is the longest template a content field may hold.
const MaxTemplateBytes = 4096

func (k *compiled) templates() []*tmpl {
	out := []*tmpl{}
	for _, t := range []*tmpl{k.text, k.caption, k.question} {
		if t != nil {
			out = append(out, t)
		}
	}
	return append(out, k.options...)
}

// missing returns the variables the templates need that vars lacks, sorted.
func (k *compiled) missing(vars map[string]string) []string {
	var out []string
	for _, t := range k.templates() {
		for _, v := range t.missing(vars) {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// rendered is one recipient's message, stored with the recipient before it
// is sent so that a send repeated after a crash is the same request.
type rendered struct {
	Media *Media       `json:"media,omitempty"`
	Poll  *waqtor.Poll `json:"poll,omitempty"`
	Text  string       `json:"text,omitempty"`
}

// render renders the content for one recipient. seed picks random variants,
// so the same recipient always gets the same variant.
func (k *compiled) render(vars map[string]string, now time.Time, loc *time.Location, seed uint64) *rendered {
	switch {
	case k.text != nil:
		return &rendered{Text: k.text.render(vars, now, loc, seed)}
	case k.c.Media != nil:
		m := *k.c.Media
		m.Caption = k.caption.render(vars, now, loc, seed)
		return &rendered{Media: &m}
	default:
		p := &waqtor.Poll{Question: k.question.render(vars, now, loc, seed), MaxSelections: k.c.Poll.MaxSelections}
		for _, o := range k.options {
			p.Options = append(p.Options, o.render(vars, now, loc, seed))
		}
		return &rendered{Poll: p}
	}
}

// mergeVars overlays a recipient's variables on the campaign's, with the
// built-in phone.
func mergeVars(campaign, recipient map[string]string, phone string) map[string]string {
	out := make(map[string]string, len(campaign)+len(recipient)+1)
	for k, v := range campaign {
		out[k] = v
	}
	for k, v := range recipient {
		if v != "" || out[k] == "" {
			out[k] = v
		}
	}
	if out["phone"] == "" {
		out["phone"] = phone
	}
	return out
}
