package waqtor

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/waqtor/waqtor/internal/store"
)

// Session is a snapshot of one WhatsApp session.
type Session struct {
	// BanExpires is when a temporary ban lifts (StateBanned).
	BanExpires time.Time `json:"ban_expires,omitzero"`
	// CreatedAt is when the session was created.
	CreatedAt time.Time `json:"created_at"`
	// ID is the session's slug.
	ID string `json:"id"`
	// Info describes the account once paired.
	Info ClientInfo `json:"client_info"`
	// QR is the current QR code while State is StateQR.
	QR *QRCode `json:"qr,omitempty"`
	// Reason describes the last state change.
	Reason string `json:"reason,omitempty"`
	// State is the connection state.
	State SessionState `json:"status"`
	// Tenant owns the session.
	Tenant string `json:"tenant"`
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// QRCode is a login QR code.
type QRCode struct {
	// Code is the payload to render as a QR image.
	Code string `json:"code"`
	// Expires is when the code stops being valid.
	Expires time.Time `json:"expires"`
}

// sessionRef names a session as its tenant knows it: session IDs are unique
// within a tenant, and two tenants may each have a session "shop".
type sessionRef struct{ tenant, id string }

// session is the Core's live state of one session.
type session struct {
	// key is the session's row ID in the store (the session_id of its messages)
	// and its EngineSession.ID: unique across tenants, never shown to a caller.
	// See storeKey.
	key    string
	id     string // the session's ID within its tenant
	tenant string

	// life serialises lifecycle operations (connect, disconnect, logout, close):
	// a one-slot semaphore, so waiting respects contexts.
	life chan struct{}

	mu         sync.Mutex
	conn       Conn
	row        store.Session
	qr         *QRCode
	inflight   map[string]struct{}
	generation uint64 // bumped each time a conn is opened; stale handlers are ignored
}

func (s *session) lock(ctx context.Context) error {
	select {
	case s.life <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session) unlock() { <-s.life }

func (s *session) paired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.row.JID != ""
}

func (s *session) snapshot() *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &Session{
		BanExpires: s.row.BanExpires,
		CreatedAt:  s.row.CreatedAt,
		ID:         s.id,
		Info:       clientInfo(&s.row),
		Reason:     s.row.StatusReason,
		State:      SessionState(s.row.Status),
		Tenant:     s.tenant,
		UpdatedAt:  s.row.UpdatedAt,
	}
	if s.qr != nil && out.State == StateQR {
		qr := *s.qr
		out.QR = &qr
	}
	return out
}

func clientInfo(r *store.Session) ClientInfo {
	return ClientInfo{JID: r.JID, LID: r.LID, Name: r.PushName, Phone: JIDPhone(r.JID), Platform: r.Platform}
}

// readyConn returns the session's connection when it may send.
func (s *session) readyConn() (Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := SessionState(s.row.Status)
	switch {
	case state == StateBanned:
		return nil, &BannedError{Expires: s.row.BanExpires, Reason: s.row.StatusReason}
	case state != StateReady || s.conn == nil:
		return nil, fmt.Errorf("%w: session %q is %s", ErrNotReady, s.id, state)
	}
	return s.conn, nil
}

// ValidateSessionID reports whether id is a valid session ID: 1–64 characters,
// lower-case letters, digits, "_" and "-", starting with a letter or digit.
func ValidateSessionID(id string) error {
	if !slugRe.MatchString(id) {
		return fmt.Errorf("%w: %q must match %s", ErrInvalidSessionID, id, slugRe)
	}
	return nil
}

// storeKey returns the store and engine key of a new session id of tenant: id
// itself when no session has that key yet, else "tenant/id". Tenants and IDs are
// slugs without "/", so a qualified key never equals a plain one, and two
// sessions of one tenant never share an ID: keys are collision-free by
// construction. Databases from before per-tenant namespaces hold only plain
// keys, so they need no migration. Call with c.mu held.
func (c *Core) storeKey(tenant, id string) string {
	if _, taken := c.byKey[id]; !taken {
		return id
	}
	return tenant + "/" + id
}

// sessionIDOf returns the ID, within tenant, of the session stored under key.
func sessionIDOf(key, tenant string) string { return strings.TrimPrefix(key, tenant+"/") }

type tenantCtxKey struct{}

