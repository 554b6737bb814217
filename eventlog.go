package waqtor

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/waqtor/waqtor/internal/store"
)

// The event log is the spine of waqtor's durability: every event is appended to
// it in the same transaction as the state change it reports, and published to the
// in-memory bus only after that transaction commits. Consumers that must not miss
// an event (webhooks, plugins, WebSocket resume) read it through durable cursors.

var eventIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newEventID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "evt_" + eventIDEncoding.EncodeToString(b[:])
}

// emitter collects the events of one transaction.
type emitter struct {
	c      *Core
	events []Event
}

// emit stamps e with its envelope fields and queues it for the transaction.
func (em *emitter) emit(session, tenant string, e Event) {
	m := e.Meta()
	m.ID = newEventID()
	m.Session = session
	m.Tenant = tenant
	if m.Time.IsZero() {
		m.Time = em.c.now().UTC()
	}
	em.events = append(em.events, e)
}

// commit runs fn in a transaction, appends the events fn emitted to the log in
// the same transaction, and publishes them once it has committed.
func (c *Core) commit(ctx context.Context, fn func(tx *sql.Tx, em *emitter) error) error {
	em := &emitter{c: c}
	err := c.store.InTx(ctx, func(tx *sql.Tx) error {
		em.events = em.events[:0]
		if err := fn(tx, em); err != nil {
			return err
		}
		return c.appendEmitted(ctx, tx, em)
	})
	if err != nil {
		return err
	}
	c.publishEmitted(em)
	return nil
}

// appendEmitted appends em's events to the log inside tx and sets their Seq.
func (c *Core) appendEmitted(ctx context.Context, tx *sql.Tx, em *emitter) error {
	rows := make([]*store.Event, len(em.events))
	for i, e := range em.events {
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("waqtor: encode %s event: %w", e.Kind(), err)
		}
		m := e.Meta()
		rows[i] = &store.Event{ID: m.ID, Kind: string(e.Kind()), SessionID: m.Session, TenantID: m.Tenant,
			Time: m.Time, Data: string(data)}
	}
	if err := c.store.AppendEvents(ctx, tx, rows); err != nil {
		return err
	}
	for i, e := range em.events {
		e.Meta().Seq = rows[i].Seq
	}
	return nil
}

// publishEmitted wakes log readers and publishes em's committed events.
func (c *Core) publishEmitted(em *emitter) {
	if len(em.events) == 0 {
		return
	}
	c.signalLog()
	for _, e := range em.events {
		c.bus.publish(e)
	}
}

func (c *Core) signalLog() {
	c.logMu.Lock()
	close(c.logNotify)
	c.logNotify = make(chan struct{})
	c.logMu.Unlock()
}

func (c *Core) logWaiter() <-chan struct{} {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.logNotify
}

// LogReadParams selects events for ReadLog.
type LogReadParams struct {
	// After returns only events with a sequence number above it. Defaults to 0
	// (from the oldest retained event).
	After int64
	// Kinds keeps only these kinds. Defaults to all.
	Kinds []EventKind
	// Limit caps the number of events. Defaults to 100; at most 10,000.
	Limit int
	// Sessions keeps only these sessions. Session IDs are unique per tenant
	// only: without Tenant, an ID matches that session of every tenant.
	// Defaults to all.
	Sessions []string
	// Tenant keeps only this tenant's events. Defaults to all.
	Tenant string
}

// Limits of ReadLog.
const (
	LogReadLimitDefault = 100
	LogReadLimitMax     = 10000
)

// ReadLog returns events from the durable log in sequence order.
func (c *Core) ReadLog(ctx context.Context, p *LogReadParams) ([]Event, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	return c.readLog(ctx, p)
}

