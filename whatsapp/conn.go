package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/waqtor/waqtor"
)

// conn is one session's connection. It owns a whatsmeow client (replaced by a
// fresh, unpaired one after a logout) and a small state machine that reports
// only state changes, so retries never flood the Core with events:
//
//	Connect ─▶ connecting ─▶ qr ─(scan)─▶ connecting ─▶ ready
//	                      └─▶ ready
//	                      └─▶ disconnected (typed error) ─(backoff, silent)─▶ ready
//
// Terminal states wait for the Core: logged_out (unpaired, device deleted),
// auth_failure (pairing failed or refused), banned (reconnects when the ban
// lifts), disconnected with ErrQRTimeout, ErrStreamReplaced or
// ErrClientOutdated (never retried automatically).
//
// All methods are safe for concurrent use.
type conn struct {
	e    *Engine
	h    waqtor.ConnHandler
	log  *slog.Logger
	out  *outbox
	ph   waqtor.PresenceHandler // nil when h does not implement it
	sess waqtor.EngineSession

	// life lives until Close. whatsmeow's socket, its handler loop and the
	// engine's background work run under it: the context of a Connect call is
	// only a bound on how long that call waits.
	life context.Context
	stop context.CancelFunc
	bg   sync.WaitGroup

	// dbMu orders writes of the session's device mapping.
	dbMu sync.Mutex

	mu            sync.Mutex
	awaitingLogin bool // a socket is up but WhatsApp has not logged in yet
	banErr        *waqtor.BannedError
	banExpires    time.Time
	cli           client
	closed        bool
	failures      int    // consecutive failed attempts, for the backoff
	gen           uint64 // bumped by Disconnect, Logout, Close and client swaps
	inFlight      bool   // a ConnectContext call is running
	inFlightGen   uint64 // the generation it was started in
	keepAliveDown bool
	paired        bool
	problem       error // device problem found by Open, reported by Connect
	qrStop        chan struct{}
	rerun         bool // connect again when the stale in-flight attempt ends
	retry         *time.Timer
	state         waqtor.SessionState
	stateCh       chan struct{} // closed and replaced on every state change
	want          bool          // the Core wants the session connected
	watchdog      *time.Timer
}

func newConn(e *Engine, s waqtor.EngineSession, h waqtor.ConnHandler, dev *store.Device, problem error) *conn {
	life, stop := context.WithCancel(context.Background()) // detached: lives until Close, not until Open's ctx ends
	c := &conn{
		e: e, h: h, sess: s, life: life, stop: stop, problem: problem,
		log:     e.log.With(slog.String("session", s.ID)),
		state:   waqtor.StateDisconnected,
		stateCh: make(chan struct{}),
	}
	c.ph, _ = h.(waqtor.PresenceHandler)
	c.out = newOutbox(life, c.log)
	c.setClientLocked(dev)
	return c
}

// setClientLocked makes a client for dev and routes its events here. The
// previous client, if any, is discarded in the background: its handlers are
// removed and its socket closed without touching its device store, which
// whatsmeow may still be deleting.
func (c *conn) setClientLocked(dev *store.Device) {
	old := c.cli
	cli := c.e.newClient(dev, c.e.waLog.Sub(c.sess.ID))
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool { return c.handleEvent(cli, evt) })
	c.cli = cli
	c.paired = dev.ID != nil
	c.gen++
	if old != nil {
		c.goBG(func() {
			old.RemoveEventHandlers() // not from inside a handler: whatsmeow would deadlock
			old.Disconnect()
		})
	}
}

// goBG runs fn on a goroutine that Close waits for.
func (c *conn) goBG(fn func()) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		fn()
	}()
}

