package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
)

var (
	errRestartRequested = errors.New("plugins: restart requested")
	errExited           = errors.New("plugins: plugin process exited")
)

// supervisor runs one plugin: it launches the process, delivers its events,
// watches it, and restarts it with backoff behind a circuit breaker. One
// goroutine (run) owns the process and the cursor; the mutex guards what the
// host's API and the Host service read.
type supervisor struct {
	h         *Host
	cfg       *PluginConfig
	log       *slog.Logger
	restartCh chan struct{} // a restart request (buffered, 1)

	attempts   map[string]int // failed deliveries per event ID; run goroutine only
	crashedOn  *crashRecord   // the event in flight when the process died; run goroutine only
	deliveries map[string]int // deliveries per event ID; run goroutine only

	mu           sync.Mutex
	breakerUntil time.Time
	committed    int64
	deadLetters  int64
	delivery     *delivery
	failures     []time.Time
	halfOpen     bool
	handled      int64
	info         *Info
	lastErr      string
	lastErrAt    time.Time
	launches     int
	pid          int
	proc         *process
	reset        bool // a restart request also resets the breaker
	startedAt    time.Time
	state        waqtor.PluginState
}

func newSupervisor(h *Host, cfg *PluginConfig) *supervisor {
	return &supervisor{h: h, cfg: cfg, log: h.logger.With(slog.String("plugin", cfg.Name)),
		restartCh: make(chan struct{}, 1), attempts: map[string]int{}, deliveries: map[string]int{}, state: waqtor.PluginStopped}
}

// requestRestart asks run to restart the plugin now, resetting its breaker.
func (s *supervisor) requestRestart() {
	s.mu.Lock()
	s.reset = true
	s.mu.Unlock()
	select {
	case s.restartCh <- struct{}{}:
	default:
	}
}

// consumeReset clears failures and the breaker if a restart was requested.
func (s *supervisor) consumeReset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reset {
		s.reset = false
		s.failures, s.breakerUntil, s.halfOpen = nil, time.Time{}, false
	}
}

// wait sleeps d; false when ctx ended. A restart request ends it early.
func (s *supervisor) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-s.restartCh:
		s.consumeReset()
	}
	return true
}

func (s *supervisor) run(ctx context.Context) {
	defer s.setState(context.WithoutCancel(ctx), waqtor.PluginStopped, nil)
	s.loadAttempts(ctx)
	for ctx.Err() == nil {
		s.mu.Lock()
		until := s.breakerUntil
		s.mu.Unlock()
		if !until.IsZero() {
			s.setState(ctx, waqtor.PluginBreakerOpen, nil)
			s.log.WarnContext(ctx, "Plugin breaker open: its events wait until it is restarted",
				slog.Time("until", until))
			if !s.wait(ctx, time.Until(until)) {
				return
			}
			s.mu.Lock()
			if !s.breakerUntil.IsZero() { // not reset by a restart request: try once
				s.breakerUntil, s.halfOpen = time.Time{}, true
			}
			s.mu.Unlock()
		}
		s.setState(ctx, waqtor.PluginStarting, nil)
		s.mu.Lock()
		s.launches++
		s.mu.Unlock()
		proc, err := s.launch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.ErrorContext(ctx, "Plugin failed to start", slog.Any("error", err))
			s.recordFailure(err)
			if errors.Is(err, ErrChecksum) {
				// A tampered (or updated) binary is never retried on its own.
				s.setState(ctx, waqtor.PluginFailed, err)
				select {
				case <-ctx.Done():
					return
				case <-s.restartCh:
					s.consumeReset()
				}
				continue
			}
			s.restartAfterFailure(ctx, err)
			continue
		}
		s.mu.Lock()
		s.proc, s.pid, s.info, s.startedAt = proc, proc.pid, proc.info, proc.started
		s.mu.Unlock()
		s.log.InfoContext(ctx, "Plugin started", slog.Int("pid", proc.pid), slog.String("name", proc.info.Name),
			slog.String("version", proc.info.Version), slog.Any("kinds", proc.info.Kinds))
		s.setState(ctx, waqtor.PluginRunning, nil)
		err = s.serve(ctx, proc)
		s.mu.Lock()
		s.proc, s.pid = nil, 0
		s.mu.Unlock()
		proc.stop(s.cfg.KillGrace)
		s.settleCrash(ctx, proc)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, waqtor.ErrStopped):
			s.log.InfoContext(ctx, "Core stopped: plugin stopped")
			return
		case errors.Is(err, errRestartRequested):
			s.log.InfoContext(ctx, "Plugin restarted on request")
			s.consumeReset()
			continue
		}
		s.log.ErrorContext(ctx, "Plugin failed", slog.Any("error", err))
		s.recordFailure(err)
		s.restartAfterFailure(ctx, err)
	}
}

// restartAfterFailure moves to restarting and waits the backoff (the breaker,
// if it opened, is handled at the top of the loop).
func (s *supervisor) restartAfterFailure(ctx context.Context, cause error) {
	s.mu.Lock()
	open := !s.breakerUntil.IsZero()
	n := len(s.failures)
	s.mu.Unlock()
	if open {
		return
	}
	s.setState(ctx, waqtor.PluginRestarting, cause)
	s.wait(ctx, s.backoff(n))
}

