package plugins

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
)

// delivery is one attempt at delivering one event to the plugin. Sends made
// through the Host service during it, and the actions returned, share its
// budget of MaxActions; each gets an idempotency key derived from the event.
type delivery struct {
	event waqtor.Event
	id    string

	mu        sync.Mutex
	callbacks int // sends made through the Host service so far
	used      int // sends and actions so far
	max       int
	over      bool
}

func newDeliveryID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reserve takes one unit of the delivery's action budget.
func (d *delivery) reserve() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used >= d.max {
		return false
	}
	d.used++
	return true
}

// nextCallback returns the index of the next send made through the Host
// service, or false when the delivery is over or its budget is spent.
func (d *delivery) nextCallback() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.over {
		return 0, ErrDeliveryOver
	}
	if d.used >= d.max {
		return 0, fmt.Errorf("%w: the limit is %d", ErrTooManyActions, d.max)
	}
	d.used++
	i := d.callbacks
	d.callbacks++
	return i, nil
}

// actionKey derives the idempotency key of a send: from the plugin, the event
// and the send's index ("c<n>" for the n-th send through the Host service,
// "a<n>" for the n-th returned action), or the plugin's own key.
func actionKey(plugin, eventID, kind string, index int, own string) (string, error) {
	var k string
	switch {
	case own != "" && eventID != "":
		k = fmt.Sprintf("plugin:%s:%s:k:%s", plugin, eventID, own)
	case own != "":
		k = fmt.Sprintf("plugin:%s:k:%s", plugin, own)
	case eventID != "":
		k = fmt.Sprintf("plugin:%s:%s:%s%d", plugin, eventID, kind, index)
	}
	if len(k) > waqtor.MaxIdempotencyKeyLength {
		return "", fmt.Errorf("%w: key %q makes an idempotency key longer than %d bytes", waqtor.ErrInvalidMessage,
			own, waqtor.MaxIdempotencyKeyLength)
	}
	return k, nil
}

func (s *supervisor) beginDelivery(e waqtor.Event) *delivery {
	d := &delivery{event: e, id: newDeliveryID(), max: s.cfg.MaxActions}
	s.mu.Lock()
	s.delivery = d
	s.mu.Unlock()
	return d
}

func (s *supervisor) endDelivery(d *delivery) {
	d.mu.Lock()
	d.over = true
	d.mu.Unlock()
	s.mu.Lock()
	if s.delivery == d {
		s.delivery = nil
	}
	s.mu.Unlock()
}

// currentDelivery returns the delivery with this ID while it is in flight.
func (s *supervisor) currentDelivery(id string) *delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delivery != nil && s.delivery.id == id {
		return s.delivery
	}
	return nil
}

// deliver hands e to the plugin until it is handled, dead-lettered, or the
// incarnation ends. It returns nil when the cursor may move on, and an error
// when the plugin must be restarted (or the host is stopping).
//
// Exactly-once replies rest on three rules: the cursor is committed only
// after the actions ran (their sends stored with derived keys); a failed
// delivery is redelivered with the same event ID, so the same sends get the
// same keys, which the Core deduplicates; and sends of a delivery that is over
// are refused.
func (s *supervisor) deliver(ctx, incCtx context.Context, proc *process, cur *waqtor.Cursor, e waqtor.Event) error {
	id := e.Meta().ID
	for {
		attempt := s.attempts[id] + 1 // failed deliveries that count, plus this one
		s.deliveries[id]++
		d := s.beginDelivery(e)
		callCtx, cancel := context.WithTimeout(incCtx, s.cfg.CallTimeout)
		actions, err := proc.remote.onEvent(callCtx, e, s.deliveries[id], d.id)
		timedOut := err != nil && incCtx.Err() == nil && pastDeadline(callCtx, time.Now())
		cancel()
		if err == nil {
			s.runActions(ctx, d, e, actions)
			s.endDelivery(d)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.forgetAttempts(ctx, id)
			delete(s.deliveries, id)
			s.mu.Lock()
			s.handled++
			s.mu.Unlock()
			s.markStable()
			return s.commit(ctx, cur, e.Meta().Seq)
		}
		s.endDelivery(d)
		crashed := false
		switch {
		case incCtx.Err() != nil:
			cause := context.Cause(incCtx)
			if ctx.Err() != nil || errors.Is(cause, errRestartRequested) {
				return cause // not the event's fault
			}
			if errors.Is(cause, errExited) {
				// Whether this counts against the event is known once the
				// process is reaped (see settleCrash).
				s.crashedOn = &crashRecord{event: e, attempt: attempt, err: cause}
				return cause
			}
			err, crashed = cause, true
		case timedOut:
			err, crashed = fmt.Errorf("%w: OnEvent(%s %s) took more than %s", ErrTimeout, e.Kind(), id, s.cfg.CallTimeout), true
		case isConnectionLoss(err):
			err = fmt.Errorf("%w: %w", errExited, err)
			s.crashedOn = &crashRecord{event: e, attempt: attempt, err: err}
			return err
		}
		s.noteAttempts(ctx, id, attempt)
		s.log.WarnContext(ctx, "Plugin failed to handle an event", slog.String("event_id", id),
			slog.String("kind", string(e.Kind())), slog.Int("attempt", attempt), slog.Any("error", err))
		if attempt >= s.cfg.MaxEventAttempts {
			s.deadLetter(ctx, e, attempt, err)
			s.forgetAttempts(ctx, id)
			delete(s.deliveries, id)
			if cerr := s.commit(ctx, cur, e.Meta().Seq); cerr != nil {
				return cerr
			}
			if crashed {
				return err
			}
			return nil
		}
		if crashed {
			return err
		}
		// The plugin answered with an error: redeliver after a backoff, to the
		// same process.
		s.noteError(err)
		if !s.sleepCtx(incCtx, s.backoff(attempt)) {
			return context.Cause(incCtx)
		}
	}
}

