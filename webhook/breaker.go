package webhook

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of BreakerConfig fields, after Convoy's circuit breaker.
const (
	// BreakerFailureRatioDefault is the share of failed attempts in the
	// window that opens the breaker.
	BreakerFailureRatioDefault = 0.7
	// BreakerMaxReopensDefault is how many consecutive re-opens (failed
	// probes) disable the endpoint.
	BreakerMaxReopensDefault = 10
	// BreakerMinRequestsDefault is how many attempts the window must hold
	// before the breaker may open.
	BreakerMinRequestsDefault = 10
	// BreakerOpenTimeoutDefault is how long the breaker stays open before it
	// lets a probe through, the first time.
	BreakerOpenTimeoutDefault = 30 * time.Second
	// BreakerMaxOpenTimeoutDefault caps the open timeout, which doubles with
	// each consecutive re-open.
	BreakerMaxOpenTimeoutDefault = time.Hour
	// BreakerProbeSuccessesDefault is how many probes in a row must succeed
	// to close a half-open breaker.
	BreakerProbeSuccessesDefault = 3
	// BreakerWindowDefault is the length of the sliding window of attempts.
	BreakerWindowDefault = 5 * time.Minute
)

// BreakerConfig configures the circuit breaker every endpoint has (Config.Breaker).
//
// A closed breaker lets every delivery through and counts the attempts of
// the last Window. Once the window holds at least MinRequests attempts, of
// which at least FailureRatio failed, the breaker opens: for OpenTimeout no
// attempt is made to the endpoint. Its deliveries stay pending and due in the
// database; they are not counted as attempts, do not use up their retry
// policy and are never lost. Then the breaker is half-open: it lets one
// delivery through at a time as a probe. ProbeSuccesses successful probes in
// a row close it; a failed probe opens it again (a re-open), for twice as
// long as the time before, up to MaxOpenTimeout. After MaxReopens re-opens in
// a row, that is failed probes without a single successful one between them,
// the endpoint is disabled with reason "breaker" and a
// webhook.endpoint_disabled event, as an endpoint that answered 410 is. With
// the defaults the probes come 30 s, 1, 2, 4, 8, 16 and 32 min, then 1 h
// apart: an endpoint is disabled after about four hours of failed probes (an
// hour-long outage is not enough), and an endpoint that sometimes succeeds is
// never disabled by its breaker.
//
// Breaker state lives in the memory of each process: it is not persisted and
// every process on a shared database keeps its own. After a restart every
// breaker starts closed, so an endpoint that is still down is tried again
// until it trips the breaker anew; the deliveries themselves are durable, and
// Config.AutoDisableAfter (counted from a failing_since kept in the database)
// still disables an endpoint that keeps failing across restarts.
type BreakerConfig struct {
	// Disabled turns the breaker off: every due delivery is attempted. Defaults
	// to false (breaker on).
	Disabled bool
	// FailureRatio is the share of failed attempts in the window, from 0.01 to
	// 1, that opens the breaker. Any answer but 2xx, a timeout and a
	// connection error count as failures. Defaults to
	// BreakerFailureRatioDefault (0.7).
	FailureRatio float64
	// MaxOpenTimeout caps the open timeout, which doubles with every
	// consecutive re-open. Defaults to BreakerMaxOpenTimeoutDefault (1 h), or
	// OpenTimeout if that is longer.
	MaxOpenTimeout time.Duration
	// MaxReopens is how many consecutive re-opens (failed probes, without a
	// successful one between them) disable the endpoint. Negative: never.
	// Defaults to BreakerMaxReopensDefault (10).
	MaxReopens int
	// MinRequests is how many attempts the window must hold before the
	// breaker may open. Defaults to BreakerMinRequestsDefault (10).
	MinRequests int
	// OpenTimeout is how long an open breaker holds deliveries back before it
	// lets a probe through (on Config.Test.Clock), the first time; every
	// consecutive re-open doubles it, up to MaxOpenTimeout. Defaults to
	// BreakerOpenTimeoutDefault (30 s).
	OpenTimeout time.Duration
	// ProbeSuccesses is how many probes in a row must succeed to close a
	// half-open breaker. Defaults to BreakerProbeSuccessesDefault (3).
	ProbeSuccesses int
	// Window is the length of the sliding window of attempts the closed
	// breaker judges (on Config.Test.Clock). Defaults to BreakerWindowDefault
	// (5 min).
	Window time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.FailureRatio == 0 {
		c.FailureRatio = BreakerFailureRatioDefault
	}
	if c.MaxReopens == 0 {
		c.MaxReopens = BreakerMaxReopensDefault
	}
	if c.MinRequests == 0 {
		c.MinRequests = BreakerMinRequestsDefault
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = BreakerOpenTimeoutDefault
	}
	if c.MaxOpenTimeout == 0 {
		c.MaxOpenTimeout = max(BreakerMaxOpenTimeoutDefault, c.OpenTimeout)
	}
	if c.ProbeSuccesses == 0 {
		c.ProbeSuccesses = BreakerProbeSuccessesDefault
	}
	if c.Window == 0 {
		c.Window = BreakerWindowDefault
	}
	return c
}