func (c *Core) readLog(ctx context.Context, p *LogReadParams) ([]Event, error) {
	if p == nil {
		p = &LogReadParams{}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = LogReadLimitDefault
	}
	limit = min(limit, LogReadLimitMax)
	kinds := make([]string, len(p.Kinds))
	for i, k := range p.Kinds {
		if newEvent(k) == nil {
			return nil, fmt.Errorf("%w: unknown event kind %q", ErrConfig, k)
		}
		kinds[i] = string(k)
	}
	rows, err := c.store.ReadEvents(ctx, store.ReadEventsParams{After: p.After, Kinds: kinds, Limit: limit,
		Sessions: p.Sessions, Tenant: p.Tenant})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		e, err := eventFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func eventFromRow(r *store.Event) (Event, error) {
	env := Envelope{Data: json.RawMessage(r.Data), ID: r.ID, Seq: r.Seq, Session: r.SessionID, Tenant: r.TenantID,
		Time: r.Time, Type: EventKind(r.Kind)}
	e, err := env.Event()
	if err != nil {
		return nil, fmt.Errorf("waqtor: event log row %d: %w", r.Seq, err)
	}
	return e, nil
}

// LastSeq returns the sequence number of the newest event (0 when none).
func (c *Core) LastSeq(ctx context.Context) (int64, error) {
	if err := c.begin(); err != nil {
		return 0, err
	}
	defer c.ops.done()
	return c.store.LastSeq(ctx)
}

var cursorNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:/-]{0,127}$`)

// CursorStart says where a cursor that was never committed begins.
type CursorStart int

// Where a new cursor begins.
const (
	// FromOldest starts at the oldest event still retained.
	FromOldest CursorStart = iota
	// FromNewest starts after the newest event at the time the cursor is opened.
	FromNewest
)

// CursorOpts configures Core.Cursor.
type CursorOpts struct {
	// Filter restricts the events Next returns (After and Limit are ignored).
	// Defaults to every event.
	Filter LogReadParams
	// PollInterval is how often Next re-reads the log while waiting, to see events
	// written by other processes on the same database. Defaults to 1 s.
	PollInterval time.Duration
	// Start is where a cursor with no committed position begins. Defaults to
	// FromOldest.
	Start CursorStart
}

// Cursor is a durable, named reader of the event log. Next returns events after
// the cursor's read position; Commit records progress in the database, so a
// consumer that crashes resumes after the last committed event (at-least-once:
// events read but not committed are read again). While cursors exist, events they
// have not passed are never pruned; Delete a cursor that is no longer used.
//
// A Cursor is meant for one consumer goroutine.
type Cursor struct {
	c    *Core
	name string
	opts CursorOpts
	pos  int64
}

// Cursor opens the named cursor at its committed position (or at opts.Start when
// it was never committed). Names are 1–128 characters of letters, digits and
// "_.:/-".
func (c *Core) Cursor(ctx context.Context, name string, opts *CursorOpts) (*Cursor, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	if !cursorNameRe.MatchString(name) {
		return nil, fmt.Errorf("%w: cursor name %q must match %s", ErrConfig, name, cursorNameRe)
	}
	cur := &Cursor{c: c, name: name}
	if opts != nil {
		cur.opts = *opts
	}
	if cur.opts.PollInterval <= 0 {
		cur.opts.PollInterval = time.Second
	}
	pos, err := store.GetCursor(ctx, c.store.DB, name)
	switch {
	case err == nil:
		cur.pos = pos
	case errors.Is(err, store.ErrNotFound):
		if cur.opts.Start == FromNewest {
			if cur.pos, err = c.store.LastSeq(ctx); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
			}
		}
		// Save the start, so that pruning respects this consumer from now on.
		if err := store.SetCursor(ctx, c.store.DB, name, cur.pos, c.now()); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
		}
	default:
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return cur, nil
}

// Name returns the cursor's name.
func (cur *Cursor) Name() string { return cur.name }

// Position returns the sequence number of the last event Next returned (or that
// was committed, before the first Next).
func (cur *Cursor) Position() int64 { return cur.pos }

// Next returns up to limit events after the read position and advances it,
// waiting until at least one event is available or ctx ends.
func (cur *Cursor) Next(ctx context.Context, limit int) ([]Event, error) {
	filtered := len(cur.opts.Filter.Kinds) > 0 || len(cur.opts.Filter.Sessions) > 0 || cur.opts.Filter.Tenant != ""
	for {
		wait := cur.c.logWaiter()
		// With a filter, remember how far the log reached before reading: when
		// nothing up to there matches, the read position can skip to it. (Reading
		// the end first means an event appended meanwhile is never skipped.)
		var end int64
		if filtered {
			var err error
			if end, err = cur.c.LastSeq(ctx); err != nil {
				return nil, err
			}
		}
		p := cur.opts.Filter
		p.After, p.Limit = cur.pos, limit
		evs, err := cur.c.ReadLog(ctx, &p)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			cur.pos = evs[len(evs)-1].Meta().Seq
			return evs, nil
		}
		if end > cur.pos {
			cur.pos = end
		}
		t := time.NewTimer(cur.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-cur.c.lifeCtx.Done():
			t.Stop()
			return nil, ErrStopped
		case <-wait:
		case <-t.C:
		}
		t.Stop()
	}
}

// Commit durably records that every event up to and including seq is processed.
// A cursor never moves backwards: committing a lower seq than the stored one is a
// no-op.
func (cur *Cursor) Commit(ctx context.Context, seq int64) error {
	if err := cur.c.begin(); err != nil {
		return err
	}
	defer cur.c.ops.done()
	if err := store.SetCursor(ctx, cur.c.store.DB, cur.name, seq, cur.c.now()); err != nil {
		return fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return nil
}

// Delete removes the cursor, so that it no longer holds back pruning.
func (cur *Cursor) Delete(ctx context.Context) error {
	if err := cur.c.begin(); err != nil {
		return err
	}
	defer cur.c.ops.done()
	return store.DeleteCursor(ctx, cur.c.store.DB, cur.name)
}

// PruneLog deletes event-log rows older than Config.LogRetention that every
// cursor has passed, and returns how many it deleted. The Core also runs it every
// Config.PruneInterval.
func (c *Core) PruneLog(ctx context.Context) (int64, error) {
	if err := c.begin(); err != nil {
		return 0, err
	}
	defer c.ops.done()
	n, err := store.PruneEvents(ctx, c.store.DB, c.now().Add(-c.cfg.LogRetention))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return n, nil
}

func (c *Core) runPruner(ctx context.Context) {
	t := time.NewTicker(c.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := c.PruneLog(ctx)
			if err != nil && ctx.Err() == nil {
				c.logger.WarnContext(ctx, "Event log pruning failed", slog.Any("error", err))
			} else if n > 0 {
				c.logger.DebugContext(ctx, "Pruned event log", slog.Int64("rows", n))
			}
		}
	}
}
