package webhook

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/store"
)

// recorderBatch caps how many results one transaction records.
const recorderBatch = 512

// endpointHealth is the recorder's view of an endpoint's failures.
type endpointHealth struct {
	failingSince time.Time
	updatedAt    time.Time // the endpoint's UpdatedAt when failingSince was read
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
		snapshot := map[string]endpointHealth{}
		for id, h := range health {
			snapshot[id] = *h
		}
		var publish []func()
		err := s.db.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			publish, err = s.recordTx(ctx, tx, batch, health)
			return err
		})
		if err == nil {
			for _, p := range publish {
				p()
			}
			s.observeBreakers(ctx, batch, health)
			touched := map[*endpointWorker]bool{}
			for _, r := range batch {
				if !r.aborted {
					s.metrics.observe(r)
				}
				r.w.done(r.job.id)
				// The worker looks for due deliveries again when this outcome
				// changes what it can claim: a FIFO endpoint's next delivery, a
				// retry's due time, a released claim. A success elsewhere
				// changes nothing, and waking for it would cost a claim
				// transaction per recorded batch.
				if r.aborted || !r.o.success || r.conf.fifo() {
					touched[r.w] = true
				}
			}
			for w := range touched {
				w.wake()
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

// recordChunk is how many rows one recording statement (or insert of
// deliveries) carries.
const recordChunk = 50

// recordSQL records the outcomes of rows attempts in their deliveries, where
// the claim still holds, and returns the IDs of those.
func recordSQL(d store.Dialect, rows int) string {
	var sb strings.Builder
	sb.WriteString(`UPDATE waqtor_webhook_deliveries SET state = v.column2, attempts = attempts + 1, tries = v.column3,
			next_at = v.column4, lease_until = 0, last_status = v.column5, last_error = v.column6, updated_at = v.column7
			FROM (VALUES `)
	types := [...]string{"TEXT", "TEXT", "BIGINT", "BIGINT", "BIGINT", "TEXT", "BIGINT", "BIGINT"}
	for k := range rows {
		if k > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c, typ := range types {
			if c > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("CAST(")
			d.Placeholder(&sb, 8*k+c+1)
			sb.WriteString(" AS " + typ + ")")
		}
		sb.WriteByte(')')
	}
	sb.WriteString(`) AS v WHERE waqtor_webhook_deliveries.id = v.column1
			AND waqtor_webhook_deliveries.lease_until = v.column8 RETURNING waqtor_webhook_deliveries.id`)
	return sb.String()
}

// attemptsSQL inserts rows attempts.
func attemptsSQL(d store.Dialect, rows int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO waqtor_webhook_attempts (delivery_id, n, endpoint_id, tenant_id, due_at, started_at,
			latency_us, status_code, error, response_body, response_truncated, webhook_timestamp, next_at) VALUES `)
	d.Values(&sb, rows, 13, 0)
	sb.WriteString(" ON CONFLICT (delivery_id, n) DO NOTHING")
	return sb.String()
}

// hotQueries are the statements every delivery runs, prepared by New: single
// rows and full chunks.
func hotQueries(d store.Dialect) []string {
	return []string{activeEndpointsSQL, insertDeliveriesSQL(d, 1), insertDeliveriesSQL(d, recordChunk),
		recordSQL(d, 1), recordSQL(d, recordChunk), attemptsSQL(d, 1), attemptsSQL(d, recordChunk)}
}

// outcomeRow is a result's effect on its delivery.
type outcomeRow struct {
	r        *result
	state    DeliveryState
	tries    int
	nextAt   time.Time
	finished time.Time
}

// recordTx records a batch inside tx with a few statements: one UPDATE per
// 50 deliveries (only where the claim still holds), one INSERT per 50
// attempts, and one UPDATE per endpoint whose health changed. It returns the
// functions to call after commit.
func (s *Service) recordTx(ctx context.Context, tx *sql.Tx, batch []*result, health map[string]*endpointHealth) ([]func(), error) {
	var rows []*outcomeRow
	for _, r := range batch {
		j := r.job
		if r.aborted {
			if _, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_deliveries SET lease_until = 0
				WHERE id = $1 AND lease_until = $2`, j.id, j.lease); err != nil {
				return nil, err
			}
			continue
		}
		o := &outcomeRow{r: r, state: StateSucceeded, tries: j.tries + 1, finished: r.started.Add(r.latency)}
		switch {
		case r.o.success:
		case r.o.gone:
			o.state = StateFailed
		default:
			if d, ok := nextDelay(r.conf.ep.Retry, o.tries, r.o, randFloat); ok {
				o.state, o.nextAt = StatePending, o.finished.Add(d)
			} else {
				o.state = StateFailed
			}
		}
		rows = append(rows, o)
	}
	q := s.db.st.Q(tx)
	recorded := map[string]bool{}
	for i := 0; i < len(rows); i += recordChunk {
		part := rows[i:min(i+recordChunk, len(rows))]
		args := make([]any, 0, 8*len(part))
		for _, o := range part {
			args = append(args, o.r.job.id, string(o.state), o.tries, micros(o.nextAt), o.r.o.status, o.r.errMsg,
				micros(o.finished), o.r.job.lease)
		}
		res, err := q.QueryContext(ctx, recordSQL(s.db.dialect, len(part)), args...)
		if err != nil {
			return nil, err
		}
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				res.Close()
				return nil, err
			}
			recorded[id] = true
		}
		if err := res.Close(); err != nil {
			return nil, err
		}
		if err := res.Err(); err != nil {
			return nil, err
		}
	}
	// Attempts of the deliveries whose claim held (the others were taken
	// over after their lease ran out; their new owner records).
	var kept []*outcomeRow
	for _, o := range rows {
		if recorded[o.r.job.id] {
			kept = append(kept, o)
		}
	}
	for i := 0; i < len(kept); i += recordChunk {
		part := kept[i:min(i+recordChunk, len(kept))]
		args := make([]any, 0, 13*len(part))
		for _, o := range part {
			r, j := o.r, o.r.job
			args = append(args, j.id, j.attempts+1, j.endpoint, j.tenant, micros(j.dueAt), micros(r.started),
				r.latency.Microseconds(), r.o.status, r.errMsg, r.body, boolInt(r.truncated), r.wts, micros(o.nextAt))
		}
		if _, err := q.ExecContext(ctx, attemptsSQL(s.db.dialect, len(part)), args...); err != nil {
			return nil, err
		}
	}
	return s.recordHealth(ctx, tx, kept, health)
}

