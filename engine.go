package waqtor

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// Engine is the narrow contract between the Core and a WhatsApp implementation:
// the real network through whatsmeow (package whatsapp) or a simulated one
// (package sandbox). The Core drives engines; users normally only pick one in
// [Config].Engine.
//
// An Engine must be safe for concurrent use. Optional capabilities are separate
// interfaces found by type assertion: [EngineCloser], [MediaDownloader].
type Engine interface {
	// Open returns the connection object of one session without connecting it.
	// Events of the connection are reported to h. The Core opens each session
	// once per Start and calls Conn.Close before opening it again.
	Open(ctx context.Context, s *EngineSession, h ConnHandler) (Conn, error)
}

// EngineCloser is implemented by engines that hold resources beyond their
// connections; the Core calls Close on Stop after closing every Conn. Close
// releases only what this engine created: an engine shared between Cores should
// hand each Core its own view from its factory.
type EngineCloser interface {
	Close(ctx context.Context) error
}

// MediaDownloader is implemented by engines that can fetch inbound media on demand.
type MediaDownloader interface {
	// DownloadMedia returns the bytes of inbound media described by m (its Ref),
	// received by the session whose EngineSession.ID is session.
	DownloadMedia(ctx context.Context, session string, m *Media) ([]byte, error)
}

// EngineFactory builds the Core's engine when the Core is created. It receives
// what the Core owns and the engine may share, such as the database that holds
// whatsmeow's device store.
type EngineFactory func(ctx context.Context, env *EngineEnv) (Engine, error)

// EngineEnv is what the Core hands an EngineFactory.
type EngineEnv struct {
	// DB is the Core's connection pool. Engines may add their own tables to it
	// (prefixed with their name) but must not touch waqtor_* tables.
	DB *sql.DB
	// DSN is the database's driver DSN, for engines that open their own pool on
	// the same database (on SQLite, waqtor's pool has a single connection).
	DSN string
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// Logger is the Core's logger.
	Logger *slog.Logger
	// Now is the Core's clock.
	Now func() time.Time
}

// EngineSession describes the session a Conn is opened for.
type EngineSession struct {
	// ID identifies the session to the engine (its device store, its logs):
	// unique across tenants, and the same for as long as the session exists.
	// It is the session's ID, or "tenant/ID" when a session of another tenant
	// already had that ID as its key (session IDs are unique per tenant only).
	ID string
	// JID is the account's JID from the last successful pairing, or "" when the
	// session has never paired (or logged out).
	JID string
	// Tenant owns the session.
	Tenant string
}

// Conn is one session's connection to WhatsApp. The Core serialises lifecycle
// calls (Connect, Disconnect, Logout, Close) per session but may call Send and the
// other commands concurrently; implementations must be safe for that.
type Conn interface {
	// CheckNumbers reports which phone numbers (E.164) are on WhatsApp.
	CheckNumbers(ctx context.Context, phones []string) ([]NumberCheck, error)
	// Close releases the connection; it does not log out. It may be called from
	// inside a ConnHandler method.
	Close(ctx context.Context) error
	// Connect starts connecting and returns promptly (it must respect ctx and not
	// wait for a slow handshake). Progress is reported through the ConnHandler:
	// StateConnecting, then StateQR with HandleQR calls while unpaired, then
	// StateReady; or StateDisconnected with an error.
	Connect(ctx context.Context) error
	// Disconnect closes the network connection, keeping the pairing. The engine
	// may report StateDisconnected; the Core ignores events of a conn it closed.
	Disconnect(ctx context.Context) error
	// Logout unpairs the device and deletes its keys.
	Logout(ctx context.Context) error
	// MarkRead sends read receipts for messages of chat (sender is the author in
	// groups, "" otherwise).
	MarkRead(ctx context.Context, chat, sender string, ids []string, at time.Time) error
	// PairPhone starts pairing by phone number and returns the code the user types
	// on their phone, as WhatsApp shows it ("ABCD-EFGH"). Call it after Connect,
	// while unpaired.
	PairPhone(ctx context.Context, phone string) (string, error)
	// Send delivers one message with the ID the Core chose (msg.ID) and returns
	// WhatsApp's timestamp. Return an error wrapping ErrNotReady when not
	// connected, and wrap errors no retry can fix with [Permanent]. A resend of an
	// ID already sent must not produce a second visible message where the network
	// allows it to be avoided.
	Send(ctx context.Context, msg *OutboundMessage) (*SendResult, error)
	// SetPresence sends a chat state (typing, recording, paused) to chat.
	SetPresence(ctx context.Context, chat string, p ChatPresence) error
}

