package campaign

// TEMPORARY: the adapter over the template package, over smartbot's until it lands.

import (
	"time"

	"github.com/waqtor/waqtor/smartbot"
)

type tmpl struct{ t *smartbot.Template }

func parseTmpl(src string) (*tmpl, error) {
	t, err := smartbot.ParseTemplate(src)
	if err != nil {
		return nil, err
	}
	return &tmpl{t}, nil
}

func (t *tmpl) render(vars map[string]string, now time.Time, loc *time.Location, seed uint64) string {
	return t.t.RenderAt(vars, now.In(loc))
}

func (t *tmpl) missing(vars map[string]string) []string {
	var out []string
	for _, v := range t.t.Variables() {
		if vars[v] == "" && v != "date" && v != "time" {
			out = append(out, v)
		}
	}
	return out
}
