package waqtor

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// ContentType names the kind of a message's content; it is also the "type" field
// of content on the wire.
type ContentType string

// The content types waqtor understands.
const (
	ContentAudio    ContentType = "audio"
	ContentContact  ContentType = "contact"
	ContentDocument ContentType = "document"
	ContentEdit     ContentType = "edit"
	ContentImage    ContentType = "image"
	ContentLocation ContentType = "location"
	ContentPoll     ContentType = "poll"
	ContentPollVote ContentType = "poll_vote"
	ContentReaction ContentType = "reaction"
	ContentRevoke   ContentType = "revoke"
	ContentSticker  ContentType = "sticker"
	ContentText     ContentType = "text"
	ContentVideo    ContentType = "video"
)

// Content is the body of a message: one of [*Text], [*Media], [*Location],
// [*Contact], [*Poll], [*PollVote], [*Reaction], [*Edit] or [*Revoke]. The set is
// sealed: engines and handlers can switch over it exhaustively.
type Content interface {
	// ContentType names the content's kind.
	ContentType() ContentType
	// validate checks outbound content before anything is stored.
	validate() error
}

// ValidateContent checks outbound content the way the Core does before storing a
// send: engines and test helpers use it to apply the same rules.
func ValidateContent(c Content) error {
	if c == nil {
		return fieldErr(ErrInvalidMessage, "content", "is required")
	}
	return c.validate()
}

// Limits on outbound content, checked before anything is stored.
const (
	// MaxTextLength is the longest text or caption accepted, in characters
	// (WhatsApp's own limit is 65,536).
	MaxTextLength = 65536
	// MaxPollOptions is the most options a poll may have (WhatsApp's limit is 12).
	MaxPollOptions = 12
)

// Text is a text message, optionally quoting another message and mentioning users.
type Text struct {
	// Body is the text. Required for outbound messages.
	Body string `json:"body"`
	// Mentions lists the JIDs mentioned in Body (as "@<number>" in the text).
	Mentions []string `json:"mentions,omitempty"`
	// Quote is the message this one replies to, if any.
	Quote *Quote `json:"quote,omitempty"`
}

// Quote identifies a quoted message. On outbound messages only ID is required:
// the Core fills Sender and Text from the store when it knows the message.
type Quote struct {
	// ID is the quoted message's ID.
	ID string `json:"id"`
	// Sender is the JID of the quoted message's author.
	Sender string `json:"sender,omitempty"`
	// Text is a preview of the quoted message.
	Text string `json:"text,omitempty"`
}

// ContentType returns ContentText.
func (*Text) ContentType() ContentType { return ContentText }

func (t *Text) validate() error {
	if strings.TrimSpace(t.Body) == "" {
		return fieldErr(ErrInvalidMessage, "text", "must not be empty")
	}
	if err := checkText("text", t.Body); err != nil {
		return err
	}
	for i, m := range t.Mentions {
		if _, err := NormalizeChat(m); err != nil {
			return fieldErr(ErrInvalidMessage, fmt.Sprintf("mentions[%d]", i), "%v", err)
		}
	}
	if t.Quote != nil && strings.TrimSpace(t.Quote.ID) == "" {
		return fieldErr(ErrInvalidMessage, "quote.id", "must not be empty")
	}
	return nil
}

func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(ErrInvalidMessage, field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxTextLength {
		return fieldErr(ErrInvalidMessage, field, "has %d characters, more than %d", n, MaxTextLength)
	}
	return nil
}

// Media is an image, video, audio clip, document or sticker.
type Media struct {
	// Caption is shown under images, videos and documents.
	Caption string `json:"caption,omitempty"`
	// Data holds the bytes of an outbound message (and of inbound media once
	// downloaded). It is never encoded in events: they carry metadata only.
	Data []byte `json:"-"`
	// FileName is shown for documents.
	FileName string `json:"file_name,omitempty"`
	// Kind is ContentImage, ContentVideo, ContentAudio, ContentDocument or
	// ContentSticker.
	Kind ContentType `json:"kind"`
	// MIME is the media type, detected from the bytes when empty.
	MIME string `json:"mime,omitempty"`
	// Ref is the engine's opaque handle to download inbound media later.
	Ref json.RawMessage `json:"ref,omitempty"`
	// SHA256 is the digest of the (decrypted) bytes, when known.
	SHA256 []byte `json:"sha256,omitempty"`
	// Size is the byte length.
	Size int64 `json:"size,omitempty"`
	// Voice marks audio as a push-to-talk voice note.
	Voice bool `json:"voice,omitempty"`
}

// ContentType returns the media's Kind.
func (m *Media) ContentType() ContentType { return m.Kind }

