package webhook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/netguard"
)

// Service is waqtor's webhook dispatcher and endpoint registry, attached to a
// Core with [New]. It reads the Core's event log through a durable cursor,
// fans each event out to the matching endpoints of its tenant as durable
// deliveries, and delivers them with retries.
//
// All methods are safe for concurrent use.
type Service struct {
	cfg     *Config
	core    *waqtor.Core
	db      *db
	logger  *slog.Logger
	clock   Clock
	policy  *netguard.Policy
	client  *http.Client
	sealer  *sealer
	metrics *metrics
	// breakers holds each endpoint's circuit breaker (breaker.go).
	breakers *breakerSet

	state   atomic.Int32 // svcNew, svcStarted, svcStopping, svcStopped
	lifeCtx context.Context
	cancel  context.CancelCauseFunc
	// attemptCtx outlives lifeCtx during a graceful Stop, so attempts in
	// flight can finish.
	attemptCtx    context.Context
	attemptCancel context.CancelCauseFunc

	syncMu   sync.Mutex // serialises syncEndpoints
	mu       sync.Mutex
	workers  map[string]*endpointWorker
	syncKick chan struct{}
	results  chan *result

	loops    sync.WaitGroup // dispatcher, syncer, endpoint workers
	inflight sync.WaitGroup // attempts
	recorder sync.WaitGroup
	stopped  chan struct{}
	stopOnce sync.Once
}

const (
	svcNew int32 = iota
	svcStarted
	svcStopping
	svcStopped
)

// New attaches a webhook Service to core: it creates or migrates the webhook
// tables in the Core's database. Call Start to begin delivering; the endpoint
// API works before Start. Errors wrap ErrConfig or ErrDatabase.
func New(ctx context.Context, core *waqtor.Core, cfg *Config) (*Service, error) {
	if core == nil {
		return nil, fmt.Errorf("%w: nil Core (build one with waqtor.NewCore)", ErrConfig)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sl, err := newSealer(cfg.EncryptionKey, cfg.OldEncryptionKeys)
	if err != nil {
		return nil, err
	}
	ngCfg := &netguard.Config{AllowCIDRs: cfg.AllowCIDRs, ResponseHeaderTimeout: MaxTimeout, Timeout: MaxTimeout}
	if cfg.Resolver != nil {
		ngCfg.Resolver = cfg.Resolver
	}
	policy, err := netguard.NewPolicy(ngCfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	st := corelink.Store(core)
	if err := st.MigrateComponent(ctx, "webhook", migrations()); err != nil {
		return nil, dbErr(err)
	}
	if err := st.Prepare(ctx, hotQueries(st.Dialect)...); err != nil {
		return nil, dbErr(err)
	}
	m := newMetrics()
	tr := policy.Transport()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = max(cfg.Concurrency, 2)
	s := &Service{
		cfg:    cfg,
		core:   core,
		db:     &db{sql: st.DB, st: st, dialect: st.Dialect, sealer: sl},
		logger: cfg.Logger,
		clock:  cfg.Test.Clock,
		policy: policy,
		client: &http.Client{
			// Redirects are never followed: the Location could point anywhere,
			// and a delivery that redirects counts as failed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     tr,
		},
		sealer:   sl,
		metrics:  m,
		breakers: newBreakerSet(cfg, m),
		workers:  map[string]*endpointWorker{},
		syncKick: make(chan struct{}, 1),
		results:  make(chan *result, 1024),
		stopped:  make(chan struct{}),
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// Start begins dispatching: it opens the durable cursor and starts one worker
// per enabled endpoint. With Config.EncryptionKey set, it first encrypts with
// that key every stored secret, previous secret and custom headers that are
// still in plaintext or sealed with one of Config.OldEncryptionKeys, in one
// transaction, and logs how many endpoints it rewrote. It returns at once; ctx bounds the Service's lifetime
// (call Stop to shut down gracefully). Start the Core first, and stop this
// Service before the Core.
func (s *Service) Start(ctx context.Context) error {
	if !s.state.CompareAndSwap(svcNew, svcStarted) {
		if s.state.Load() == svcStarted {
			return nil
		}
		return ErrStopped
	}
	if _, err := s.resealSecrets(ctx); err != nil {
		s.state.Store(svcNew)
		return fmt.Errorf("webhook: encrypt stored secrets with Config.EncryptionKey: %w", err)
	}
	cur, err := s.core.Cursor(ctx, s.cfg.CursorName, &waqtor.CursorOpts{Start: waqtor.FromOldest, PollInterval: s.cfg.PollInterval})
	if err != nil {
		s.state.Store(svcNew)
		return fmt.Errorf("webhook: open cursor: %w", err)
	}
	s.lifeCtx, s.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	s.attemptCtx, s.attemptCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, func() { s.cancel(context.Cause(ctx)) })
	s.recorder.Add(1)
	go func() {
		defer s.recorder.Done()
		s.runRecorder()
	}()
	if err := s.syncEndpoints(ctx); err != nil {
		s.logger.WarnContext(ctx, "Webhook endpoints not loaded yet", slog.Any("error", err))
	}
	s.goLoop(func(ctx context.Context) { s.runDispatcher(ctx, cur) })
	s.goLoop(s.runSyncer)
	s.goLoop(s.runPruner)
	return nil
}

// runPruner deletes finished deliveries older than Config.Retention.
func (s *Service) runPruner(ctx context.Context) {
	t := time.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "Pruning webhook deliveries failed", slog.Any("error", err))
		} else if n > 0 {
			s.logger.DebugContext(ctx, "Pruned webhook deliveries", slog.Int64("deliveries", n))
		}
	}
}