func (c *BreakerConfig) validate() error {
	switch {
	case c.FailureRatio < 0.01 || c.FailureRatio > 1:
		return fmt.Errorf("%w: Breaker.FailureRatio %g must be between 0.01 and 1 (or 0 for the default 0.7)", ErrConfig, c.FailureRatio)
	case c.MinRequests < 1 || c.MinRequests > 1_000_000:
		return fmt.Errorf("%w: Breaker.MinRequests %d must be between 1 and 1000000 (or 0 for the default 10)", ErrConfig, c.MinRequests)
	case c.ProbeSuccesses < 1 || c.ProbeSuccesses > 1000:
		return fmt.Errorf("%w: Breaker.ProbeSuccesses %d must be between 1 and 1000 (or 0 for the default 3)", ErrConfig, c.ProbeSuccesses)
	case c.OpenTimeout < 0:
		return fmt.Errorf("%w: Breaker.OpenTimeout must not be negative", ErrConfig)
	case c.MaxOpenTimeout < c.OpenTimeout:
		return fmt.Errorf("%w: Breaker.MaxOpenTimeout %s must not be shorter than OpenTimeout %s", ErrConfig, c.MaxOpenTimeout,
			c.OpenTimeout)
	case c.Window < 0:
		return fmt.Errorf("%w: Breaker.Window must not be negative", ErrConfig)
	case c.Window > 0 && c.Window < breakerBuckets:
		return fmt.Errorf("%w: Breaker.Window %s is too short (at least %dns)", ErrConfig, c.Window, breakerBuckets)
	}
	return nil
}

// BreakerState is the state of an endpoint's circuit breaker.
type BreakerState string

// Breaker states.
const (
	// BreakerClosed lets every delivery through.
	BreakerClosed BreakerState = "closed"
	// BreakerHalfOpen lets one delivery at a time through as a probe.
	BreakerHalfOpen BreakerState = "half_open"
	// BreakerOpen holds every delivery back until OpenUntil.
	BreakerOpen BreakerState = "open"
)

// BreakerStatus is an endpoint's circuit breaker as this process sees it
// (breakers are not shared between processes; see BreakerConfig).
type BreakerStatus struct {
	// HeldBack counts the claimed deliveries the breaker sent back to the
	// database unattempted (claimed before it opened, or waiting behind a
	// probe); they stay pending and due. Deliveries that fall due while the
	// breaker is open are simply not claimed.
	HeldBack int64
	// OpenedAt is when the breaker last opened (zero if never).
	OpenedAt time.Time
	// OpenUntil is, while open, when the breaker lets a probe through.
	OpenUntil time.Time
	// Opens counts the times the breaker opened, re-opens included.
	Opens int
	// Reopens counts the consecutive failed probes (re-opens) since the last
	// successful one; Config.Breaker.MaxReopens of them disable the endpoint.
	Reopens int
	// State is closed, open or half_open.
	State BreakerState
	// WindowFailures is how many attempts in the window failed (closed
	// breaker only).
	WindowFailures int
	// WindowRequests is how many attempts the window holds (closed breaker
	// only).
	WindowRequests int
}

// breakerBuckets is how many slices the sliding window is cut into.
const breakerBuckets = 20

const (
	brClosed int32 = iota
	brHalfOpen
	brOpen
)

var breakerStateNames = map[int32]BreakerState{brClosed: BreakerClosed, brHalfOpen: BreakerHalfOpen, brOpen: BreakerOpen}

type breakerBucket struct {
	idx       int64 // which slice of time it counts; stale when older than the window
	ok, fails int
}

// breaker is one endpoint's circuit breaker. A nil *breaker (breakers turned
// off) lets everything through. All methods are safe for concurrent use.
type breaker struct {
	cfg      *BreakerConfig
	endpoint string
	m        *metrics
	state    atomic.Int32 // read without the lock on the hot path

	mu        sync.Mutex
	buckets   [breakerBuckets]breakerBucket
	heldBack  int64
	openedAt  time.Time
	openUntil time.Time
	opens     int
	probe     string // delivery ID of the probe in flight, if any
	probeOK   int
	reopens   int
}