// WithTenant returns a copy of ctx in which the Core resolves session IDs
// within tenant. Session IDs are unique per tenant only (tenants "a" and "b"
// may each have a session "shop"), so every method that takes a session ID
// looks it up in the tenant of its context, and in Config.DefaultTenant when
// the context has none: core.SendText(ctx, "shop", ...) acts on the default
// tenant's "shop". auth.WithPrincipal sets the principal's tenant, so the REST
// and WebSocket transports act within the caller's tenant.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantCtxKey{}, tenant)
}

// TenantFrom returns the tenant WithTenant stored in ctx.
func TenantFrom(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantCtxKey{}).(string)
	return t, ok
}

// Tenant returns the tenant ctx acts in: the one [WithTenant] stored, or
// Config.DefaultTenant. Feature packages (campaigns, webhooks) use it to own
// what they create.
func (c *Core) Tenant(ctx context.Context) string { return c.tenantOf(ctx) }

// tenantOf returns the tenant session IDs are resolved in for ctx.
func (c *Core) tenantOf(ctx context.Context) string {
	if t, ok := TenantFrom(ctx); ok {
		return t
	}
	return c.cfg.DefaultTenant
}

func newSessionID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "s-" + hex.EncodeToString(b[:])
}

func (c *Core) loadSessions(ctx context.Context) error {
	rows, err := store.ListSessions(ctx, c.store.DB, "")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	for _, r := range rows {
		s := c.newSession(r)
		ref := sessionRef{s.tenant, s.id}
		if err := ValidateSessionID(s.id); err != nil {
			return fmt.Errorf("%w: stored session %q of tenant %q: %w", ErrDatabase, r.ID, r.TenantID, err)
		}
		if _, dup := c.sessions[ref]; dup {
			return fmt.Errorf("%w: tenant %q has two sessions %q", ErrDatabase, r.TenantID, s.id)
		}
		c.sessions[ref] = s
		c.byKey[s.key] = s
		// Whatever the last process saw, nothing is connected now.
		switch SessionState(r.Status) {
		case StateReady, StateConnecting, StateQR:
			if err := c.setState(ctx, s, &ConnStatus{State: StateDisconnected, Reason: "process restarted",
				JID: r.JID, LID: r.LID, PushName: r.PushName, Platform: r.Platform}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Core) newSession(r *store.Session) *session {
	return &session{key: r.ID, id: sessionIDOf(r.ID, r.TenantID), tenant: r.TenantID, life: make(chan struct{}, 1), row: *r, inflight: map[string]struct{}{}}
}

// CreateSessionParams configures CreateSession.
type CreateSessionParams struct {
	// ID is the session's slug ([a-z0-9][a-z0-9_-]{0,63}), unique within its
	// tenant: other tenants may use the same ID for sessions of their own.
	// Defaults to a generated one ("s-" and 10 hex digits).
	ID string
	// Tenant owns the session. Defaults to the context's tenant (WithTenant),
	// else Config.DefaultTenant.
	Tenant string
}

// CreateSession creates a session. When the Core is started it connects at once,
// so a new session moves to StateQR and emits session.qr events until it is
// paired. Errors wrap ErrInvalidSessionID or ErrSessionExists (the tenant already
// has a session with that ID; sessions of other tenants never conflict).
func (c *Core) CreateSession(ctx context.Context, p *CreateSessionParams) (*Session, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	if p == nil {
		p = &CreateSessionParams{}
	}
	id := p.ID
	if id == "" {
		id = newSessionID()
	}
	if err := ValidateSessionID(id); err != nil {
		return nil, err
	}
	tenant := p.Tenant
	if tenant == "" {
		tenant = c.tenantOf(ctx)
	}
	if !slugRe.MatchString(tenant) {
		return nil, fieldErr(ErrConfig, "tenant", "%q must match %s", tenant, slugRe)
	}
	now := c.now().UTC()
	ref := sessionRef{tenant, id}
	c.mu.Lock()
	if _, ok := c.sessions[ref]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrSessionExists, id)
	}
	row := &store.Session{ID: c.storeKey(tenant, id), TenantID: tenant, Status: string(StateDisconnected),
		StatusReason: "created", CreatedAt: now, UpdatedAt: now}
	s := c.newSession(row)
	c.sessions[ref] = s // reserve the ID and the key while inserting
	c.byKey[s.key] = s
	c.mu.Unlock()
	err := c.commit(ctx, func(tx *sql.Tx, em *emitter) error {
		if err := store.InsertSession(ctx, tx, row); err != nil {
			return err
		}
		em.emit(id, tenant, &SessionStatus{State: StateDisconnected, Reason: "created"})
		return nil
	})
	if err != nil {
		c.mu.Lock()
		delete(c.sessions, ref)
		delete(c.byKey, s.key)
		c.mu.Unlock()
		if errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("%w: %q", ErrSessionExists, id)
		}
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		if err := c.connect(ctx, s); err != nil {
			c.logger.WarnContext(ctx, "New session failed to connect", slog.String("session", id),
				slog.String("tenant", tenant), slog.Any("error", err))
		}
	}
	return s.snapshot(), nil
}

