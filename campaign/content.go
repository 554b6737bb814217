package campaign

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/template"
)

// compiled is a campaign's content with its templates parsed.
type compiled struct {
	c        *Content
	text     *template.Template
	caption  *template.Template
	question *template.Template
	options  []*template.Template
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
	parse := func(field, src string, required bool) (*template.Template, error) {
		if len(src) > MaxTemplateBytes {
			return nil, fieldErr(field, "is longer than %d bytes", MaxTemplateBytes)
		}
		parse := template.Parse
		if required {
			parse = template.ParseNonEmpty
		}
		t, err := parse(src)
		if errors.Is(err, template.ErrEmpty) {
			return nil, fieldErr(field, "is empty")
		}
		if err != nil {
			return nil, fieldErr(field, "%s", strings.TrimPrefix(err.Error(), "template: "))
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
		if m.Kind == "" && len(m.Data) > 0 {
			m.Kind = kindOf(m.Data)
		}
		switch m.Kind {
		case waqtor.ContentImage, waqtor.ContentVideo, waqtor.ContentAudio, waqtor.ContentDocument:
		case "":
			return nil, fieldErr("content.media.kind", "is required with a url: image, video, audio or document")
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

// kindOf tells the kind of media bytes from their content type.
func kindOf(data []byte) waqtor.ContentType {
	switch ct := http.DetectContentType(data); {
	case strings.HasPrefix(ct, "image/"):
		return waqtor.ContentImage
	case strings.HasPrefix(ct, "video/"):
		return waqtor.ContentVideo
	case strings.HasPrefix(ct, "audio/"):
		return waqtor.ContentAudio
	}
	return waqtor.ContentDocument
}

// MaxTemplateBytes is the longest template a content field may hold.
const MaxTemplateBytes = 4096

func (k *compiled) templates() []*template.Template {
	out := []*template.Template{}
	for _, t := range []*template.Template{k.text, k.caption, k.question} {
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
		for _, v := range t.Missing(vars) {
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

// render renders the content for one recipient at now in loc. seed picks
// random variants ({{random:…}}); the caller derives it from the campaign
// and the phone, so that a preview shows the variant that is sent.
func (k *compiled) render(vars map[string]string, now time.Time, loc *time.Location, seed uint64) *rendered {
	opts := &template.RenderOpts{Location: loc, Now: now, Seed: seed}
	switch {
	case k.text != nil:
		return &rendered{Text: k.text.Render(vars, opts)}
	case k.c.Media != nil:
		m := *k.c.Media
		m.Caption = k.caption.Render(vars, opts)
		return &rendered{Media: &m}
	default:
		p := &waqtor.Poll{Question: k.question.Render(vars, opts), MaxSelections: k.c.Poll.MaxSelections}
		for _, o := range k.options {
			p.Options = append(p.Options, o.Render(vars, opts))
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