// setStateLocked records a state and reports it when it changed. Reports go
// through the outbox, in order, off whatsmeow's goroutine.
func (c *conn) setStateLocked(st waqtor.ConnStatus) {
	if st.State == c.state && (st.State != waqtor.StateBanned || st.BanExpires.Equal(c.banExpires)) {
		return
	}
	prev := c.state
	c.state, c.banExpires = st.State, st.BanExpires
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	if st.State != waqtor.StateBanned {
		c.banErr = nil
	}
	attrs := []any{slog.String("from", string(prev)), slog.String("to", string(st.State)), slog.String("reason", st.Reason)}
	if st.Err != nil {
		attrs = append(attrs, slog.Any("error", st.Err))
	}
	c.log.Info("WhatsApp session state changed", attrs...)
	c.out.push(false, func(ctx context.Context) { c.h.HandleStatus(ctx, &st) })
}

// readyStatusLocked is the StateReady status with the account's identity.
func (c *conn) readyStatusLocked(reason string) waqtor.ConnStatus {
	id := c.cli.Identity()
	st := waqtor.ConnStatus{State: waqtor.StateReady, Reason: reason, Platform: id.Platform, PushName: id.PushName}
	if !id.JID.IsEmpty() {
		st.JID = id.JID.ToNonAD().String()
	}
	if !id.LID.IsEmpty() {
		st.LID = id.LID.ToNonAD().String()
	}
	return st
}

// Connect starts connecting and returns within Config.ConnectWait. A quick
// failure is returned as a *ConnectError (and reported as StateDisconnected);
// later progress is reported through the ConnHandler. A session whose device
// could not be loaded is reported as StateLoggedOut and the error returned; the
// next Connect pairs a new device.
func (c *conn) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if p := c.problem; p != nil {
		c.problem = nil
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateLoggedOut, Err: p, Reason: problemReason(p)})
		c.mu.Unlock()
		return p
	}
	c.want = true
	if (c.inFlight && c.inFlightGen == c.gen) || c.awaitingLogin || c.state == waqtor.StateReady || c.state == waqtor.StateQR {
		c.mu.Unlock()
		return nil
	}
	c.failures = 0
	c.stopTimersLocked()
	c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateConnecting, Reason: "connecting to WhatsApp"})
	if c.inFlight {
		// A handshake from before a Disconnect is still running (whatsmeow cannot
		// abort it): connect again as soon as it is over.
		c.rerun = true
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.attempt(ctx)
}

func problemReason(p error) string {
	if errors.Is(p, ErrDeviceCorrupt) {
		return "the device keys in the store are corrupt; pair the session again"
	}
	return "the device keys are missing from the store; pair the session again"
}

// attempt runs one ConnectContext in the background and waits for it at most
// Config.ConnectWait or until ctx is done.
func (c *conn) attempt(ctx context.Context) error {
	c.mu.Lock()
	if c.closed || !c.want || c.inFlight {
		c.mu.Unlock()
		return nil
	}
	c.inFlight, c.inFlightGen = true, c.gen
	gen, cli := c.gen, c.cli
	c.mu.Unlock()

	done := make(chan error, 1)
	c.goBG(func() {
		err := cli.ConnectContext(c.life)
		done <- c.connectFinished(gen, cli, err)
	})
	wait := time.NewTimer(c.e.cfg.ConnectWait)
	defer wait.Stop()
	select {
	case err := <-done:
		return err
	case <-wait.C:
		return nil
	case <-ctx.Done():
		return nil // the attempt goes on; its outcome is reported through the handler
	}
}

// connectFinished handles the result of ConnectContext and returns the error to
// give the caller of Connect.
func (c *conn) connectFinished(gen uint64, cli client, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight = false
	rerun := c.rerun && !c.closed && c.want
	c.rerun = false
	stale := gen != c.gen || c.closed || !c.want
	if stale {
		// Disconnect, Logout or Close came while the handshake ran: close what it
		// opened, then start the attempt a later Connect asked for.
		c.goBG(func() {
			if err == nil {
				cli.Disconnect()
			}
			if rerun {
				_ = c.attempt(c.life)
			}
		})
		return nil
	}
	if err == nil || errors.Is(err, whatsmeow.ErrAlreadyConnected) {
		if c.state != waqtor.StateReady && c.state != waqtor.StateQR {
			c.awaitingLogin = true
			c.startWatchdogLocked()
		}
		return nil
	}
	cerr := &ConnectError{Err: err}
	c.log.Debug("WhatsApp connection attempt failed", slog.Int("failures", c.failures+1), slog.Any("error", err))
	c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: cerr, Reason: "could not connect to WhatsApp"})
	c.scheduleReconnectLocked()
	return cerr
}