// backoff returns the delay after n consecutive failures: RestartBackoff
// doubling up to RestartBackoffMax, with ±20 % jitter.
func (s *supervisor) backoff(n int) time.Duration {
	d := s.cfg.RestartBackoff
	for i := 1; i < n && d < s.cfg.RestartBackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RestartBackoffMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// recordFailure counts a failure for the breaker.
func (s *supervisor) recordFailure(err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastErrAt = err.Error(), now
	if s.halfOpen {
		// The one try after the cooldown failed: open again.
		s.halfOpen = false
		s.breakerUntil = now.Add(s.cfg.BreakerCooldown)
		return
	}
	kept := s.failures[:0]
	for _, t := range s.failures {
		if now.Sub(t) < s.cfg.BreakerWindow {
			kept = append(kept, t)
		}
	}
	s.failures = append(kept, now)
	if len(s.failures) >= s.cfg.BreakerThreshold {
		s.breakerUntil = now.Add(s.cfg.BreakerCooldown)
		s.failures = nil
	}
}

// markStable forgets failures: the plugin handled an event or ran StableAfter.
func (s *supervisor) markStable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures, s.halfOpen = nil, false
}

// noteError records a failure that does not restart the plugin.
func (s *supervisor) noteError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastErrAt = err.Error(), time.Now()
}

// setState records a state change and emits a plugin.status event.
func (s *supervisor) setState(ctx context.Context, state waqtor.PluginState, cause error) {
	s.mu.Lock()
	prev := s.state
	if prev == state && cause == nil {
		s.mu.Unlock()
		return
	}
	s.state = state
	ev := &waqtor.PluginStatus{Plugin: s.cfg.Name, State: state, Previous: prev, PID: s.pid,
		Restarts: max(s.launches-1, 0), DeadLetters: s.deadLetters}
	if s.info != nil {
		ev.Version = s.info.Version
	}
	if cause != nil {
		ev.Error = cause.Error()
	}
	committed := s.committed
	s.mu.Unlock()
	if state == prev {
		return
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if last, err := s.h.core.LastSeq(ectx); err == nil {
		ev.Backlog = max(last-committed, 0)
	}
	if err := corelink.Emit(ectx, s.h.core, "", s.cfg.Tenant, ev); err != nil {
		s.log.DebugContext(ctx, "Could not emit plugin.status", slog.String("state", string(state)), slog.Any("error", err))
	}
}

// serve delivers the plugin's events until it exits, hangs, fails its health
// check, a restart is requested, or ctx ends; it returns why.
func (s *supervisor) serve(ctx context.Context, proc *process) error {
	incCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel(nil)
		wg.Wait()
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.watch(incCtx, proc, cancel)
	}()
	go func() {
		defer wg.Done()
		s.watchHealth(incCtx, proc, cancel)
	}()
	if len(proc.info.Kinds) == 0 {
		<-incCtx.Done()
		return context.Cause(incCtx)
	}
	start := waqtor.FromNewest
	if s.cfg.ReplayFromOldest {
		start = waqtor.FromOldest
	}
	cur, err := s.h.core.Cursor(incCtx, cursorName(s.cfg.Name), &waqtor.CursorOpts{Start: start,
		Filter: waqtor.LogReadParams{Kinds: proc.info.Kinds, Tenant: s.cfg.Tenant}})
	if err != nil {
		if incCtx.Err() != nil {
			return context.Cause(incCtx)
		}
		return err
	}
	s.mu.Lock()
	s.committed = cur.Position()
	s.mu.Unlock()
	for {
		// Wake up now and then, so that a read position moved past events the
		// plugin does not want is committed (it keeps Backlog honest and lets
		// the log be pruned).
		nctx, ncancel := context.WithTimeout(incCtx, idleCommitInterval)
		evs, err := cur.Next(nctx, deliveryBatch)
		ncancel()
		if err != nil {
			if incCtx.Err() != nil {
				return context.Cause(incCtx)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				s.commitIdle(ctx, cur)
				continue
			}
			return err
		}
		for _, e := range evs {
			if err := s.deliver(ctx, incCtx, proc, cur, e); err != nil {
				return err
			}
		}
	}
}

const (
	deliveryBatch      = 32
	idleCommitInterval = 2 * time.Second
)

func (s *supervisor) commitIdle(ctx context.Context, cur *waqtor.Cursor) {
	s.mu.Lock()
	committed := s.committed
	s.mu.Unlock()
	if pos := cur.Position(); pos > committed {
		_ = s.commit(ctx, cur, pos)
	}
}

// watch ends the incarnation when the process exits or a restart is
// requested, and forgets failures once the plugin has run StableAfter.
func (s *supervisor) watch(ctx context.Context, proc *process, cancel context.CancelCauseFunc) {
	poll := time.NewTicker(s.h.cfg.Test.ExitPollInterval)
	defer poll.Stop()
	stable := time.NewTimer(s.cfg.StableAfter)
	defer stable.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			if proc.exited() {
				cancel(fmt.Errorf("%w (pid %d)", errExited, proc.pid))
				return
			}
		case <-stable.C:
			s.markStable()
		case <-s.restartCh:
			cancel(errRestartRequested)
			return
		}
	}
}

// watchHealth calls Health every HealthInterval; a failure or no answer
// within HealthTimeout ends the incarnation.
func (s *supervisor) watchHealth(ctx context.Context, proc *process, cancel context.CancelCauseFunc) {
	t := time.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, hcancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
		err := proc.remote.health(hctx)
		timedOut := pastDeadline(hctx, time.Now())
		hcancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			switch {
			case isConnectionLoss(err):
				cancel(fmt.Errorf("%w (pid %d): %w", errExited, proc.pid, err))
			case timedOut:
				cancel(fmt.Errorf("%w: no answer within %s", ErrUnhealthy, s.cfg.HealthTimeout))
			default:
				cancel(fmt.Errorf("%w: %w", ErrUnhealthy, err))
			}
			return
		}
	}
}