// acquire registers a command in progress on session id of ctx's tenant; call
// release when the command is done.
func (c *Core) acquire(ctx context.Context, id string) (s *session, release func(), err error) {
	if err := c.begin(); err != nil {
		return nil, nil, err
	}
	if s, err = c.session(ctx, id); err != nil {
		c.ops.done()
		return nil, nil, err
	}
	return s, c.ops.done, nil
}

// session returns session id of ctx's tenant (see WithTenant).
func (c *Core) session(ctx context.Context, id string) (*session, error) {
	if err := ValidateSessionID(id); err != nil {
		return nil, err
	}
	ref := sessionRef{c.tenantOf(ctx), id}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[ref]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrSessionNotFound, id)
	}
	return s, nil
}

// Session returns the current state of one session of ctx's tenant (see
// WithTenant).
func (c *Core) Session(ctx context.Context, id string) (*Session, error) {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.snapshot(), nil
}

// SessionListParams filters Sessions.
type SessionListParams struct {
	// Tenant keeps only this tenant's sessions. Defaults to the context's
	// tenant (WithTenant), else all tenants.
	Tenant string
}

// Sessions lists sessions ordered by ID (and tenant, for sessions of several
// tenants with the same ID).
func (c *Core) Sessions(ctx context.Context, p *SessionListParams) ([]*Session, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	var tenant string
	if p != nil {
		tenant = p.Tenant
	}
	if tenant == "" {
		tenant, _ = TenantFrom(ctx)
	}
	c.mu.Lock()
	var list []*session
	for _, s := range c.sessions {
		if tenant == "" || s.tenant == tenant {
			list = append(list, s)
		}
	}
	c.mu.Unlock()
	out := make([]*Session, len(list))
	for i, s := range list {
		out[i] = s.snapshot()
	}
	slices.SortFunc(out, func(a, b *Session) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Tenant, b.Tenant))
	})
	return out, nil
}

// Connect connects a session (for example one that was never paired, or that
// was disconnected with Disconnect). It returns once the attempt has started.
func (c *Core) Connect(ctx context.Context, id string) error {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	if c.state.Load() != coreStarted {
		return ErrNotStarted
	}
	return c.connect(ctx, s)
}

// connect opens the session's conn when needed and asks it to connect.
func (c *Core) connect(ctx context.Context, s *session) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	conn, err := c.openConn(ctx, s)
	if err != nil {
		return err
	}
	if err := conn.Connect(ctx); err != nil {
		return fmt.Errorf("waqtor: connect session %q: %w", s.id, err)
	}
	return nil
}

// openConn returns the session's conn, opening one if needed. Call with s.life held.
func (c *Core) openConn(ctx context.Context, s *session) (Conn, error) {
	s.mu.Lock()
	if s.conn != nil {
		conn := s.conn
		s.mu.Unlock()
		return conn, nil
	}
	s.generation++
	h := &connHandler{c: c, s: s, gen: s.generation}
	es := &EngineSession{ID: s.key, JID: s.row.JID, Tenant: s.tenant}
	s.mu.Unlock()
	conn, err := c.engine.Open(ctx, es, h)
	if err != nil {
		return nil, fmt.Errorf("waqtor: open session %q: %w", s.id, err)
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	return conn, nil
}

// closeConn disconnects and closes the session's conn. Call without s.life held.
func (c *Core) closeConn(ctx context.Context, s *session, logout bool) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	return c.closeConnLocked(ctx, s, logout)
}