// scheduleReconnectLocked plans the next attempt with capped exponential backoff
// and jitter. Unpaired sessions are never retried: a retry would start a new QR
// flow nobody asked for.
func (c *conn) scheduleReconnectLocked() {
	if c.closed || !c.want || !c.paired {
		return
	}
	c.scheduleAttemptLocked(c.backoff(c.failures))
	c.failures++
}

func (c *conn) backoff(failures int) time.Duration {
	d := c.e.cfg.ReconnectMin
	for i := 0; i < failures && d < c.e.cfg.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, c.e.cfg.ReconnectMax)
	// Jitter in [d/2, d], so that sessions dropped together do not reconnect together.
	return d/2 + rand.N(d/2+1)
}

func (c *conn) scheduleAttemptLocked(d time.Duration) {
	if c.retry != nil {
		c.retry.Stop()
	}
	gen := c.gen
	c.retry = time.AfterFunc(d, func() {
		c.mu.Lock()
		ok := gen == c.gen && !c.closed && c.want
		c.mu.Unlock()
		if ok {
			_ = c.attempt(c.life)
		}
	})
}

// startWatchdogLocked abandons the attempt if WhatsApp has not logged the
// session in (or shown a QR code) within Config.ConnectTimeout: the cure for
// sessions stuck in "connecting".
func (c *conn) startWatchdogLocked() {
	if c.watchdog != nil {
		c.watchdog.Stop()
	}
	gen := c.gen
	c.watchdog = time.AfterFunc(c.e.cfg.ConnectTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if gen != c.gen || c.closed || !c.awaitingLogin {
			return
		}
		c.awaitingLogin = false
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrLoginTimeout,
			Reason: fmt.Sprintf("WhatsApp did not log the session in within %s", c.e.cfg.ConnectTimeout)})
		cli := c.cli
		c.goBG(func() {
			cli.Disconnect()
			c.mu.Lock()
			defer c.mu.Unlock()
			if gen == c.gen {
				c.scheduleReconnectLocked()
			}
		})
	})
}

func (c *conn) stopTimersLocked() {
	for _, t := range []*time.Timer{c.retry, c.watchdog} {
		if t != nil {
			t.Stop()
		}
	}
	c.retry, c.watchdog = nil, nil
	c.stopQRLocked()
}

func (c *conn) stopQRLocked() {
	if c.qrStop != nil {
		close(c.qrStop)
		c.qrStop = nil
	}
}

// disconnectClient closes cli's socket, waiting at most until ctx is done:
// whatsmeow's Disconnect waits for a running handshake (up to 20 s).
func (c *conn) disconnectClient(ctx context.Context, cli client) {
	done := make(chan struct{})
	c.goBG(func() {
		defer close(done)
		cli.Disconnect()
	})
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Disconnect closes the network connection and keeps the pairing. Nothing is
// retried until the next Connect.
func (c *conn) Disconnect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.want = false
	c.awaitingLogin = false
	c.gen++
	c.stopTimersLocked()
	switch c.state {
	case waqtor.StateConnecting, waqtor.StateQR, waqtor.StateReady:
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Reason: "disconnected on request"})
	}
	cli := c.cli
	c.mu.Unlock()
	c.disconnectClient(ctx, cli)
	return nil
}

