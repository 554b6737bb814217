package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/waqtor/waqtor"
)

// handleEvent is the whatsmeow event handler of cli. It returns whatsmeow's
// success status: false withholds WhatsApp's acknowledgement of the node (with
// SynchronousAck), so WhatsApp delivers it again.
//
// It never blocks on the Core except for the one bounded write of an inbound
// message or receipt, whose result decides the acknowledgement.
func (c *conn) handleEvent(cli client, evt any) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			// whatsmeow's own recover would report success and ack the node: a panic
			// must mean "not stored".
			c.log.Error("WhatsApp event handler panicked; the event is not acknowledged",
				slog.String("event", fmt.Sprintf("%T", evt)), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			ok = false
		}
	}()
	switch evt := evt.(type) {
	case *events.Message:
		return c.onMessage(cli, evt)
	case *events.Receipt:
		return c.onReceipt(cli, evt)
	case *events.ChatPresence:
		c.onChatPresence(cli, evt)
	case *events.UndecryptableMessage:
		c.log.Warn("WhatsApp message could not be decrypted; asked the phone to resend it",
			slog.String("id", evt.Info.ID), slog.String("chat", evt.Info.Chat.String()), slog.Bool("unavailable", evt.IsUnavailable))
	default:
		c.onConnEvent(cli, evt)
	}
	return true
}

// onConnEvent turns whatsmeow's connection events into state changes.
func (c *conn) onConnEvent(cli client, evt any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cli != c.cli || c.closed {
		return // a discarded client
	}
	switch evt := evt.(type) {
	case *events.QR:
		c.onQRLocked(evt.Codes)

	case *events.QRScannedWithoutMultidevice:
		c.log.Warn("The QR code was scanned by a phone without multi-device support; update WhatsApp on the phone and scan again")

	case *events.PairSuccess:
		c.stopQRLocked()
		c.paired = true
		c.awaitingLogin = true
		c.startWatchdogLocked()
		gen, device := c.gen, evt.ID.String()
		c.goBG(func() { c.recordDevice(gen, device) })
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateConnecting, JID: evt.ID.ToNonAD().String(), LID: lidString(evt.LID),
			Platform: evt.Platform, Reason: "paired; logging in"})

	case *events.PairError:
		c.stopQRLocked()
		c.want, c.awaitingLogin = false, false
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateAuthFailure, Err: fmt.Errorf("%w: %w", ErrPairing, evt.Error),
			Reason: "pairing failed: " + evt.Error.Error()})

	case *events.Connected:
		c.stopQRLocked()
		c.awaitingLogin, c.keepAliveDown = false, false
		for _, t := range []*time.Timer{c.watchdog, c.retry} {
			if t != nil {
				t.Stop()
			}
		}
		c.failures = 0
		c.paired = true
		if !c.want {
			c.goBG(cli.Disconnect)
			return
		}
		if id := cli.Identity(); !id.JID.IsEmpty() {
			gen, device := c.gen, id.JID.String()
			c.goBG(func() { c.recordDevice(gen, device) })
		}
		c.setStateLocked(c.readyStatusLocked("connected"))

	case *events.Disconnected:
		c.awaitingLogin = false
		if c.state == waqtor.StateQR {
			c.stopQRLocked()
			c.want = false
			c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrQRTimeout,
				Reason: "WhatsApp closed the pairing connection before a QR code was scanned; connect again for new codes"})
			return
		}
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrConnectionLost, Reason: "connection lost; reconnecting"})
		c.scheduleReconnectLocked()

	case *events.KeepAliveTimeout:
		if c.state == waqtor.StateReady {
			c.keepAliveDown = true
			c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrKeepAliveTimeout,
				Reason: "WhatsApp stopped answering keep-alive pings"})
		}
		if evt.ErrorCount >= c.e.cfg.KeepAliveFailures && c.want {
			c.log.Warn("Forcing a reconnect after keep-alive timeouts", slog.Int("timeouts", evt.ErrorCount))
			c.keepAliveDown = false
			c.gen++
			gen := c.gen
			c.goBG(func() {
				cli.Disconnect()
				c.mu.Lock()
				defer c.mu.Unlock()
				if gen == c.gen {
					c.scheduleReconnectLocked()
				}
			})
		}

	case *events.KeepAliveRestored:
		if c.keepAliveDown && c.state == waqtor.StateDisconnected && cli.IsLoggedIn() {
			c.keepAliveDown = false
			c.setStateLocked(c.readyStatusLocked("keep-alive restored"))
		}

	case *events.LoggedOut:
		c.want, c.awaitingLogin = false, false
		c.stopTimersLocked()
		reason := "logged out from the phone"
		if evt.OnConnect {
			reason = "WhatsApp refused the login: " + evt.Reason.String()
		}
		c.goBG(c.forgetDevice)
		// whatsmeow deletes the device keys itself; the session gets a fresh device.
		c.setClientLocked(c.e.container.NewDevice())
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateLoggedOut, Err: fmt.Errorf("%w: %s", ErrLoggedOut, reason), Reason: reason})

	case *events.StreamReplaced:
		c.want, c.awaitingLogin = false, false
		c.stopTimersLocked()
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrStreamReplaced,
			Reason: "another client connected with this session's keys; connect again to take it back"})

	case *events.TemporaryBan:
		c.awaitingLogin = false
		c.stopTimersLocked()
		var expires time.Time
		if evt.Expire > 0 {
			expires = c.e.now().Add(evt.Expire)
		}
		st := waqtor.ConnStatus{State: waqtor.StateBanned, BanExpires: expires, Reason: evt.String()}
		ban := &waqtor.BannedError{Expires: expires, Reason: evt.Code.String()}
		st.Err = ban
		c.setStateLocked(st)
		c.banErr = ban
		if evt.Expire > 0 && c.want && c.paired {
			c.scheduleAttemptLocked(evt.Expire + c.backoff(0))
		}

	case *events.ClientOutdated:
		c.want, c.awaitingLogin = false, false
		c.stopTimersLocked()
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrClientOutdated,
			Reason: "WhatsApp rejected this client version; upgrade waqtor"})

	case *events.ConnectFailure:
		c.awaitingLogin = false
		err := &ConnectError{Err: fmt.Errorf("server refused the connection: %s %s", evt.Reason, evt.Message)}
		if evt.Reason >= 500 {
			c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: err, Reason: "WhatsApp is unavailable; reconnecting"})
			c.scheduleReconnectLocked()
			return
		}
		c.want = false
		c.stopTimersLocked()
		c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateAuthFailure, Err: err, Reason: "WhatsApp refused the connection: " + evt.Reason.String()})

	case *events.StreamError:
		c.log.Warn("WhatsApp stream error", slog.String("code", evt.Code))
	}
}

