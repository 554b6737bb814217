package campaign

import (
	"time"

	"github.com/waqtor/waqtor"
)

// State is a campaign's state. A campaign moves
//
//	draft → scheduled → running ⇄ paused → completed | cancelled | failed
//
// (draft may go straight to running; scheduled and paused may be cancelled),
// and every move is kept with its reason ([Service.Transitions]).
type State string

// The campaign states.
const (
	// StateCancelled: stopped for good on request; unsent recipients stay pending.
	StateCancelled State = "cancelled"
	// StateCompleted: every recipient reached a final state.
	StateCompleted State = "completed"
	// StateDraft: being prepared; content, sessions and recipients may change.
	StateDraft State = "draft"
	// StateFailed: stopped because it cannot go on.
	StateFailed State = "failed"
	// StatePaused: sends are held until Resume (or, after a temporary ban,
	// until the ban lifts when Pacing.ResumeAfterBan is on).
	StatePaused State = "paused"
	// StateRunning: recipients are being sent to.
	StateRunning State = "running"
	// StateScheduled: waiting for ScheduleAt to start running.
	StateScheduled State = "scheduled"
)

// Final reports whether no further move is possible.
func (s State) Final() bool {
	return s == StateCompleted || s == StateCancelled || s == StateFailed
}

// RecipientState is how far a recipient got.
type RecipientState string

// The recipient states: pending → sending → sent → delivered → read, or
// failed, or skipped.
const (
	// RecipientDelivered: the message reached the recipient's phone.
	RecipientDelivered RecipientState = "delivered"
	// RecipientFailed: the message could not be sent (Reason says why).
	RecipientFailed RecipientState = "failed"
	// RecipientPending: not sent yet.
	RecipientPending RecipientState = "pending"
	// RecipientRead: the recipient read the message.
	RecipientRead RecipientState = "read"
	// RecipientSending: claimed by a sender; its message ID is chosen and
	// stored, and a send interrupted by a crash is repeated under that ID.
	RecipientSending RecipientState = "sending"
	// RecipientSent: WhatsApp accepted the message.
	RecipientSent RecipientState = "sent"
	// RecipientSkipped: never sent to (Reason: invalid_phone, duplicate,
	// opted_out, not_on_whatsapp).
	RecipientSkipped RecipientState = "skipped"
)

// Reasons recorded with skipped and failed recipients.
const (
	// ReasonDuplicate: the phone appears earlier in the campaign.
	ReasonDuplicate = "duplicate"
	// ReasonInvalidPhone: the phone cannot be parsed (Detail says why).
	ReasonInvalidPhone = "invalid_phone"
	// ReasonNotOnWhatsApp: the number has no WhatsApp account.
	ReasonNotOnWhatsApp = "not_on_whatsapp"
	// ReasonOptedOut: the contact opted out of marketing messages.
	ReasonOptedOut = "opted_out"
	// ReasonSendFailed: WhatsApp or the engine refused the message.
	ReasonSendFailed = "send_failed"
	// ReasonInvalidContent: the rendered message is not a valid message.
	ReasonInvalidContent = "invalid_content"
)

// level orders recipient states by how far they got: 0 not sent, 1 sent,
// 2 delivered, 3 read; -1 for final states off that line.
func (s RecipientState) level() int {
	switch s {
	case RecipientPending, RecipientSending:
		return 0
	case RecipientSent:
		return 1
	case RecipientDelivered:
		return 2
	case RecipientRead:
		return 3
	}
	return -1
}

// Content is what a campaign sends: exactly one of Text, Media or Poll. Every
// text field is a template ([github.com/waqtor/waqtor/template]) rendered
// per recipient with the campaign's Variables overlaid by the recipient's.
type Content struct {
	// Media is an image, video, audio or document with an optional caption.
	Media *Media `json:"media,omitempty"`
	// Poll is a poll.
	Poll *Poll `json:"poll,omitempty"`
	// Text is a text message.
	Text string `json:"text,omitempty"`
}

// Media is a campaign's media message.
type Media struct {
	// Caption is the caption template.
	Caption string `json:"caption,omitempty"`
	// Data is the file's bytes (base64 in JSON). Exactly one of Data and URL.
	Data []byte `json:"data,omitempty"`
	// FileName is the document's file name.
	FileName string `json:"file_name,omitempty"`
	// Kind is image, video, audio or document. Required with URL; with Data
	// it defaults to the kind the bytes show (document when unknown).
	Kind waqtor.ContentType `json:"kind,omitempty"`
	// MIME is the media type; detected when empty.
	MIME string `json:"mime,omitempty"`
	// URL is where the Core fetches the file (through its SSRF guard).
	URL string `json:"url,omitempty"`
}

