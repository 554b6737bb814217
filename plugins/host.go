package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
)

// Host runs the plugins of its Config as supervised processes attached to a
// Core: each reads the events it asked for from the event log through its own
// durable cursor, calls back into the Core through the Host service, and is
// restarted with backoff when it crashes or hangs. Build it with [NewHost],
// then [Host.Start]; stop it with [Host.Stop] before stopping the Core.
//
// All methods are safe for concurrent use.
type Host struct {
	cfg    *Config
	core   *waqtor.Core
	kv     *kvStore
	logger *slog.Logger
	sups   map[string]*supervisor
	order  []string

	state   atomic.Int32 // hostNew, hostStarted, hostStopped
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup
	stopped chan struct{}
	stopMu  sync.Mutex
}

const (
	hostNew int32 = iota
	hostStarted
	hostStopped
)

// NewHost validates cfg and builds a Host for core. It starts nothing: call
// Start. Errors wrap ErrConfig.
func NewHost(core *waqtor.Core, cfg *Config) (*Host, error) {
	if core == nil {
		return nil, fmt.Errorf("%w: nil Core (build one with waqtor.NewCore)", ErrConfig)
	}
	if cfg == nil {
		cfg = &Config{}
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, core: core, logger: cfg.Logger, sups: map[string]*supervisor{}, stopped: make(chan struct{}),
		kv: &kvStore{st: corelink.Store(core), now: time.Now}}
	for i := range cfg.Plugins {
		p := &cfg.Plugins[i]
		h.sups[p.Name] = newSupervisor(h, p)
		h.order = append(h.order, p.Name)
	}
	return h, nil
}

// Start migrates the plugins' tables, pins each plugin's cursor (so that
// events from now on wait for a plugin that is slow to start) and launches the
// plugins. It returns without waiting for them; follow plugin.status events
// or Statuses. ctx bounds the host's lifetime: cancelling it stops the
// plugins (call Stop to wait for that).
func (h *Host) Start(ctx context.Context) error {
	if !h.state.CompareAndSwap(hostNew, hostStarted) {
		if h.state.Load() == hostStarted {
			return nil
		}
		return ErrStopped
	}
	if err := corelink.Store(h.core).MigrateComponent(ctx, schemaComponent, migrations); err != nil {
		h.state.Store(hostStopped)
		close(h.stopped)
		return fmt.Errorf("%w: %w", waqtor.ErrDatabase, err)
	}
	for _, name := range h.order {
		s := h.sups[name]
		start := waqtor.FromNewest
		if s.cfg.ReplayFromOldest {
			start = waqtor.FromOldest
		}
		cur, err := h.core.Cursor(ctx, cursorName(name), &waqtor.CursorOpts{Start: start})
		if err != nil {
			h.state.Store(hostStopped)
			close(h.stopped)
			return fmt.Errorf("plugins: open cursor of %s: %w", name, err)
		}
		s.committed = cur.Position()
		if n, err := h.kv.countDeadLetters(ctx, name); err == nil {
			s.deadLetters = n
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	h.cancel = cancel
	for _, name := range h.order {
		s := h.sups[name]
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.run(runCtx)
		}()
	}
	return nil
}

// Stop stops every plugin (each is asked to exit and killed after KillGrace)
// and waits for them, bounded by ctx. An event being handled is delivered
// again after the next start; its replies are not sent twice. Stop is safe to
// call more than once; a stopped Host cannot be started again.
func (h *Host) Stop(ctx context.Context) error {
	h.stopMu.Lock()
	defer h.stopMu.Unlock()
	switch h.state.Swap(hostStopped) {
	case hostStopped:
		select {
		case <-h.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case hostNew:
		close(h.stopped)
		return nil
	}
	h.cancel(ErrStopped)
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		close(h.stopped)
		return nil
	case <-ctx.Done():
		go func() {
			<-done
			close(h.stopped)
		}()
		return fmt.Errorf("plugins: stop: %w", ctx.Err())
	}
}

// Stopped returns a channel closed once the host and all its plugins stopped.
func (h *Host) Stopped() <-chan struct{} { return h.stopped }

// Status is a snapshot of one plugin.
type Status struct {
	// Backlog is how far the plugin's cursor is behind the newest event of the
	// log: an upper bound of the events waiting for it.
	Backlog int64 `json:"backlog"`
	// BreakerUntil is when an open breaker allows one more try.
	BreakerUntil time.Time `json:"breaker_until,omitzero"`
	// Commands are the commands the plugin offers.
	Commands []CommandInfo `json:"commands"`
	// DeadLetters counts the events the plugin gave up on.
	DeadLetters int64 `json:"dead_letters"`
	// Handled counts the events the plugin handled since the host started.
	Handled int64 `json:"handled"`
	// Kinds are the event kinds the plugin receives.
	Kinds []waqtor.EventKind `json:"kinds"`
	// LastError is the plugin's last failure.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when it happened.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Name is the plugin's configured name.
	Name string `json:"name"`
	// PID is the process ID while the plugin runs.
	PID int `json:"pid,omitempty"`
	// Restarts counts restarts since the host started.
	Restarts int `json:"restarts"`
	// StartedAt is when the running process started.
	StartedAt time.Time `json:"started_at,omitzero"`
	// State is the plugin's state.
	State waqtor.PluginState `json:"state"`
	// Tenant is the tenant the plugin is restricted to, "" for all.
	Tenant string `json:"tenant,omitempty"`
	// Version is the version the plugin reported.
	Version string `json:"version,omitempty"`
}

func (s *supervisor) status() *Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &Status{BreakerUntil: s.breakerUntil, DeadLetters: s.deadLetters, Handled: s.handled, LastError: s.lastErr,
		LastErrorAt: s.lastErrAt, Name: s.cfg.Name, PID: s.pid, Restarts: max(s.launches-1, 0), State: s.state,
		Tenant: s.cfg.Tenant, Commands: []CommandInfo{}, Kinds: []waqtor.EventKind{}}
	if s.info != nil {
		st.Version = s.info.Version
		st.Commands = append(st.Commands, s.info.Commands...)
		st.Kinds = append(st.Kinds, s.info.Kinds...)
	}
	if s.proc != nil {
		st.StartedAt = s.startedAt
	}
	st.Backlog = s.committed // made relative in Host.snapshot
	return st
}