// recordDevice maps the session to its device, so that the next Open finds it.
// It runs off whatsmeow's goroutine; mapping writes are serialised by dbMu and
// skipped when a logout (a new generation) came first.
func (c *conn) recordDevice(gen uint64, device string) {
	c.dbMu.Lock()
	defer c.dbMu.Unlock()
	c.mu.Lock()
	current := gen == c.gen && !c.closed
	c.mu.Unlock()
	if !current {
		return
	}
	ctx, cancel := context.WithTimeout(c.life, c.e.cfg.InboundTimeout)
	defer cancel()
	if err := c.e.tables.putSession(ctx, c.sess.ID, device); err != nil {
		c.log.Error("Could not record the session's WhatsApp device; it is recorded again on the next login",
			slog.String("device", device), slog.Any("error", err))
	}
}

func (c *conn) forgetDevice() {
	c.dbMu.Lock()
	defer c.dbMu.Unlock()
	ctx, cancel := context.WithTimeout(c.life, c.e.cfg.InboundTimeout)
	defer cancel()
	if err := c.e.tables.deleteSession(ctx, c.sess.ID); err != nil {
		c.log.Error("Could not forget the logged-out WhatsApp device", slog.Any("error", err))
	}
}

// onQRLocked starts showing the codes of one pairing attempt: each is reported
// through HandleQR with its expiry, and when they run out the attempt ends as
// StateDisconnected with ErrQRTimeout. It never starts another attempt.
func (c *conn) onQRLocked(codes []string) {
	c.stopQRLocked()
	c.awaitingLogin = false
	if c.watchdog != nil {
		c.watchdog.Stop()
	}
	if n := c.e.cfg.QRCodes; n > 0 && len(codes) > n {
		codes = codes[:n]
	}
	stop := make(chan struct{})
	c.qrStop = stop
	c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateQR, Reason: "waiting for a QR scan or pairing code"})
	c.goBG(func() { c.emitQR(stop, codes) })
}

func (c *conn) emitQR(stop chan struct{}, codes []string) {
	for i, code := range codes {
		timeout := c.e.cfg.QRTimeout
		if i == 0 {
			timeout = c.e.cfg.QRFirstTimeout
		}
		c.mu.Lock()
		if c.qrStop != stop {
			c.mu.Unlock()
			return
		}
		expires := c.e.now().Add(timeout)
		c.out.push(false, func(ctx context.Context) { c.h.HandleQR(ctx, code, expires) })
		c.mu.Unlock()
		t := time.NewTimer(timeout)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		case <-c.life.Done():
			t.Stop()
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.qrStop != stop {
		return
	}
	c.qrStop = nil
	c.want = false
	c.setStateLocked(waqtor.ConnStatus{State: waqtor.StateDisconnected, Err: ErrQRTimeout,
		Reason: "no QR code was scanned before they expired; connect again for new codes"})
	c.goBG(c.cli.Disconnect)
}