// endpointChange is what a batch changes in one endpoint's health.
type endpointChange struct {
	conf    *endpointConf
	dirty   bool
	lastErr string
	reason  string // disable reason, if any
}

// recordHealth keeps each endpoint's failing_since and last_error, and
// disables endpoints that answered 410 or failed for longer than
// AutoDisableAfter, emitting webhook.endpoint_disabled.
func (s *Service) recordHealth(ctx context.Context, tx *sql.Tx, kept []*outcomeRow, health map[string]*endpointHealth) ([]func(), error) {
	changes := map[string]*endpointChange{}
	var order []string
	for _, o := range kept {
		r := o.r
		ep := r.conf.ep
		h := health[ep.ID]
		switch {
		case h == nil || ep.UpdatedAt.After(h.updatedAt):
			// First seen, or edited since (re-enabling clears FailingSince):
			// the stored value is the truth.
			h = &endpointHealth{failingSince: ep.FailingSince, updatedAt: ep.UpdatedAt}
			health[ep.ID] = h
		case ep.UpdatedAt.Before(h.updatedAt):
			continue // attempted under a configuration edited since: it says nothing of the current one
		}
		c := changes[ep.ID]
		if c == nil {
			c = &endpointChange{conf: r.conf}
			changes[ep.ID] = c
			order = append(order, ep.ID)
		}
		if c.reason != "" {
			continue
		}
		if r.o.success {
			if !h.failingSince.IsZero() {
				h.failingSince, c.dirty = time.Time{}, true
			}
			continue
		}
		if h.failingSince.IsZero() {
			h.failingSince = r.started
		}
		c.dirty, c.lastErr = true, r.errMsg
		switch {
		case r.o.gone:
			c.reason = "gone"
		case s.cfg.AutoDisableAfter > 0 && r.started.Sub(h.failingSince) >= s.cfg.AutoDisableAfter:
			c.reason = "failing"
		}
	}
	var publish []func()
	for _, id := range order {
		c := changes[id]
		h := health[id]
		ep := c.conf.ep
		switch {
		case c.reason != "":
			p, err := s.disable(ctx, tx, ep, c.reason, h.failingSince, c.lastErr)
			if err != nil {
				return nil, err
			}
			if p != nil {
				publish = append(publish, p)
			}
			delete(health, id)
		// The health writes are conditional on the configuration the attempts
		// ran under: an attempt still in flight when the endpoint was edited
		// (re-enabled by hand, say) must not write its old failing_since back.
		case c.dirty && c.lastErr == "":
			if _, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET failing_since = 0 WHERE id = $1 AND updated_at = $2`,
				id, micros(ep.UpdatedAt)); err != nil {
				return nil, err
			}
		case c.dirty:
			if _, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET failing_since = $1, last_error = $2
				WHERE id = $3 AND updated_at = $4`, micros(h.failingSince), c.lastErr, id, micros(ep.UpdatedAt)); err != nil {
				return nil, err
			}
		}
	}
	return publish, nil
}

// disable disables an endpoint inside tx and emits webhook.endpoint_disabled;
// it returns what to do after commit (nil if it was disabled already).
func (s *Service) disable(ctx context.Context, tx *sql.Tx, ep *Endpoint, reason string, failingSince time.Time, lastErr string) (func(), error) {
	res, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET enabled = 0, disabled_reason = $1, failing_since = $2,
		last_error = $3, updated_at = $4 WHERE id = $5 AND enabled = 1 AND updated_at = $6`, reason, micros(failingSince), lastErr,
		micros(s.now()), ep.ID, micros(ep.UpdatedAt))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	e := &waqtor.WebhookEndpointDisabled{EndpointID: ep.ID, Reason: reason, URL: ep.URL, LastError: lastErr}
	if reason == "failing" {
		e.FailingSince = failingSince
	}
	publish, err := corelink.EmitTx(ctx, s.core, tx, "", ep.Tenant, e)
	if err != nil {
		return nil, err
	}
	s.logger.Warn("Webhook endpoint disabled", slog.String("endpoint_id", ep.ID), slog.String("reason", reason),
		slog.String("last_error", lastErr))
	return func() {
		publish()
		s.metrics.disabled(ep.ID, reason)
		s.kickSync()
	}, nil
}
