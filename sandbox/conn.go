package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/waqtor/waqtor"
)

// conn is a session's [waqtor.Conn] on the network. One goroutine per conn (its
// worker) calls the handler, in order: statuses and QR codes first, then
// messages and receipts while the session is ready.
type conn struct {
	n     *Network
	d     *device
	h     waqtor.ConnHandler
	owner *engine // nil when opened with Network.Open

	ctx    context.Context // the handlers' context; cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the worker returns
	wake   chan struct{}

	// Guarded by Network.mu.
	closed bool
	events []event
}

var _ waqtor.Conn = (*conn)(nil)

// event is a status or QR code for a handler.
type event struct {
	expires time.Time
	qr      string
	status  *waqtor.ConnStatus
}

// workerKey marks the handlers' context, so that Close called from inside a
// handler does not wait for itself.
type workerKey struct{}

func (c *conn) pushLocked(e event) {
	if c.closed {
		return
	}
	c.events = append(c.events, e)
	c.kick()
}

func (c *conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is the worker: it calls the handler until the conn closes.
func (c *conn) run() {
	defer c.n.wg.Done()
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		for c.dispatch() {
		}
	}
}

// dispatch makes one handler call; it reports false when there is nothing to do.
func (c *conn) dispatch() bool {
	n, d := c.n, c.d
	n.mu.Lock()
	if c.closed {
		n.mu.Unlock()
		return false
	}
	if len(c.events) > 0 {
		e := c.events[0]
		c.events = c.events[1:]
		n.mu.Unlock()
		c.call(func() error {
			if e.status != nil {
				c.h.HandleStatus(c.ctx, e.status)
			} else {
				c.h.HandleQR(c.ctx, e.qr, e.expires)
			}
			return nil
		})
		if e.status != nil {
			n.mu.Lock()
			if !c.closed {
				d.reported = e.status.State
				n.notifyLocked()
			}
			n.mu.Unlock()
		}
		return true
	}
	if d.state != stReady || d.retryWait || d.inflight != nil || len(d.stream) == 0 {
		n.mu.Unlock()
		return false
	}
	batch := c.takeLocked(d)
	n.mu.Unlock()

	var err error
	it := batch[0]
	switch {
	case len(batch) > 1:
		ms := make([]*waqtor.InboundMessage, len(batch))
		for i, b := range batch {
			m := *b.msg
			ms[i] = &m
		}
		bh := c.h.(waqtor.MessageBatchHandler)
		err = c.call(func() error { return bh.HandleMessages(c.ctx, ms) })
	case it.msg != nil:
		m := *it.msg
		err = c.call(func() error { return c.h.HandleMessage(c.ctx, &m) })
	default:
		r := *it.receipt
		r.IDs = slices.Clone(r.IDs)
		err = c.call(func() error { return c.h.HandleReceipt(c.ctx, &r) })
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	d.inflight = nil
	d.kickLocked() // a Conn that took over may be waiting for these items
	if err == nil {
		// Acknowledged. The stream may have been cleared (a logout) meanwhile.
		d.stream = slices.DeleteFunc(d.stream, func(s *item) bool { return slices.Contains(batch, s) })
		return true
	}
	kind := "receipt"
	if it.msg != nil {
		kind = "message"
	}
	n.debug("Sandbox handler refused a "+kind+"; redelivering later", slog.String("session", d.id),
		slog.Int("items", len(batch)), slog.Int("attempts", it.attempts), slog.Any("error", err))
	if c.closed || !slices.Contains(d.stream, it) {
		return true
	}
	d.retryWait = true
	d.retry = n.afterLocked(n.cfg.RedeliverDelay, func() {
		d.retry = nil
		d.retryWait = false
		d.kickLocked()
	})
	return true
}

// maxBatch caps how many messages one HandleMessages call carries.
const maxBatch = 256

// takeLocked marks the next items of d's stream in flight and returns them:
// the head alone, or, when the handler takes batches, the head and the
// messages right behind it (up to maxBatch). An item that was refused before
// goes alone, so a failing message is retried on its own, as without batches.
func (c *conn) takeLocked(d *device) []*item {
	batch := d.stream[:1]
	if _, ok := c.h.(waqtor.MessageBatchHandler); ok && d.stream[0].msg != nil && d.stream[0].attempts == 0 {
		k := 1
		for k < len(d.stream) && k < maxBatch && d.stream[k].msg != nil && d.stream[k].attempts == 0 {
			k++
		}
		batch = d.stream[:k]
	}
	batch = slices.Clone(batch)
	for _, it := range batch {
		it.attempts++
	}
	d.inflight = batch
	return batch
}

// call runs a handler method, turning a panic into an error.
func (c *conn) call(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.n.cfg.Logger.ErrorContext(c.ctx, "Sandbox ConnHandler panicked", slog.String("session", c.d.id),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("sandbox: handler panicked: %v", r)
		}
	}()
	return f()
}