func (c *Core) closeConnLocked(ctx context.Context, s *session, logout bool) error {
	s.mu.Lock()
	conn := s.conn
	s.conn = nil
	s.generation++ // events from the old conn are ignored from now on
	s.mu.Unlock()
	if conn == nil {
		return nil
	}
	var errs []error
	if logout {
		if err := conn.Logout(ctx); err != nil {
			errs = append(errs, fmt.Errorf("logout: %w", err))
		}
	} else if err := conn.Disconnect(ctx); err != nil {
		errs = append(errs, fmt.Errorf("disconnect: %w", err))
	}
	if err := conn.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	return errors.Join(errs...)
}

// Disconnect closes a session's connection and keeps its pairing; the session
// stays disconnected until Connect or Restart (or the next Start, if paired).
func (c *Core) Disconnect(ctx context.Context, id string) error {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	if err := c.closeConn(ctx, s, false); err != nil {
		return err
	}
	return c.setState(ctx, s, &ConnStatus{State: StateDisconnected, Reason: "disconnected by request"})
}

// Restart closes a session's connection and connects it again.
func (c *Core) Restart(ctx context.Context, id string) error {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	if c.state.Load() != coreStarted {
		return ErrNotStarted
	}
	if err := c.closeConn(ctx, s, false); err != nil {
		c.logger.WarnContext(ctx, "Closing session before restart failed", slog.String("session", id), slog.Any("error", err))
	}
	if err := c.setState(ctx, s, &ConnStatus{State: StateDisconnected, Reason: "restarting"}); err != nil {
		return err
	}
	return c.connect(ctx, s)
}

// Logout unpairs a session: the device is removed from the phone's linked devices
// and its keys are deleted. The session remains and can pair again (Connect shows
// a new QR code).
func (c *Core) Logout(ctx context.Context, id string) error {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	if err := c.closeConn(ctx, s, true); err != nil {
		return fmt.Errorf("waqtor: logout session %q: %w", id, err)
	}
	return c.setState(ctx, s, &ConnStatus{State: StateLoggedOut, Reason: "logged out by request"})
}

