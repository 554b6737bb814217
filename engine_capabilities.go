package waqtor

import (
	"context"
	"time"
)

// PresenceHandler is an optional capability of a [ConnHandler]. Engines that
// receive chat presence (someone typing or recording in a chat) pass it to
// handlers that implement this interface and drop it otherwise. Presence is
// ephemeral: it is never persisted and an engine may drop updates under load.
type PresenceHandler interface {
	// HandlePresence reports a chat presence update. It must return quickly.
	HandlePresence(ctx context.Context, p *InboundPresence)
}

// InboundPresence is a chat presence update received from a contact.
type InboundPresence struct {
	// Chat is the conversation (the contact, or a group).
	Chat Address `json:"chat"`
	// Sender is who is typing (the member, in groups).
	Sender Address `json:"sender"`
	// State is typing, recording or paused.
	State ChatPresence `json:"state"`
	// Time is when the engine received the update.
	Time time.Time `json:"time"`
}