// crashRecord is an event whose delivery ended with the plugin's process.
type crashRecord struct {
	attempt int
	err     error
	event   waqtor.Event
}

// settleCrash decides, once the process that died while handling an event is
// reaped, whether the death counts against the event. A process killed with
// SIGKILL was killed from outside (an operator, the OOM killer): the event is
// redelivered without counting, so that "kill -9" never dead-letters a
// message. Any other death (a panic, os.Exit, a signal the plugin did not
// handle) counts, and the event is dead-lettered after MaxEventAttempts; a
// plugin killed over and over still trips the breaker.
func (s *supervisor) settleCrash(ctx context.Context, proc *process) {
	c := s.crashedOn
	s.crashedOn = nil
	if c == nil {
		return
	}
	id := c.event.Meta().ID
	if sig, ok := exitSignal(proc); ok && sig == syscall.SIGKILL {
		s.log.WarnContext(ctx, "Plugin was killed (SIGKILL) while handling an event: it is redelivered, not counted",
			slog.String("event_id", id), slog.Int("attempt", c.attempt))
		return
	}
	s.noteAttempts(ctx, id, c.attempt)
	s.log.WarnContext(ctx, "Plugin died while handling an event", slog.String("event_id", id),
		slog.String("kind", string(c.event.Kind())), slog.Int("attempt", c.attempt), slog.Any("error", c.err))
	if c.attempt < s.cfg.MaxEventAttempts {
		return
	}
	s.deadLetter(ctx, c.event, c.attempt, c.err)
	s.forgetAttempts(ctx, id)
	delete(s.deliveries, id)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cur, err := s.h.core.Cursor(cctx, cursorName(s.cfg.Name), nil)
	if err == nil {
		err = s.commit(ctx, cur, c.event.Meta().Seq)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "Could not move the cursor past a dead letter", slog.String("event_id", id), slog.Any("error", err))
	}
}

// exitSignal returns the signal that ended the process, once it is reaped.
func exitSignal(p *process) (syscall.Signal, bool) {
	ps := p.cmd.ProcessState
	if ps == nil {
		return 0, false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// pastDeadline reports whether ctx has expired at now. It asks the clock as
// well as ctx.Err(): the plugin's own end of the call can reset the stream at
// the deadline before the timer of ctx has run on a loaded machine, and that
// call timed out all the same (it is not an error the plugin returned).
func pastDeadline(ctx context.Context, now time.Time) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !now.Before(d)
}

// isConnectionLoss reports an RPC that failed because the connection to the
// plugin broke (not an error the plugin returned). It is asked only when the
// host did not cancel the call, so a Canceled status came from the other end:
// gRPC reports a stream reset by a dying process as "RST_STREAM with error
// code: CANCEL".
func isConnectionLoss(err error) bool {
	var re *fromproto.RemoteError
	if errors.As(err, &re) && re.Sentinel != nil {
		return false
	}
	code := status.Code(err)
	return code == codes.Unavailable || code == codes.Canceled
}

func (s *supervisor) deadLetter(ctx context.Context, e waqtor.Event, attempts int, cause error) {
	env, _ := waqtor.MarshalEvent(e)
	m := e.Meta()
	d := &DeadLetter{Attempts: attempts, CreatedAt: time.Now().UTC(), Envelope: env, Error: cause.Error(),
		EventID: m.ID, Kind: e.Kind(), Plugin: s.cfg.Name, Seq: m.Seq, Session: m.Session, Tenant: m.Tenant}
	s.log.ErrorContext(ctx, "Plugin gave up on an event: recorded as a dead letter", slog.String("event_id", m.ID),
		slog.Int64("seq", m.Seq), slog.Int("attempts", attempts), slog.Any("error", cause))
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.h.kv.addDeadLetter(dctx, d); err != nil {
		s.log.ErrorContext(ctx, "Could not record a dead letter", slog.String("event_id", m.ID), slog.Any("error", err))
	}
	s.mu.Lock()
	s.deadLetters++
	s.mu.Unlock()
	s.noteError(fmt.Errorf("event %s dead-lettered after %d attempts: %w", m.ID, attempts, cause))
}

// commit records that everything up to seq is handled. A failure is logged
// and not fatal: a later commit covers it, and a redelivery is deduplicated.
func (s *supervisor) commit(ctx context.Context, cur *waqtor.Cursor, seq int64) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cur.Commit(cctx, seq); err != nil {
		if errors.Is(err, waqtor.ErrStopped) {
			return err
		}
		s.log.WarnContext(ctx, "Could not commit the plugin's cursor", slog.Int64("seq", seq), slog.Any("error", err))
		return nil
	}
	s.mu.Lock()
	s.committed = max(s.committed, seq)
	s.mu.Unlock()
	return nil
}

