package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor"
)

// Client frame types.
const (
	TypeGetState    = "get_state"
	TypePing        = "ping"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
)

// Server frame types.
const (
	TypeError             = "error"
	TypeEvent             = "event"
	TypePong              = "pong"
	TypeRateLimitExceeded = "rate_limit_exceeded"
	TypeState             = "state"
	TypeSubscribed        = "subscribed"
	TypeUnsubscribed      = "unsubscribed"
	TypeWelcome           = "welcome"
)

// ClientFrame is a frame a client sends. Only the fields of its type may be
// set: subscribe and unsubscribe take topics (event kinds such as
// "message.sent", "message.*" or "*") and optionally sessions (a filter: only
// events of these sessions; on subscribe, a present list replaces the
// connection's filter, and an empty one clears it); subscribe also takes
// after, the last event ID (event-log sequence) the client saw, to be sent
// every later event from the log before live ones. An absent sessions (nil)
// and an empty one ([]) differ, and both survive encoding.
type ClientFrame struct {
	After    *int64   `json:"after,omitempty"`
	Sessions []string `json:"sessions,omitzero"`
	Topics   []string `json:"topics,omitempty"`
	Type     string   `json:"type"`
}

// Field limits of client frames.
const (
	// MaxTopics is the most topics or sessions one frame may list.
	MaxTopics = 64
)

var (
	wildcardRe = regexp.MustCompile(`^[a-z]+\.\*$`)
	kinds      = waqtor.AllKinds()
)

