package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event is a row of the append-only event log.
type Event struct {
	Data      string // JSON payload
	ID        string
	Kind      string
	Seq       int64
	SessionID string
	TenantID  string
	Time      time.Time
}

// AppendEvents appends events to the log inside tx and sets their Seq.
//
// On SQLite, sequence numbers come from a single counter row updated in the same
// transaction: writers are serialised anyway, so numbers are gap-free and commit
// in order.
//
// On PostgreSQL, where transactions commit concurrently (and share fsyncs), they
// come from a sequence: numbers may have gaps (a rolled-back append) and may
// commit out of order. Readers stay correct by reading only up to a watermark
// below which no transaction is still writing (see LastSeq), so a reader that has
// seen seq N never later finds a committed event below N.
func (s *Store) AppendEvents(ctx context.Context, tx *sql.Tx, events []*Event) error {
	if len(events) == 0 {
		return nil
	}
	if s.Dialect == DialectPostgres {
		for _, e := range events {
			err := tx.QueryRowContext(ctx, `INSERT INTO waqtor_event_log (seq, id, tenant_id, session_id, kind, ts, data)
				VALUES (nextval('waqtor_event_seq'), $1, $2, $3, $4, $5, $6) RETURNING seq`,
				e.ID, e.TenantID, e.SessionID, e.Kind, Micros(e.Time), e.Data).Scan(&e.Seq)
			if err != nil {
				if isUniqueViolation(err) {
					return fmt.Errorf("%w: event %q", ErrDuplicate, e.ID)
				}
				return fmt.Errorf("store: append event: %w", err)
			}
		}
		return nil
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `UPDATE waqtor_log_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq`,
		len(events)).Scan(&last); err != nil {
		return fmt.Errorf("store: next sequence: %w", err)
	}
	first := last - int64(len(events)) + 1
	for i, e := range events {
		e.Seq = first + int64(i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO waqtor_event_log (seq, id, tenant_id, session_id, kind, ts, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.Seq, e.ID, e.TenantID, e.SessionID, e.Kind, Micros(e.Time), e.Data); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: event %q", ErrDuplicate, e.ID)
			}
			return fmt.Errorf("store: append event: %w", err)
		}
	}
	return nil
}

// ReadEventsParams selects log rows for ReadEvents.
type ReadEventsParams struct {
	After    int64    // only rows with seq > After
	Kinds    []string // when set, only these kinds
	Limit    int
	Sessions []string // when set, only these sessions
	Tenant   string   // when set, only this tenant
}

// ReadEvents returns log rows in sequence order. On PostgreSQL it first waits
// (bounded by ctx) for the transactions that are writing to the log at the time
// of the call, and returns only rows up to the watermark they leave (LastSeq).
func (s *Store) ReadEvents(ctx context.Context, p ReadEventsParams) ([]*Event, error) {
	var sb strings.Builder
	args := []any{p.After}
	sb.WriteString(`SELECT seq, id, tenant_id, session_id, kind, ts, data FROM waqtor_event_log WHERE seq > $1`)
	if s.Dialect == DialectPostgres {
		mark, err := s.LastSeq(ctx)
		if err != nil {
			return nil, err
		}
		if mark <= p.After {
			return nil, nil
		}
		args = append(args, mark)
		sb.WriteString(` AND seq <= $2`)
	}
	in := func(col string, vals []string) {
		sb.WriteString(" AND " + col + " IN (")
		for i, v := range vals {
			if i > 0 {
				sb.WriteString(", ")
			}
			args = append(args, v)
			fmt.Fprintf(&sb, "$%d", len(args))
		}
		sb.WriteString(")")
	}
	if len(p.Kinds) > 0 {
		in("kind", p.Kinds)
	}
	if len(p.Sessions) > 0 {
		in("session_id", p.Sessions)
	}
	if p.Tenant != "" {
		args = append(args, p.Tenant)
		fmt.Fprintf(&sb, " AND tenant_id = $%d", len(args))
	}
	args = append(args, p.Limit)
	fmt.Fprintf(&sb, " ORDER BY seq LIMIT $%d", len(args))
	rows, err := s.DB.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("store: read events: %w", err)
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		var e Event
		var ts int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.TenantID, &e.SessionID, &e.Kind, &ts, &e.Data); err != nil {
			return nil, fmt.Errorf("store: scan event: %w", err)
		}
		e.Time = FromMicros(ts)
		out = append(out, &e)
	}
	return out, rows.Err()
}