func (h *Host) snapshot(ctx context.Context, s *supervisor) *Status {
	st := s.status()
	committed := st.Backlog
	st.Backlog = 0
	if last, err := h.core.LastSeq(ctx); err == nil {
		st.Backlog = max(last-committed, 0)
	}
	return st
}

// Statuses returns a snapshot of every plugin, in configuration order.
func (h *Host) Statuses(ctx context.Context) []*Status {
	out := make([]*Status, 0, len(h.order))
	for _, name := range h.order {
		out = append(out, h.snapshot(ctx, h.sups[name]))
	}
	return out
}

// Status returns a snapshot of one plugin; errors wrap ErrPluginNotFound.
func (h *Host) Status(ctx context.Context, name string) (*Status, error) {
	s, err := h.plugin(name)
	if err != nil {
		return nil, err
	}
	return h.snapshot(ctx, s), nil
}

func (h *Host) plugin(name string) (*supervisor, error) {
	s, ok := h.sups[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrPluginNotFound, name)
	}
	return s, nil
}

// Restart restarts a plugin now: a running one is stopped and started again,
// one that waits (backoff, open breaker, failed) is started at once, and its
// breaker is reset. It returns without waiting for the start.
func (h *Host) Restart(ctx context.Context, name string) error {
	s, err := h.plugin(name)
	if err != nil {
		return err
	}
	if h.state.Load() != hostStarted {
		return ErrStopped
	}
	s.log.InfoContext(ctx, "Plugin restart requested")
	s.requestRestart()
	return nil
}