// Poll is a campaign's poll.
type Poll struct {
	// MaxSelections is how many options a voter may pick. Defaults to 1.
	MaxSelections int `json:"max_selections,omitempty"`
	// Options are the choice templates.
	Options []string `json:"options"`
	// Question is the question template.
	Question string `json:"question"`
}

// Campaign is a bulk message to many recipients.
type Campaign struct {
	// CheckNumbers skips recipients that are not on WhatsApp (asking WhatsApp
	// once per recipient, just before its send).
	CheckNumbers bool `json:"check_numbers"`
	// Content is what is sent.
	Content Content `json:"content"`
	// Counts are the recipients by how far they got.
	Counts waqtor.CampaignCounts `json:"counts"`
	// CreatedAt is when the campaign was created.
	CreatedAt time.Time `json:"created_at"`
	// FinishedAt is when it completed, failed or was cancelled.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// ID is the campaign's ID ("cmp_…").
	ID string `json:"id"`
	// Name names the campaign for people.
	Name string `json:"name"`
	// Pacing is the sending policy.
	Pacing Pacing `json:"pacing"`
	// ResumeAt is when a campaign paused by a temporary ban resumes by itself.
	ResumeAt time.Time `json:"resume_at,omitzero"`
	// ScheduleAt is when a scheduled campaign starts.
	ScheduleAt time.Time `json:"schedule_at,omitzero"`
	// Sessions are the sender sessions; each recipient is sent to by one of them.
	Sessions []string `json:"sessions"`
	// StartedAt is when it first ran.
	StartedAt time.Time `json:"started_at,omitzero"`
	// State is the campaign's state.
	State State `json:"state"`
	// StateReason is why it entered its state.
	StateReason string `json:"state_reason,omitempty"`
	// Tenant owns the campaign.
	Tenant string `json:"tenant"`
	// TimeZone is the IANA zone of {{date}}, {{time}}, quiet hours and daily caps.
	TimeZone string `json:"time_zone"`
	// UpdatedAt is when the campaign last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// VariableCounts counts, per variable name found in the recipients'
	// data, the recipients that have a value for it (at most
	// MaxVariableNames names are counted).
	VariableCounts map[string]int64 `json:"variable_counts"`
	// Variables are the default template variables.
	Variables map[string]string `json:"variables"`
}

// Recipient is one recipient of a campaign.
type Recipient struct {
	// Chat is the WhatsApp JID sent to (empty for an invalid phone).
	Chat string `json:"chat,omitempty"`
	// ClaimedAt is when a sender last claimed the recipient: the start of its
	// send, which the pacing spaces out.
	ClaimedAt time.Time `json:"claimed_at,omitzero"`
	// ClaimedBy is the Config.NodeID of the process that last claimed it.
	ClaimedBy string `json:"claimed_by,omitempty"`
	// DeliveredAt is when the message reached the phone.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	// Detail describes a failure or skip for people.
	Detail string `json:"detail,omitempty"`
	// MessageID is the message's ID, chosen when the recipient is claimed.
	MessageID string `json:"message_id,omitempty"`
	// Phone is the number in E.164, or as given when it is invalid.
	Phone string `json:"phone"`
	// ReadAt is when the message was read.
	ReadAt time.Time `json:"read_at,omitzero"`
	// Reason is the code of a failure or skip (ReasonOptedOut, ...).
	Reason string `json:"reason,omitempty"`
	// RepliedAt is when the recipient first wrote back after the send.
	RepliedAt time.Time `json:"replied_at,omitzero"`
	// Seq is the recipient's position in the campaign, from 1.
	Seq int64 `json:"seq"`
	// SentAt is when WhatsApp accepted the message.
	SentAt time.Time `json:"sent_at,omitzero"`
	// Session is the sender session, once claimed.
	Session string `json:"session,omitempty"`
	// State is how far the recipient got.
	State RecipientState `json:"state"`
	// UpdatedAt is when the recipient last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Variables are the recipient's template variables.
	Variables map[string]string `json:"variables,omitempty"`
}

// Transition is one move of a campaign's state machine.
type Transition struct {
	// At is when it happened.
	At time.Time `json:"at"`
	// Detail adds context for people.
	Detail string `json:"detail,omitempty"`
	// From is the state before.
	From State `json:"from"`
	// Reason is the cause ("requested", "schedule", "session_banned", ...).
	Reason string `json:"reason"`
	// To is the state after.
	To State `json:"to"`
}

// location returns the campaign's time zone (UTC when it cannot be loaded,
// which validation prevents), from a cache: loading a zone parses its data.
func (c *Campaign) location() *time.Location {
	if loc, ok := loadZone(c.TimeZone); ok {
		return loc
	}
	return time.UTC
}