// validate checks outbound media, including that its bytes are in a format
// WhatsApp shows as its kind (see mediaFormat) and that a declared MIME agrees.
func (m *Media) validate() error {
	if err := m.validateMeta(); err != nil {
		return err
	}
	if len(m.Data) == 0 {
		return fieldErr(ErrInvalidMessage, "media", "is empty")
	}
	_, err := mediaFormat(m.Kind, m.Data, "data")
	return err
}

// validateMeta checks everything of outbound media but its bytes.
func (m *Media) validateMeta() error {
	switch m.Kind {
	case ContentImage, ContentVideo, ContentAudio, ContentDocument, ContentSticker:
	default:
		return fieldErr(ErrInvalidMessage, "kind", "must be image, video, audio, document or sticker, not %q", m.Kind)
	}
	if m.Kind == ContentDocument && strings.ContainsAny(m.FileName, "/\\\x00") {
		return fieldErr(ErrInvalidMessage, "file_name", "must not contain path separators")
	}
	if err := checkDeclaredMIME(m.Kind, m.MIME); err != nil {
		return err
	}
	return checkText("caption", m.Caption)
}

// Location is a geographic point.
type Location struct {
	// Address is a street address.
	Address string `json:"address,omitempty"`
	// Latitude in degrees, -90 to 90.
	Latitude float64 `json:"latitude"`
	// Longitude in degrees, -180 to 180.
	Longitude float64 `json:"longitude"`
	// Name is the place's name.
	Name string `json:"name,omitempty"`
}

// ContentType returns ContentLocation.
func (*Location) ContentType() ContentType { return ContentLocation }

func (l *Location) validate() error {
	if math.IsNaN(l.Latitude) || l.Latitude < -90 || l.Latitude > 90 {
		return fieldErr(ErrInvalidMessage, "latitude", "must be between -90 and 90")
	}
	if math.IsNaN(l.Longitude) || l.Longitude < -180 || l.Longitude > 180 {
		return fieldErr(ErrInvalidMessage, "longitude", "must be between -180 and 180")
	}
	return nil
}

// Contact is a contact card.
type Contact struct {
	// Name is the display name. Required.
	Name string `json:"name"`
	// Phone is the contact's number; used to build VCard when it is empty.
	Phone string `json:"phone,omitempty"`
	// VCard is the vCard 3.0 text; built from Name and Phone when empty.
	VCard string `json:"vcard,omitempty"`
}

// ContentType returns ContentContact.
func (*Contact) ContentType() ContentType { return ContentContact }

func (c *Contact) validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return fieldErr(ErrInvalidMessage, "name", "must not be empty")
	}
	if c.VCard == "" {
		if c.Phone == "" {
			return fieldErr(ErrInvalidMessage, "phone", "is required when vcard is empty")
		}
		if _, err := ParsePhone(c.Phone); err != nil {
			return fieldErr(ErrInvalidMessage, "phone", "%v", err)
		}
	}
	return nil
}

// BuildVCard returns a vCard 3.0 for a name and an E.164 phone number, in the form
// WhatsApp clients recognise (with the waid parameter).
func BuildVCard(name, phone string) (string, error) {
	e164, err := ParsePhone(phone)
	if err != nil {
		return "", err
	}
	esc := strings.NewReplacer("\\", "\\\\", ";", "\\;", ",", "\\,", "\n", "\\n", "\r", "")
	return "BEGIN:VCARD\nVERSION:3.0\nFN:" + esc.Replace(name) + "\nTEL;type=CELL;waid=" + e164[1:] + ":" + e164 + "\nEND:VCARD", nil
}

// Poll is a poll creation message.
type Poll struct {
	// MaxSelections is how many options a voter may pick. Defaults to 1.
	MaxSelections int `json:"max_selections,omitempty"`
	// Options are the choices, 2 to MaxPollOptions, unique.
	Options []string `json:"options"`
	// Question is the poll's title. Required.
	Question string `json:"question"`
}

// ContentType returns ContentPoll.
func (*Poll) ContentType() ContentType { return ContentPoll }

func (p *Poll) validate() error {
	if strings.TrimSpace(p.Question) == "" {
		return fieldErr(ErrInvalidMessage, "question", "must not be empty")
	}
	if len(p.Options) < 2 || len(p.Options) > MaxPollOptions {
		return fieldErr(ErrInvalidMessage, "options", "must have 2 to %d entries, not %d", MaxPollOptions, len(p.Options))
	}
	seen := make(map[string]bool, len(p.Options))
	for i, o := range p.Options {
		if strings.TrimSpace(o) == "" {
			return fieldErr(ErrInvalidMessage, fmt.Sprintf("options[%d]", i), "must not be empty")
		}
		if seen[o] {
			return fieldErr(ErrInvalidMessage, fmt.Sprintf("options[%d]", i), "duplicates %q", o)
		}
		seen[o] = true
	}
	if p.MaxSelections < 0 || p.MaxSelections > len(p.Options) {
		return fieldErr(ErrInvalidMessage, "max_selections", "must be between 0 and %d", len(p.Options))
	}
	return checkText("question", p.Question)
}

