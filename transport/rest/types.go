package rest

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
)

// Request and response types of the built-in routes. Field names are the JSON
// names; every request type rejects unknown fields and validates each field
// with an error naming it.

func fieldError(field, format string, args ...any) error {
	return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func requireString(field, v string, maxLen int) error {
	if strings.TrimSpace(v) == "" {
		return fieldError(field, "is required")
	}
	return maxString(field, v, maxLen)
}

func maxString(field, v string, maxLen int) error {
	if !utf8.ValidString(v) {
		return fieldError(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > maxLen {
		return fieldError(field, "has %d characters, at most %d are allowed", n, maxLen)
	}
	return nil
}

// Field length limits of the built-in request types.
const (
	maxIDLength   = 128
	maxChatLength = 128
	maxNameLength = 1024
)

// CreateSessionRequest is the body of POST /sessions.
type CreateSessionRequest struct {
	// ID is the session's slug ([a-z0-9][a-z0-9_-]{0,63}); generated when empty.
	ID string `json:"id,omitempty" doc:"Session slug ([a-z0-9][a-z0-9_-]{0,63}); generated when empty."`
}

// Validate checks the fields.
func (r *CreateSessionRequest) Validate() error {
	if r.ID != "" {
		if err := waqtor.ValidateSessionID(r.ID); err != nil {
			return &waqtor.FieldError{Err: waqtor.ErrInvalidSessionID, Field: "id", Reason: "must match [a-z0-9][a-z0-9_-]{0,63}"}
		}
	}
	return nil
}

// SessionList is the response of GET /sessions.
type SessionList struct {
	Sessions []*waqtor.Session `json:"sessions"`
}

// SessionState is the response of GET /sessions/{session}/state.
type SessionState struct {
	BanExpires time.Time           `json:"ban_expires,omitzero"`
	ClientInfo waqtor.ClientInfo   `json:"client_info"`
	ID         string              `json:"id"`
	Reason     string              `json:"reason,omitempty"`
	Status     waqtor.SessionState `json:"status"`
	UpdatedAt  time.Time           `json:"updated_at"`
}

func stateOf(s *waqtor.Session) *SessionState {
	return &SessionState{BanExpires: s.BanExpires, ClientInfo: s.Info, ID: s.ID, Reason: s.Reason, Status: s.State, UpdatedAt: s.UpdatedAt}
}

// PairPhoneRequest is the body of POST /sessions/{session}/pair-phone.
type PairPhoneRequest struct {
	Phone string `json:"phone" doc:"The account's number in international form (+<country code><number>)."`
}

// Validate checks the fields.
func (r *PairPhoneRequest) Validate() error {
	if err := requireString("phone", r.Phone, 64); err != nil {
		return err
	}
	if _, err := waqtor.ParsePhone(r.Phone); err != nil {
		return err
	}
	return nil
}

// PairPhoneResponse carries the code to type on the phone.
type PairPhoneResponse struct {
	Code string `json:"code" doc:"Enter it in WhatsApp > Linked devices > Link with phone number."`
}

// SendTextRequest is the body of send-text.
type SendTextRequest struct {
	Chat     string   `json:"chat" doc:"Phone number (+<country code><number>) or JID."`
	Mentions []string `json:"mentions,omitempty" doc:"JIDs or numbers mentioned in the text."`
	QuoteID  string   `json:"quote_id,omitempty" doc:"ID of the message this one replies to."`
	Text     string   `json:"text"`
}

// Validate checks the fields.
func (r *SendTextRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("text", r.Text, waqtor.MaxTextLength); err != nil {
		return err
	}
	if len(r.Mentions) > 256 {
		return fieldError("mentions", "has more than 256 entries")
	}
	return maxString("quote_id", r.QuoteID, maxIDLength)
}

func (r *SendTextRequest) content() *waqtor.Text {
	t := &waqtor.Text{Body: r.Text, Mentions: r.Mentions}
	if r.QuoteID != "" {
		t.Quote = &waqtor.Quote{ID: r.QuoteID}
	}
	return t
}

// SendMediaRequest is the JSON body of send-media: the media comes as base64
// data or from a URL (fetched through the Core's SSRF guard). Local paths are
// never accepted from API clients.
type SendMediaRequest struct {
	Caption  string `json:"caption,omitempty"`
	Chat     string `json:"chat" doc:"Phone number or JID."`
	Data     []byte `json:"data,omitempty" doc:"The media's bytes, base64-encoded. Exactly one of data and url."`
	FileName string `json:"file_name,omitempty"`
	Kind     string `json:"kind" doc:"image, video, audio, document or sticker."`
	MIME     string `json:"mime,omitempty" doc:"Media type; detected when empty."`
	URL      string `json:"url,omitempty" doc:"An http(s) URL to fetch the media from. Exactly one of data and url."`
	Voice    bool   `json:"voice,omitempty" doc:"Send audio as a voice note."`
}

// Validate checks the fields.
func (r *SendMediaRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	switch waqtor.ContentType(r.Kind) {
	case waqtor.ContentImage, waqtor.ContentVideo, waqtor.ContentAudio, waqtor.ContentDocument, waqtor.ContentSticker:
	default:
		return fieldError("kind", "must be image, video, audio, document or sticker")
	}
	if (len(r.Data) > 0) == (r.URL != "") {
		return fieldError("data", "exactly one of data and url is required")
	}
	if r.URL != "" {
		if err := maxString("url", r.URL, 4096); err != nil {
			return err
		}
		if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
			return fieldError("url", "must be an http or https URL")
		}
	}
	for f, v := range map[string]string{"file_name": r.FileName, "mime": r.MIME} {
		if err := maxString(f, v, 255); err != nil {
			return err
		}
	}
	return maxString("caption", r.Caption, waqtor.MaxTextLength)
}

func (r *SendMediaRequest) params() *waqtor.MediaParams {
	p := &waqtor.MediaParams{Caption: r.Caption, FileName: r.FileName, Kind: waqtor.ContentType(r.Kind), MIME: r.MIME, URL: r.URL, Voice: r.Voice}
	if len(r.Data) > 0 {
		p.Data = r.Data
	}
	return p
}

// SendMediaForm documents the multipart/form-data body of send-media.
type SendMediaForm struct {
	Caption  string `json:"caption"`
	Chat     string `json:"chat"`
	File     []byte `json:"file" doc:"The media file."`
	FileName string `json:"file_name" doc:"Defaults to the uploaded file's name."`
	Kind     string `json:"kind"`
	MIME     string `json:"mime"`
	Voice    bool   `json:"voice"`
}

// SendLocationRequest is the body of send-location.
type SendLocationRequest struct {
	Address   string   `json:"address,omitempty"`
	Chat      string   `json:"chat"`
	Latitude  *float64 `json:"latitude" doc:"Degrees, -90 to 90."`
	Longitude *float64 `json:"longitude" doc:"Degrees, -180 to 180."`
	Name      string   `json:"name,omitempty"`
}

// Validate checks the fields.
func (r *SendLocationRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if r.Latitude == nil {
		return fieldError("latitude", "is required")
	}
	if r.Longitude == nil {
		return fieldError("longitude", "is required")
	}
	if err := maxString("name", r.Name, maxNameLength); err != nil {
		return err
	}
	return maxString("address", r.Address, maxNameLength)
}

// SendContactRequest is the body of send-contact.
type SendContactRequest struct {
	Chat  string `json:"chat"`
	Name  string `json:"name" doc:"The contact's display name."`
	Phone string `json:"phone,omitempty" doc:"The contact's number; used to build the vCard when vcard is empty."`
	VCard string `json:"vcard,omitempty" doc:"A vCard 3.0."`
}

// Validate checks the fields.
func (r *SendContactRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("name", r.Name, maxNameLength); err != nil {
		return err
	}
	if err := maxString("phone", r.Phone, 64); err != nil {
		return err
	}
	return maxString("vcard", r.VCard, 16384)
}

// SendPollRequest is the body of send-poll.
type SendPollRequest struct {
	Chat          string   `json:"chat"`
	MaxSelections int      `json:"max_selections,omitempty" doc:"How many options a voter may pick; defaults to 1."`
	Options       []string `json:"options" doc:"2 to 12 unique options."`
	Question      string   `json:"question"`
}

// Validate checks the fields.
func (r *SendPollRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("question", r.Question, 1024); err != nil {
		return err
	}
	if len(r.Options) > waqtor.MaxPollOptions {
		return fieldError("options", "has more than %d entries", waqtor.MaxPollOptions)
	}
	for i, o := range r.Options {
		if err := maxString(fmt.Sprintf("options[%d]", i), o, 256); err != nil {
			return err
		}
	}
	return nil
}

// ReactRequest is the body of react.
type ReactRequest struct {
	Chat      string `json:"chat"`
	Emoji     string `json:"emoji" doc:"The reaction; empty to remove one."`
	MessageID string `json:"message_id" doc:"The message reacted to."`
}

// Validate checks the fields.
func (r *ReactRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("message_id", r.MessageID, maxIDLength); err != nil {
		return err
	}
	return maxString("emoji", r.Emoji, 16)
}

// EditRequest is the body of edit.
type EditRequest struct {
	Chat      string `json:"chat"`
	MessageID string `json:"message_id" doc:"A message this session sent."`
	Text      string `json:"text" doc:"The new text."`
}

// Validate checks the fields.
func (r *EditRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("message_id", r.MessageID, maxIDLength); err != nil {
		return err
	}
	return requireString("text", r.Text, waqtor.MaxTextLength)
}

// RevokeRequest is the body of revoke.
type RevokeRequest struct {
	Chat      string `json:"chat"`
	MessageID string `json:"message_id" doc:"The message to delete for everyone."`
}

// Validate checks the fields.
func (r *RevokeRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	return requireString("message_id", r.MessageID, maxIDLength)
}

// MarkReadRequest is the body of mark-read.
type MarkReadRequest struct {
	Chat       string   `json:"chat"`
	MessageIDs []string `json:"message_ids" doc:"Inbound messages to mark read (1 to 100)."`
	Sender     string   `json:"sender,omitempty" doc:"In groups: the messages' author."`
}

// Validate checks the fields.
func (r *MarkReadRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if len(r.MessageIDs) == 0 || len(r.MessageIDs) > 100 {
		return fieldError("message_ids", "must have 1 to 100 entries")
	}
	for i, id := range r.MessageIDs {
		if err := requireString(fmt.Sprintf("message_ids[%d]", i), id, maxIDLength); err != nil {
			return err
		}
	}
	return maxString("sender", r.Sender, maxChatLength)
}

// TypingRequest is the body of typing.
type TypingRequest struct {
	Chat  string `json:"chat"`
	State string `json:"state" doc:"typing, recording or paused."`
}

// Validate checks the fields.
func (r *TypingRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	switch waqtor.ChatPresence(r.State) {
	case waqtor.PresenceTyping, waqtor.PresenceRecording, waqtor.PresencePaused:
		return nil
	}
	return fieldError("state", "must be typing, recording or paused")
}

// MessageList is a page of a chat's messages, newest first.
type MessageList struct {
	Messages []*waqtor.Message `json:"messages"`
	Next     string            `json:"next,omitempty" doc:"Pass as before= for the next (older) page; absent on the last page."`
}

// CheckNumbersRequest is the body of contacts/check.
type CheckNumbersRequest struct {
	Phones []string `json:"phones" doc:"1 to 500 numbers in international form."`
}

// Validate checks the fields.
func (r *CheckNumbersRequest) Validate() error {
	if len(r.Phones) == 0 || len(r.Phones) > waqtor.MaxCheckNumbers {
		return &waqtor.FieldError{Err: waqtor.ErrInvalidPhone, Field: "phones", Reason: fmt.Sprintf("must have 1 to %d entries", waqtor.MaxCheckNumbers)}
	}
	for i, p := range r.Phones {
		if err := requireString(fmt.Sprintf("phones[%d]", i), p, 64); err != nil {
			return err
		}
	}
	return nil
}

// CheckNumbersResponse answers contacts/check, in the order asked.
type CheckNumbersResponse struct {
	Results []waqtor.NumberCheck `json:"results"`
}

// CreateKeyRequest is the body of POST /keys.
type CreateKeyRequest struct {
	ExpiresAt time.Time    `json:"expires_at,omitzero" doc:"When the key stops working; never when absent."`
	Name      string       `json:"name,omitempty"`
	Scopes    []auth.Scope `json:"scopes" doc:"At most the scopes of the key making the request."`
	Sessions  []string     `json:"sessions,omitempty" doc:"Narrow the key to these sessions; all of the tenant's when absent."`
}

// Validate checks the fields.
func (r *CreateKeyRequest) Validate() error {
	if len(r.Scopes) == 0 {
		return fieldError("scopes", "must not be empty")
	}
	if err := maxString("name", r.Name, auth.MaxKeyNameLength); err != nil {
		return err
	}
	for i, s := range r.Sessions {
		if waqtor.ValidateSessionID(s) != nil {
			return fieldError(fmt.Sprintf("sessions[%d]", i), "is not a session ID")
		}
	}
	return nil
}

// CreatedKey is a new key with its plaintext, shown only in this response.
type CreatedKey struct {
	auth.Key
	Secret string `json:"secret" doc:"The API key. It is shown once and never stored: keep it now."`
}

// KeyList lists the tenant's keys.
type KeyList struct {
	Keys []*auth.Key `json:"keys"`
}
