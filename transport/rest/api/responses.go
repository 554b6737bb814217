package api

import (
	"encoding/json"
	"time"
)

// Session states of Session.State.
const (
	StateAuthFailure  = "auth_failure"
	StateBanned       = "banned"
	StateConnecting   = "connecting"
	StateDisconnected = "disconnected"
	StateLoggedOut    = "logged_out"
	StateQR           = "qr"
	StateReady        = "ready"
)

// ClientInfo describes a session's WhatsApp account once paired.
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

// QRCode is a login QR code.
type QRCode struct {
	// Code is the payload to render as a QR image.
	Code string `json:"code"`
	// Expires is when the code stops being valid.
	Expires time.Time `json:"expires"`
}

// Session is a WhatsApp session.
type Session struct {
	// BanExpires is when a temporary ban lifts.
	BanExpires time.Time `json:"ban_expires,omitzero"`
	// CreatedAt is when the session was created.
	CreatedAt time.Time `json:"created_at"`
	// ID is the session's slug.
	ID string `json:"id"`
	// Info describes the account once paired.
	Info ClientInfo `json:"client_info"`
	// QR is the current QR code while State is StateQR.
	QR *QRCode `json:"qr,omitempty"`
	// Reason describes the last state change.
	Reason string `json:"reason,omitempty"`
	// State is the connection state (the State constants).
	State string `json:"status"`
	// Tenant owns the session.
	Tenant string `json:"tenant"`
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// SessionList is the response of GET /sessions.
type SessionList struct {
	// Sessions are the sessions the key may see.
	Sessions []*Session `json:"sessions"`
}

// SessionState is the response of GET /sessions/{session}/state.
type SessionState struct {
	// BanExpires is when a temporary ban lifts.
	BanExpires time.Time `json:"ban_expires,omitzero"`
	// ClientInfo describes the account once paired.
	ClientInfo ClientInfo `json:"client_info"`
	// ID is the session's slug.
	ID string `json:"id"`
	// Reason describes the last state change.
	Reason string `json:"reason,omitempty"`
	// Status is the connection state (the State constants).
	Status string `json:"status"`
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// PairPhoneResponse carries the code to type on the phone.
type PairPhoneResponse struct {
	// Code is the pairing code.
	Code string `json:"code" doc:"Enter it in WhatsApp > Linked devices > Link with phone number."`
}

// Address identifies a chat or a user.
type Address struct {
	// JID is the primary JID.
	JID string `json:"jid"`
	// LID is the "@lid" identity, when known.
	LID string `json:"lid,omitempty"`
	// Phone is the E.164 number, when known.
	Phone string `json:"phone,omitempty"`
}

// Message is a stored message, inbound or outbound.
type Message struct {
	// Chat is the conversation.
	Chat Address `json:"chat"`
	// Content is the message body as JSON with a "type" member ("text",
	// "image", "buttons", ...); decode it with waqtor.UnmarshalContent.
	Content json.RawMessage `json:"content"`
	// CreatedAt is when the server stored the message.
	CreatedAt time.Time `json:"created_at"`
	// Direction is "in" or "out".
	Direction string `json:"direction"`
	// EditedAt is when the text was last edited (Content then holds the new
	// text); absent when never.
	EditedAt time.Time `json:"edited_at,omitzero"`
	// Error describes the failure of a failed outbound message.
	Error string `json:"error,omitempty"`
	// FromMe is true for messages the account sent.
	FromMe bool `json:"from_me"`
	// ID is WhatsApp's message ID.
	ID string `json:"id"`
	// IsGroup is true when Chat is a group.
	IsGroup bool `json:"is_group"`
	// PushName is the sender's profile name on inbound messages.
	PushName string `json:"push_name,omitempty"`
	// Revoked is true once the message was deleted for everyone.
	Revoked bool `json:"revoked"`
	// RevokedAt is when it was revoked; absent unless Revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Sender is the author.
	Sender Address `json:"sender"`
	// Session is the session's ID.
	Session string `json:"session"`
	// Status is the delivery state: pending, sent, delivered, read, played,
	// failed, or received for inbound messages.
	Status string `json:"status"`
	// Tenant owns the session.
	Tenant string `json:"tenant"`
	// Time is WhatsApp's timestamp of the message.
	Time time.Time `json:"timestamp"`
	// UpdatedAt is when the status last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// ContentType returns the "type" member of the message's content ("" when
// there is none).
func (m *Message) ContentType() string {
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(m.Content, &head)
	return head.Type
}

// MessageList is a page of a chat's messages, newest first.
type MessageList struct {
	// Messages are the page's messages.
	Messages []*Message `json:"messages"`
	// Next is the cursor of the next (older) page; empty on the last page.
	Next string `json:"next,omitempty" doc:"Pass as before= for the next (older) page; absent on the last page."`
}

// NumberCheck reports whether a number is on WhatsApp.
type NumberCheck struct {
	// JID is the number's user JID when it is on WhatsApp.
	JID string `json:"jid,omitempty"`
	// LID is the number's LID, when known.
	LID string `json:"lid,omitempty"`
	// OnWhatsApp reports whether the number has a WhatsApp account.
	OnWhatsApp bool `json:"on_whatsapp"`
	// Phone is the number asked about, in E.164.
	Phone string `json:"phone"`
}

// CheckNumbersResponse answers contacts/check, in the order asked.
type CheckNumbersResponse struct {
	// Results has one entry per number asked about.
	Results []NumberCheck `json:"results"`
}

// Key describes an API key (never its secret).
type Key struct {
	// CreatedAt is when the key was created.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// ID is the key's public ID.
	ID string `json:"id"`
	// Name describes the key.
	Name string `json:"name"`
	// Prefix is how the key starts, to recognise it.
	Prefix string `json:"prefix"`
	// RevokedAt is when the key was revoked; zero while active.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Scopes are the key's permissions.
	Scopes []string `json:"scopes"`
	// Sessions narrows the key to these sessions; empty for all of the tenant's.
	Sessions []string `json:"sessions,omitempty"`
	// Tenant owns the key.
	Tenant string `json:"tenant"`
}

// CreatedKey is a new key with its plaintext, shown only in this response.
type CreatedKey struct {
	Key
	// Secret is the API key itself.
	Secret string `json:"secret" doc:"The API key. It is shown once and never stored: keep it now."`
}

// KeyList lists the tenant's keys.
type KeyList struct {
	// Keys are the tenant's active keys.
	Keys []*Key `json:"keys"`
}

// HeaderAPIKey is the request header carrying an API key (the server also
// accepts "Authorization: Bearer <key>").
const HeaderAPIKey = "X-API-Key"

// HeaderIdempotencyKey is the header that makes a POST safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// Event is an event frame of the WebSocket stream: the event's envelope with
// the event-log sequence as ID.
type Event struct {
	// Data is the event's payload; its shape depends on Topic.
	Data json.RawMessage `json:"data"`
	// EventID is the event's unique ID.
	EventID string `json:"event_id"`
	// ID is the event-log sequence: resume after it on reconnect.
	ID int64 `json:"id"`
	// Session is the session the event is about, if any.
	Session string `json:"session"`
	// Tenant owns the event.
	Tenant string `json:"tenant"`
	// Timestamp is when the event happened.
	Timestamp time.Time `json:"timestamp"`
	// Topic is the event kind ("message.sent").
	Topic string `json:"topic"`
	// Type is the frame type, "event".
	Type string `json:"type"`
}

// Consent is a contact's consent for a scope: its current state, or one
// change of its history.
type Consent struct {
	// Contact is the contact: an E.164 number, or "<digits>@lid".
	Contact string `json:"contact"`
	// Note is the change's note.
	Note string `json:"note,omitempty"`
	// Previous is the status before the change; absent for the first.
	Previous string `json:"previous,omitempty"`
	// Scope is what the decision covers: marketing or all.
	Scope string `json:"scope"`
	// Session is the session whose inbound message made the change (an
	// opt-out keyword); absent for changes made through the API.
	Session string `json:"session,omitempty"`
	// Source says where the decision came from (api, keyword, import, ...).
	Source string `json:"source"`
	// Status is the decision: opted_in or opted_out.
	Status string `json:"status"`
	// Time is when the decision was recorded.
	Time time.Time `json:"time"`
}

// ConsentList is a page of current consent records, ordered by contact and
// scope (GET /consent).
type ConsentList struct {
	// Consents are the page's records.
	Consents []*Consent `json:"consents"`
	// Next is the cursor of the following page (the after parameter); absent
	// at the end.
	Next string `json:"next,omitempty"`
}

// ContactConsent is a contact's current consent and a page of its history,
// newest first (GET /consent/{contact}).
type ContactConsent struct {
	// Contact is the contact: an E.164 number, or "<digits>@lid".
	Contact string `json:"contact"`
	// Current holds the current consent, one entry per scope recorded.
	Current []*Consent `json:"current"`
	// History holds the changes, newest first.
	History []*Consent `json:"history"`
	// Next is the cursor of the following (older) page of history (the
	// before parameter); absent at the end.
	Next string `json:"next,omitempty"`
	// OptedOut reports, per scope, whether messages of that scope are
	// refused (an opt-out of all refuses marketing too).
	OptedOut map[string]bool `json:"opted_out"`
}
