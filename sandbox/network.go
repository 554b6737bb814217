package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waqtor/waqtor"
)

// Network is a simulated WhatsApp network: an engine for the Core
// ([waqtor.Engine], [waqtor.EngineCloser], [waqtor.MediaDownloader]) plus
// virtual phones ([Phone]) that send messages in and record what comes out,
// and switches for faults (disconnects, failing or slow sends, bans, remote
// logouts).
//
// Every session opened on the network is a linked device of the WhatsApp
// account it paired as; the account is a Phone like any other, so sessions can
// also message each other.
//
// All methods are safe for concurrent use. The network calls ConnHandler methods
// from one goroutine per Conn and never while holding its own lock, so a handler
// may call back into its Conn or the Network.
type Network struct {
	cfg *Config

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced when a reported session state changes
	closed    bool
	conns     map[*conn]struct{}
	devices   map[string]*device // by session ID
	envelopes map[string][]*envelope
	groups    map[string]*group
	lids      map[string]*Phone
	media     map[string][]byte
	mediaSeq  int
	pairCodes map[string]*device
	phones    map[string]*Phone // by phone JID
	qrCodes   map[string]*device
	rng       *rand.Rand // group IDs, in call order
	runSeed   int64      // seeds the values of this run (see Config.Seed)
	sendLog   []SendRecord
	timers    map[*timer]struct{}
	wg        sync.WaitGroup // timer callbacks and Conn workers
}

// NewNetwork returns a network configured by cfg (nil for the defaults). It
// starts no goroutine until a session connects or a latency timer runs; call
// Close to stop them.
//
// Every Config value has a meaning, so unlike most constructors NewNetwork
// cannot fail: that keeps `sandbox.NewNetwork(nil).Factory()` a one-liner.
func NewNetwork(cfg *Config) *Network {
	c := cfg.WithDefaults()
	runSeed := c.Seed
	for runSeed == 0 {
		runSeed = rand.Int64()
	}
	return &Network{
		cfg:       c,
		runSeed:   runSeed,
		changed:   make(chan struct{}),
		conns:     make(map[*conn]struct{}),
		devices:   make(map[string]*device),
		envelopes: make(map[string][]*envelope),
		groups:    make(map[string]*group),
		lids:      make(map[string]*Phone),
		media:     make(map[string][]byte),
		pairCodes: make(map[string]*device),
		phones:    make(map[string]*Phone),
		qrCodes:   make(map[string]*device),
		rng:       stream(runSeed, "network", ""),
		timers:    make(map[*timer]struct{}),
	}
}

// RunSeed returns the seed of the values this network generates per run
// (message, group and QR codes): Config.Seed, or the random seed picked when
// Config.Seed is 0. Log it to reproduce a run with Config.Seed.
func (n *Network) RunSeed() int64 { return n.runSeed }

// NewTestNetwork returns a network for a test and closes it when the test ends.
func NewTestNetwork(t testing.TB, cfg *Config) *Network {
	t.Helper()
	n := NewNetwork(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("sandbox: close network: %v", err)
		}
	})
	return n
}

// Close stops every Conn, timer and goroutine of the network and wakes waiting
// phones with ErrClosed. It waits for a handler call in progress to return,
// bounded by ctx. Calling it again does nothing.
//
// Close makes Network a [waqtor.EngineCloser]: a Core given the Network itself
// as its engine closes the whole network when it stops. Give Cores
// [Network.Factory] instead to keep the network across Core restarts.
func (n *Network) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for c := range n.conns {
		n.closeConnLocked(c)
	}
	for tm := range n.timers {
		n.stopLocked(tm)
	}
	for _, p := range n.phones {
		p.notifyLocked()
	}
	n.notifyLocked()
	n.mu.Unlock()

	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox: close: waiting for handlers: %w", ctx.Err())
	}
}

