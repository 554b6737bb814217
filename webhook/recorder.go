package webhook

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
)

// recorderBatch caps how many results one transaction records.
const recorderBatch = 512

// endpointHealth is the recorder's view of an endpoint's failures.
type endpointHealth struct {
	failingSince time.Time
}

// runRecorder writes attempt outcomes in batches: for each, the attempt row,
// the delivery's new state (succeeded, pending with its next due time, or
// failed) and the endpoint's health, and disables endpoints that answered 410
// or failed for longer than AutoDisableAfter. A result is only recorded while
// the claim that produced it still holds (its lease token matches), so a
// stale attempt never overwrites a newer one.
func (s *Service) runRecorder() {
	health := map[string]*endpointHealth{}
	batch := make([]*result, 0, recorderBatch)
	for r := range s.results {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < recorderBatch {
			select {
			case r, ok := <-s.results:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.recordBatch(batch, health)
	}
}

func (s *Service) recordBatch(batch []*result, health map[string]*endpointHealth) {
	// Recording must survive Stop: use a context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for try := 0; ; try++ {
		var publish []func()
		var touched map[string]bool
		snapshot := map[string]endpointHealth{}
		for id, h := range health {
			snapshot[id] = *h
		}
		err := s.db.inTx(ctx, func(tx *sql.Tx) error {
			publish, touched = publish[:0], map[string]bool{}
			st, err := prepareRecord(ctx, tx)
			if err != nil {
				return err
			}
			defer st.close()
			for _, r := range batch {
				p, err := s.recordOne(ctx, tx, st, r, health)
				if err != nil {
					return err
				}
				if p != nil {
					publish = append(publish, p)
				}
				touched[r.job.endpoint] = true
			}
			return nil
		})
		if err == nil {
			for _, p := range publish {
				p()
			}
			for _, r := range batch {
				if !r.aborted {
					s.metrics.observe(r)
				}
			}
			for _, r := range batch {
				r.w.done(r.job.id)
			}
			for id := range touched {
				s.wake(id)
			}
			return
		}
		// Roll the in-memory health back with the transaction.
		for id := range health {
			if h, ok := snapshot[id]; ok {
				*health[id] = h
			} else {
				delete(health, id)
			}
		}
		s.logger.Error("Recording webhook attempts failed", slog.Int("attempts", len(batch)), slog.Int("try", try),
			slog.Any("error", err))
		if try >= 5 {
			// The claims' leases run out and the deliveries are attempted again.
			for _, r := range batch {
				r.w.done(r.job.id)
			}
			return
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
}

// recordOne records one result inside tx; it returns a publish function when
// it emitted an event.
// recordStmts are the statements prepared once per recording transaction.
type recordStmts struct {
	release, update, insert *sql.Stmt
}

func prepareRecord(ctx context.Context, tx *sql.Tx) (*recordStmts, error) {
	var st recordStmts
	var err error
	if st.release, err = tx.PrepareContext(ctx, `UPDATE waqtor_webhook_deliveries SET lease_until = 0
		WHERE id = $1 AND lease_until = $2`); err != nil {
		return nil, err
	}
	if st.update, err = tx.PrepareContext(ctx, `UPDATE waqtor_webhook_deliveries SET state = $1, attempts = attempts + 1,
		tries = $2, next_at = $3, lease_until = 0, last_status = $4, last_error = $5, updated_at = $6
		WHERE id = $7 AND lease_until = $8`); err != nil {
		st.close()
		return nil, err
	}
	if st.insert, err = tx.PrepareContext(ctx, `INSERT INTO waqtor_webhook_attempts (delivery_id, n, endpoint_id, tenant_id,
		due_at, started_at, latency_us, status_code, error, response_body, response_truncated, webhook_timestamp, next_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (delivery_id, n) DO NOTHING`); err != nil {
		st.close()
		return nil, err
	}
	return &st, nil
}

func (st *recordStmts) close() {
	for _, s := range []*sql.Stmt{st.release, st.update, st.insert} {
		if s != nil {
			_ = s.Close()
		}
	}
}

func (s *Service) recordOne(ctx context.Context, tx *sql.Tx, st *recordStmts, r *result, health map[string]*endpointHealth) (func(), error) {
	j := r.job
	if r.aborted {
		_, err := st.release.ExecContext(ctx, j.id, j.lease)
		return nil, err
	}
	finished := r.started.Add(r.latency)
	state, nextAt := StateSucceeded, time.Time{}
	tries := j.tries + 1
	switch {
	case r.o.success:
	case r.o.gone:
		state = StateFailed
	default:
		if d, ok := nextDelay(r.conf.ep.Retry, tries, r.o, randFloat); ok {
			state, nextAt = StatePending, finished.Add(d)
		} else {
			state = StateFailed
		}
	}
	res, err := st.update.ExecContext(ctx, string(state), tries, micros(nextAt), r.o.status, r.errMsg, micros(finished),
		j.id, j.lease)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil // the claim was lost (lease expired and taken over); its owner records
	}
	if _, err := st.insert.ExecContext(ctx, j.id, j.attempts+1, j.endpoint, j.tenant, micros(j.dueAt), micros(r.started), r.latency.Microseconds(), r.o.status,
		r.errMsg, r.body, boolInt(r.truncated), r.wts, micros(nextAt)); err != nil {
		return nil, err
	}
	return s.recordHealth(ctx, tx, r, health)
}

// recordHealth keeps the endpoint's failing_since and last_error, and
// disables it when it must be.
func (s *Service) recordHealth(ctx context.Context, tx *sql.Tx, r *result, health map[string]*endpointHealth) (func(), error) {
	ep := r.conf.ep
	h := health[ep.ID]
	if h == nil {
		h = &endpointHealth{failingSince: ep.FailingSince}
		health[ep.ID] = h
	}
	if r.o.success {
		if h.failingSince.IsZero() {
			return nil, nil
		}
		h.failingSince = time.Time{}
		_, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET failing_since = 0 WHERE id = $1`, ep.ID)
		return nil, err
	}
	if h.failingSince.IsZero() {
		h.failingSince = r.started
	}
	reason := ""
	switch {
	case r.o.gone:
		reason = "gone"
	case s.cfg.AutoDisableAfter > 0 && r.started.Sub(h.failingSince) >= s.cfg.AutoDisableAfter:
		reason = "failing"
	}
	if reason == "" {
		_, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET failing_since = $1, last_error = $2 WHERE id = $3`,
			micros(h.failingSince), r.errMsg, ep.ID)
		return nil, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET enabled = 0, disabled_reason = $1, failing_since = $2,
		last_error = $3, updated_at = $4 WHERE id = $5 AND enabled = 1`, reason, micros(h.failingSince), r.errMsg,
		micros(s.now()), ep.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil // already disabled
	}
	e := &waqtor.WebhookEndpointDisabled{EndpointID: ep.ID, Reason: reason, URL: ep.URL, LastError: r.errMsg}
	if reason == "failing" {
		e.FailingSince = h.failingSince
	}
	publish, err := corelink.EmitTx(ctx, s.core, tx, "", ep.Tenant, e)
	if err != nil {
		return nil, err
	}
	delete(health, ep.ID)
	s.logger.Warn("Webhook endpoint disabled", slog.String("endpoint_id", ep.ID), slog.String("reason", reason),
		slog.String("last_error", r.errMsg))
	return func() {
		publish()
		s.metrics.disabled(ep.ID, reason)
		s.kickSync()
	}, nil
}
