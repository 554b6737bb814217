package sandbox

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/waqtor/waqtor"
)

// connState is where a session's connection is in its lifecycle.
type connState int

const (
	stIdle       connState = iota // not connected
	stConnecting                  // handshake in progress (ConnectLatency)
	stQR                          // connected, unpaired, showing QR codes
	stReady                       // connected and logged in
	stBanned                      // connected, temporarily banned
	stReconnect                   // dropped by Network.Disconnect, reconnecting
)

// device is a session as the network knows it: a linked device of an account.
// It outlives Conns, so messages for it queue while it is closed. All fields are
// guarded by Network.mu.
type device struct {
	id string

	account     *Phone // nil while unpaired
	autoPair    *timer
	banDeadline time.Time // when the ban lifts, on the real clock
	banUntil    time.Time // when the ban lifts, on Config.NowFunc's clock
	conn        *conn     // the open Conn, or nil
	failCount   int
	failErr     error
	inflight    []*item // the stream items a handler is processing
	life        *timer
	pairCode    string
	pairPhone   string
	pairRand    *rand.Rand
	qr          string
	qrLeft      int
	qrRand      *rand.Rand
	reported    waqtor.SessionState // last state a handler returned from
	retry       *timer
	retryWait   bool // the stream's head failed; wait for retry
	revokedJID  string
	sendLatency time.Duration
	sent        map[string]time.Time // message IDs sent, for resends
	stale       bool                 // opened with a remotely logged-out JID
	state       connState
	stream      []*item // messages and receipts not yet acknowledged, in order
}

// item is a message or a receipt on its way to a session's handler.
type item struct {
	attempts int
	msg      *waqtor.InboundMessage
	receipt  *waqtor.Receipt
}

// deviceLocked returns the device of a session, creating it.
func (n *Network) deviceLocked(id string) *device {
	if d := n.devices[id]; d != nil {
		return d
	}
	d := &device{
		id:       id,
		pairRand: stream(n.runSeed, "pair", id),
		qrRand:   stream(n.runSeed, "qr", id),
		sent:     make(map[string]time.Time),
	}
	n.devices[id] = d
	return d
}

func (d *device) infoLocked() SessionInfo {
	info := SessionInfo{
		ID:          d.id,
		PairingCode: d.pairCode,
		Pending:     len(d.stream),
		QR:          d.qr,
		State:       d.reported,
	}
	if info.State == "" {
		info.State = waqtor.StateDisconnected
	}
	if d.account != nil {
		info.JID, info.LID = d.account.jid, d.account.lid
	}
	if !d.banDeadline.IsZero() && time.Now().Before(d.banDeadline) {
		info.BanExpires = d.banUntil
	}
	return info
}

// statusLocked queues a status for the open Conn's handler.
func (d *device) statusLocked(st *waqtor.ConnStatus) {
	if d.conn != nil {
		d.conn.pushLocked(event{status: st})
	}
}

// pushLocked queues a message or receipt for the session's handler.
func (d *device) pushLocked(it *item) {
	d.stream = append(d.stream, it)
	d.kickLocked()
}

func (d *device) kickLocked() {
	if d.conn != nil {
		d.conn.kick()
	}
}

// linkLocked makes d a linked device of account p.
func (n *Network) linkLocked(d *device, p *Phone) {
	d.account = p
	p.devices[d.id] = d
	d.revokedJID = ""
}

// unpairLocked forgets d's account and drops what was queued for it.
func (n *Network) unpairLocked(d *device) {
	if d.account != nil {
		delete(d.account.devices, d.id)
	}
	d.account = nil
	d.stream = nil
	d.retryWait = false
	n.stopLocked(d.retry)
	d.retry = nil
	d.banUntil, d.banDeadline = time.Time{}, time.Time{}
}

// stopLifeLocked stops the lifecycle timers and invalidates d's codes.
func (n *Network) stopLifeLocked(d *device) {
	n.stopLocked(d.life)
	n.stopLocked(d.autoPair)
	d.life, d.autoPair = nil, nil
	if d.qr != "" {
		delete(n.qrCodes, d.qr)
		d.qr = ""
	}
	if d.pairCode != "" {
		delete(n.pairCodes, d.pairCode)
		d.pairCode, d.pairPhone = "", ""
	}
}

// connectLocked starts a connection attempt.
func (n *Network) connectLocked(d *device) {
	n.stopLifeLocked(d)
	d.state = stConnecting
	d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateConnecting, Reason: "connecting"})
	d.life = n.afterLocked(n.cfg.ConnectLatency, func() {
		d.life = nil
		if d.state == stConnecting {
			n.handshakeLocked(d)
		}
	})
}