// Factory returns an engine factory for [waqtor.Config].Engine. Each engine it
// builds opens sessions on this network; closing that engine (the Core does on
// Stop) closes only the Conns it opened and leaves the network, its phones and
// its pairings alone, so a second Core on the same network (a restart) resumes
// the sessions. The network keeps logging to its own Config.Logger and
// timestamps with its own clock; it ignores the EngineEnv.
func (n *Network) Factory() waqtor.EngineFactory {
	return func(ctx context.Context, env *waqtor.EngineEnv) (waqtor.Engine, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed {
			return nil, fmt.Errorf("sandbox: engine: %w", ErrClosed)
		}
		return &engine{n: n}, nil
	}
}

// engine is what Factory builds: the network seen by one Core.
type engine struct{ n *Network }

var (
	_ waqtor.Engine          = (*engine)(nil)
	_ waqtor.EngineCloser    = (*engine)(nil)
	_ waqtor.MediaDownloader = (*engine)(nil)
	_ waqtor.Engine          = (*Network)(nil)
	_ waqtor.EngineCloser    = (*Network)(nil)
	_ waqtor.MediaDownloader = (*Network)(nil)
)

func (e *engine) Open(ctx context.Context, s *waqtor.EngineSession, h waqtor.ConnHandler) (waqtor.Conn, error) {
	return e.n.open(ctx, s, h, e)
}