func newBreaker(cfg *BreakerConfig, endpoint string, m *metrics) *breaker {
	b := &breaker{cfg: cfg, endpoint: endpoint, m: m}
	m.breakerInit(endpoint)
	return b
}

// closed reports whether the breaker lets every delivery through.
func (b *breaker) closed() bool { return b == nil || b.state.Load() == brClosed }

func (b *breaker) width() int64 { return max(int64(b.cfg.Window)/breakerBuckets, 1) }

func (b *breaker) setState(s int32) {
	b.state.Store(s)
	b.m.breakerStateSet(b.endpoint, s)
}

// tick moves an open breaker whose timeout passed to half-open. b.mu is held.
func (b *breaker) tick(now time.Time) {
	if b.state.Load() == brOpen && !now.Before(b.openUntil) {
		b.probe, b.probeOK = "", 0
		b.setState(brHalfOpen)
	}
}

// admit tells a worker how many deliveries it may claim now: -1 for no
// limit (closed), 1 for a probe (half-open, none in flight and nothing else
// claimed, busy counting the worker's claimed deliveries), or 0 and, while
// open, the time to ask again. now and busy are only called when the breaker
// is not closed.
func (b *breaker) admit(now func() time.Time, busy func() int) (int, time.Time) {
	if b.closed() {
		return -1, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(now())
	switch b.state.Load() {
	case brClosed:
		return -1, time.Time{}
	case brOpen:
		return 0, b.openUntil
	}
	if b.probe == "" && busy() == 0 {
		return 1, time.Time{}
	}
	return 0, time.Time{} // the probe's outcome wakes the worker
}

// start reports whether the claimed delivery id may be attempted now. A
// half-open breaker makes it the probe if none is in flight. A refused
// delivery is released: it stays pending and due.
func (b *breaker) start(now time.Time, id string) bool {
	if b.closed() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(now)
	switch b.state.Load() {
	case brClosed:
		return true
	case brHalfOpen:
		if b.probe == "" || b.probe == id {
			b.probe = id
			return true
		}
	}
	b.heldBack++
	b.m.breakerHeld(b.endpoint)
	return false
}

// release forgets a delivery whose attempt was aborted (the Service is
// stopping, or the breaker held it back): if it was the probe, another may go.
func (b *breaker) release(id string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.probe == id {
		b.probe = ""
	}
	b.mu.Unlock()
}

// observe records the outcome of delivery id's attempt, started at started,
// and moves the breaker. It reports whether the breaker has now re-opened
// MaxReopens times in a row: the endpoint must be disabled.
func (b *breaker) observe(now time.Time, id string, started time.Time, success bool) (disable bool) {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case brClosed:
		w := b.width()
		idx := started.UnixNano() / w
		if cur := now.UnixNano() / w; idx <= cur-breakerBuckets {
			return false // older than the window
		}
		bk := &b.buckets[((idx%breakerBuckets)+breakerBuckets)%breakerBuckets]
		if bk.idx != idx {
			*bk = breakerBucket{idx: idx}
		}
		if success {
			bk.ok++
		} else {
			bk.fails++
		}
		reqs, fails := b.window(now)
		if reqs >= b.cfg.MinRequests && float64(fails) >= b.cfg.FailureRatio*float64(reqs)-1e-9 {
			b.open(now)
		}
	case brHalfOpen:
		if id != b.probe {
			return false // an attempt started before the breaker opened
		}
		b.probe = ""
		if success {
			b.reopens = 0 // the endpoint answers: it is not dead
			if b.probeOK++; b.probeOK >= b.cfg.ProbeSuccesses {
				b.probeOK = 0
				b.buckets = [breakerBuckets]breakerBucket{}
				b.setState(brClosed)
			}
			return false
		}
		b.reopens++
		b.open(now)
		return b.cfg.MaxReopens > 0 && b.reopens >= b.cfg.MaxReopens
	}
	return false // open: attempts that started before it opened
}

// open opens the breaker, for OpenTimeout doubled by each consecutive
// re-open, up to MaxOpenTimeout. b.mu is held.
func (b *breaker) open(now time.Time) {
	timeout := b.cfg.OpenTimeout
	for range b.reopens {
		if timeout >= b.cfg.MaxOpenTimeout/2 {
			timeout = b.cfg.MaxOpenTimeout
			break
		}
		timeout *= 2
	}
	b.opens++
	b.openedAt, b.openUntil = now, now.Add(min(timeout, b.cfg.MaxOpenTimeout))
	b.probe, b.probeOK = "", 0
	b.buckets = [breakerBuckets]breakerBucket{}
	b.setState(brOpen)
	b.m.breakerOpened(b.endpoint)
}