// Prune deletes finished deliveries (succeeded or dead) whose last change is
// older than Config.Retention, with their attempts, and returns how many
// deliveries it deleted. The Service also runs it every PruneInterval.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	before := micros(s.now().Add(-s.cfg.Retention))
	var total int64
	for {
		var n int64
		err := s.db.inTx(ctx, func(tx *sql.Tx) error {
			sel := `SELECT id FROM waqtor_webhook_deliveries WHERE state <> 'pending' AND updated_at < $1 ORDER BY id LIMIT 500`
			if _, err := tx.ExecContext(ctx, `DELETE FROM waqtor_webhook_attempts WHERE delivery_id IN (`+sel+`)`, before); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM waqtor_webhook_deliveries WHERE id IN (`+sel+`)`, before)
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return total, dbErr(err)
		}
		total += n
		if n < 500 {
			return total, nil
		}
	}
}

func (s *Service) goLoop(fn func(ctx context.Context)) {
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		fn(s.lifeCtx)
	}()
}

// Stop stops dispatching and claiming, lets the attempts in flight finish
// until ctx ends (then cancels them and releases their deliveries for the next
// start), and records their outcome. Deliveries not yet sent stay pending in
// the database. Stop is safe to call more than once.
func (s *Service) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() { err = s.stop(ctx) })
	return err
}

func (s *Service) stop(ctx context.Context) error {
	if s.state.Swap(svcStopping) != svcStarted {
		s.state.Store(svcStopped)
		close(s.stopped)
		return nil
	}
	s.cancel(ErrStopped)
	s.loops.Wait() // loops return promptly once lifeCtx is done
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.attemptCancel(ErrStopped)
		<-done
	}
	s.attemptCancel(ErrStopped)
	close(s.results)
	s.recorder.Wait()
	s.client.CloseIdleConnections()
	s.state.Store(svcStopped)
	close(s.stopped)
	return nil
}

// Stopped returns a channel closed once Stop has finished.
func (s *Service) Stopped() <-chan struct{} { return s.stopped }

// syncNow applies an endpoint change made by this process to the workers
// before the API call returns, so that attempts started afterwards use it
// (other processes see it within PollInterval).
func (s *Service) syncNow(ctx context.Context) {
	if s.state.Load() != svcStarted {
		return
	}
	if err := s.syncEndpoints(ctx); err != nil {
		s.kickSync()
	}
}

func (s *Service) kickSync() {
	select {
	case s.syncKick <- struct{}{}:
	default:
	}
}

// wake tells an endpoint's worker to look for due deliveries.
func (s *Service) wake(endpointID string) {
	s.mu.Lock()
	w := s.workers[endpointID]
	s.mu.Unlock()
	if w != nil {
		w.wake()
	}
}

// runSyncer keeps the endpoint workers in line with the enabled endpoints in
// the database: at once after a local change, and every PollInterval for
// changes made by other processes.
func (s *Service) runSyncer(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for id, w := range s.workers {
				w.stop()
				delete(s.workers, id)
			}
			s.mu.Unlock()
			return
		case <-s.syncKick:
		case <-t.C:
		}
		if err := s.syncEndpoints(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "Webhook endpoint sync failed", slog.Any("error", err))
		}
	}
}

func (s *Service) syncEndpoints(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	rows, err := s.db.activeEndpoints(ctx, s.db.st.Q(nil))
	if err != nil {
		return err
	}
	now := s.now()
	seen := map[string]bool{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lifeCtx == nil || s.lifeCtx.Err() != nil {
		return nil
	}
	for _, r := range rows {
		seen[r.ep.ID] = true
		w := s.workers[r.ep.ID]
		if w != nil && w.conf.Load().current(r, now) {
			continue // unchanged: skip decrypting the secrets again
		}
		conf := s.newConf(ctx, r, now)
		if w != nil && w.conf.Load().fifo() != conf.fifo() {
			w.stop() // concurrency changes: start afresh
			w = nil
		}
		if w == nil {
			w = s.newWorker(conf)
			s.workers[r.ep.ID] = w
			continue
		}
		if old := w.conf.Load(); !old.sameAs(conf) {
			w.conf.Store(conf)
			w.wake()
		}
	}
	for id, w := range s.workers {
		if !seen[id] {
			w.stop()
			delete(s.workers, id)
			s.breakers.drop(id)
		}
	}
	return nil
}

var errAttemptTimeout = errors.New("webhook: attempt timed out")