// closeConnLocked closes c without waiting for its worker.
func (n *Network) closeConnLocked(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	c.events = nil
	d := c.d
	if d.conn == c {
		n.stopLifeLocked(d)
		n.stopLocked(d.retry)
		d.retry = nil
		d.retryWait = false
		d.state = stIdle
		d.conn = nil
	}
	delete(n.conns, c)
	c.cancel()
}

// wait waits for the worker to return, unless called from inside it.
func (c *conn) wait(ctx context.Context) error {
	if ctx.Value(workerKey{}) == c {
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox: close %s: waiting for its handler: %w", c.d.id, ctx.Err())
	}
}

// Close closes the connection without logging out and waits, bounded by ctx,
// for a handler call in progress to return (not when called from inside a
// handler with the handler's context). Messages for the session keep queueing
// until it is opened again.
func (c *conn) Close(ctx context.Context) error {
	c.n.mu.Lock()
	c.n.closeConnLocked(c)
	c.n.mu.Unlock()
	return c.wait(ctx)
}

// Connect starts connecting: StateConnecting, then after ConnectLatency either
// StateReady (paired), StateBanned, StateLoggedOut (logged out remotely) or
// StateQR with a QR code every QRInterval. Connecting a conn that is already
// connecting or connected does nothing.
func (c *conn) Connect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: connect %s: %w", c.d.id, err)
	}
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if c.closed {
		return fmt.Errorf("sandbox: connect %s: %w", c.d.id, ErrClosed)
	}
	if c.d.state == stIdle {
		c.n.connectLocked(c.d)
	}
	return nil
}

// Disconnect closes the network connection and keeps the pairing; it reports
// StateDisconnected when the session was connected.
func (c *conn) Disconnect(ctx context.Context) error {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	d := c.d
	if c.closed || d.state == stIdle {
		return nil
	}
	c.n.stopLifeLocked(d)
	d.state = stIdle
	d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateDisconnected, Reason: "disconnected"})
	return nil
}

// Logout unlinks the device: the session reports StateLoggedOut, drops what was
// queued for it and must pair again. Logging out an unpaired session only
// disconnects it.
func (c *conn) Logout(ctx context.Context) error {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if c.closed {
		return fmt.Errorf("sandbox: logout %s: %w", c.d.id, ErrClosed)
	}
	d := c.d
	c.n.stopLifeLocked(d)
	wasPaired := d.account != nil
	c.n.unpairLocked(d)
	d.state = stIdle
	d.stale = false
	if wasPaired {
		d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateLoggedOut, Reason: "logged out"})
	}
	return nil
}

// PairPhone returns a linking code ("ABCD-EFGH") for phone, valid while the
// session shows QR codes; [Network.EnterPairingCode] completes it. A new call
// replaces the previous code.
func (c *conn) PairPhone(ctx context.Context, phone string) (string, error) {
	e164, err := waqtor.ParsePhone(phone)
	if err != nil {
		return "", fmt.Errorf("sandbox: pair phone: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sandbox: pair phone: %w", err)
	}
	n, d := c.n, c.d
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case c.closed:
		return "", fmt.Errorf("sandbox: pair phone: %w", ErrClosed)
	case d.account != nil:
		return "", fmt.Errorf("sandbox: pair phone: %w", waqtor.ErrAlreadyPaired)
	case d.state != stQR:
		return "", fmt.Errorf("sandbox: pair phone: connect first: %w", ErrNotPairing)
	}
	if d.pairCode != "" {
		delete(n.pairCodes, d.pairCode)
	}
	code := ""
	for code == "" || n.pairCodes[code] != nil {
		code = newPairingCode(d.pairRand)
	}
	d.pairCode, d.pairPhone = code, e164
	n.pairCodes[code] = d
	return formatPairingCode(code), nil
}