// Command runs a command a plugin offers (see Info.Commands) with JSON args
// ("{}" when nil) and returns its JSON result. Errors wrap ErrPluginNotFound,
// ErrNotRunning, ErrUnknownCommand, ErrInvalidArgs or ErrTimeout, or are the
// plugin's own.
func (h *Host) Command(ctx context.Context, plugin, command string, args json.RawMessage) (json.RawMessage, error) {
	s, err := h.plugin(plugin)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	if !json.Valid(args) {
		return nil, fmt.Errorf("%w: not valid JSON", ErrInvalidArgs)
	}
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	if proc == nil {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRunning, plugin, s.status().State)
	}
	if !slices.ContainsFunc(proc.info.Commands, func(c CommandInfo) bool { return c.Name == command }) {
		return nil, fmt.Errorf("%w: %s offers no command %q", ErrUnknownCommand, plugin, command)
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	res, err := proc.remote.command(cctx, command, args)
	if err != nil {
		if ctx.Err() == nil && pastDeadline(cctx, time.Now()) {
			return nil, fmt.Errorf("%w: %s %s took more than %s", ErrTimeout, plugin, command, s.cfg.CallTimeout)
		}
		if ctx.Err() == nil && isConnectionLoss(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotRunning, plugin, err)
		}
		return nil, err
	}
	return res, nil
}

// DeadLetterListParams selects dead letters.
type DeadLetterListParams struct {
	// AfterSeq continues a listing after this event sequence number. Defaults to 0.
	AfterSeq int64
	// Limit caps the page. Defaults to 100; at most 1000.
	Limit int
}

// DeadLetters lists the events a plugin gave up on, in log order.
func (h *Host) DeadLetters(ctx context.Context, plugin string, p *DeadLetterListParams) ([]*DeadLetter, error) {
	if _, err := h.plugin(plugin); err != nil {
		return nil, err
	}
	if p == nil {
		p = &DeadLetterListParams{}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	return h.kv.deadLetters(ctx, plugin, p.AfterSeq, min(limit, 1000))
}

// tenantCtx returns ctx resolving session IDs (which are unique per tenant
// only, see waqtor.WithTenant) within the plugin's tenant; for a plugin of
// every tenant, within the tenant of the event it is handling (eventTenant),
// and outside an event within the Core's default tenant.
func (s *supervisor) tenantCtx(ctx context.Context, eventTenant string) context.Context {
	switch {
	case s.cfg.Tenant != "":
		return waqtor.WithTenant(ctx, s.cfg.Tenant)
	case eventTenant != "":
		return waqtor.WithTenant(ctx, eventTenant)
	}
	return ctx
}

// checkSession refuses a session outside the plugin's tenant, as not found (no
// existence oracle).
func (h *Host) checkSession(ctx context.Context, s *supervisor, id string) error {
	if s.cfg.Tenant == "" {
		return nil
	}
	sess, err := h.core.Session(ctx, id)
	if err != nil {
		return err
	}
	if sess.Tenant != s.cfg.Tenant {
		return fmt.Errorf("%w: %q", waqtor.ErrSessionNotFound, id)
	}
	return nil
}

func (h *Host) session(ctx context.Context, s *supervisor, id string) (*waqtor.Session, error) {
	sess, err := h.core.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.cfg.Tenant != "" && sess.Tenant != s.cfg.Tenant {
		return nil, fmt.Errorf("%w: %q", waqtor.ErrSessionNotFound, id)
	}
	return sess, nil
}

func (h *Host) send(ctx context.Context, s *supervisor, a *SendAction, key string) (*waqtor.Message, error) {
	if err := h.checkSession(ctx, s, a.Session); err != nil {
		return nil, err
	}
	return h.core.Send(ctx, a.Session, a.Chat, a.Content, &waqtor.SendOpts{IdempotencyKey: key})
}

func (h *Host) markRead(ctx context.Context, s *supervisor, a *MarkReadAction) error {
	if err := h.checkSession(ctx, s, a.Session); err != nil {
		return err
	}
	return h.core.MarkRead(ctx, a.Session, a.Chat, a.IDs, a.Sender)
}

func (h *Host) setPresence(ctx context.Context, s *supervisor, a *PresenceAction) error {
	if err := h.checkSession(ctx, s, a.Session); err != nil {
		return err
	}
	return h.core.SetPresence(ctx, a.Session, a.Chat, a.Presence)
}
