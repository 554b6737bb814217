// Package whatsapp is the waqtor engine for real WhatsApp accounts, built on
// go.mau.fi/whatsmeow. Plug it into a Core with [New]:
//
//	core, err := waqtor.NewCore(ctx, &waqtor.Config{
//		Database: "waqtor.db",
//		Engine:   whatsapp.New(nil),
//	})
//
// # Device store
//
// whatsmeow's device store (its whatsmeow_* tables) lives in the Core's database,
// SQLite or PostgreSQL, next to waqtor's tables, and is migrated when the engine
// starts. Each waqtor session has its own whatsmeow device; the engine's
// whatsapp_sessions table records which. A session whose device keys are
// missing or unreadable is reported logged out with a clear reason and pairs
// again on the next Connect.
//
// # Pairing
//
// An unpaired session shows QR codes after Connect: each code reaches the Core
// through ConnHandler.HandleQR with its expiry ([QRPNG], [QRDataURL] and
// [QRTerminal] render it). Conn.PairPhone returns a code to type on the phone
// instead. A scan moves the session to ready; when the codes run out the
// session ends disconnected with [ErrQRTimeout] and waits for the next Connect:
// pairing never restarts by itself.
//
// # Lifecycle and states
//
// Connect returns within Config.ConnectWait even though whatsmeow's handshake
// can block for 20 s. Lost connections of paired sessions are retried with
// capped, jittered backoff, and only state changes are reported, so an offline
// session reports "disconnected" once, not once per retry. A session is ready
// only after WhatsApp logged it in; attempts that open a socket but never log in
// are abandoned after Config.ConnectTimeout. StreamReplaced, TemporaryBan,
// LoggedOut, ClientOutdated and keep-alive timeouts each have an honest state
// and a typed error ([ErrStreamReplaced], *waqtor.BannedError, [ErrLoggedOut],
// [ErrClientOutdated], [ErrKeepAliveTimeout]).
//
// # Inbound durability
//
// The whatsmeow client runs with SynchronousAck and the decrypted-event buffer:
// each inbound message and receipt is handed to ConnHandler.HandleMessage or
// HandleReceipt on whatsmeow's goroutine, and WhatsApp is acknowledged only when
// that call succeeds. A failed (or crashed) insert means WhatsApp delivers the
// message again. Status, QR and presence callbacks run on the connection's own
// goroutine, in order.
//
// # Identity
//
// Every address carries the phone JID and the LID when WhatsApp sends either or
// whatsmeow's LID map knows them, so handlers see a real number where one is
// known rather than an anonymous "@lid".
//
// # Outbound
//
// Sends use the Core's message ID (whatsmeow's SendRequestExtra.ID), so a retry
// reuses it. Errors wrap waqtor.ErrNotReady when the session cannot send,
// waqtor.Permanent when no retry can help, and are retryable otherwise. Buttons
// and lists go out as a numbered text menu by default ([Config].InteractiveMode),
// because WhatsApp silently drops native ones on most accounts.
//
// # Handlers
//
// ConnHandler methods must return quickly and must not call Close on their own
// Conn synchronously: Close waits for the callbacks in flight (bounded by its
// context). Inbound presence reaches handlers that also implement
// waqtor.PresenceHandler.
//
// # What the tests prove, and what only a phone can
//
// The tests run offline: the whatsmeow client sits behind a narrow internal
// interface with a fake, and real events.* structs are fed through the
// engine's handler and through a real whatsmeow client's handler chain. They
// cover every inbound type, every outbound command (the exact whatsmeow message
// built), the state machine, the device store on SQLite and PostgreSQL and the
// QR renderers. What needs a real account: the noise handshake and login,
// scanning a QR code or typing a pairing code, upload and download against
// WhatsApp's media servers, usync (IsOnWhatsApp), poll vote decryption with
// real secrets, whether WhatsApp renders native buttons and lists, whether a
// resend with the same message ID is deduplicated, and how the server treats
// receipts and typing addressed by phone JID versus LID.
package whatsapp