// readyErrLocked returns why the session cannot send now, or nil.
func (c *conn) readyErrLocked() error {
	d := c.d
	switch {
	case c.closed:
		return fmt.Errorf("sandbox: session %s: %w: %w", d.id, ErrClosed, waqtor.ErrNotReady)
	case d.state == stBanned:
		return fmt.Errorf("sandbox: session %s: %w", d.id, d.bannedError())
	case d.state != stReady:
		return fmt.Errorf("sandbox: session %s: %w", d.id, waqtor.ErrNotReady)
	}
	return nil
}

// Send delivers a message to a user (phone JID or LID) or a group. Sends follow
// the session's faults: latency first, then injected failures. A resend of an ID
// the session already sent returns the first send's time without delivering
// again. Errors wrap waqtor.ErrNotReady (or a *waqtor.BannedError) when not
// ready, and are permanent for bad input, unknown recipients (ErrNotOnWhatsApp,
// ErrUnknownGroup) and groups the account is not in (ErrNotParticipant).
func (c *conn) Send(ctx context.Context, msg *waqtor.OutboundMessage) (*waqtor.SendResult, error) {
	n, d := c.n, c.d
	if msg == nil || msg.Content == nil || msg.ID == "" {
		return nil, waqtor.Permanent(fmt.Errorf("sandbox: send: %w: missing ID or content", waqtor.ErrInvalidMessage))
	}
	chat, err := waqtor.NormalizeChat(msg.Chat)
	if err != nil {
		return nil, waqtor.Permanent(fmt.Errorf("sandbox: send %s: %w", msg.ID, err))
	}
	rec := SendRecord{Chat: chat, Content: msg.Content, ID: msg.ID, Session: d.id}

	n.mu.Lock()
	latency := d.sendLatency
	err = c.readyErrLocked()
	n.mu.Unlock()
	if err == nil && latency > 0 {
		err = c.sleep(ctx, latency)
	}
	if err == nil {
		err = ctx.Err()
	}

	n.mu.Lock()
	var res *waqtor.SendResult
	var e *envelope
	if err == nil {
		res, e, err = c.sendLocked(chat, msg, &rec)
	}
	rec.Time = n.cfg.NowFunc()
	rec.Err = err
	n.sendLog = append(n.sendLog, rec)
	n.mu.Unlock()
	if f := n.cfg.SendLogFunc; f != nil {
		f(rec)
		if e != nil {
			n.mu.Lock()
			n.loggedLocked(e)
			n.mu.Unlock()
		}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (c *conn) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox: send: %w", ctx.Err())
	case <-c.ctx.Done():
		return fmt.Errorf("sandbox: send: %w: %w", ErrClosed, waqtor.ErrNotReady)
	}
}

// sendLocked delivers a message and returns its envelope (nil for a resend
// of an ID already sent). With Config.SendLogFunc set, the message's receipts
// wait until Send has logged its record, so that nothing the Core learns of
// the message can come before the record.
func (c *conn) sendLocked(chat string, msg *waqtor.OutboundMessage, rec *SendRecord) (*waqtor.SendResult, *envelope, error) {
	n, d := c.n, c.d
	if err := c.readyErrLocked(); err != nil {
		return nil, nil, err
	}
	if d.failCount > 0 {
		d.failCount--
		return nil, nil, fmt.Errorf("sandbox: send %s: %w", msg.ID, d.failErr)
	}
	if t, ok := d.sent[msg.ID]; ok {
		rec.Duplicate = true
		return &waqtor.SendResult{Time: t}, nil, nil
	}
	to, g, err := n.resolveLocked(chat)
	if err != nil {
		return nil, nil, waqtor.Permanent(fmt.Errorf("sandbox: send %s: %w", msg.ID, err))
	}
	if g != nil && !slices.Contains(g.members, d.account) {
		return nil, nil, waqtor.Permanent(fmt.Errorf("sandbox: send %s to %s: %w", msg.ID, chat, ErrNotParticipant))
	}
	now := n.cfg.NowFunc()
	e := n.newEnvelopeLocked(msg.ID, d.account, d, to, g, msg.Content, now)
	e.unlogged = n.cfg.SendLogFunc != nil
	n.deliverLocked(e)
	d.sent[msg.ID] = now
	return &waqtor.SendResult{Time: now}, e, nil
}