// window counts the attempts and failures of the window ending at now. b.mu
// is held.
func (b *breaker) window(now time.Time) (reqs, fails int) {
	cur := now.UnixNano() / b.width()
	for _, bk := range b.buckets {
		if bk.idx > cur-breakerBuckets && bk.idx <= cur {
			reqs += bk.ok + bk.fails
			fails += bk.fails
		}
	}
	return reqs, fails
}

func (b *breaker) status(now time.Time) BreakerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(now)
	st := BreakerStatus{State: breakerStateNames[b.state.Load()], HeldBack: b.heldBack, OpenedAt: b.openedAt,
		Opens: b.opens, Reopens: b.reopens}
	switch b.state.Load() {
	case brClosed:
		st.WindowRequests, st.WindowFailures = b.window(now)
	case brOpen:
		st.OpenUntil = b.openUntil
	}
	return st
}

// breakerSet holds the breakers of the endpoints this process delivers to.
type breakerSet struct {
	cfg *BreakerConfig // nil: breakers off
	m   *metrics
	mu  sync.Mutex
	all map[string]*breaker
}

func newBreakerSet(cfg *Config, m *metrics) *breakerSet {
	bs := &breakerSet{m: m, all: map[string]*breaker{}}
	if !cfg.Breaker.Disabled {
		bs.cfg = &cfg.Breaker
	}
	return bs
}

// get returns endpoint's breaker, created closed, or nil when breakers are
// off.
func (bs *breakerSet) get(endpoint string) *breaker {
	if bs.cfg == nil {
		return nil
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.all[endpoint]
	if b == nil {
		b = newBreaker(bs.cfg, endpoint, bs.m)
		bs.all[endpoint] = b
	}
	return b
}

// drop forgets the breaker of an endpoint that is no longer delivered to
// (disabled or deleted): enabling it again starts with a closed breaker.
func (bs *breakerSet) drop(endpoint string) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if _, ok := bs.all[endpoint]; ok {
		delete(bs.all, endpoint)
		bs.m.breakerForget(endpoint)
	}
}

// status returns endpoint's breaker status, nil when breakers are off. An
// endpoint this process is not delivering to has a closed breaker.
func (bs *breakerSet) status(endpoint string, now time.Time) *BreakerStatus {
	if bs.cfg == nil {
		return nil
	}
	bs.mu.Lock()
	b := bs.all[endpoint]
	bs.mu.Unlock()
	if b == nil {
		return &BreakerStatus{State: BreakerClosed}
	}
	st := b.status(now)
	return &st
}

// observeBreakers feeds a recorded batch of outcomes to the endpoints'
// breakers, and disables (reason "breaker") the endpoints whose breaker
// re-opened Config.Breaker.MaxReopens times in a row. It runs in the
// recorder after the batch is committed, before the workers are woken.
func (s *Service) observeBreakers(ctx context.Context, batch []*result, health map[string]*endpointHealth) {
	now := s.now()
	for _, r := range batch {
		br := r.w.br
		if br == nil {
			continue
		}
		if r.aborted {
			br.release(r.job.id)
			continue
		}
		if br.observe(now, r.job.id, r.started, r.o.success) {
			s.breakerDisable(ctx, r, health)
		}
	}
}

func (s *Service) breakerDisable(ctx context.Context, r *result, health map[string]*endpointHealth) {
	ep := r.conf.ep
	msg := fmt.Sprintf("circuit breaker re-opened %d times in a row; last error: %s", s.cfg.Breaker.MaxReopens, r.errMsg)
	var publish func()
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		publish, err = s.disable(ctx, tx, ep, "breaker", time.Time{}, msg)
		return err
	})
	if err != nil {
		// The breaker stays open; the next failed probe tries again.
		s.logger.Error("Disabling a webhook endpoint for its breaker failed", slog.String("endpoint_id", ep.ID),
			slog.Any("error", err))
		return
	}
	delete(health, ep.ID)
	if publish != nil {
		publish()
	}
}

// breakerLimit caps a worker's claim at the breaker's limit (-1: none).
func breakerLimit(room, limit int) int {
	if limit < 0 {
		return room
	}
	return min(room, limit)
}
