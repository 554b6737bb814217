package waqtor

import "time"

// Events of the campaign package (github.com/waqtor/waqtor/campaign). They
// live here because events are sealed: only this package defines them. Their
// tenant is the campaign's; their session is empty, since a campaign may send
// through several sessions.

// The campaign event kinds.
const (
	// KindCampaignCancelled is emitted when a campaign is cancelled.
	KindCampaignCancelled EventKind = "campaign.cancelled"
	// KindCampaignCompleted is emitted when every recipient of a running
	// campaign has reached a final state.
	KindCampaignCompleted EventKind = "campaign.completed"
	// KindCampaignFailed is emitted when a campaign cannot go on (its content
	// can no longer be sent, all its sessions are gone).
	KindCampaignFailed EventKind = "campaign.failed"
	// KindCampaignPaused is emitted when a campaign pauses: on request, or by
	// itself when a sender session logs out or is banned, or too many sends fail.
	KindCampaignPaused EventKind = "campaign.paused"
	// KindCampaignProgress is emitted on every state change of a campaign and,
	// while it runs, at most once a second as its counts change.
	KindCampaignProgress EventKind = "campaign.progress"
)

// CampaignCounts are a campaign's recipients by how far they got. Sent counts
// every recipient whose message WhatsApp accepted, Delivered those of them
// whose message reached the phone, Read those who read it; so Read ≤
// Delivered ≤ Sent. Pending counts recipients not yet sent (including those
// being sent); Failed and Skipped are final. Total = Pending + Sent + Failed +
// Skipped.
type CampaignCounts struct {
	// Delivered is how many messages reached the recipient's phone.
	Delivered int64 `json:"delivered"`
	// Failed is how many recipients could not be sent to.
	Failed int64 `json:"failed"`
	// Pending is how many recipients wait to be sent to or are being sent to.
	Pending int64 `json:"pending"`
	// Read is how many messages were read.
	Read int64 `json:"read"`
	// Sent is how many messages WhatsApp accepted.
	Sent int64 `json:"sent"`
	// Skipped is how many recipients were skipped: invalid phone, duplicate,
	// opted out, or not on WhatsApp.
	Skipped int64 `json:"skipped"`
	// Total is how many recipients the campaign has.
	Total int64 `json:"total"`
}

// CampaignProgress reports a campaign's state and counts.
type CampaignProgress struct {
	EventMeta
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Counts are the recipients by how far they got.
	Counts CampaignCounts `json:"counts"`
	// ETA is when the campaign is expected to finish at its current pace
	// (zero when not running or unknown).
	ETA time.Time `json:"eta,omitzero"`
	// Failed repeats Counts.Failed, for the original plan's payload.
	Failed int64 `json:"failed"`
	// Name is the campaign's name.
	Name string `json:"name"`
	// Sent repeats Counts.Sent, for the original plan's payload.
	Sent int64 `json:"sent"`
	// State is the campaign's state: draft, scheduled, running, paused,
	// completed, cancelled or failed.
	State string `json:"status"`
	// Total repeats Counts.Total, for the original plan's payload.
	Total int64 `json:"total"`
}

// Kind returns KindCampaignProgress.
func (*CampaignProgress) Kind() EventKind { return KindCampaignProgress }
func (*CampaignProgress) isEvent()        {}

// CampaignPaused reports a campaign that paused.
type CampaignPaused struct {
	EventMeta
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Counts are the recipients by how far they got.
	Counts CampaignCounts `json:"counts"`
	// Detail describes the cause for people.
	Detail string `json:"detail,omitempty"`
	// Name is the campaign's name.
	Name string `json:"name"`
	// Reason says why: "requested" (paused through the API), "session_logged_out",
	// "session_banned", or "failure_rate" (too many sends failed in a row).
	Reason string `json:"reason"`
	// ResumeAt is when the campaign resumes by itself (after a temporary ban,
	// when resuming after bans is on); zero when it waits to be resumed.
	ResumeAt time.Time `json:"resume_at,omitzero"`
	// Session is the sender session that caused an automatic pause.
	Session string `json:"session,omitempty"`
}

// Kind returns KindCampaignPaused.
func (*CampaignPaused) Kind() EventKind { return KindCampaignPaused }
func (*CampaignPaused) isEvent()        {}

// CampaignCompleted reports a campaign whose recipients all reached a final
// state. Delivered and read receipts may still arrive and update the counts.
type CampaignCompleted struct {
	EventMeta
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Counts are the recipients by how far they got.
	Counts CampaignCounts `json:"counts"`
	// Name is the campaign's name.
	Name string `json:"name"`
}

// Kind returns KindCampaignCompleted.
func (*CampaignCompleted) Kind() EventKind { return KindCampaignCompleted }
func (*CampaignCompleted) isEvent()        {}

// CampaignFailed reports a campaign that stopped because it cannot go on.
type CampaignFailed struct {
	EventMeta
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Counts are the recipients by how far they got.
	Counts CampaignCounts `json:"counts"`
	// Name is the campaign's name.
	Name string `json:"name"`
	// Reason says why.
	Reason string `json:"reason"`
}

// Kind returns KindCampaignFailed.
func (*CampaignFailed) Kind() EventKind { return KindCampaignFailed }
func (*CampaignFailed) isEvent()        {}

// CampaignCancelled reports a cancelled campaign. Recipients not sent yet
// stay unsent.
type CampaignCancelled struct {
	EventMeta
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Counts are the recipients by how far they got.
	Counts CampaignCounts `json:"counts"`
	// Name is the campaign's name.
	Name string `json:"name"`
	// Reason is the reason the caller gave, if any.
	Reason string `json:"reason,omitempty"`
}

// Kind returns KindCampaignCancelled.
func (*CampaignCancelled) Kind() EventKind { return KindCampaignCancelled }
func (*CampaignCancelled) isEvent()        {}