// DeleteSession logs a session out (when paired), closes it and deletes it with
// its messages. Its past events stay in the log until pruned.
func (c *Core) DeleteSession(ctx context.Context, id string) error {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := c.closeConnLocked(ctx, s, s.paired()); err != nil {
		c.logger.WarnContext(ctx, "Closing deleted session failed", slog.String("session", id), slog.Any("error", err))
	}
	if err := c.store.InTx(ctx, func(tx *sql.Tx) error { return store.DeleteSession(ctx, tx, s.key) }); err != nil {
		return fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	c.mu.Lock()
	delete(c.sessions, sessionRef{s.tenant, s.id})
	delete(c.byKey, s.key)
	c.mu.Unlock()
	return nil
}

// PairPhone starts pairing a session by phone number and returns the code to
// enter on the phone (WhatsApp > Linked devices > Link with phone number). The
// session must be connected and not yet paired.
func (c *Core) PairPhone(ctx context.Context, id, phone string) (string, error) {
	s, release, err := c.acquire(ctx, id)
	if err != nil {
		return "", err
	}
	defer release()
	e164, err := ParsePhone(phone)
	if err != nil {
		return "", err
	}
	if c.state.Load() != coreStarted {
		return "", ErrNotStarted
	}
	s.mu.Lock()
	state, conn := SessionState(s.row.Status), s.conn
	s.mu.Unlock()
	if state == StateReady {
		return "", fmt.Errorf("%w: session %q", ErrAlreadyPaired, id)
	}
	if conn == nil {
		if err := c.connect(ctx, s); err != nil {
			return "", err
		}
		s.mu.Lock()
		conn = s.conn
		s.mu.Unlock()
	}
	code, err := conn.PairPhone(ctx, e164)
	if err != nil {
		return "", fmt.Errorf("waqtor: pair session %q by phone: %w", id, err)
	}
	return code, nil
}

// QR returns the session's current QR code; it wraps ErrNotReady when the session
// is not waiting for a scan.
func (c *Core) QR(ctx context.Context, id string) (*QRCode, error) {
	snap, err := c.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if snap.QR == nil {
		return nil, fmt.Errorf("%w: session %q is %s, not waiting for a QR scan", ErrNotReady, id, snap.State)
	}
	return snap.QR, nil
}

// setState records a state change and emits session.status when something changed.
func (c *Core) setState(ctx context.Context, s *session, st *ConnStatus) error {
	s.mu.Lock()
	prev := s.row
	next := s.row
	next.Status = string(st.State)
	next.StatusReason = st.Reason
	if st.Err != nil && st.Reason == "" {
		next.StatusReason = st.Err.Error()
	}
	if st.JID != "" {
		next.JID = st.JID
	}
	if st.LID != "" {
		next.LID = st.LID
	}
	if st.PushName != "" {
		next.PushName = st.PushName
	}
	if st.Platform != "" {
		next.Platform = st.Platform
	}
	next.BanExpires = time.Time{}
	if st.State == StateBanned {
		next.BanExpires = st.BanExpires
	}
	if st.State == StateLoggedOut {
		next.JID, next.LID = "", ""
	}
	if st.State != StateQR {
		s.qr = nil
	}
	changed := next.Status != prev.Status || next.StatusReason != prev.StatusReason || next.JID != prev.JID ||
		next.LID != prev.LID || next.PushName != prev.PushName || next.Platform != prev.Platform ||
		!next.BanExpires.Equal(prev.BanExpires)
	s.mu.Unlock()
	if !changed {
		return nil
	}
	next.UpdatedAt = c.now().UTC()
	ev := &SessionStatus{State: st.State, Previous: SessionState(prev.Status), Reason: next.StatusReason,
		BanExpires: next.BanExpires, Info: clientInfo(&next)}
	if st.Err != nil {
		ev.Error = st.Err.Error()
	}
	err := c.commit(ctx, func(tx *sql.Tx, em *emitter) error {
		if err := store.UpdateSession(ctx, tx, &next); err != nil {
			return err
		}
		em.emit(s.id, s.tenant, ev)
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile
		}
		return fmt.Errorf("%w: record session state: %w", ErrDatabase, err)
	}
	s.mu.Lock()
	s.row = next
	s.mu.Unlock()
	if st.State == StateReady {
		c.kickOutbox()
	}
	return nil
}

// connHandler is the ConnHandler of one session's conn.
type connHandler struct {
	c   *Core
	s   *session
	gen uint64
}

func (h *connHandler) stale() bool {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.gen != h.s.generation
}

// handlerTimeout bounds the database work of one engine callback.
const handlerTimeout = 15 * time.Second

func (h *connHandler) HandleStatus(ctx context.Context, st *ConnStatus) {
	if st == nil || !st.State.Valid() || h.stale() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer cancel()
	if err := h.c.setState(ctx, h.s, st); err != nil {
		h.c.logger.ErrorContext(ctx, "Recording session state failed", slog.String("session", h.s.id), slog.Any("error", err))
	}
}

func (h *connHandler) HandleQR(ctx context.Context, code string, expires time.Time) {
	if code == "" || h.stale() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer cancel()
	if err := h.c.setState(ctx, h.s, &ConnStatus{State: StateQR, Reason: "waiting for QR scan"}); err != nil {
		h.c.logger.ErrorContext(ctx, "Recording session state failed", slog.String("session", h.s.id), slog.Any("error", err))
	}
	h.s.mu.Lock()
	h.s.qr = &QRCode{Code: code, Expires: expires}
	h.s.mu.Unlock()
	err := h.c.commit(ctx, func(_ *sql.Tx, em *emitter) error {
		em.emit(h.s.id, h.s.tenant, &SessionQR{Code: code, Expires: expires})
		return nil
	})
	if err != nil {
		h.c.logger.ErrorContext(ctx, "Recording QR event failed", slog.String("session", h.s.id), slog.Any("error", err))
	}
}

func (h *connHandler) HandleMessage(ctx context.Context, m *InboundMessage) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer cancel()
	return h.c.storeInbound(ctx, h.s, m)
}

var _ MessageBatchHandler = (*connHandler)(nil)

// HandleMessages implements [MessageBatchHandler].
func (h *connHandler) HandleMessages(ctx context.Context, ms []*InboundMessage) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer cancel()
	return h.c.storeInbound(ctx, h.s, ms...)
}

func (h *connHandler) HandleReceipt(ctx context.Context, r *Receipt) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer cancel()
	return h.c.applyReceipt(ctx, h.s, r)
}
