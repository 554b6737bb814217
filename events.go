package waqtor

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventKind is an event's stable wire name. The same names are used on the event
// bus, in the event log, on WebSocket topics and in webhook filters.
type EventKind string

// The event kinds.
const (
	KindMessageDelivered EventKind = "message.delivered"
	KindMessageEdited    EventKind = "message.edited"
	KindMessageFailed    EventKind = "message.failed"
	KindMessageRead      EventKind = "message.read"
	KindMessageReceived  EventKind = "message.received"
	KindMessageRevoked   EventKind = "message.revoked"
	KindMessageSent      EventKind = "message.sent"
	KindSessionQR        EventKind = "session.qr"
	KindSessionStatus    EventKind = "session.status"
)

// AllKinds returns every event kind, sorted.
func AllKinds() []EventKind {
	return []EventKind{KindCampaignCancelled, KindCampaignCompleted, KindCampaignFailed, KindCampaignPaused,
		KindCampaignProgress, KindConsentChanged, KindMessageDelivered, KindMessageEdited, KindMessageFailed, KindMessageRead, KindMessageReceived,
		KindMessageRevoked, KindMessageSent, KindPluginStatus, KindSessionQR, KindSessionStatus, KindWebhookEndpointDisabled, KindWebhookTest}
}

// Event is one of the typed event structs of this package (*SessionQR,
// *SessionStatus, *MessageReceived, ...). The set is sealed: only this package
// defines events, so a type switch over them can be exhaustive, and [On] gives
// handlers the concrete type.
type Event interface {
	// Kind is the event's wire name.
	Kind() EventKind
	// Meta returns the event's envelope fields.
	Meta() *EventMeta
	isEvent()
}

// EventMeta holds what every event carries besides its payload.
type EventMeta struct {
	// ID is the event's unique ID ("evt_…"), stable across redeliveries.
	ID string `json:"-"`
	// Seq is the event's position in the event log (monotonic, gap-free).
	Seq int64 `json:"-"`
	// Session is the session the event belongs to.
	Session string `json:"-"`
	// Tenant owns the session.
	Tenant string `json:"-"`
	// Time is when the event happened.
	Time time.Time `json:"-"`
}

// Meta returns m itself; it gives every event struct the Meta method.
func (m *EventMeta) Meta() *EventMeta { return m }

// SessionState is a session's connection state.
type SessionState string

// The session states.
const (
	// StateAuthFailure: WhatsApp refused the stored credentials or pairing failed.
	StateAuthFailure SessionState = "auth_failure"
	// StateBanned: the account is temporarily banned (see BanExpires).
	StateBanned SessionState = "banned"
	// StateConnecting: a connection attempt is in progress.
	StateConnecting SessionState = "connecting"
	// StateDisconnected: not connected; the pairing (if any) is kept.
	StateDisconnected SessionState = "disconnected"
	// StateLoggedOut: unpaired; a new QR or pairing code login is needed.
	StateLoggedOut SessionState = "logged_out"
	// StateQR: connected and waiting for a QR scan or pairing code.
	StateQR SessionState = "qr"
	// StateReady: connected and logged in; messages can be sent.
	StateReady SessionState = "ready"
)

// Valid reports whether s is one of the defined states.
func (s SessionState) Valid() bool {
	switch s {
	case StateAuthFailure, StateBanned, StateConnecting, StateDisconnected, StateLoggedOut, StateQR, StateReady:
		return true
	}
	return false
}

// SessionQR is emitted for each new QR code of a session that is pairing.
type SessionQR struct {
	EventMeta
	// Code is the QR payload to render.
	Code string `json:"qr"`
	// Expires is when the code stops being valid.
	Expires time.Time `json:"expires"`
}

// Kind returns KindSessionQR.
func (*SessionQR) Kind() EventKind { return KindSessionQR }
func (*SessionQR) isEvent()        {}

// SessionStatus is emitted when a session's state changes.
type SessionStatus struct {
	EventMeta
	// BanExpires is when a ban lifts (StateBanned).
	BanExpires time.Time `json:"ban_expires,omitzero"`
	// Error is the cause of a failure or disconnection.
	Error string `json:"error,omitempty"`
	// Info describes the account once known.
	Info ClientInfo `json:"client_info"`
	// Previous is the state before the change.
	Previous SessionState `json:"previous"`
	// Reason describes the change for people.
	Reason string `json:"reason,omitempty"`
	// State is the new state.
	State SessionState `json:"status"`
}

// Kind returns KindSessionStatus.
func (*SessionStatus) Kind() EventKind { return KindSessionStatus }
func (*SessionStatus) isEvent()        {}

// ClientInfo describes the account a session is logged in as.
type ClientInfo struct {
	// JID is the account's phone JID.
	JID string `json:"jid,omitempty"`
	// LID is the account's LID.
	LID string `json:"lid,omitempty"`
	// Name is the account's profile name.
	Name string `json:"name,omitempty"`
	// Phone is the account's number in E.164.
	Phone string `json:"phone,omitempty"`
	// Platform is the phone's platform.
	Platform string `json:"platform,omitempty"`
}

// MessageReceived is emitted once per inbound message, after it is stored.
type MessageReceived struct {
	EventMeta
	// Message is the stored message.
	Message Message `json:"message"`
}

// Kind returns KindMessageReceived.
func (*MessageReceived) Kind() EventKind { return KindMessageReceived }
func (*MessageReceived) isEvent()        {}

// MessageSent is emitted when WhatsApp accepted an outbound message.
type MessageSent struct {
	EventMeta
	// Message is the stored message, with Status StatusSent.
	Message Message `json:"message"`
}

// Kind returns KindMessageSent.
func (*MessageSent) Kind() EventKind { return KindMessageSent }
func (*MessageSent) isEvent()        {}

