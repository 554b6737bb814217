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

// AppendEvents appends events to the log inside tx and sets their Seq. Sequence
// numbers come from a single counter row updated in the same transaction, so they
// are gap-free and commit in order: a reader that has seen seq N never later finds
// a committed event below N (which an auto-increment column cannot promise on
// PostgreSQL, where transactions commit out of allocation order). The price is
// that event-writing transactions are serialised on PostgreSQL.
func (s *Store) AppendEvents(ctx context.Context, tx *sql.Tx, events []*Event) error {
	if len(events) == 0 {
		return nil
	}
	q := s.Q(tx)
	var last int64
	if err := q.QueryRowContext(ctx, counterSQL, len(events)).Scan(&last); err != nil {
		return fmt.Errorf("store: next sequence: %w", err)
	}
	first := last - int64(len(events)) + 1
	for i, e := range events {
		e.Seq = first + int64(i)
	}
	// One statement per appendChunk rows: a burst of events costs a few round
	// trips, not one per event.
	const cols = 7
	for i := 0; i < len(events); i += appendChunk {
		part := events[i:min(i+appendChunk, len(events))]
		args := make([]any, 0, cols*len(part))
		for _, e := range part {
			args = append(args, e.Seq, e.ID, e.TenantID, e.SessionID, e.Kind, Micros(e.Time), e.Data)
		}
		if _, err := q.ExecContext(ctx, appendSQL(s.Dialect, len(part)), args...); err != nil {
			if isUniqueViolation(err) {
				if len(part) == 1 {
					return fmt.Errorf("%w: event %q", ErrDuplicate, part[0].ID)
				}
				return fmt.Errorf("%w: an event ID among %q…%q is already in the log", ErrDuplicate, part[0].ID,
					part[len(part)-1].ID)
			}
			return fmt.Errorf("store: append event: %w", err)
		}
	}
	return nil
}

// appendChunk is how many events one INSERT of AppendEvents carries.
const appendChunk = 100

const counterSQL = `UPDATE waqtor_log_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq`

// appendSQL is AppendEvents' INSERT of rows events.
func appendSQL(d Dialect, rows int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO waqtor_event_log (seq, id, tenant_id, session_id, kind, ts, data) VALUES `)
	d.Values(&sb, rows, 7, 0)
	return sb.String()
}

// readAllSQL is ReadEvents' query without filters: a cursor's.
const readAllSQL = `SELECT seq, id, tenant_id, session_id, kind, ts, data FROM waqtor_event_log WHERE seq > $1 ORDER BY seq LIMIT $2`

const setCursorSQL = `INSERT INTO waqtor_cursors (name, seq, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
		WHERE waqtor_cursors.seq < excluded.seq`

// hotQueries are the statements of the paths every event takes (an inbound
// message stored, its event appended, the log read through a cursor), which
// Open prepares: single rows and full chunks.
func hotQueries(d Dialect) []string {
	return []string{counterSQL, appendSQL(d, 1), appendSQL(d, appendChunk), readAllSQL, setCursorSQL,
		insertMessageSQL, insertMessagesSQL(d, 1), insertMessagesSQL(d, insertMessagesChunk), optedOutSQL}
}

// ReadEventsParams selects log rows for ReadEvents.
type ReadEventsParams struct {
	After    int64    // only rows with seq > After
	Kinds    []string // when set, only these kinds
	Limit    int
	Sessions []string // when set, only these sessions
	Tenant   string   // when set, only this tenant
}

// ReadEvents returns log rows in sequence order.
func (s *Store) ReadEvents(ctx context.Context, p ReadEventsParams) ([]*Event, error) {
	var sb strings.Builder
	args := []any{p.After}
	sb.WriteString(`SELECT seq, id, tenant_id, session_id, kind, ts, data FROM waqtor_event_log WHERE seq > $1`)
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
	query := sb.String()
	if len(args) == 2 {
		query = readAllSQL // the same text, prepared
	}
	rows, err := s.Q(nil).QueryContext(ctx, query, args...)
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

// LastSeq returns the highest sequence number ever assigned (0 for an empty log).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.DB.QueryRowContext(ctx, `SELECT seq FROM waqtor_log_counter WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: last sequence: %w", err)
	}
	return seq, nil
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
	_, err := q.ExecContext(ctx, setCursorSQL, name, seq, Micros(now))
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