// CheckNumbers reports which numbers are on WhatsApp: numbers with a Phone, and
// with RequireRegistered off every valid number (without creating its Phone).
// Invalid numbers are reported absent, with Phone as given.
func (c *conn) CheckNumbers(ctx context.Context, phones []string) ([]waqtor.NumberCheck, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: check numbers: %w", err)
	}
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := c.readyErrLocked(); err != nil {
		return nil, err
	}
	out := make([]waqtor.NumberCheck, len(phones))
	for i, in := range phones {
		e164, err := waqtor.ParsePhone(in)
		if err != nil {
			out[i] = waqtor.NumberCheck{Phone: in}
			continue
		}
		out[i] = waqtor.NumberCheck{Phone: e164}
		if n.phones[e164[1:]+"@"+waqtor.ServerUser] != nil || !n.cfg.RequireRegistered {
			out[i].OnWhatsApp = true
			out[i].JID = e164[1:] + "@" + waqtor.ServerUser
			out[i].LID = lidFor(n.cfg.Seed, e164)
		}
	}
	return out, nil
}

// MarkRead reads messages of chat that the session's account received: their
// authors get read receipts (visible in [Phone.Sent]). In groups, sender names
// the author ("" matches any). Unknown IDs are ignored.
func (c *conn) MarkRead(ctx context.Context, chat, sender string, ids []string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: mark read: %w", err)
	}
	chatJID, err := waqtor.NormalizeChat(chat)
	if err != nil {
		return fmt.Errorf("sandbox: mark read: %w", err)
	}
	if sender != "" {
		if sender, err = waqtor.NormalizeChat(sender); err != nil {
			return fmt.Errorf("sandbox: mark read: sender: %w", err)
		}
	}
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := c.readyErrLocked(); err != nil {
		return err
	}
	if at.IsZero() {
		at = n.cfg.NowFunc()
	}
	reader := c.d.account
	for _, id := range ids {
		for _, e := range n.envelopes[id] {
			if e.matchesChat(reader, chatJID, sender) {
				n.readLocked(reader, e, at)
			}
		}
	}
	return nil
}

// SetPresence shows a chat state (typing, recording, paused) to a user or to
// every other member of a group; phones record it ([Phone.Presences]).
func (c *conn) SetPresence(ctx context.Context, chat string, p waqtor.ChatPresence) error {
	switch p {
	case waqtor.PresenceTyping, waqtor.PresenceRecording, waqtor.PresencePaused:
	default:
		return fmt.Errorf("sandbox: set presence: unknown presence %q", p)
	}
	chatJID, err := waqtor.NormalizeChat(chat)
	if err != nil {
		return fmt.Errorf("sandbox: set presence: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: set presence: %w", err)
	}
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := c.readyErrLocked(); err != nil {
		return err
	}
	to, g, err := n.resolveLocked(chatJID)
	if err != nil {
		return fmt.Errorf("sandbox: set presence: %w", err)
	}
	from := c.d.account
	pr := Presence{Chat: from.addressLocked().JID, From: from.addressLocked().JID, State: p, Time: n.cfg.NowFunc()}
	targets := []*Phone{to}
	if g != nil {
		pr.Chat = g.jid
		targets = slices.DeleteFunc(slices.Clone(g.members), func(m *Phone) bool { return m == from })
	}
	for _, t := range targets {
		t.presences = append(t.presences, pr)
		t.notifyLocked()
	}
	return nil
}
