package webhook

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
)

//go:embed migrations
var migrationsFS embed.FS

func migrations() fs.FS {
	sub, _ := fs.Sub(migrationsFS, "migrations")
	return sub
}

// runDispatcher reads the event log through the durable cursor and fans each
// batch of events out to the matching endpoints. The deliveries and the new
// cursor position are written in one transaction: once the cursor has passed
// an event, each of its deliveries is durably recorded as due, and a crash
// before the commit reads the batch again.
func (s *Service) runDispatcher(ctx context.Context, cur *waqtor.Cursor) {
	filters := map[string]*cachedFilter{}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		evs, err := cur.Next(ctx, s.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, waqtor.ErrStopped) {
				return
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			s.logger.WarnContext(ctx, "Webhook dispatcher cannot read the event log", slog.Any("error", err))
			sleepCtx(ctx, backoff)
			continue
		}
		for ctx.Err() == nil {
			woken, err := s.fanOut(ctx, evs, filters)
			if err == nil {
				backoff = 0
				for id := range woken {
					s.wake(id)
				}
				break
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			s.logger.WarnContext(ctx, "Webhook fan-out failed; retrying", slog.Int("events", len(evs)), slog.Any("error", err))
			sleepCtx(ctx, backoff)
		}
	}
}

type cachedFilter struct {
	updated time.Time
	f       *filter
}

// fanOut writes the deliveries of evs and the cursor position in one
// transaction. Deliveries for endpoints with a free request slot are claimed
// as they are created and sent at once after the commit, without a claim
// round trip; the others wait for their endpoint's worker to claim them.
func (s *Service) fanOut(ctx context.Context, evs []waqtor.Event, filters map[string]*cachedFilter) (map[string]bool, error) {
	now := s.now()
	woken := map[string]bool{}
	type preclaim struct {
		w *endpointWorker
		j *job
	}
	var pre []preclaim
	release := func() {
		for _, p := range pre {
			p.w.unreserve(1)
		}
		pre = pre[:0]
	}
	s.mu.Lock()
	workers := make(map[string]*endpointWorker, len(s.workers))
	for id, w := range s.workers {
		workers[id] = w
	}
	s.mu.Unlock()
	var inserted map[string]bool
	backlog := map[*endpointWorker]bool{} // left unclaimed in the database
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		clear(woken)
		release()
		eps, err := s.db.activeEndpoints(ctx, s.db.st.Q(tx))
		if err != nil {
			return err
		}
		byTenant := map[string][]*endpointRow{}
		for _, r := range eps {
			byTenant[r.ep.Tenant] = append(byTenant[r.ep.Tenant], r)
			if c := filters[r.ep.ID]; c == nil || !c.updated.Equal(r.ep.UpdatedAt) {
				filters[r.ep.ID] = &cachedFilter{updated: r.ep.UpdatedAt, f: compileFilter(r.ep.Events, r.ep.Sessions)}
			}
		}
		var ds []*Delivery
		leases := map[string]int64{}
		clear(backlog)
		for _, e := range evs {
			m := e.Meta()
			var payload []byte
			for _, r := range byTenant[m.Tenant] {
				if m.Seq <= r.fromSeq || !filters[r.ep.ID].f.match(e) {
					continue
				}
				if payload == nil {
					if payload, err = waqtor.MarshalEvent(e); err != nil {
						return err
					}
				}
				d := &Delivery{ID: store.NewID("dlv_", now), EndpointID: r.ep.ID, Tenant: m.Tenant, EventID: m.ID,
					EventSeq: m.Seq, Kind: e.Kind(), Session: m.Session, Payload: payload, NextAttemptAt: now}
				ds = append(ds, d)
				w := workers[r.ep.ID]
				if w == nil {
					woken[r.ep.ID] = true
					continue
				}
				conf := w.conf.Load()
				if conf.fifo() || !conf.ep.UpdatedAt.Equal(r.ep.UpdatedAt) || !w.br.closed() || w.backlog.Load() || w.reserve(1) == 0 {
					woken[r.ep.ID] = true // its worker claims it
					if !conf.fifo() {
						backlog[w] = true
					}
					continue
				}
				lease := s.lease(now, conf)
				leases[d.ID] = lease
				pre = append(pre, preclaim{w: w, j: &job{id: d.ID, eventID: m.ID, eventSeq: m.Seq,
					kind: string(e.Kind()), sessionID: m.Session, tenant: m.Tenant, payload: payload, dueAt: now,
					lease: lease, endpoint: r.ep.ID}})
			}
		}
		if inserted, err = s.db.insertDeliveries(ctx, tx, ds, leases, now); err != nil {
			return err
		}
		return store.SetCursor(ctx, s.db.st.Q(tx), s.cfg.CursorName, evs[len(evs)-1].Meta().Seq, now)
	})
	if err != nil {
		release()
		return nil, err
	}
	s.metrics.fannedOut(len(inserted))
	for w := range backlog {
		w.backlog.Store(true)
	}
	for _, p := range pre {
		if !inserted[p.j.id] { // already there: a batch read again after a crash
			p.w.unreserve(1)
			continue
		}
		p.w.enqueue(1, []*job{p.j})
	}
	return woken, nil
}