// Close closes the Conns this engine opened.
func (e *engine) Close(ctx context.Context) error {
	e.n.mu.Lock()
	var cs []*conn
	for c := range e.n.conns {
		if c.owner == e {
			cs = append(cs, c)
			e.n.closeConnLocked(c)
		}
	}
	e.n.mu.Unlock()
	for _, c := range cs {
		if err := c.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) DownloadMedia(ctx context.Context, session string, m *waqtor.Media) ([]byte, error) {
	data, err := e.n.DownloadMedia(ctx, session, m)
	if errors.Is(err, ErrMediaNotFound) {
		return nil, fmt.Errorf("%w: %w", waqtor.ErrMediaUnavailable, err)
	}
	return data, err
}

// Open opens a session on the network without connecting it (see
// [waqtor.Engine]). When s.JID is set the session is already paired as that
// account, as if its device store survived a restart; when it is empty the
// session is unpaired and Connect shows QR codes. If the session was logged out
// remotely ([Network.LogoutRemote]) and s.JID still names that account, the
// next Connect reports StateLoggedOut.
//
// Opening a session that already has an open Conn takes it over: the old Conn is
// closed and its handler hears nothing more.
func (n *Network) Open(ctx context.Context, s *waqtor.EngineSession, h waqtor.ConnHandler) (waqtor.Conn, error) {
	return n.open(ctx, s, h, nil)
}

func (n *Network) open(ctx context.Context, s *waqtor.EngineSession, h waqtor.ConnHandler, owner *engine) (waqtor.Conn, error) {
	if s == nil || s.ID == "" {
		return nil, fmt.Errorf("sandbox: open: missing session ID")
	}
	if h == nil {
		return nil, fmt.Errorf("sandbox: open %s: missing ConnHandler", s.ID)
	}
	var number string
	if s.JID != "" {
		jid, err := waqtor.NormalizeChat(s.JID)
		if err == nil && waqtor.JIDPhone(jid) == "" {
			err = fmt.Errorf("not a phone JID")
		}
		if err != nil {
			return nil, fmt.Errorf("sandbox: open %s: account JID %q: %w", s.ID, s.JID, err)
		}
		number = waqtor.JIDPhone(jid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: open %s: %w", s.ID, err)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("sandbox: open %s: %w", s.ID, ErrClosed)
	}
	d := n.deviceLocked(s.ID)
	if d.conn != nil {
		n.closeConnLocked(d.conn)
	}
	// The Core's device store is the truth about the pairing, except that a
	// device logged out remotely stays logged out.
	d.stale = false
	switch {
	case number == "":
		n.unpairLocked(d)
	case d.revokedJID != "" && waqtor.JIDPhone(d.revokedJID) == number:
		n.unpairLocked(d)
		d.stale = true
	case d.account == nil || d.account.number != number:
		n.unpairLocked(d)
		n.linkLocked(d, n.phoneLocked(number))
	}

	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &conn{
		n:      n,
		d:      d,
		h:      h,
		owner:  owner,
		ctx:    cctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	c.ctx = context.WithValue(cctx, workerKey{}, c)
	d.conn = c
	d.state = stIdle
	n.conns[c] = struct{}{}
	n.wg.Add(1)
	go c.run()
	return c, nil
}

// DownloadMedia returns the bytes of media a session received (see
// [waqtor.MediaDownloader]). It needs no connection. Errors wrap ErrMediaNotFound
// for a Ref the network did not hand out.
func (n *Network) DownloadMedia(ctx context.Context, session string, m *waqtor.Media) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("sandbox: download media: %w", ErrMediaNotFound)
	}
	id, err := decodeMediaRef(m.Ref)
	if err != nil {
		return nil, fmt.Errorf("sandbox: download media: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: download media: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("sandbox: download media: %w", ErrClosed)
	}
	data, ok := n.media[id]
	if !ok {
		return nil, fmt.Errorf("sandbox: download media %s: %w", id, ErrMediaNotFound)
	}
	return slices.Clone(data), nil
}

// mediaRef is the opaque handle in Media.Ref.
type mediaRef struct {
	ID string `json:"sandbox_media"`
}

func decodeMediaRef(raw json.RawMessage) (string, error) {
	var ref mediaRef
	if len(raw) == 0 {
		return "", fmt.Errorf("no ref: %w", ErrMediaNotFound)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return "", fmt.Errorf("ref %.40q: %w: %w", raw, ErrMediaNotFound, err)
	}
	if ref.ID == "" {
		return "", fmt.Errorf("ref %.40q has no ID: %w", raw, ErrMediaNotFound)
	}
	return ref.ID, nil
}

// Phone returns the virtual phone of a number (E.164, bare digits or a phone
// JID), creating it (and so registering the number on WhatsApp) the first time.
// It panics on a number [waqtor.ParsePhone] refuses; use PhoneSafely for input
// that is not a constant of a test.
func (n *Network) Phone(number string) *Phone {
	p, err := n.PhoneSafely(number)
	if err != nil {
		panic(err)
	}
	return p
}

// PhoneSafely is Phone that returns an error (wrapping [waqtor.ErrInvalidPhone])
// instead of panicking.
func (n *Network) PhoneSafely(number string) (*Phone, error) {
	e164, err := parseNumber(number)
	if err != nil {
		return nil, fmt.Errorf("sandbox: phone: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.phoneLocked(e164), nil
}

// parseNumber accepts an E.164 number, bare digits or a phone JID.
func parseNumber(s string) (string, error) {
	if strings.Contains(s, "@") {
		jid, err := waqtor.NormalizeChat(s)
		if err != nil {
			return "", err
		}
		if p := waqtor.JIDPhone(jid); p != "" {
			return p, nil
		}
		return "", fmt.Errorf("%w: %q is not a phone number", waqtor.ErrInvalidPhone, s)
	}
	return waqtor.ParsePhone(s)
}

// CreateGroup creates a group of the given members (phone numbers or JIDs; a
// session's account is a member through its number) and returns its JID.
func (n *Network) CreateGroup(name string, members ...string) (string, error) {
	nums := make([]string, 0, len(members))
	for _, m := range members {
		e164, err := parseNumber(m)
		if err != nil {
			return "", fmt.Errorf("sandbox: create group %q: %w", name, err)
		}
		nums = append(nums, e164)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return "", fmt.Errorf("sandbox: create group %q: %w", name, ErrClosed)
	}
	g := &group{name: name}
	for {
		g.jid = newGroupJID(n.rng)
		if n.groups[g.jid] == nil {
			break
		}
	}
	for _, num := range nums {
		p := n.phoneLocked(num)
		if !slices.Contains(g.members, p) {
			g.members = append(g.members, p)
		}
	}
	n.groups[g.jid] = g
	return g.jid, nil
}

// GroupMembers returns the JIDs of a group's members, in the order they joined.
func (n *Network) GroupMembers(groupJID string) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[groupJID]
	if g == nil {
		return nil, fmt.Errorf("sandbox: group %s: %w", groupJID, ErrUnknownGroup)
	}
	out := make([]string, len(g.members))
	for i, m := range g.members {
		out[i] = m.jid
	}
	return out, nil
}

// group is a group chat.
type group struct {
	jid     string
	members []*Phone
	name    string
}

// SendRecord is one send attempt of a session, as [Network.SendLog] lists it.
type SendRecord struct {
	// Chat is the recipient's JID as the session gave it (normalised).
	Chat string
	// Content is what was sent; it must not be modified.
	Content waqtor.Content
	// Duplicate is true for a resend of an ID the session had already sent: the
	// recipients did not see it again.
	Duplicate bool
	// Err is why the attempt failed, or nil.
	Err error
	// ID is the message ID the Core chose.
	ID string
	// Session is the sending session's ID.
	Session string
	// Time is when the attempt ended.
	Time time.Time
}

// SendLog returns every send attempt of every session, in order, including
// failed ones and duplicates.
func (n *Network) SendLog() []SendRecord {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sendLog)
}

// SessionInfo describes a session as the network sees it.
type SessionInfo struct {
	// BanExpires is when the session's ban lifts, zero when not banned.
	BanExpires time.Time
	// ID is the session's ID.
	ID string
	// JID is the account's phone JID, "" while unpaired.
	JID string
	// LID is the account's LID, "" while unpaired.
	LID string
	// PairingCode is the code PairPhone handed out and not yet entered.
	PairingCode string
	// Pending counts the messages and receipts not yet acknowledged by the
	// session's handler (queued while offline, or waiting for redelivery).
	Pending int
	// QR is the QR code the session shows now, "" when none.
	QR string
	// State is the last state the session's handler was told about (and returned
	// from); StateDisconnected before the first.
	State waqtor.SessionState
}

// Session describes a session; ok is false when it was never opened.
func (n *Network) Session(sessionID string) (info SessionInfo, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.devices[sessionID]
	if d == nil {
		return SessionInfo{}, false
	}
	return d.infoLocked(), true
}

// WaitForState waits until the session's handler has been told about state and
// has returned (so the Core has recorded it), or until ctx ends.
func (n *Network) WaitForState(ctx context.Context, sessionID string, state waqtor.SessionState) error {
	for {
		n.mu.Lock()
		if d := n.devices[sessionID]; d != nil && d.infoLocked().State == state {
			n.mu.Unlock()
			return nil
		}
		closed, ch := n.closed, n.changed
		n.mu.Unlock()
		if closed {
			return fmt.Errorf("sandbox: wait for %s to be %s: %w", sessionID, state, ErrClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sandbox: wait for %s to be %s: %w", sessionID, state, ctx.Err())
		}
	}
}

// Pair completes the pairing of a session that is showing QR codes, as the
// account of phone, as if its current code had been scanned. Errors wrap
// ErrUnknownSession, [waqtor.ErrAlreadyPaired] or ErrNotPairing.
func (n *Network) Pair(ctx context.Context, sessionID, phone string) error {
	e164, err := parseNumber(phone)
	if err != nil {
		return fmt.Errorf("sandbox: pair %s: %w", sessionID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: pair %s: %w", sessionID, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.devices[sessionID]
	switch {
	case n.closed:
		return fmt.Errorf("sandbox: pair %s: %w", sessionID, ErrClosed)
	case d == nil:
		return fmt.Errorf("sandbox: pair %s: %w", sessionID, ErrUnknownSession)
	case d.account != nil:
		return fmt.Errorf("sandbox: pair %s: %w", sessionID, waqtor.ErrAlreadyPaired)
	case d.state != stQR:
		return fmt.Errorf("sandbox: pair %s: %w", sessionID, ErrNotPairing)
	}
	n.pairLocked(d, n.phoneLocked(e164))
	return nil
}

// ScanQR scans a QR code with phone's WhatsApp: the session showing the code
// pairs as that account and becomes ready. Only the code a session shows now is
// valid; errors wrap ErrUnknownCode otherwise.
func (n *Network) ScanQR(ctx context.Context, code, phone string) error {
	e164, err := parseNumber(phone)
	if err != nil {
		return fmt.Errorf("sandbox: scan QR: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: scan QR: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.qrCodes[code]
	if n.closed {
		return fmt.Errorf("sandbox: scan QR: %w", ErrClosed)
	}
	if d == nil {
		return fmt.Errorf("sandbox: scan QR: %w", ErrUnknownCode)
	}
	n.pairLocked(d, n.phoneLocked(e164))
	return nil
}

// EnterPairingCode types a code from Conn.PairPhone into the phone it was made
// for; the session pairs as that account. Case, spaces and the dash do not
// matter. Errors wrap ErrUnknownCode for a code no session is waiting for.
func (n *Network) EnterPairingCode(ctx context.Context, code string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: enter pairing code: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("sandbox: enter pairing code: %w", ErrClosed)
	}
	d := n.pairCodes[normalizePairingCode(code)]
	if d == nil {
		return fmt.Errorf("sandbox: enter pairing code: %w", ErrUnknownCode)
	}
	n.pairLocked(d, n.phoneLocked(d.pairPhone))
	return nil
}

// Disconnect drops a session's connection, as a network failure would: the
// session reports StateDisconnected (Err ErrConnectionLost) and reconnects by
// itself after Config.ReconnectDelay. Errors wrap ErrUnknownSession or
// ErrNotConnected.
func (n *Network) Disconnect(sessionID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.devices[sessionID]
	switch {
	case n.closed:
		return fmt.Errorf("sandbox: disconnect %s: %w", sessionID, ErrClosed)
	case d == nil:
		return fmt.Errorf("sandbox: disconnect %s: %w", sessionID, ErrUnknownSession)
	case d.conn == nil || d.state == stIdle:
		return fmt.Errorf("sandbox: disconnect %s: %w", sessionID, ErrNotConnected)
	case d.state == stReconnect:
		return nil
	}
	n.stopLifeLocked(d)
	d.state = stReconnect
	d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateDisconnected, Reason: "connection lost", Err: ErrConnectionLost})
	d.life = n.afterLocked(n.cfg.ReconnectDelay, func() {
		d.life = nil
		if d.state == stReconnect {
			n.connectLocked(d)
		}
	})
	return nil
}

// FailSends makes the next count sends of a session fail with err, or with
// ErrNetwork (transient) when err is nil; wrap err with [waqtor.Permanent] to
// simulate a failure no retry fixes. A count of zero or less clears the fault.
// Failed attempts still take the send latency and appear in SendLog. The
// session need not be open yet.
func (n *Network) FailSends(sessionID string, err error, count int) {
	if err == nil {
		err = ErrNetwork
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.deviceLocked(sessionID)
	d.failCount = max(0, count)
	d.failErr = err
}

// SetSendLatency makes every send of a session take d before it is delivered
// (zero for none), respecting the send's context. The session need not be open
// yet.
func (n *Network) SetSendLatency(sessionID string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deviceLocked(sessionID).sendLatency = max(0, d)
}

// Ban bans a paired session's account temporarily: it reports StateBanned with
// BanExpires, sends fail with a [*waqtor.BannedError], and after d the ban lifts
// and the session reconnects and reports ready. A session that is not connected
// meets the ban when it connects. Errors wrap ErrUnknownSession or ErrNotPaired.
func (n *Network) Ban(sessionID string, d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	dev := n.devices[sessionID]
	switch {
	case n.closed:
		return fmt.Errorf("sandbox: ban %s: %w", sessionID, ErrClosed)
	case dev == nil:
		return fmt.Errorf("sandbox: ban %s: %w", sessionID, ErrUnknownSession)
	case dev.account == nil:
		return fmt.Errorf("sandbox: ban %s: %w", sessionID, ErrNotPaired)
	}
	dev.banUntil = n.cfg.NowFunc().Add(d)
	dev.banDeadline = time.Now().Add(d)
	switch dev.state {
	case stReady, stBanned, stReconnect:
		n.stopLifeLocked(dev)
		n.banLocked(dev)
	}
	return nil
}

// LogoutRemote logs a paired session out from the phone's side ("linked devices
// → log out"): the device is forgotten, the session reports StateLoggedOut (Err
// ErrLoggedOut), its undelivered messages are dropped, and it must pair again.
// Reopening it with the old JID reports StateLoggedOut again on Connect. Errors
// wrap ErrUnknownSession or ErrNotPaired.
func (n *Network) LogoutRemote(sessionID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	d := n.devices[sessionID]
	switch {
	case n.closed:
		return fmt.Errorf("sandbox: logout %s: %w", sessionID, ErrClosed)
	case d == nil:
		return fmt.Errorf("sandbox: logout %s: %w", sessionID, ErrUnknownSession)
	case d.account == nil:
		return fmt.Errorf("sandbox: logout %s: %w", sessionID, ErrNotPaired)
	}
	jid := d.account.jid
	n.unpairLocked(d)
	n.stopLifeLocked(d)
	d.revokedJID = jid
	if d.conn != nil && d.state != stIdle {
		d.state = stIdle
		d.statusLocked(&waqtor.ConnStatus{State: waqtor.StateLoggedOut, Reason: "logged out from another device", Err: ErrLoggedOut})
	} else {
		d.stale = true
	}
	return nil
}

// notifyLocked wakes WaitForState callers.
func (n *Network) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// phoneLocked returns the phone of an E.164 number, creating it.
func (n *Network) phoneLocked(e164 string) *Phone {
	jid := e164[1:] + "@" + waqtor.ServerUser
	if p := n.phones[jid]; p != nil {
		return p
	}
	p := &Phone{
		n:           n,
		number:      e164,
		jid:         jid,
		lid:         lidFor(n.cfg.Seed, e164),
		changed:     make(chan struct{}),
		devices:     make(map[string]*device),
		online:      true,
		pushName:    "User " + e164[len(e164)-4:],
		receivedIdx: make(map[string]*receivedMsg),
		rng:         stream(n.runSeed, "phone", e164),
		sentIdx:     make(map[string]*sentMsg),
	}
	n.phones[jid] = p
	n.lids[p.lid] = p
	return p
}

// resolveLocked finds the recipient of a normalised chat JID: a group, or a
// user (created unless RequireRegistered).
func (n *Network) resolveLocked(chat string) (*Phone, *group, error) {
	switch {
	case waqtor.IsGroupJID(chat):
		g := n.groups[chat]
		if g == nil {
			return nil, nil, fmt.Errorf("group %s: %w", chat, ErrUnknownGroup)
		}
		return nil, g, nil
	case strings.HasSuffix(chat, "@"+waqtor.ServerLID):
		p := n.lids[chat]
		if p == nil {
			return nil, nil, fmt.Errorf("%s: %w", chat, ErrNotOnWhatsApp)
		}
		return p, nil, nil
	}
	number := waqtor.JIDPhone(chat)
	if number == "" {
		return nil, nil, fmt.Errorf("%s: %w", chat, ErrNotOnWhatsApp)
	}
	if p := n.phones[chat]; p != nil {
		return p, nil, nil
	}
	if n.cfg.RequireRegistered {
		return nil, nil, fmt.Errorf("%s: %w", number, ErrNotOnWhatsApp)
	}
	return n.phoneLocked(number), nil, nil
}

// storeMediaLocked keeps media bytes for DownloadMedia and returns their Ref.
func (n *Network) storeMediaLocked(data []byte) json.RawMessage {
	n.mediaSeq++
	id := fmt.Sprintf("m%d", n.mediaSeq)
	n.media[id] = slices.Clone(data)
	ref, _ := json.Marshal(mediaRef{ID: id})
	return ref
}

// debug logs at debug level; attrs are slog.Attr values.
func (n *Network) debug(msg string, attrs ...any) {
	n.cfg.Logger.Debug(msg, attrs...)
}

// sortedDevices returns a phone's linked devices in session ID order.
func sortedDevices(p *Phone) []*device {
	ids := slices.Sorted(maps.Keys(p.devices))
	out := make([]*device, len(ids))
	for i, id := range ids {
		out[i] = p.devices[id]
	}
	return out
}
