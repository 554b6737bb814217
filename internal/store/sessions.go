package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a row of waqtor_sessions.
type Session struct {
	BanExpires   time.Time
	CreatedAt    time.Time
	ID           string
	JID          string
	LID          string
	Platform     string
	PushName     string
	Status       string
	StatusReason string
	TenantID     string
	UpdatedAt    time.Time
}

const sessionColumns = `id, tenant_id, status, status_reason, jid, lid, push_name, platform, ban_expires, created_at, updated_at`

func scanSession(sc interface{ Scan(...any) error }) (*Session, error) {
	var s Session
	var ban, created, updated int64
	if err := sc.Scan(&s.ID, &s.TenantID, &s.Status, &s.StatusReason, &s.JID, &s.LID, &s.PushName,
		&s.Platform, &ban, &created, &updated); err != nil {
		return nil, err
	}
	s.BanExpires, s.CreatedAt, s.UpdatedAt = FromMicros(ban), FromMicros(created), FromMicros(updated)
	return &s, nil
}

// InsertSession inserts a session; ErrDuplicate when the ID is taken.
func InsertSession(ctx context.Context, q Querier, s *Session) error {
	_, err := q.ExecContext(ctx, `INSERT INTO waqtor_sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		s.ID, s.TenantID, s.Status, s.StatusReason, s.JID, s.LID, s.PushName, s.Platform,
		Micros(s.BanExpires), Micros(s.CreatedAt), Micros(s.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: session %q", ErrDuplicate, s.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert session: %w", err)
	}
	return nil
}

// GetSession returns one session or ErrNotFound.
func GetSession(ctx context.Context, q Querier, id string) (*Session, error) {
	s, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM waqtor_sessions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get session: %w", err)
	}
	return s, nil
}

// ListSessions returns sessions ordered by ID, all of them when tenant is empty.
func ListSessions(ctx context.Context, q Querier, tenant string) ([]*Session, error) {
	query := `SELECT ` + sessionColumns + ` FROM waqtor_sessions`
	var args []any
	if tenant != "" {
		query += ` WHERE tenant_id = $1`
		args = append(args, tenant)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	var out []*Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan session: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UpdateSession writes every mutable column of s.
func UpdateSession(ctx context.Context, q Querier, s *Session) error {
	res, err := q.ExecContext(ctx, `UPDATE waqtor_sessions SET status = $2, status_reason = $3, jid = $4, lid = $5,
		push_name = $6, platform = $7, ban_expires = $8, updated_at = $9 WHERE id = $1`,
		s.ID, s.Status, s.StatusReason, s.JID, s.LID, s.PushName, s.Platform, Micros(s.BanExpires), Micros(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: update session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: session %q", ErrNotFound, s.ID)
	}
	return nil
}

// DeleteSession removes a session with its messages and pending media. Event-log
// rows stay: the log is append-only and pruned by age.
func DeleteSession(ctx context.Context, q Querier, id string) error {
	for _, stmt := range []string{
		`DELETE FROM waqtor_outbox_media WHERE session_id = $1`,
		`DELETE FROM waqtor_messages WHERE session_id = $1`,
	} {
		if _, err := q.ExecContext(ctx, stmt, id); err != nil {
			return fmt.Errorf("store: delete session: %w", err)
		}
	}
	res, err := q.ExecContext(ctx, `DELETE FROM waqtor_sessions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	return nil
}