// handshakeLocked ends a connection attempt.
func (n *Network) handshakeLocked(d *device) {
	switch {
	case d.stale:
		d.stale = false
		d.state = stIdle
		d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateLoggedOut, Reason: "logged out from another device", Err: ErrLoggedOut})
	case d.account != nil && time.Now().Before(d.banDeadline):
		n.banLocked(d)
	case d.account != nil:
		n.readyLocked(d)
	default:
		n.startQRLocked(d)
	}
}

func (n *Network) readyLocked(d *device) {
	d.state = stReady
	d.retryWait = false
	n.stopLocked(d.retry)
	d.retry = nil
	a := d.account
	d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateReady, JID: a.jid, LID: a.lid, PushName: a.pushName, Platform: "sandbox", Reason: "logged in"})
	n.debug("Sandbox session ready", slog.String("session", d.id), slog.String("jid", a.jid))
}

func (n *Network) banLocked(d *device) {
	d.state = stBanned
	d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateBanned, BanExpires: d.banUntil, Reason: "temporarily banned", Err: d.bannedError()})
	d.life = n.afterLocked(time.Until(d.banDeadline), func() {
		d.life = nil
		d.banUntil, d.banDeadline = time.Time{}, time.Time{}
		if d.state == stBanned {
			n.connectLocked(d)
		}
	})
}

func (d *device) bannedError() *waqtor.BannedError {
	return &waqtor.BannedError{Expires: d.banUntil, Reason: "simulated by the sandbox"}
}

func (n *Network) startQRLocked(d *device) {
	d.state = stQR
	d.qrLeft = n.cfg.QRCodes
	d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateQR, Reason: "waiting for QR scan"})
	n.nextQRLocked(d)
	if n.cfg.AutoPair {
		d.autoPair = n.afterLocked(n.cfg.AutoPairDelay, func() {
			d.autoPair = nil
			if d.state == stQR && d.account == nil {
				n.pairLocked(d, n.phoneLocked(autoPairNumber(n.cfg.Seed, d.id)))
			}
		})
	}
}

// nextQRLocked shows the next QR code, or gives up when none is left.
func (n *Network) nextQRLocked(d *device) {
	d.life = nil
	if d.qr != "" {
		delete(n.qrCodes, d.qr)
		d.qr = ""
	}
	if d.qrLeft <= 0 {
		n.stopLifeLocked(d)
		d.state = stIdle
		d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateDisconnected, Reason: "QR code timed out", Err: ErrQRTimeout})
		return
	}
	d.qrLeft--
	for d.qr == "" || n.qrCodes[d.qr] != nil {
		d.qr = newQRCode(d.qrRand)
	}
	n.qrCodes[d.qr] = d
	if d.conn != nil {
		d.conn.pushLocked(event{qr: d.qr, expires: n.cfg.NowFunc().Add(n.cfg.QRInterval)})
	}
	d.life = n.afterLocked(n.cfg.QRInterval, func() {
		if d.state == stQR {
			n.nextQRLocked(d)
		}
	})
}

// pairLocked completes pairing as account p.
func (n *Network) pairLocked(d *device, p *Phone) {
	n.stopLifeLocked(d)
	n.unpairLocked(d)
	n.linkLocked(d, p)
	d.stale = false
	n.debug("Sandbox session paired", slog.String("session", d.id), slog.String("jid", p.jid))
	n.readyLocked(d)
}

// timer is a time.AfterFunc that Network.Close can stop and wait for.
type timer struct{ t *time.Timer }

// afterLocked runs f with n.mu held after d, unless the timer is stopped first
// or the network closes. It returns nil on a closed network.
func (n *Network) afterLocked(d time.Duration, f func()) *timer {
	if n.closed {
		return nil
	}
	tm := &timer{}
	n.timers[tm] = struct{}{}
	n.wg.Add(1)
	tm.t = time.AfterFunc(max(0, d), func() {
		defer n.wg.Done()
		n.mu.Lock()
		defer n.mu.Unlock()
		if _, ok := n.timers[tm]; !ok {
			return // stopped while firing
		}
		delete(n.timers, tm)
		f()
	})
	return tm
}

// stopLocked stops a timer from afterLocked; nil is allowed.
func (n *Network) stopLocked(tm *timer) {
	if tm == nil {
		return
	}
	if _, ok := n.timers[tm]; !ok {
		return
	}
	delete(n.timers, tm)
	if tm.t.Stop() {
		n.wg.Done()
	}
}