// MessageFailed is emitted when an outbound message failed for good.
type MessageFailed struct {
	EventMeta
	// Error says why.
	Error string `json:"error"`
	// Message is the stored message, with Status StatusFailed.
	Message Message `json:"message"`
}

// Kind returns KindMessageFailed.
func (*MessageFailed) Kind() EventKind { return KindMessageFailed }
func (*MessageFailed) isEvent()        {}

// MessageDelivered is emitted when an outbound message reached the recipient's
// device (in groups: the first member's device).
type MessageDelivered struct {
	EventMeta
	// Chat is the conversation.
	Chat Address `json:"chat"`
	// MessageID is the delivered message.
	MessageID string `json:"message_id"`
	// Recipient is whose device confirmed delivery.
	Recipient Address `json:"recipient"`
}

// Kind returns KindMessageDelivered.
func (*MessageDelivered) Kind() EventKind { return KindMessageDelivered }
func (*MessageDelivered) isEvent()        {}

// MessageRead is emitted when an outbound message was read (or a voice note
// played, with Played set).
type MessageRead struct {
	EventMeta
	// Chat is the conversation.
	Chat Address `json:"chat"`
	// MessageID is the read message.
	MessageID string `json:"message_id"`
	// Played is true for a played receipt of a voice note or video.
	Played bool `json:"played,omitempty"`
	// Reader is who read it.
	Reader Address `json:"reader"`
}

// Kind returns KindMessageRead.
func (*MessageRead) Kind() EventKind { return KindMessageRead }
func (*MessageRead) isEvent()        {}

// MessageEdited is emitted when a stored message's text was edited: by this
// session (once WhatsApp accepted the edit) or by its author on WhatsApp.
type MessageEdited struct {
	EventMeta
	// EditID is the ID of the edit message itself.
	EditID string `json:"edit_id"`
	// Message is the edited message, with its new text and EditedAt.
	Message Message `json:"message"`
	// PreviousText is the text before the edit.
	PreviousText string `json:"previous_text"`
}

// Kind returns KindMessageEdited.
func (*MessageEdited) Kind() EventKind { return KindMessageEdited }
func (*MessageEdited) isEvent()        {}

// MessageRevoked is emitted when a stored message was deleted for everyone: by
// this session (once WhatsApp accepted the revocation) or by its author on
// WhatsApp.
type MessageRevoked struct {
	EventMeta
	// Message is the revoked message, with Revoked and RevokedAt set.
	Message Message `json:"message"`
	// RevokeID is the ID of the revocation message itself.
	RevokeID string `json:"revoke_id"`
}

// Kind returns KindMessageRevoked.
func (*MessageRevoked) Kind() EventKind { return KindMessageRevoked }
func (*MessageRevoked) isEvent()        {}

// newEvent returns an empty event of kind k, or nil for an unknown kind.
func newEvent(k EventKind) Event {
	switch k {
	case KindSessionQR:
		return &SessionQR{}
	case KindSessionStatus:
		return &SessionStatus{}
	case KindMessageReceived:
		return &MessageReceived{}
	case KindMessageSent:
		return &MessageSent{}
	case KindMessageFailed:
		return &MessageFailed{}
	case KindMessageDelivered:
		return &MessageDelivered{}
	case KindMessageRead:
		return &MessageRead{}
	case KindMessageEdited:
		return &MessageEdited{}
	case KindMessageRevoked:
		return &MessageRevoked{}
	case KindPluginStatus:
		return &PluginStatus{}
	case KindCampaignCancelled:
		return &CampaignCancelled{}
	case KindCampaignCompleted:
		return &CampaignCompleted{}
	case KindCampaignFailed:
		return &CampaignFailed{}
	case KindCampaignPaused:
		return &CampaignPaused{}
	case KindCampaignProgress:
		return &CampaignProgress{}
	case KindConsentChanged:
		return &ConsentChanged{}
	case KindWebhookEndpointDisabled:
		return &WebhookEndpointDisabled{}
	case KindWebhookTest:
		return &WebhookTest{}
	}
	return nil
}

// Envelope is an event's wire form: {"id","seq","type","session","tenant",
// "timestamp","data"}.
type Envelope struct {
	Data    json.RawMessage `json:"data"`
	ID      string          `json:"id"`
	Seq     int64           `json:"seq"`
	Session string          `json:"session"`
	Tenant  string          `json:"tenant"`
	Time    time.Time       `json:"timestamp"`
	Type    EventKind       `json:"type"`
}

// MarshalEvent encodes e as an Envelope.
func MarshalEvent(e Event) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("waqtor: marshal %s event: %w", e.Kind(), err)
	}
	m := e.Meta()
	return json.Marshal(&Envelope{Data: data, ID: m.ID, Seq: m.Seq, Session: m.Session, Tenant: m.Tenant, Time: m.Time, Type: e.Kind()})
}

// UnmarshalEvent decodes an Envelope into its typed event.
func UnmarshalEvent(b []byte) (Event, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("waqtor: decode event envelope: %w", err)
	}
	return env.Event()
}

// Event decodes the envelope's data into its typed event.
func (env *Envelope) Event() (Event, error) {
	e := newEvent(env.Type)
	if e == nil {
		return nil, fmt.Errorf("waqtor: unknown event type %q", env.Type)
	}
	if len(env.Data) == 0 {
		return nil, fmt.Errorf("waqtor: %s event has no data", env.Type)
	}
	if err := json.Unmarshal(env.Data, e); err != nil {
		return nil, fmt.Errorf("waqtor: decode %s event: %w", env.Type, err)
	}
	*e.Meta() = EventMeta{ID: env.ID, Seq: env.Seq, Session: env.Session, Tenant: env.Tenant, Time: env.Time}
	return e, nil
}