// ConnHandler receives a Conn's events. The Core implements it. Handlers return
// quickly: HandleMessage and HandleReceipt do one bounded database write each and
// return its error, so that an engine can withhold WhatsApp's acknowledgement when
// the write failed (and WhatsApp redelivers).
type ConnHandler interface {
	// HandleMessage persists an inbound message (a duplicate ID is not an error).
	HandleMessage(ctx context.Context, m *InboundMessage) error
	// HandleQR reports a new QR code to show the user.
	HandleQR(ctx context.Context, code string, expires time.Time)
	// HandleReceipt applies a delivery, read or played receipt for sent messages.
	HandleReceipt(ctx context.Context, r *Receipt) error
	// HandleStatus reports a change of the connection's state.
	HandleStatus(ctx context.Context, st *ConnStatus)
}

// MessageBatchHandler is an optional capability of a [ConnHandler] (the Core's
// has it). An engine that holds several inbound messages of one session at once,
// unacknowledged (a burst, or an offline backlog), may hand them over in one
// HandleMessages call instead of one HandleMessage each: the Core then persists
// them, and appends their events, in one transaction, which on a database that
// syncs every commit to disk is many times faster than a commit per message.
type MessageBatchHandler interface {
	// HandleMessages persists inbound messages of the session, in order, all or
	// none: on error none is stored and the engine must not acknowledge any of
	// them (it may hand them over again, together or one at a time). Messages
	// already stored are skipped without error, as with HandleMessage.
	HandleMessages(ctx context.Context, ms []*InboundMessage) error
}

// ConnStatus is a connection state change reported by an engine.
type ConnStatus struct {
	// BanExpires is when a temporary ban lifts (StateBanned).
	BanExpires time.Time
	// Err is the cause of a disconnection or failure, if any.
	Err error
	// JID is the account's JID once paired (StateReady).
	JID string
	// LID is the account's LID, when known.
	LID string
	// Platform is the phone's platform, when known.
	Platform string
	// PushName is the account's profile name, when known.
	PushName string
	// Reason describes the change for people ("QR code expired", "stream replaced").
	Reason string
	// State is the new state.
	State SessionState
}

// OutboundMessage is a message the Core asks an engine to send.
type OutboundMessage struct {
	// Chat is the recipient's normalised JID.
	Chat string
	// Content is the body; Media.Data holds the bytes for media.
	Content Content
	// ID is the WhatsApp message ID to use, already persisted by the Core.
	ID string
}

// SendResult is an engine's answer to a successful send.
type SendResult struct {
	// Time is WhatsApp's timestamp for the message.
	Time time.Time
}

// InboundMessage is a message an engine received (or one the account sent from
// another device, with FromMe set).
type InboundMessage struct {
	// Chat is the conversation.
	Chat Address
	// Content is the body.
	Content Content
	// FromMe marks messages the account sent from another device.
	FromMe bool
	// ID is WhatsApp's message ID.
	ID string
	// IsGroup is true when Chat is a group.
	IsGroup bool
	// PushName is the sender's profile name.
	PushName string
	// Sender is the author.
	Sender Address
	// Time is WhatsApp's timestamp.
	Time time.Time
}

// ReceiptType is the kind of a receipt.
type ReceiptType string

// The receipt types that move outbound messages forward.
const (
	ReceiptDelivered ReceiptType = "delivered"
	ReceiptPlayed    ReceiptType = "played"
	ReceiptRead      ReceiptType = "read"
)

// Receipt reports that messages this session sent were delivered, read or played.
type Receipt struct {
	// Chat is the conversation the messages are in.
	Chat Address
	// IDs are the message IDs the receipt covers.
	IDs []string
	// Sender is who sent the receipt (the reader; a member in groups).
	Sender Address
	// Time is when it happened.
	Time time.Time
	// Type is delivered, read or played.
	Type ReceiptType
}

// ChatPresence is a typing state shown to a chat.
type ChatPresence string

// The chat presences.
const (
	PresencePaused    ChatPresence = "paused"
	PresenceRecording ChatPresence = "recording"
	PresenceTyping    ChatPresence = "typing"
)

// NumberCheck is the answer for one number of CheckNumbers.
type NumberCheck struct {
	// JID is the number's user JID when it is on WhatsApp.
	JID string `json:"jid,omitempty"`
	// LID is the number's LID, when WhatsApp gave one.
	LID string `json:"lid,omitempty"`
	// OnWhatsApp reports whether the number has a WhatsApp account.
	OnWhatsApp bool `json:"on_whatsapp"`
	// Phone is the number asked about, in E.164.
	Phone string `json:"phone"`
}
