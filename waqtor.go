package waqtor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor/internal/store"
	"github.com/waqtor/waqtor/internal/textnorm"
)

// Defaults of Config fields.
const (
	// DefaultTenantDefault is the tenant of sessions created without one.
	DefaultTenantDefault = "default"
	// LogRetentionDefault is how long event-log rows are kept after every cursor
	// has passed them.
	LogRetentionDefault = 7 * 24 * time.Hour
	// MaxMediaBytesDefault caps outbound media (WhatsApp's limit for images,
	// video and audio is 16 MB).
	MaxMediaBytesDefault = 16 << 20
	// MaxSendAttemptsDefault is how many times a send that failed for a transient
	// reason is tried before the message is marked failed.
	MaxSendAttemptsDefault = 10
	// MediaFetchTimeoutDefault bounds downloading media from a URL.
	MediaFetchTimeoutDefault = 30 * time.Second
	// PruneIntervalDefault is how often old event-log rows are pruned.
	PruneIntervalDefault = 10 * time.Minute
	// RetryIntervalDefault is how often pending outbound messages are retried.
	RetryIntervalDefault = 5 * time.Second
	// SendTimeoutDefault bounds one engine send.
	SendTimeoutDefault = 30 * time.Second
	// StopTimeoutDefault bounds disconnecting sessions when Stop's context has no
	// deadline.
	StopTimeoutDefault = 10 * time.Second
	// TenantSendWindowDefault is the window of Config.TenantSendLimit.
	TenantSendWindowDefault = time.Minute
	// SubscriptionBufferDefault is the queue length of each bus subscription.
	SubscriptionBufferDefault = 1024
)

// Config configures a Core. The zero value is not usable: Database and Engine are
// required. NewCore never modifies the caller's Config.
type Config struct {
	// Database is where waqtor keeps its state: an SQLite file path (or "file:"
	// URI), created with its directory when missing, or a "postgres://" URL. The
	// whatsapp engine keeps its device store in the same database. Required.
	Database string
	// DefaultTenant owns sessions created without a tenant. Defaults to
	// DefaultTenantDefault ("default").
	DefaultTenant string
	// Engine builds the WhatsApp engine: whatsapp.New(...) for real accounts,
	// (*sandbox.Network).Factory() for the simulated network. Required.
	Engine EngineFactory
	// LogRetention is the minimum age of event-log rows before they may be pruned
	// (and only once every cursor has passed them). Defaults to
	// LogRetentionDefault (7 days).
	LogRetention time.Duration
	// Logger receives the Core's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// MaxMediaBytes caps the size of outbound media. Defaults to
	// MaxMediaBytesDefault (16 MiB).
	MaxMediaBytes int64
	// MaxSendAttempts is how many transient failures a send survives before the
	// message is marked failed. Defaults to MaxSendAttemptsDefault (10).
	MaxSendAttempts int
	// MediaAllowCIDRs lets media URLs reach these otherwise blocked ranges (for
	// example a LAN file server). Loopback, private, link-local and metadata
	// addresses are refused by default. Defaults to none.
	MediaAllowCIDRs []netip.Prefix
	// MediaFetchTimeout bounds fetching media from a URL. Defaults to
	// MediaFetchTimeoutDefault (30 s).
	MediaFetchTimeout time.Duration
	// OptOutKeywords are the messages with which a contact opts out: an
	// inbound text in a 1:1 chat (not a group, not sent by the session's own
	// account) that is, as a whole, one of them after normalisation (case
	// folding, Arabic letter unification, diacritics and punctuation removed:
	// " stop! " matches "STOP", "please stop" does not) opts its author out
	// of OptOutScope, with source "keyword", in the transaction that stores
	// the message, and consent.changed follows its message.received. A nil
	// slice means OptOutKeywordsDefault(); an empty, non-nil slice
	// (OptOutKeywords: []string{}) disables keyword opt-outs. Each keyword
	// must keep some letters or digits after normalisation. Defaults to
	// OptOutKeywordsDefault().
	OptOutKeywords []string
	// OptOutReply is a confirmation sent back, as a transactional message,
	// when a keyword changed a contact's consent (not when the contact had
	// opted out already). It is sent in the background, best effort: a send
	// that fails is logged. Defaults to "": no reply.
	OptOutReply string
	// OptOutScope is the scope a keyword opts out of. Defaults to
	// ConsentMarketing.
	OptOutScope ConsentScope
	// PruneInterval is how often the event log is pruned. Defaults to
	// PruneIntervalDefault (10 min).
	PruneInterval time.Duration
	// RetryInterval is how often pending outbound messages (a send interrupted by
	// a crash or a network error) are retried, with the same message ID. Defaults
	// to RetryIntervalDefault (5 s).
	RetryInterval time.Duration
	// SendTimeout bounds one engine send. Defaults to SendTimeoutDefault (30 s).
	SendTimeout time.Duration
	// SubscriptionBuffer is the queue length of each On handler and Subscribe
	// channel; events beyond it are dropped for that subscriber and counted.
	// Defaults to SubscriptionBufferDefault (1024).
	SubscriptionBuffer int
	// TenantSendLimit is how many messages one tenant may send per
	// TenantSendWindow, over all its sessions and every path that sends (REST,
	// plugins, handlers); beyond it sends fail with a *QuotaError (REST: 429
	// with Retry-After) and nothing is stored. Idempotent replays and resends
	// of pending messages do not count. Defaults to 0: no limit.
	TenantSendLimit int
	// TenantSendWindow is TenantSendLimit's window; the quota refills evenly
	// over it. Defaults to TenantSendWindowDefault (1 min).
	TenantSendWindow time.Duration
	// Test holds knobs for tests.
	Test TestConfig
}