// PollVote is an inbound vote on a poll this session sent.
type PollVote struct {
	// PollID is the poll message's ID.
	PollID string `json:"poll_id"`
	// Selected lists the chosen options' texts (empty when a vote is withdrawn).
	Selected []string `json:"selected"`
}

// ContentType returns ContentPollVote.
func (*PollVote) ContentType() ContentType { return ContentPollVote }

func (*PollVote) validate() error {
	return fieldErr(ErrInvalidMessage, "type", "poll votes cannot be sent")
}

// Reaction is an emoji reaction to a message; an empty Emoji removes it.
type Reaction struct {
	// Emoji is the reaction, or "" to remove one. Outbound, it must be a single
	// emoji: one character, or a sequence such as a flag, a keycap, a skin
	// tone or a ZWJ sequence (👩🏽‍💻).
	Emoji string `json:"emoji"`
	// TargetID is the message reacted to. Required.
	TargetID string `json:"target_id"`
	// TargetSender is the JID of the target's author; the Core fills it from the
	// store when it knows the target.
	TargetSender string `json:"target_sender,omitempty"`
}

// ContentType returns ContentReaction.
func (*Reaction) ContentType() ContentType { return ContentReaction }

func (r *Reaction) validate() error {
	if strings.TrimSpace(r.TargetID) == "" {
		return fieldErr(ErrInvalidMessage, "target_id", "must not be empty")
	}
	if r.Emoji != "" && !isEmoji(r.Emoji) {
		return fieldErr(ErrInvalidMessage, "emoji", "must be a single emoji (or empty to remove the reaction), not %q", r.Emoji)
	}
	return nil
}

// EditWindow is how long after sending a message WhatsApp lets its author
// edit it; the Core refuses later edits with ErrNotEditable.
const EditWindow = 15 * time.Minute

// Edit replaces the text of a message this session sent: a text message, at
// most EditWindow old.
type Edit struct {
	// TargetID is the message to edit. Required.
	TargetID string `json:"target_id"`
	// Text is the new text. Required.
	Text string `json:"text"`
}

// ContentType returns ContentEdit.
func (*Edit) ContentType() ContentType { return ContentEdit }

func (e *Edit) validate() error {
	if strings.TrimSpace(e.TargetID) == "" {
		return fieldErr(ErrInvalidMessage, "target_id", "must not be empty")
	}
	if strings.TrimSpace(e.Text) == "" {
		return fieldErr(ErrInvalidMessage, "text", "must not be empty")
	}
	return checkText("text", e.Text)
}

// Revoke deletes a message this session sent for everyone.
type Revoke struct {
	// TargetID is the message to delete. Required.
	TargetID string `json:"target_id"`
	// TargetSender is the JID of the target's author ("" for this session's own).
	TargetSender string `json:"target_sender,omitempty"`
}

// ContentType returns ContentRevoke.
func (*Revoke) ContentType() ContentType { return ContentRevoke }

func (r *Revoke) validate() error {
	if strings.TrimSpace(r.TargetID) == "" {
		return fieldErr(ErrInvalidMessage, "target_id", "must not be empty")
	}
	return nil
}

// MarshalContent encodes content with its "type" field, the form used in the
// database, events and on the wire.
func MarshalContent(c Content) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: content is nil", ErrInvalidMessage)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	typ, _ := json.Marshal(string(c.ContentType()))
	if string(body) == "{}" {
		return []byte(`{"type":` + string(typ) + `}`), nil
	}
	return append([]byte(`{"type":`+string(typ)+`,`), body[1:]...), nil
}

