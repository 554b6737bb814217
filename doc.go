// Package waqtor is an embeddable Go library for WhatsApp automation.
//
// A Go service builds one [Core] on a database (an SQLite file by default, or
// PostgreSQL), picks an engine — the real WhatsApp network through whatsmeow
// (package whatsapp) or a simulated one for tests and demos (package sandbox) —
// and gets WhatsApp sessions, typed events and typed commands. Nothing it accepts
// is lost: every state change is written to the database together with the event
// that reports it, before anyone is told.
//
// # Getting started
//
//	network := sandbox.NewNetwork(&sandbox.Config{AutoPair: true}) // or whatsapp.New(...)
//	core, err := waqtor.NewCore(ctx, &waqtor.Config{
//		Database: "waqtor-data/waqtor.db",
//		Engine:   network.Factory(),
//	})
//	if err != nil { ... }
//	if err := core.Start(ctx); err != nil { ... }
//	defer core.Stop(ctx)
//	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
//
// A new session connects at once and emits [SessionQR] events until a phone
// scans the code ([Core.PairPhone] offers a pairing code instead); then it is
// [StateReady]. Paired sessions reconnect by themselves on every [Core.Start].
//
// # Sessions
//
// A Core holds many sessions, each a linked device of one WhatsApp account. IDs
// are caller-chosen slugs ([ValidateSessionID]); every session belongs to a
// tenant ("default" unless [CreateSessionParams].Tenant says otherwise), so one
// Core can serve many customers. IDs are unique within a tenant: two tenants
// may each have a session "shop", and every method taking a session ID looks
// it up in the tenant of its context ([WithTenant]; the default tenant
// without one). A session's state ([SessionState]) is one of
// connecting, qr, ready, disconnected, logged_out, auth_failure or banned, and
// every change is a [SessionStatus] event. See [Core.CreateSession],
// [Core.Sessions], [Core.Connect], [Core.Disconnect], [Core.Restart],
// [Core.Logout] and [Core.DeleteSession].
//
// # Sending
//
// Commands are typed: [Core.Send] takes a [Content] ([*Text] with quotes and
// mentions, [*Media], [*Location], [*Contact], [*Poll], [*Reaction], [*Edit],
// [*Revoke]); [Core.SendText], [Core.SendMedia] (bytes, a file, or a URL fetched
// through an SSRF guard), [Core.SendLocation], [Core.SendContact],
// [Core.SendPoll], [Core.React], [Core.Edit] and [Core.Revoke] are shortcuts.
// Chats are phone numbers in any common notation or JIDs ([NormalizeChat]).
//
// Before the engine is asked to send, the message gets its WhatsApp ID and is
// stored as pending. If the process dies, or the network fails, the message is
// sent again later with the same ID. [SendOpts].IdempotencyKey makes a retried
// call safe: the second call returns the first message and sends nothing.
// Receipts move outbound messages forward (pending → sent → delivered → read),
// each step an event.
//
// Bad input never changes anything: errors wrap sentinels such as
// [ErrInvalidPhone], [ErrInvalidMessage] or [ErrNotReady], and [*FieldError]
// names the offending field.
//
// # Consent
//
// Each tenant has a consent registry: [Core.SetConsent] records that a contact
// opted in to or out of [ConsentMarketing] or [ConsentAll], with a source and
// a note, keeping every change ([Core.ConsentHistory]) and emitting
// [*ConsentChanged]. Contacts who text an opt-out keyword ("STOP", "إلغاء",
// [Config].OptOutKeywords) are opted out as their message is stored. A send to
// a contact opted out of all fails with [ErrOptedOut] unless
// [SendOpts].Transactional; a send with [SendOpts].Consent set to
// ConsentMarketing (as campaigns do) is refused when the contact opted out of
// marketing or all. [Core.OptedOut] answers the same question in one query.
//
// # Events
//
// Events are typed and sealed: [*SessionQR], [*SessionStatus],
// [*MessageReceived], [*MessageSent], [*MessageDelivered], [*MessageRead] and
// [*MessageFailed]. Handle them with [On], which gives the handler the concrete
// type:
//
//	waqtor.On(core, func(ctx context.Context, e *waqtor.MessageReceived) error {
//		if t, ok := e.Message.Content.(*waqtor.Text); ok {
//			_, err := core.SendText(ctx, e.Message.Session, e.Message.Chat.JID, "echo: "+t.Body, nil)
//			return err
//		}
//		return nil
//	})
//
// or with [Core.Subscribe] for a channel. Both are live views that never block
// WhatsApp: a handler that falls behind loses events (counted in
// [Core.EventStats]).
//
// # The event log
//
// Every event is also appended to a durable log, in the same transaction as the
// state change it reports, with a gap-free sequence number. A consumer that must
// see every event — a webhook dispatcher, a plugin, an audit trail — reads the
// log through a named [Cursor] ([Core.Cursor]) and commits its progress; after
// a crash it resumes where it left off. [Core.ReadLog] reads any range. Old
// entries are pruned once every cursor has passed them and
// [Config].LogRetention has elapsed.
//
// # Testing without a phone
//
// Package sandbox simulates WhatsApp: virtual phones send text, media, polls
// and reactions to your sessions and record what they receive; receipts arrive
// with configurable latency; faults (disconnects, failing or slow sends, bans)
// are one call away. Tests of a bot look like tests of an HTTP handler with
// httptest.
//
// # Concurrency
//
// All methods of [Core] are safe for concurrent use. Handlers run on goroutines
// of their own and may call any Core method.
package waqtor