// LastSeq returns the log's watermark: the highest sequence number at or below
// which every event is committed (or rolled back for good); 0 for an empty log.
//
// On PostgreSQL that is the highest committed seq M, once every transaction that
// was writing to the log when M was read has ended: a transaction that took a
// number below M holds a lock on the log table until it ends, so after those
// transactions end nothing below M can still appear. Waiting is bounded by ctx
// (the Core's writers hold their transactions for milliseconds).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if s.Dialect != DialectPostgres {
		var seq int64
		if err := s.DB.QueryRowContext(ctx, `SELECT seq FROM waqtor_log_counter WHERE id = 1`).Scan(&seq); err != nil {
			return 0, fmt.Errorf("store: last sequence: %w", err)
		}
		return seq, nil
	}
	var mark int64
	var writers string // comma-separated virtual transaction IDs
	err := s.DB.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(seq) FROM waqtor_event_log), 0),
		COALESCE((SELECT string_agg(virtualtransaction, ',') FROM pg_locks
		          WHERE locktype = 'relation' AND relation = 'waqtor_event_log'::regclass
		            AND mode = 'RowExclusiveLock' AND granted), '')`).Scan(&mark, &writers)
	if err != nil {
		return 0, fmt.Errorf("store: log watermark: %w", err)
	}
	for wait := 100 * time.Microsecond; writers != ""; wait = min(wait*2, 20*time.Millisecond) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("store: log watermark: waiting for writers: %w", ctx.Err())
		case <-t.C:
		}
		if err := s.DB.QueryRowContext(ctx, `SELECT COALESCE(string_agg(virtualtransaction, ','), '') FROM pg_locks
			WHERE locktype = 'relation' AND relation = 'waqtor_event_log'::regclass
			  AND mode = 'RowExclusiveLock' AND granted
			  AND virtualtransaction = ANY(string_to_array($1, ','))`, writers).Scan(&writers); err != nil {
			return 0, fmt.Errorf("store: log watermark: %w", err)
		}
	}
	return mark, nil
}

// GetCursor returns a named cursor's position; ErrNotFound when it was never saved.
func GetCursor(ctx context.Context, q Querier, name string) (int64, error) {
	var seq int64
	err := q.QueryRowContext(ctx, `SELECT seq FROM waqtor_cursors WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: cursor %q", ErrNotFound, name)
	}
	if err != nil {
		return 0, fmt.Errorf("store: get cursor: %w", err)
	}
	return seq, nil
}

// SetCursor saves a named cursor's position. A cursor never moves backwards: a
// smaller seq than the stored one is ignored, so a late commit from a stale worker
// cannot rewind it.
func SetCursor(ctx context.Context, q Querier, name string, seq int64, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO waqtor_cursors (name, seq, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
		WHERE waqtor_cursors.seq < excluded.seq`, name, seq, Micros(now))
	if err != nil {
		return fmt.Errorf("store: set cursor: %w", err)
	}
	return nil
}

// DeleteCursor removes a named cursor, so it no longer holds back pruning.
func DeleteCursor(ctx context.Context, q Querier, name string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM waqtor_cursors WHERE name = $1`, name); err != nil {
		return fmt.Errorf("store: delete cursor: %w", err)
	}
	return nil
}

// Cursor is a named position in the log.
type Cursor struct {
	Name      string
	Seq       int64
	UpdatedAt time.Time
}

// ListCursors returns every saved cursor ordered by name.
func ListCursors(ctx context.Context, q Querier) ([]Cursor, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, seq, updated_at FROM waqtor_cursors ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list cursors: %w", err)
	}
	defer rows.Close()
	var out []Cursor
	for rows.Next() {
		var c Cursor
		var ts int64
		if err := rows.Scan(&c.Name, &c.Seq, &ts); err != nil {
			return nil, fmt.Errorf("store: scan cursor: %w", err)
		}
		c.UpdatedAt = FromMicros(ts)
		out = append(out, c)
	}
	return out, rows.Err()
}

// PruneEvents deletes log rows older than olderThan that every cursor has passed,
// and returns how many it deleted. With no cursors at all, age alone decides.
func PruneEvents(ctx context.Context, q Querier, olderThan time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM waqtor_event_log WHERE ts < $1
		AND seq <= COALESCE((SELECT MIN(seq) FROM waqtor_cursors), seq)`, Micros(olderThan))
	if err != nil {
		return 0, fmt.Errorf("store: prune events: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