// TestConfig holds settings meant for tests only.
type TestConfig struct {
	// Now replaces the clock. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with every unset field set to its default.
func (c *Config) WithDefaults() *Config {
	out := *c
	out.DefaultTenant = cmp.Or(c.DefaultTenant, DefaultTenantDefault)
	out.LogRetention = cmp.Or(c.LogRetention, LogRetentionDefault)
	out.MaxMediaBytes = cmp.Or(c.MaxMediaBytes, MaxMediaBytesDefault)
	out.MaxSendAttempts = cmp.Or(c.MaxSendAttempts, MaxSendAttemptsDefault)
	out.MediaFetchTimeout = cmp.Or(c.MediaFetchTimeout, MediaFetchTimeoutDefault)
	out.PruneInterval = cmp.Or(c.PruneInterval, PruneIntervalDefault)
	out.RetryInterval = cmp.Or(c.RetryInterval, RetryIntervalDefault)
	out.SendTimeout = cmp.Or(c.SendTimeout, SendTimeoutDefault)
	out.SubscriptionBuffer = cmp.Or(c.SubscriptionBuffer, SubscriptionBufferDefault)
	out.TenantSendWindow = cmp.Or(c.TenantSendWindow, TenantSendWindowDefault)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Test.Now == nil {
		out.Test.Now = time.Now
	}
	out.MediaAllowCIDRs = append([]netip.Prefix(nil), c.MediaAllowCIDRs...)
	out.OptOutScope = cmp.Or(c.OptOutScope, ConsentMarketing)
	if c.OptOutKeywords == nil {
		out.OptOutKeywords = OptOutKeywordsDefault()
	} else {
		out.OptOutKeywords = append([]string{}, c.OptOutKeywords...)
	}
	return &out
}

func (c *Config) validate() error {
	if c.Database == "" {
		return fmt.Errorf(`%w: missing Database (try "waqtor-data/waqtor.db" or a postgres:// URL)`, ErrConfig)
	}
	if c.Engine == nil {
		return fmt.Errorf("%w: missing Engine (try whatsapp.New(nil) or sandbox.NewNetwork(nil).Factory())", ErrConfig)
	}
	if !slugRe.MatchString(c.DefaultTenant) {
		return fmt.Errorf("%w: DefaultTenant %q must match %s", ErrConfig, c.DefaultTenant, slugRe)
	}
	for name, d := range map[string]time.Duration{"LogRetention": c.LogRetention, "MediaFetchTimeout": c.MediaFetchTimeout,
		"PruneInterval": c.PruneInterval, "RetryInterval": c.RetryInterval, "SendTimeout": c.SendTimeout,
		"TenantSendWindow": c.TenantSendWindow} {
		if d < 0 {
			return fmt.Errorf("%w: %s must not be negative", ErrConfig, name)
		}
	}
	if !c.OptOutScope.Valid() {
		return fmt.Errorf("%w: OptOutScope %q must be %q or %q", ErrConfig, c.OptOutScope, ConsentMarketing, ConsentAll)
	}
	for i, k := range c.OptOutKeywords {
		if len(k) > maxKeywordInput || textnorm.Normalize(k) == "" {
			return fmt.Errorf("%w: OptOutKeywords[%d] %q must hold letters or digits and be at most %d bytes", ErrConfig, i, k, maxKeywordInput)
		}
	}
	if n := utf8.RuneCountInString(c.OptOutReply); n > MaxTextLength || !utf8.ValidString(c.OptOutReply) {
		return fmt.Errorf("%w: OptOutReply must be valid UTF-8 of at most %d characters", ErrConfig, MaxTextLength)
	}
	if c.MaxMediaBytes < 0 || c.MaxSendAttempts < 0 || c.SubscriptionBuffer < 0 || c.TenantSendLimit < 0 {
		return fmt.Errorf("%w: MaxMediaBytes, MaxSendAttempts, SubscriptionBuffer and TenantSendLimit must not be negative", ErrConfig)
	}
	return nil
}

var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Core is waqtor's engine room: WhatsApp sessions, typed commands and events, and
// the durable event log, on one database. Build it with [NewCore], then [Core.Start].
//
// All methods are safe for concurrent use.
type Core struct {
	cfg    *Config
	logger *slog.Logger
	now    func() time.Time
	store  *store.Store
	engine Engine
	bus    *bus

	lifeCtx    context.Context
	lifeCancel context.CancelCauseFunc

	mu       sync.Mutex
	started  bool
	sessions map[sessionRef]*session // by tenant and ID
	byKey    map[string]*session     // by store key (session.key)

	state    atomic.Int32 // coreNew, coreStarted, coreStopping, coreStopped
	ops      tracker      // commands in progress
	bg       sync.WaitGroup
	handlers tracker // On handler goroutines
	stopped  chan struct{}
	stopOnce sync.Once

	logMu     sync.Mutex
	logNotify chan struct{} // closed and replaced after each commit that appended events

	outboxKick chan struct{}

	quota *sendQuota // nil without Config.TenantSendLimit

	optOutKeywords map[string]struct{} // Config.OptOutKeywords, normalised
	sendHook       func()              // tests only: runs before a send's storing transaction

	mediaOnce sync.Once
	mediaHTTP *http.Client
	mediaErr  error
}

const (
	coreNew int32 = iota
	coreStarted
	coreStopping
	coreStopped
)

// NewCore opens (and migrates) the database, builds the engine and loads the
// sessions. It does not connect anything: call Start. Errors wrap ErrConfig,
// ErrDatabase or ErrSchemaTooNew.
func NewCore(ctx context.Context, cfg *Config) (*Core, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil Config", ErrConfig)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Database, &store.Config{Logger: cfg.Logger, Now: cfg.Test.Now})
	switch {
	case errors.Is(err, store.ErrSchemaTooNew):
		return nil, fmt.Errorf("%w: %w", ErrSchemaTooNew, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	c := &Core{
		cfg:        cfg,
		logger:     cfg.Logger,
		now:        cfg.Test.Now,
		store:      st,
		bus:        newBus(cfg.Logger),
		sessions:   make(map[sessionRef]*session),
		byKey:      make(map[string]*session),
		stopped:    make(chan struct{}),
		logNotify:  make(chan struct{}),
		outboxKick: make(chan struct{}, 1),
	}
	c.quota = newSendQuota(cfg.TenantSendLimit, cfg.TenantSendWindow, c.now)
	c.optOutKeywords = make(map[string]struct{}, len(cfg.OptOutKeywords))
	for _, k := range cfg.OptOutKeywords {
		c.optOutKeywords[textnorm.Normalize(k)] = struct{}{}
	}
	c.lifeCtx, c.lifeCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	eng, err := cfg.Engine(ctx, &EngineEnv{DB: st.DB, DSN: st.DSN, Dialect: string(st.Dialect), Logger: cfg.Logger, Now: c.now})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("waqtor: build engine: %w", err)
	}
	c.engine = eng
	if err := c.loadSessions(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	return c, nil
}

// Start connects every paired session and starts the background work (retrying
// pending sends, pruning the log). It returns without waiting for connections;
// follow them with session.status events. ctx bounds the Core's lifetime as well:
// cancelling it stops background work (call Stop to release everything).
func (c *Core) Start(ctx context.Context) error {
	if !c.state.CompareAndSwap(coreNew, coreStarted) {
		if c.state.Load() == coreStarted {
			return nil
		}
		return ErrStopped
	}
	go func() {
		select {
		case <-ctx.Done():
			c.lifeCancel(context.Cause(ctx))
		case <-c.lifeCtx.Done():
		}
	}()
	c.mu.Lock()
	c.started = true
	sessions := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	for _, s := range sessions {
		if s.paired() {
			if err := c.connect(ctx, s); err != nil {
				c.logger.WarnContext(ctx, "Session failed to connect", slog.String("session", s.id), slog.Any("error", err))
			}
		}
	}
	c.goBackground(c.runOutbox)
	c.goBackground(c.runPruner)
	return nil
}

// Stop disconnects the sessions, finishes the commands in progress, stops
// background work and closes the database. Accepted sends that were not sent yet
// stay pending in the database and are sent after the next Start. ctx bounds the
// wait; Stop is safe to call more than once. A stopped Core cannot be restarted.
func (c *Core) Stop(ctx context.Context) error {
	var err error
	c.stopOnce.Do(func() { err = c.stop(ctx) })
	return err
}

func (c *Core) stop(ctx context.Context) error {
	c.state.Store(coreStopping)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StopTimeoutDefault)
		defer cancel()
	}
	// Let commands in progress finish first: they may still need the engine.
	if !c.ops.close(ctx, ErrStopped) {
		c.logger.WarnContext(ctx, "Stop timed out waiting for commands in progress")
	}
	c.lifeCancel(ErrStopped)
	c.mu.Lock()
	sessions := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	var errs []error
	for _, s := range sessions {
		if err := c.closeConn(ctx, s, false); err != nil {
			errs = append(errs, fmt.Errorf("close session %s: %w", s.id, err))
		}
	}
	if ec, ok := c.engine.(EngineCloser); ok {
		if err := ec.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close engine: %w", err))
		}
	}
	c.bus.closeAll()
	waitGroup(ctx, &c.bg)
	c.handlers.close(ctx, ErrStopped)
	if err := c.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database: %w", err))
	}
	c.state.Store(coreStopped)
	close(c.stopped)
	return errors.Join(errs...)
}

// Stopped returns a channel closed once Stop has finished.
func (c *Core) Stopped() <-chan struct{} { return c.stopped }

// Ping reports whether the Core is running and its database answers.
func (c *Core) Ping(ctx context.Context) error {
	if err := c.begin(); err != nil {
		return err
	}
	defer c.ops.done()
	if err := c.store.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return nil
}

// begin registers a command in progress; callers defer c.ops.done().
func (c *Core) begin() error { return c.ops.add() }

func (c *Core) goBackground(fn func(ctx context.Context)) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		fn(c.lifeCtx)
	}()
}

func waitGroup(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Now returns the Core's clock reading (Config.Test.Now in tests).
func (c *Core) Now() time.Time { return c.now() }
