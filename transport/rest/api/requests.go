package api

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits the request types check, the server's own (package rest's tests
// require them to equal the waqtor and auth constants they mirror).
const (
	// MaxButtons is the most reply buttons a send-button request may have.
	MaxButtons = 3
	// MaxButtonText is the longest button label, in characters.
	MaxButtonText = 20
	// MaxCheckNumbers is the most numbers one contacts/check request may ask about.
	MaxCheckNumbers = 500
	// MaxKeyNameLength is the longest API key name, in characters.
	MaxKeyNameLength = 100
	// MaxListRows is the most rows a send-list request may have, over all sections.
	MaxListRows = 10
	// MaxListRowTitle is the longest list row title, in characters.
	MaxListRowTitle = 24
	// MaxPollOptions is the most options a poll may have.
	MaxPollOptions = 12
	// MaxTextLength is the longest text or caption, in characters.
	MaxTextLength = 65536

	maxIDLength   = 128
	maxChatLength = 128
	maxNameLength = 1024
	maxShortText  = 1024
)

var sessionIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidSessionID reports whether id is a valid session ID: 1 to 64 lower-case
// letters, digits, "_" and "-", starting with a letter or digit.
func ValidSessionID(id string) bool { return sessionIDRe.MatchString(id) }

func fieldError(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
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

// CreateSessionRequest is the body of POST /sessions.
type CreateSessionRequest struct {
	// ID is the session's slug, unique within the tenant; generated when empty.
	ID string `json:"id,omitempty" doc:"Session slug ([a-z0-9][a-z0-9_-]{0,63}), unique within the tenant (other tenants may use the same ID); generated when empty."`
}

// Validate checks the fields.
func (r *CreateSessionRequest) Validate() error {
	if r.ID != "" && !ValidSessionID(r.ID) {
		return fieldError("id", "must match [a-z0-9][a-z0-9_-]{0,63}")
	}
	return nil
}

// PairPhoneRequest is the body of POST /sessions/{session}/pair-phone.
type PairPhoneRequest struct {
	// Phone is the account's number in international form.
	Phone string `json:"phone" doc:"The account's number in international form (+<country code><number>)."`
}

// Validate checks the fields (the server also parses the number).
func (r *PairPhoneRequest) Validate() error { return requireString("phone", r.Phone, 64) }

// SendTextRequest is the body of send-text.
type SendTextRequest struct {
	// Chat is the recipient: a phone number or a JID.
	Chat string `json:"chat" doc:"Phone number (+<country code><number>) or JID."`
	// Mentions lists mentioned users.
	Mentions []string `json:"mentions,omitempty" doc:"JIDs or numbers mentioned in the text."`
	// QuoteID is the message this one replies to.
	QuoteID string `json:"quote_id,omitempty" doc:"ID of the message this one replies to."`
	// Text is the message.
	Text string `json:"text"`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
}

// Validate checks the fields.
func (r *SendTextRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("text", r.Text, MaxTextLength); err != nil {
		return err
	}
	if len(r.Mentions) > 256 {
		return fieldError("mentions", "has more than 256 entries")
	}
	for i, m := range r.Mentions {
		if err := requireString(fmt.Sprintf("mentions[%d]", i), m, maxChatLength); err != nil {
			return err
		}
	}
	return maxString("quote_id", r.QuoteID, maxIDLength)
}

// Media kinds of SendMediaRequest.Kind.
const (
	KindAudio    = "audio"
	KindDocument = "document"
	KindImage    = "image"
	KindSticker  = "sticker"
	KindVideo    = "video"
)

// SendMediaRequest is the JSON body of send-media: the media comes as base64
// data or from a URL (fetched by the server through its SSRF guard). Local
// paths are never accepted from API clients.
type SendMediaRequest struct {
	// Caption is shown under images, videos and documents.
	Caption string `json:"caption,omitempty"`
	// Chat is the recipient.
	Chat string `json:"chat" doc:"Phone number or JID."`
	// Data is the media's bytes; exactly one of Data and URL.
	Data []byte `json:"data,omitempty" doc:"The media's bytes, base64-encoded. Exactly one of data and url."`
	// FileName is shown for documents.
	FileName string `json:"file_name,omitempty"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind" doc:"image, video, audio, document or sticker."`
	// MIME is the media type; detected when empty.
	MIME string `json:"mime,omitempty" doc:"Media type; detected when empty."`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
	// URL is an http(s) URL to fetch the media from; exactly one of Data and URL.
	URL string `json:"url,omitempty" doc:"An http(s) URL to fetch the media from. Exactly one of data and url."`
	// Voice sends audio as a voice note.
	Voice bool `json:"voice,omitempty" doc:"Send audio as a voice note."`
}

// Validate checks the fields.
func (r *SendMediaRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	switch r.Kind {
	case KindImage, KindVideo, KindAudio, KindDocument, KindSticker:
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
	if err := maxString("file_name", r.FileName, 255); err != nil {
		return err
	}
	if err := maxString("mime", r.MIME, 255); err != nil {
		return err
	}
	return maxString("caption", r.Caption, MaxTextLength)
}

// SendMediaForm documents the multipart/form-data body of send-media.
type SendMediaForm struct {
	// Caption is shown under images, videos and documents.
	Caption string `json:"caption"`
	// Chat is the recipient.
	Chat string `json:"chat"`
	// File is the media file.
	File []byte `json:"file" doc:"The media file."`
	// FileName defaults to the uploaded file's name.
	FileName string `json:"file_name" doc:"Defaults to the uploaded file's name."`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// MIME is the media type; detected when empty.
	MIME string `json:"mime"`
	// Transactional sends the message even to a contact opted out of all
	// messages.
	Transactional bool `json:"transactional" doc:"true to send even to a contact who opted out of all messages."`
	// Voice sends audio as a voice note.
	Voice bool `json:"voice"`
}

// SendLocationRequest is the body of send-location.
type SendLocationRequest struct {
	// Address is a street address.
	Address string `json:"address,omitempty"`
	// Chat is the recipient.
	Chat string `json:"chat"`
	// Latitude in degrees. Required.
	Latitude *float64 `json:"latitude" doc:"Degrees, -90 to 90."`
	// Longitude in degrees. Required.
	Longitude *float64 `json:"longitude" doc:"Degrees, -180 to 180."`
	// Name is the place's name.
	Name string `json:"name,omitempty"`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
}

// Validate checks the fields.
func (r *SendLocationRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if r.Latitude == nil {
		return fieldError("latitude", "is required")
	}
	if !(*r.Latitude >= -90 && *r.Latitude <= 90) {
		return fieldError("latitude", "must be between -90 and 90")
	}
	if r.Longitude == nil {
		return fieldError("longitude", "is required")
	}
	if !(*r.Longitude >= -180 && *r.Longitude <= 180) {
		return fieldError("longitude", "must be between -180 and 180")
	}
	if err := maxString("name", r.Name, maxNameLength); err != nil {
		return err
	}
	return maxString("address", r.Address, maxNameLength)
}

// SendContactRequest is the body of send-contact.
type SendContactRequest struct {
	// Chat is the recipient.
	Chat string `json:"chat"`
	// Name is the contact's display name. Required.
	Name string `json:"name" doc:"The contact's display name."`
	// Phone is the contact's number, used to build the vCard when VCard is empty.
	Phone string `json:"phone,omitempty" doc:"The contact's number; used to build the vCard when vcard is empty."`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
	// VCard is a vCard 3.0.
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
	// Chat is the recipient.
	Chat string `json:"chat"`
	// MaxSelections is how many options a voter may pick; defaults to 1.
	MaxSelections int `json:"max_selections,omitempty" doc:"How many options a voter may pick; defaults to 1."`
	// Options are 2 to MaxPollOptions unique choices.
	Options []string `json:"options" doc:"2 to 12 unique options."`
	// Question is the poll's title.
	Question string `json:"question"`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
}

// Validate checks the fields.
func (r *SendPollRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("question", r.Question, maxShortText); err != nil {
		return err
	}
	if len(r.Options) < 2 || len(r.Options) > MaxPollOptions {
		return fieldError("options", "must have 2 to %d entries, not %d", MaxPollOptions, len(r.Options))
	}
	seen := map[string]bool{}
	for i, o := range r.Options {
		f := fmt.Sprintf("options[%d]", i)
		if err := requireString(f, o, 256); err != nil {
			return err
		}
		if seen[o] {
			return fieldError(f, "duplicates %q", o)
		}
		seen[o] = true
	}
	if r.MaxSelections < 0 || r.MaxSelections > len(r.Options) {
		return fieldError("max_selections", "must be between 0 and %d", len(r.Options))
	}
	return nil
}

// Interactive modes of SendButtonsRequest.Mode and SendListRequest.Mode.
const (
	// ModeDefault uses the server engine's configured mode.
	ModeDefault = ""
	// ModeNative sends WhatsApp's native buttons or list, which many accounts
	// do not display.
	ModeNative = "native"
	// ModePoll sends a single-choice poll of the labels.
	ModePoll = "poll"
	// ModeText sends a numbered text menu.
	ModeText = "text"
)

func validMode(m string) error {
	switch m {
	case ModeDefault, ModeNative, ModePoll, ModeText:
		return nil
	}
	return fieldError("mode", "must be native, text or poll, not %q", m)
}

// Button is one reply button.
type Button struct {
	// ID identifies the button in replies. Required, unique in the message.
	ID string `json:"id" doc:"Identifies the button in replies; unique in the message."`
	// Text is the label, at most MaxButtonText characters, unique in the message.
	Text string `json:"text" doc:"The label, 1 to 20 characters, unique in the message."`
}

// SendButtonsRequest is the body of send-button: a message with up to
// MaxButtons reply buttons.
type SendButtonsRequest struct {
	// Body is the text above the buttons. Required.
	Body string `json:"body" doc:"The text above the buttons."`
	// Buttons are the choices, 1 to MaxButtons.
	Buttons []Button `json:"buttons" doc:"1 to 3 buttons."`
	// Chat is the recipient.
	Chat string `json:"chat" doc:"Phone number (+<country code><number>) or JID."`
	// Footer is small print under the body.
	Footer string `json:"footer,omitempty"`
	// Mode chooses native buttons or a fallback (the Mode constants).
	Mode string `json:"mode,omitempty" doc:"native, text (a numbered menu) or poll; the engine's default when absent. WhatsApp shows native buttons only on some business accounts."`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
}

// Validate checks the fields.
func (r *SendButtonsRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("body", r.Body, MaxTextLength); err != nil {
		return err
	}
	if err := maxString("footer", r.Footer, maxShortText); err != nil {
		return err
	}
	if len(r.Buttons) == 0 || len(r.Buttons) > MaxButtons {
		return fieldError("buttons", "must have 1 to %d entries, not %d", MaxButtons, len(r.Buttons))
	}
	ids, labels := map[string]bool{}, map[string]bool{}
	for i, b := range r.Buttons {
		if err := checkOption(fmt.Sprintf("buttons[%d]", i), "text", b.ID, b.Text, MaxButtonText, ids, labels); err != nil {
			return err
		}
	}
	return validMode(r.Mode)
}

// ListRow is one choice of a list.
type ListRow struct {
	// Description is shown under the title.
	Description string `json:"description,omitempty"`
	// ID identifies the row in replies. Required, unique in the list.
	ID string `json:"id" doc:"Identifies the row in replies; unique in the list."`
	// Title is the label, at most MaxListRowTitle characters, unique in the list.
	Title string `json:"title" doc:"The label, 1 to 24 characters, unique in the list."`
}

// ListSection groups rows under a heading.
type ListSection struct {
	// Rows are the section's choices; at least one.
	Rows []ListRow `json:"rows"`
	// Title is the section's heading.
	Title string `json:"title,omitempty"`
}

// SendListRequest is the body of send-list: a menu of up to MaxListRows rows
// in sections, opened by a button.
type SendListRequest struct {
	// Body is the message text. Required.
	Body string `json:"body"`
	// ButtonText is the label of the button that opens the menu. Required.
	ButtonText string `json:"button_text" doc:"The label of the button that opens the menu."`
	// Chat is the recipient.
	Chat string `json:"chat" doc:"Phone number (+<country code><number>) or JID."`
	// Footer is small print under the body.
	Footer string `json:"footer,omitempty"`
	// Mode chooses a native list or a fallback (the Mode constants).
	Mode string `json:"mode,omitempty" doc:"native, text (a numbered menu) or poll; the engine's default when absent. WhatsApp shows native lists only on some business accounts."`
	// Sections hold the rows; at least one, with at most MaxListRows rows in all.
	Sections []ListSection `json:"sections" doc:"At least one section; 10 rows at most over all sections."`
	// Title is shown above the body.
	Title string `json:"title,omitempty"`
	// Transactional sends the message even to a contact opted out of all
	// messages (an order update, a one-time code).
	Transactional bool `json:"transactional,omitempty" doc:"Send even to a contact who opted out of all messages: for messages the contact expects (an order update, a one-time code, an answer). Without it, a send to a 1:1 contact opted out of all is refused with 409 opted-out."`
}

// Validate checks the fields.
func (r *SendListRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("body", r.Body, MaxTextLength); err != nil {
		return err
	}
	if err := requireString("button_text", r.ButtonText, MaxButtonText); err != nil {
		return err
	}
	if err := maxString("footer", r.Footer, maxShortText); err != nil {
		return err
	}
	if err := maxString("title", r.Title, maxShortText); err != nil {
		return err
	}
	if len(r.Sections) == 0 {
		return fieldError("sections", "must not be empty")
	}
	ids, labels := map[string]bool{}, map[string]bool{}
	n := 0
	for i, s := range r.Sections {
		if err := maxString(fmt.Sprintf("sections[%d].title", i), s.Title, maxShortText); err != nil {
			return err
		}
		if len(s.Rows) == 0 {
			return fieldError(fmt.Sprintf("sections[%d].rows", i), "must not be empty")
		}
		for j, row := range s.Rows {
			if n++; n > MaxListRows {
				return fieldError(fmt.Sprintf("sections[%d].rows[%d]", i, j), "is one row too many: a list has at most %d rows", MaxListRows)
			}
			f := fmt.Sprintf("sections[%d].rows[%d]", i, j)
			if err := checkOption(f, "title", row.ID, row.Title, MaxListRowTitle, ids, labels); err != nil {
				return err
			}
			if err := maxString(f+".description", row.Description, maxShortText); err != nil {
				return err
			}
		}
	}
	return validMode(r.Mode)
}

// checkOption checks an interactive option's ID and label (named labelName).
func checkOption(field, labelName, id, label string, maxLabel int, ids, labels map[string]bool) error {
	if err := requireString(field+".id", id, maxIDLength); err != nil {
		return err
	}
	if ids[id] {
		return fieldError(field+".id", "duplicates %q", id)
	}
	ids[id] = true
	if err := requireString(field+"."+labelName, label, maxLabel); err != nil {
		return err
	}
	key := strings.ToLower(label)
	if labels[key] {
		return fieldError(field+"."+labelName, "duplicates %q", label)
	}
	labels[key] = true
	return nil
}

// ReactRequest is the body of react.
type ReactRequest struct {
	// Chat is the chat of the message.
	Chat string `json:"chat"`
	// Emoji is the reaction; empty to remove one.
	Emoji string `json:"emoji" doc:"The reaction; empty to remove one."`
	// MessageID is the message reacted to.
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
	// Chat is the chat of the message.
	Chat string `json:"chat"`
	// MessageID is a message this session sent.
	MessageID string `json:"message_id" doc:"A message this session sent."`
	// Text is the new text.
	Text string `json:"text" doc:"The new text."`
}

// Validate checks the fields.
func (r *EditRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	if err := requireString("message_id", r.MessageID, maxIDLength); err != nil {
		return err
	}
	return requireString("text", r.Text, MaxTextLength)
}

// RevokeRequest is the body of revoke.
type RevokeRequest struct {
	// Chat is the chat of the message.
	Chat string `json:"chat"`
	// MessageID is the message to delete for everyone.
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
	// Chat is the chat of the messages.
	Chat string `json:"chat"`
	// MessageIDs are inbound messages to mark read (1 to 100).
	MessageIDs []string `json:"message_ids" doc:"Inbound messages to mark read (1 to 100)."`
	// Sender is the messages' author, in groups.
	Sender string `json:"sender,omitempty" doc:"In groups: the messages' author."`
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

// Typing states of TypingRequest.State.
const (
	TypingPaused    = "paused"
	TypingRecording = "recording"
	TypingTyping    = "typing"
)

// TypingRequest is the body of typing.
type TypingRequest struct {
	// Chat is the chat to show the indicator in.
	Chat string `json:"chat"`
	// State is one of the Typing constants.
	State string `json:"state" doc:"typing, recording or paused."`
}

// Validate checks the fields.
func (r *TypingRequest) Validate() error {
	if err := requireString("chat", r.Chat, maxChatLength); err != nil {
		return err
	}
	switch r.State {
	case TypingTyping, TypingRecording, TypingPaused:
		return nil
	}
	return fieldError("state", "must be typing, recording or paused")
}

// CheckNumbersRequest is the body of contacts/check.
type CheckNumbersRequest struct {
	// Phones are 1 to MaxCheckNumbers numbers in international form.
	Phones []string `json:"phones" doc:"1 to 500 numbers in international form."`
}

// Validate checks the fields.
func (r *CheckNumbersRequest) Validate() error {
	if len(r.Phones) == 0 || len(r.Phones) > MaxCheckNumbers {
		return fieldError("phones", "must have 1 to %d entries", MaxCheckNumbers)
	}
	for i, p := range r.Phones {
		if err := requireString(fmt.Sprintf("phones[%d]", i), p, 64); err != nil {
			return err
		}
	}
	return nil
}

// CreateKeyRequest is the body of POST /keys.
type CreateKeyRequest struct {
	// ExpiresAt is when the key stops working; never when zero.
	ExpiresAt time.Time `json:"expires_at,omitzero" doc:"When the key stops working; never when absent."`
	// Name describes the key.
	Name string `json:"name,omitempty"`
	// Scopes are the key's permissions, at most those of the key creating it.
	Scopes []string `json:"scopes" doc:"At most the scopes of the key making the request."`
	// Sessions narrows the key to these sessions; all of the tenant's when empty.
	Sessions []string `json:"sessions,omitempty" doc:"Narrow the key to these sessions; all of the tenant's when absent."`
}

// Validate checks the fields.
func (r *CreateKeyRequest) Validate() error {
	if len(r.Scopes) == 0 {
		return fieldError("scopes", "must not be empty")
	}
	if err := maxString("name", r.Name, MaxKeyNameLength); err != nil {
		return err
	}
	for i, s := range r.Sessions {
		if !ValidSessionID(s) {
			return fieldError(fmt.Sprintf("sessions[%d]", i), "is not a session ID")
		}
	}
	return nil
}

// Consent scopes and statuses of ConsentRequest and Consent.
const (
	ConsentAll       = "all"
	ConsentMarketing = "marketing"
	ConsentOptedIn   = "opted_in"
	ConsentOptedOut  = "opted_out"
	// MaxConsentNoteLength is the longest consent note, in characters.
	MaxConsentNoteLength = 500
)

// ConsentRequest is the body of PUT /consent/{contact}.
type ConsentRequest struct {
	// Note is a free-form note kept with the change.
	Note string `json:"note,omitempty" doc:"A note kept with the change (why, by whom); at most 500 characters."`
	// Scope is what the decision covers.
	Scope string `json:"scope" doc:"marketing (promotional messages, campaigns) or all (every message but transactional ones; implies marketing)."`
	// Source says where the decision came from; "api" when empty.
	Source string `json:"source,omitempty" doc:"Where the decision came from: a name of lower-case letters, digits, _, - and . (import, crm, campaign); api when absent."`
	// Status is the decision.
	Status string `json:"status" doc:"opted_in or opted_out."`
}

// Validate checks the fields (the server checks the source's form).
func (r *ConsentRequest) Validate() error {
	if r.Scope != ConsentMarketing && r.Scope != ConsentAll {
		return fieldError("scope", "must be marketing or all")
	}
	if r.Status != ConsentOptedIn && r.Status != ConsentOptedOut {
		return fieldError("status", "must be opted_in or opted_out")
	}
	if err := maxString("source", r.Source, 32); err != nil {
		return err
	}
	return maxString("note", r.Note, MaxConsentNoteLength)
}