// runActions runs the actions a plugin returned, in order. Transient failures
// (a session that is not ready, the database) are retried until they pass or
// the host stops: the event's reply waits rather than being lost. Other
// failures are logged and the action skipped.
func (s *supervisor) runActions(ctx context.Context, d *delivery, e waqtor.Event, actions []*proto.Action) {
	for i, pa := range actions {
		if !d.reserve() {
			err := fmt.Errorf("%w: event %s: %d actions beyond the limit of %d dropped", ErrTooManyActions,
				e.Meta().ID, len(actions)-i, d.max)
			s.log.ErrorContext(ctx, "Plugin returned too many actions", slog.Any("error", err))
			s.noteError(err)
			return
		}
		a, err := actionFromProto(pa)
		if err == nil && a.Send != nil {
			var key string
			if key, err = actionKey(s.cfg.Name, e.Meta().ID, "a", i, a.Send.Key); err == nil {
				a.Send.Key = key
			}
		}
		if err != nil {
			err = fmt.Errorf("event %s: action %d: %w", e.Meta().ID, i, err)
			s.log.ErrorContext(ctx, "Plugin returned an invalid action", slog.Any("error", err))
			s.noteError(err)
			continue
		}
		for try := 1; ; try++ {
			err := s.execAction(s.tenantCtx(ctx, e.Meta().Tenant), &a)
			if err == nil {
				break
			}
			err = fmt.Errorf("event %s: action %d: %w", e.Meta().ID, i, err)
			if !isTransient(err) || ctx.Err() != nil {
				s.log.ErrorContext(ctx, "Plugin action failed", slog.Any("error", err))
				s.noteError(err)
				break
			}
			s.log.WarnContext(ctx, "Plugin action failed, will retry", slog.Int("try", try), slog.Any("error", err))
			s.noteError(err)
			if !s.sleepCtx(ctx, min(s.backoff(try), actionRetryMax)) {
				return
			}
		}
	}
}

const actionRetryMax = 10 * time.Second

func (s *supervisor) sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func isTransient(err error) bool {
	return errors.Is(err, waqtor.ErrNotReady) || errors.Is(err, waqtor.ErrDatabase)
}

// execAction runs one action; a send's Key is the full idempotency key.
func (s *supervisor) execAction(ctx context.Context, a *Action) error {
	switch {
	case a.Send != nil:
		_, err := s.h.send(ctx, s, a.Send, a.Send.Key)
		return err
	case a.MarkRead != nil:
		return s.h.markRead(ctx, s, a.MarkRead)
	case a.Presence != nil:
		return s.h.setPresence(ctx, s, a.Presence)
	}
	return fmt.Errorf("%w: empty action", waqtor.ErrInvalidMessage)
}

// loadAttempts restores the failed-delivery counts recorded by an earlier
// run, so that MaxEventAttempts counts across host restarts. A failure is
// logged and not fatal: the counts then start again from zero.
func (s *supervisor) loadAttempts(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := s.h.kv.loadAttempts(lctx, s.cfg.Name)
	if err != nil {
		s.log.ErrorContext(ctx, "Could not load the plugin's failed-delivery counts", slog.Any("error", err))
		return
	}
	s.attempts = m
}

// noteAttempts records that event id has failed n times, in memory and in
// the database (so a host restart does not reset the count).
func (s *supervisor) noteAttempts(ctx context.Context, id string, n int) {
	s.attempts[id] = n
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.h.kv.setAttempts(sctx, s.cfg.Name, id, n); err != nil {
		s.log.ErrorContext(ctx, "Could not record a failed delivery", slog.String("event_id", id), slog.Any("error", err))
	}
}

// forgetAttempts drops event id's failure count once it is handled or
// dead-lettered. Events that never failed cost no database write.
func (s *supervisor) forgetAttempts(ctx context.Context, id string) {
	if _, ok := s.attempts[id]; !ok {
		return
	}
	delete(s.attempts, id)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.h.kv.clearAttempts(sctx, s.cfg.Name, id); err != nil {
		s.log.ErrorContext(ctx, "Could not clear a failed-delivery count", slog.String("event_id", id), slog.Any("error", err))
	}
}
