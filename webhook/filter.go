package webhook

import (
	"slices"
	"sort"
	"strings"

	"github.com/waqtor/waqtor"
)

// Aliases maps the original plan's event names to waqtor kinds. Two of them
// select one state of session.status. A filter may use an alias only once
// its kind is emitted (see KnownKinds): the campaign and SmartBot ones are
// refused until those features emit their kinds.
var Aliases = map[string]string{
	"campaign_completed":  "campaign.completed",
	"campaign_executed":   "campaign.progress",
	"client_connected":    "session.status:ready",
	"client_disconnected": "session.status:disconnected",
	"message_received":    "message.received",
	"message_sent":        "message.sent",
	"session_qr":          "session.qr",
	"smartbot_reply":      "smartbot.reply",
}

// KnownKinds returns the kinds an endpoint filter may name: every kind this
// build emits, which is waqtor.AllKinds (the one list the WebSocket hub's
// topics use too), less webhook.test, which only the test API sends. A kind
// added to waqtor.AllKinds becomes valid here and there at once; a kind
// nothing emits yet is refused by both, rather than accepted by a filter that
// would silently never match.
func KnownKinds() []waqtor.EventKind {
	var out []waqtor.EventKind
	for _, k := range waqtor.AllKinds() {
		if k != waqtor.KindWebhookTest {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// filter is a compiled endpoint event filter.
type filter struct {
	all      bool
	kinds    map[waqtor.EventKind]bool
	prefixes []string                     // "message." for "message.*"
	states   map[waqtor.SessionState]bool // session.status states selected by aliases
	sessions map[string]bool              // nil: any session
}

// normalizeEvents validates an endpoint's event filter and returns it in its
// stored form: sorted, deduplicated, aliases kept as written. An empty filter
// means every event ("*").
func normalizeEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return []string{"*"}, nil
	}
	known := KnownKinds()
	var out []string
	for _, e := range events {
		e = strings.TrimSpace(e)
		switch {
		case e == "*":
		case Aliases[e] != "":
			kind, _, _ := strings.Cut(Aliases[e], ":")
			if !slices.Contains(known, waqtor.EventKind(kind)) {
				return nil, fieldErr("events", "%q stands for %s, which nothing emits yet; known kinds: %s", e, kind, kindList(known))
			}
		case strings.HasSuffix(e, ".*"):
			prefix := strings.TrimSuffix(e, "*")
			if !slices.ContainsFunc(known, func(k waqtor.EventKind) bool { return strings.HasPrefix(string(k), prefix) }) {
				return nil, fieldErr("events", "%q matches no event kind; known kinds: %s", e, kindList(known))
			}
		case waqtor.EventKind(e) == waqtor.KindWebhookTest:
			return nil, fieldErr("events", "%q is sent only by the test API, never through filters", e)
		case slices.Contains(known, waqtor.EventKind(e)):
		default:
			return nil, fieldErr("events", "unknown event kind %q; use one of %s, a wildcard such as \"message.*\", \"*\", "+
				"or an alias such as \"message_received\"", e, kindList(known))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out, nil
}

func kindList(ks []waqtor.EventKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// compileFilter builds the matcher of a stored (normalized) filter.
func compileFilter(events, sessions []string) *filter {
	f := &filter{kinds: map[waqtor.EventKind]bool{}}
	for _, e := range events {
		if a := Aliases[e]; a != "" {
			kind, state, ok := strings.Cut(a, ":")
			if ok {
				if f.states == nil {
					f.states = map[waqtor.SessionState]bool{}
				}
				f.states[waqtor.SessionState(state)] = true
				continue
			}
			e = kind
		}
		switch {
		case e == "*":
			f.all = true
		case strings.HasSuffix(e, ".*"):
			f.prefixes = append(f.prefixes, strings.TrimSuffix(e, "*"))
		default:
			f.kinds[waqtor.EventKind(e)] = true
		}
	}
	if len(sessions) > 0 {
		f.sessions = map[string]bool{}
		for _, s := range sessions {
			f.sessions[s] = true
		}
	}
	return f
}

// match reports whether e passes the filter. Events that belong to no session
// (operational events such as webhook.endpoint_disabled) pass any session
// filter. webhook.test never matches.
func (f *filter) match(e waqtor.Event) bool {
	k := e.Kind()
	if k == waqtor.KindWebhookTest {
		return false
	}
	if s := e.Meta().Session; f.sessions != nil && s != "" && !f.sessions[s] {
		return false
	}
	if f.all || f.kinds[k] {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(string(k), p) {
			return true
		}
	}
	if st, ok := e.(*waqtor.SessionStatus); ok && f.states[st.State] {
		return true
	}
	return false
}