// FrameError is a client frame that was refused; it is answered with an
// error frame and changes nothing.
type FrameError struct {
	// Errors lists the offending fields.
	Errors []FieldError `json:"errors,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// FieldError names an invalid field of a client frame.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *FrameError) Error() string { return "ws: " + e.Message }

func frameErr(field, format string, args ...any) *FrameError {
	reason := fmt.Sprintf(format, args...)
	if field == "" {
		return &FrameError{Message: reason}
	}
	return &FrameError{Message: field + ": " + reason, Errors: []FieldError{{Field: field, Reason: reason}}}
}

// DecodeClientFrame parses and validates one client frame: JSON, a known type,
// no unknown fields, only the fields of its type, each string at most
// maxString characters, topics known event kinds or wildcards.
func DecodeClientFrame(data []byte, maxString int) (*ClientFrame, error) {
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f ClientFrame
	if err := dec.Decode(&f); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return nil, frameErr(ute.Field, "has the wrong type")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, frameErr(name, "is not a known field")
		}
		return nil, frameErr("", "frame is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, frameErr("", "frame holds data after the JSON object")
	}
	switch f.Type {
	case TypeSubscribe, TypeUnsubscribe:
		if len(f.Topics) == 0 || len(f.Topics) > MaxTopics {
			return nil, frameErr("topics", "must have 1 to %d entries", MaxTopics)
		}
		if len(f.Sessions) > MaxTopics {
			return nil, frameErr("sessions", "must have at most %d entries", MaxTopics)
		}
		for i, t := range f.Topics {
			field := fmt.Sprintf("topics[%d]", i)
			if err := checkString(field, t, maxString); err != nil {
				return nil, err
			}
			if !ValidTopic(t) {
				return nil, frameErr(field, "%q is not an event kind (%s) or a wildcard (\"*\", \"message.*\")", t, kindList())
			}
		}
		for i, s := range f.Sessions {
			field := fmt.Sprintf("sessions[%d]", i)
			if err := checkString(field, s, maxString); err != nil {
				return nil, err
			}
			if waqtor.ValidateSessionID(s) != nil {
				return nil, frameErr(field, "is not a session ID")
			}
		}
		if f.After != nil && (f.Type != TypeSubscribe || *f.After < 0) {
			return nil, frameErr("after", "is only allowed on subscribe, as a non-negative event ID")
		}
	case TypePing, TypeGetState:
		if f.Topics != nil || f.Sessions != nil || f.After != nil {
			return nil, frameErr("", "%s frames take no fields besides type", f.Type)
		}
	case "":
		return nil, frameErr("type", "is required")
	default:
		if err := checkString("type", f.Type, maxString); err != nil {
			return nil, err
		}
		return nil, frameErr("type", "%q is not one of subscribe, unsubscribe, ping, get_state", f.Type)
	}
	return &f, nil
}

// maxEchoedName bounds the unknown member names an error frame repeats.
const maxEchoedName = 64

// clientFrameKeys are the member names of ClientFrame, exactly.
var clientFrameKeys = []string{"after", "sessions", "topics", "type"}

// checkKeys makes the frame's member names exact: encoding/json matches
// them without regard to case and keeps the last of duplicates, so
// {"TYPE":"ping"} or {"type":"ping","type":"subscribe"} would otherwise pass,
// and a proxy or filter reading the frame could see something other than
// what the hub acts on.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return frameErr("", "frame is not a JSON object")
	}
	var seen []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return frameErr("", "frame is not a JSON object")
		}
		name, _ := tok.(string)
		switch {
		case !slices.Contains(clientFrameKeys, name):
			if err := checkString("", name, maxEchoedName); err != nil {
				return frameErr("", "frame has an unknown field")
			}
			return frameErr(name, "is not a known field")
		case slices.Contains(seen, name):
			return frameErr(name, "appears more than once")
		}
		seen = append(seen, name)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return frameErr("", "frame is not a JSON object")
		}
	}
	return nil
}

func checkString(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return frameErr(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return frameErr(field, "is longer than %d characters", max)
	}
	return nil
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// ValidTopic reports whether t is an event kind, "*", or "<area>.*" for an
// area that has kinds.
func ValidTopic(t string) bool {
	if t == "*" || slices.Contains(kinds, waqtor.EventKind(t)) {
		return true
	}
	if wildcardRe.MatchString(t) {
		prefix := strings.TrimSuffix(t, "*")
		for _, k := range kinds {
			if strings.HasPrefix(string(k), prefix) {
				return true
			}
		}
	}
	return false
}

// expandTopics returns the kinds a list of topics covers.
func expandTopics(topics []string) []waqtor.EventKind {
	var out []waqtor.EventKind
	for _, t := range topics {
		for _, k := range kinds {
			if t == "*" || string(k) == t || (strings.HasSuffix(t, ".*") && strings.HasPrefix(string(k), strings.TrimSuffix(t, "*"))) {
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// Server frames.

// WelcomeFrame is the first frame of a connection.
type WelcomeFrame struct {
	Message   string    `json:"message"`
	Server    string    `json:"server"`
	Tenant    string    `json:"tenant"`
	Timestamp time.Time `json:"timestamp"`
	Type      string    `json:"type"`
}

// EventFrame carries one event: the envelope of waqtor.MarshalEvent with the
// event-log sequence as id (pass it back as subscribe's after to resume), the
// kind as topic, and the event's own ID as event_id.
type EventFrame struct {
	Data      json.RawMessage  `json:"data"`
	EventID   string           `json:"event_id"`
	ID        int64            `json:"id"`
	Session   string           `json:"session"`
	Tenant    string           `json:"tenant"`
	Timestamp time.Time        `json:"timestamp"`
	Topic     waqtor.EventKind `json:"topic"`
	Type      string           `json:"type"`
}

// TopicsFrame answers subscribe and unsubscribe with the connection's topics.
type TopicsFrame struct {
	Sessions []string `json:"sessions,omitempty"`
	Topics   []string `json:"topics"`
	Type     string   `json:"type"`
}

// PongFrame answers ping.
type PongFrame struct {
	Timestamp time.Time `json:"timestamp"`
	Type      string    `json:"type"`
}

// ErrorFrame reports a refused client frame.
type ErrorFrame struct {
	Errors  []FieldError `json:"errors,omitempty"`
	Message string       `json:"message"`
	Type    string       `json:"type"`
}

// RateLimitFrame warns a client that sends too fast; frames beyond the limit
// are ignored, and the connection is closed (1008) after repeated violations.
// The delay is sent twice: retry_after, in the protocol's snake_case, and
// retryAfter, the seed protocol's name, kept for its clients (the one
// camelCase name of the protocol).
type RateLimitFrame struct {
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after" doc:"Seconds until a frame will be accepted."`
	// RetryAfterAlias is RetryAfter under the seed's name; always equal.
	RetryAfterAlias int    `json:"retryAfter" doc:"Alias of retry_after (the seed protocol's name), always equal to it."`
	Type            string `json:"type"`
}

// StateFrame answers get_state (and follows welcome) with the state of the
// sessions the connection may see.
type StateFrame struct {
	Sessions  []SessionState `json:"sessions"`
	Timestamp time.Time      `json:"timestamp"`
	Type      string         `json:"type"`
}

// SessionState is one session of a StateFrame.
type SessionState struct {
	ClientInfo waqtor.ClientInfo   `json:"client_info"`
	ID         string              `json:"id"`
	QR         *waqtor.QRCode      `json:"qr,omitempty"`
	Reason     string              `json:"reason,omitempty"`
	Status     waqtor.SessionState `json:"status"`
}