// UnmarshalContent decodes what MarshalContent produced.
func UnmarshalContent(b []byte) (Content, error) {
	var head struct {
		Type ContentType `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: content: %w", ErrInvalidMessage, err)
	}
	var c Content
	switch head.Type {
	case ContentText:
		c = &Text{}
	case ContentImage, ContentVideo, ContentAudio, ContentDocument, ContentSticker:
		c = &Media{}
	case ContentLocation:
		c = &Location{}
	case ContentContact:
		c = &Contact{}
	case ContentPoll:
		c = &Poll{}
	case ContentPollVote:
		c = &PollVote{}
	case ContentReaction:
		c = &Reaction{}
	case ContentEdit:
		c = &Edit{}
	case ContentRevoke:
		c = &Revoke{}
	case ContentButtons:
		c = &Buttons{}
	case ContentList:
		c = &List{}
	default:
		return nil, fmt.Errorf("%w: unknown content type %q", ErrInvalidMessage, head.Type)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%w: %s content: %w", ErrInvalidMessage, head.Type, err)
	}
	if m, ok := c.(*Media); ok && m.Kind != head.Type {
		m.Kind = head.Type
	}
	return c, nil
}

// contentJSON wraps Content for JSON fields of structs.
type contentJSON struct{ Content }

func (c contentJSON) MarshalJSON() ([]byte, error) {
	if c.Content == nil {
		return []byte("null"), nil
	}
	return MarshalContent(c.Content)
}

func (c *contentJSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		c.Content = nil
		return nil
	}
	v, err := UnmarshalContent(b)
	if err != nil {
		return err
	}
	c.Content = v
	return nil
}

// Direction says whether a message was received or sent by the session.
type Direction string

// The directions.
const (
	DirectionIn  Direction = "in"
	DirectionOut Direction = "out"
)

// MessageStatus is an outbound message's delivery state. It only moves forward:
// pending → sent → delivered → read (→ played for voice notes), or failed.
type MessageStatus string

// The statuses. Inbound messages are always StatusReceived.
const (
	StatusDelivered MessageStatus = "delivered"
	StatusFailed    MessageStatus = "failed"
	StatusPending   MessageStatus = "pending"
	StatusPlayed    MessageStatus = "played"
	StatusRead      MessageStatus = "read"
	StatusReceived  MessageStatus = "received"
	StatusSent      MessageStatus = "sent"
)

func (s MessageStatus) rank() int {
	switch s {
	case StatusPending:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusPlayed:
		return 5
	case StatusFailed:
		return 6
	}
	return 0
}

// Address identifies a chat or a user by every identity WhatsApp gives: the phone
// JID, the LID (WhatsApp's anonymous ID) and the phone number when known.
type Address struct {
	// JID is the primary JID: the phone JID ("<number>@s.whatsapp.net") where
	// known, else a LID or group JID.
	JID string `json:"jid"`
	// LID is the "@lid" identity, when WhatsApp gave one.
	LID string `json:"lid,omitempty"`
	// Phone is the E.164 number ("+201001234567"), when known.
	Phone string `json:"phone,omitempty"`
}

// Message is a stored message, inbound or outbound.
type Message struct {
	// Chat is the conversation: the other user, or a group.
	Chat Address `json:"chat"`
	// Content is the message body.
	Content Content `json:"-"`
	// CreatedAt is when waqtor stored the message.
	CreatedAt time.Time `json:"created_at"`
	// Direction says whether it was received or sent.
	Direction Direction `json:"direction"`
	// EditedAt is when the text was last edited (Content then holds the new
	// text); zero when never.
	EditedAt time.Time `json:"edited_at,omitzero"`
	// Error describes the failure of a failed outbound message.
	Error string `json:"error,omitempty"`
	// FromMe is true for messages the account sent (also from another device).
	FromMe bool `json:"from_me"`
	// ID is WhatsApp's message ID, chosen by waqtor for outbound messages.
	ID string `json:"id"`
	// IsGroup is true when Chat is a group.
	IsGroup bool `json:"is_group"`
	// PushName is the sender's profile name on inbound messages.
	PushName string `json:"push_name,omitempty"`
	// Revoked is true once the message was deleted for everyone. Content is
	// kept: it is the database owner's to purge.
	Revoked bool `json:"revoked"`
	// RevokedAt is when it was revoked; zero unless Revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Sender is the author (equal to Chat in one-to-one chats, the member in groups).
	Sender Address `json:"sender"`
	// Session is the session's ID.
	Session string `json:"session"`
	// Status is the delivery state.
	Status MessageStatus `json:"status"`
	// Tenant owns the session.
	Tenant string `json:"tenant"`
	// Time is WhatsApp's timestamp of the message.
	Time time.Time `json:"timestamp"`
	// UpdatedAt is when the status last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

type messageJSON Message

// MarshalJSON encodes Content with its type field.
func (m *Message) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		*messageJSON
		Content contentJSON `json:"content"`
	}{(*messageJSON)(m), contentJSON{m.Content}})
}

// UnmarshalJSON decodes what MarshalJSON produced.
func (m *Message) UnmarshalJSON(b []byte) error {
	aux := struct {
		*messageJSON
		Content contentJSON `json:"content"`
	}{messageJSON: (*messageJSON)(m)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	m.Content = aux.Content.Content
	return nil
}