// Logout unlinks the device from the phone when connected, deletes its keys in
// any case, and leaves the session unpaired (StateLoggedOut): the next Connect
// shows a QR code.
func (c *conn) Logout(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.want = false
	c.awaitingLogin = false
	c.gen++
	c.stopTimersLocked()
	cli := c.cli
	c.mu.Unlock()

	reason := "logged out"
	remote := cli.IsLoggedIn()
	if remote {
		if err := cli.Logout(ctx); err != nil {
			remote = false
			reason = "logged out locally; the phone lists the device until it notices"
			c.log.WarnContext(ctx, "WhatsApp logout request failed; deleting the device keys anyway", slog.Any("error", err))
		}
	}
	if !remote {
		c.disconnectClient(ctx, cli)
		if err := cli.DeleteDevice(ctx); err != nil {
			return fmt.Errorf("%w: delete device keys: %w", waqtor.ErrDatabase, err)
		}
	}
	c.dbMu.Lock()
	err := c.e.tables.deleteSession(ctx, c.sess.ID)
	c.dbMu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: forget session device: %w", waqtor.ErrDatabase, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.setClientLocked(c.e.container.NewDevice())
	}
	c.problem = nil
	c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateLoggedOut, Reason: reason})
	return nil
}

// Close releases the connection without logging out: the socket is closed,
// background work stopped and pending status reports delivered, bounded by ctx.
func (c *conn) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.want = false
	c.gen++
	c.stopTimersLocked()
	cli := c.cli
	c.mu.Unlock()

	c.stop() // cancels inbound handler contexts, the QR emitter and whatsmeow's socket
	c.disconnectClient(ctx, cli)
	c.goBG(cli.RemoveEventHandlers)
	err := c.out.close(ctx)
	done := make(chan struct{})
	go func() {
		c.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("whatsapp: close %s: background work still running: %w", c.sess.ID, ctx.Err()))
	}
	c.e.forget(c)
	return err
}

// readyClient returns the client when the session can send, or an error that
// wraps waqtor.ErrNotReady (a *waqtor.BannedError while banned).
func (c *conn) readyClient() (client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, fmt.Errorf("%w: %w", waqtor.ErrNotReady, ErrClosed)
	case c.state == waqtor.StateBanned && c.banErr != nil:
		return nil, c.banErr
	case c.state != waqtor.StateReady || !c.cli.IsLoggedIn():
		return nil, fmt.Errorf("%w: session %s is %s", waqtor.ErrNotReady, c.sess.ID, c.state)
	}
	return c.cli, nil
}

// PairPhone asks WhatsApp for a pairing code for phone. It waits (bounded by
// ctx) for the pairing connection that Connect opens.
func (c *conn) PairPhone(ctx context.Context, phone string) (string, error) {
	e164, err := waqtor.ParsePhone(phone)
	if err != nil {
		return "", err
	}
	var cli client
	for {
		c.mu.Lock()
		closed, paired, st, ch := c.closed, c.paired, c.state, c.stateCh
		cli = c.cli
		c.mu.Unlock()
		switch {
		case closed:
			return "", ErrClosed
		case paired:
			return "", waqtor.ErrAlreadyPaired
		case st == waqtor.StateQR:
		case st == waqtor.StateConnecting:
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("%w: waiting for the pairing connection: %w", waqtor.ErrNotReady, ctx.Err())
			}
		default:
			return "", fmt.Errorf("%w: session %s is %s; call Connect before PairPhone", waqtor.ErrNotReady, c.sess.ID, st)
		}
		break
	}
	code, err := cli.PairPhone(ctx, e164[1:], true, whatsmeow.PairClientChrome, c.e.cfg.PairDisplayName)
	switch {
	case errors.Is(err, whatsmeow.ErrPhoneNumberTooShort), errors.Is(err, whatsmeow.ErrPhoneNumberIsNotInternational):
		return "", &waqtor.FieldError{Err: waqtor.ErrInvalidPhone, Field: "phone", Reason: err.Error()}
	case err != nil:
		return "", fmt.Errorf("whatsapp: pair phone: %w", err)
	}
	return code, nil
}

// ownJID returns the account's phone and LID JIDs (without device), empty when
// unpaired.
func (c *conn) ownJIDs(cli client) (pn, lid types.JID) {
	id := cli.Identity()
	return id.JID.ToNonAD(), id.LID.ToNonAD()
}
