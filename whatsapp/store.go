package whatsapp

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// tables holds the engine's own tables, next to whatsmeow's (whatsmeow_*) and
// waqtor's (waqtor_*) in the same database:
//
//   - whatsapp_sessions maps a waqtor session to its whatsmeow device (one device
//     per session);
//   - whatsapp_polls keeps the options and message secret of polls, to turn
//     decrypted votes (option hashes) back into option texts and to resend a poll
//     with the same secret;
//   - whatsapp_version is the schema version of these tables.
//
// The SQL is the same on SQLite and PostgreSQL.
type tables struct {
	db  *sql.DB
	now func() time.Time
}

// migrations are applied in order; their index+1 is the schema version.
var migrations = [][]string{
	{
		`CREATE TABLE whatsapp_sessions (
			session_id TEXT PRIMARY KEY,
			device_jid TEXT NOT NULL UNIQUE,
			updated_at BIGINT NOT NULL
		)`,
		`CREATE TABLE whatsapp_polls (
			session_id TEXT NOT NULL,
			message_id TEXT NOT NULL,
			chat_jid   TEXT NOT NULL,
			options    TEXT NOT NULL,
			secret     TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			PRIMARY KEY (session_id, message_id)
		)`,
		`CREATE INDEX whatsapp_polls_created ON whatsapp_polls (created_at)`,
	},
}

// pollRetention is how long poll options are kept for decrypting votes.
const pollRetention = 90 * 24 * time.Hour

// migrate brings the tables to the latest version; running it again is a no-op.
func (t *tables) migrate(ctx context.Context) error {
	if _, err := t.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS whatsapp_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("whatsapp: create version table: %w", err)
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("whatsapp: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var version int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM whatsapp_version`).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO whatsapp_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("whatsapp: migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("whatsapp: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("whatsapp: schema version %d is newer than this waqtor (%d)", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("whatsapp: migrate to version %d: %w", v+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE whatsapp_version SET version = $1`, len(migrations)); err != nil {
		return fmt.Errorf("whatsapp: migrate: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM whatsapp_polls WHERE created_at < $1`, t.now().Add(-pollRetention).UnixMilli()); err != nil {
		return fmt.Errorf("whatsapp: prune polls: %w", err)
	}
	return tx.Commit()
}

// sessionDevice returns the device JID of a session, or "" when it has none.
func (t *tables) sessionDevice(ctx context.Context, session string) (string, error) {
	var jid string
	err := t.db.QueryRowContext(ctx, `SELECT device_jid FROM whatsapp_sessions WHERE session_id = $1`, session).Scan(&jid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return jid, err
}

// deviceSession returns the session a device belongs to, or "".
func (t *tables) deviceSession(ctx context.Context, device string) (string, error) {
	var id string
	err := t.db.QueryRowContext(ctx, `SELECT session_id FROM whatsapp_sessions WHERE device_jid = $1`, device).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// putSession records the device of a session.
func (t *tables) putSession(ctx context.Context, session, device string) error {
	_, err := t.db.ExecContext(ctx, `INSERT INTO whatsapp_sessions (session_id, device_jid, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (session_id) DO UPDATE SET device_jid = excluded.device_jid, updated_at = excluded.updated_at`,
		session, device, t.now().UnixMilli())
	return err
}

// deleteSession forgets the device of a session.
func (t *tables) deleteSession(ctx context.Context, session string) error {
	_, err := t.db.ExecContext(ctx, `DELETE FROM whatsapp_sessions WHERE session_id = $1`, session)
	return err
}

// pairedSessions lists the sessions that have a device, sorted.
func (t *tables) pairedSessions(ctx context.Context) ([]string, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT session_id FROM whatsapp_sessions ORDER BY session_id`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// putPoll stores a poll's options and secret unless the poll is already known,
// and returns the stored secret: a resend with the same message ID reuses the
// first secret, which is the one recipients and whatsmeow's store hold.
func (t *tables) putPoll(ctx context.Context, session, id, chat string, options []string, secret []byte) ([]byte, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	if _, err := t.db.ExecContext(ctx, `INSERT INTO whatsapp_polls (session_id, message_id, chat_jid, options, secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, message_id) DO NOTHING`,
		session, id, chat, string(opts), base64.StdEncoding.EncodeToString(secret), t.now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("whatsapp: store poll %s: %w", id, err)
	}
	var enc string
	if err := t.db.QueryRowContext(ctx, `SELECT secret FROM whatsapp_polls WHERE session_id = $1 AND message_id = $2`, session, id).Scan(&enc); err != nil {
		return nil, fmt.Errorf("whatsapp: read poll %s: %w", id, err)
	}
	return base64.StdEncoding.DecodeString(enc)
}

// pollOptions returns a poll's options, or nil when the poll is unknown.
func (t *tables) pollOptions(ctx context.Context, session, id string) ([]string, error) {
	var opts string
	err := t.db.QueryRowContext(ctx, `SELECT options FROM whatsapp_polls WHERE session_id = $1 AND message_id = $2`, session, id).Scan(&opts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal([]byte(opts), &out); err != nil {
		return nil, fmt.Errorf("whatsapp: poll %s options: %w", id, err)
	}
	return out, nil
}
