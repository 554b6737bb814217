package plugins

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
)

//go:embed migrations
var migrationsFS embed.FS

// migrations holds the plugins component's schema, one directory per dialect.
var migrations, _ = fs.Sub(migrationsFS, "migrations")

// schemaComponent names the plugins' schema in waqtor_schema_versions.
const schemaComponent = "plugins"

// kvStore is the per-plugin key/value store and the dead-letter table.
type kvStore struct {
	st  *store.Store
	now func() time.Time
}

func validKey(key string) error {
	if key == "" || len(key) > KVKeyMax || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return fmt.Errorf("%w: a key must be 1 to %d bytes of UTF-8 without NUL", ErrKVLimit, KVKeyMax)
	}
	return nil
}

func (s *kvStore) get(ctx context.Context, plugin, key string) ([]byte, bool, error) {
	if err := validKey(key); err != nil {
		return nil, false, err
	}
	var v []byte
	err := s.st.DB.QueryRowContext(ctx, `SELECT value FROM waqtor_plugin_kv WHERE plugin = $1 AND key = $2`, plugin, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: kv get: %w", waqtor.ErrDatabase, err)
	}
	return v, true, nil
}

func (s *kvStore) set(ctx context.Context, plugin, tenant, key string, value []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	if len(value) > KVValueMax {
		return fmt.Errorf("%w: a value must be at most %d bytes, not %d", ErrKVLimit, KVValueMax, len(value))
	}
	if value == nil {
		value = []byte{}
	}
	return s.st.InTx(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM waqtor_plugin_kv WHERE plugin = $1 AND key = $2`, plugin, key).Scan(&exists)
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM waqtor_plugin_kv WHERE plugin = $1`, plugin).Scan(&n); err != nil {
				return fmt.Errorf("%w: kv count: %w", waqtor.ErrDatabase, err)
			}
			if n >= KVKeysMax {
				return fmt.Errorf("%w: the plugin already stores %d keys", ErrKVLimit, KVKeysMax)
			}
		} else if err != nil {
			return fmt.Errorf("%w: kv set: %w", waqtor.ErrDatabase, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO waqtor_plugin_kv (plugin, key, tenant_id, value, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			plugin, key, tenant, value, store.Micros(s.now())); err != nil {
			return fmt.Errorf("%w: kv set: %w", waqtor.ErrDatabase, err)
		}
		return nil
	})
}

func (s *kvStore) delete(ctx context.Context, plugin, key string) (bool, error) {
	if err := validKey(key); err != nil {
		return false, err
	}
	res, err := s.st.DB.ExecContext(ctx, `DELETE FROM waqtor_plugin_kv WHERE plugin = $1 AND key = $2`, plugin, key)
	if err != nil {
		return false, fmt.Errorf("%w: kv delete: %w", waqtor.ErrDatabase, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// kvListMax caps a KVList page.
const kvListMax = 1000

func (s *kvStore) list(ctx context.Context, plugin, prefix, after string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, kvListMax)
	// Keys with the prefix are those in [prefix, prefix+"\U0010FFFF"): no LIKE, so
	// "%" and "_" in keys need no escaping.
	lower := max(prefix, after)
	rows, err := s.st.DB.QueryContext(ctx, `SELECT key FROM waqtor_plugin_kv
		WHERE plugin = $1 AND key >= $2 AND key > $3 AND key < $4 ORDER BY key LIMIT $5`,
		plugin, lower, after, prefix+"\U0010FFFF", limit)
	if err != nil {
		return nil, fmt.Errorf("%w: kv list: %w", waqtor.ErrDatabase, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("%w: kv list: %w", waqtor.ErrDatabase, err)
		}
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: kv list: %w", waqtor.ErrDatabase, err)
	}
	return out, nil
}

// DeadLetter is an event a plugin failed on MaxEventAttempts times in a row
// (it crashed, hung or returned an error each time). The host recorded it and
// moved the plugin's cursor past it, so one poison event cannot wedge a plugin.
type DeadLetter struct {
	// Attempts is how many deliveries failed.
	Attempts int `json:"attempts"`
	// CreatedAt is when the event was given up on.
	CreatedAt time.Time `json:"created_at"`
	// Envelope is the event's wire envelope ({"id","seq","type",...}).
	Envelope json.RawMessage `json:"envelope"`
	// Error is the last failure.
	Error string `json:"error"`
	// EventID is the event's ID.
	EventID string `json:"event_id"`
	// Kind is the event's kind.
	Kind waqtor.EventKind `json:"kind"`
	// Plugin is the plugin's name.
	Plugin string `json:"plugin"`
	// Seq is the event's position in the log.
	Seq int64 `json:"seq"`
	// Session is the event's session.
	Session string `json:"session"`
	// Tenant is the event's tenant.
	Tenant string `json:"tenant"`
}

func (s *kvStore) addDeadLetter(ctx context.Context, d *DeadLetter) error {
	_, err := s.st.DB.ExecContext(ctx, `INSERT INTO waqtor_plugin_dead_letters
		(plugin, event_id, event_seq, kind, session_id, tenant_id, attempts, error, envelope, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (plugin, event_id) DO NOTHING`,
		d.Plugin, d.EventID, d.Seq, string(d.Kind), d.Session, d.Tenant, d.Attempts, d.Error, string(d.Envelope),
		store.Micros(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("%w: add dead letter: %w", waqtor.ErrDatabase, err)
	}
	return nil
}

func (s *kvStore) deadLetters(ctx context.Context, plugin string, afterSeq int64, limit int) ([]*DeadLetter, error) {
	rows, err := s.st.DB.QueryContext(ctx, `SELECT plugin, event_id, event_seq, kind, session_id, tenant_id, attempts,
		error, envelope, created_at FROM waqtor_plugin_dead_letters WHERE plugin = $1 AND event_seq > $2
		ORDER BY event_seq LIMIT $3`, plugin, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: list dead letters: %w", waqtor.ErrDatabase, err)
	}
	defer rows.Close()
	var out []*DeadLetter
	for rows.Next() {
		var d DeadLetter
		var kind, env string
		var created int64
		if err := rows.Scan(&d.Plugin, &d.EventID, &d.Seq, &kind, &d.Session, &d.Tenant, &d.Attempts, &d.Error, &env,
			&created); err != nil {
			return nil, fmt.Errorf("%w: list dead letters: %w", waqtor.ErrDatabase, err)
		}
		d.Kind, d.Envelope, d.CreatedAt = waqtor.EventKind(kind), json.RawMessage(env), store.FromMicros(created)
		out = append(out, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: list dead letters: %w", waqtor.ErrDatabase, err)
	}
	return out, nil
}

func (s *kvStore) countDeadLetters(ctx context.Context, plugin string) (int64, error) {
	var n int64
	if err := s.st.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM waqtor_plugin_dead_letters WHERE plugin = $1`, plugin).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: count dead letters: %w", waqtor.ErrDatabase, err)
	}
	return n, nil
}

// loadAttempts returns the failed-delivery counts recorded for a plugin's
// events that are still being retried.
func (s *kvStore) loadAttempts(ctx context.Context, plugin string) (map[string]int, error) {
	rows, err := s.st.DB.QueryContext(ctx, `SELECT event_id, attempts FROM waqtor_plugin_attempts WHERE plugin = $1`, plugin)
	if err != nil {
		return nil, fmt.Errorf("%w: load attempts: %w", waqtor.ErrDatabase, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("%w: load attempts: %w", waqtor.ErrDatabase, err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: load attempts: %w", waqtor.ErrDatabase, err)
	}
	return out, nil
}

// setAttempts records that an event has failed n times.
func (s *kvStore) setAttempts(ctx context.Context, plugin, eventID string, n int) error {
	_, err := s.st.DB.ExecContext(ctx, `INSERT INTO waqtor_plugin_attempts (plugin, event_id, attempts, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (plugin, event_id) DO UPDATE SET attempts = excluded.attempts,
		updated_at = excluded.updated_at`, plugin, eventID, n, store.Micros(s.now()))
	if err != nil {
		return fmt.Errorf("%w: record attempts: %w", waqtor.ErrDatabase, err)
	}
	return nil
}

// clearAttempts forgets an event's failures once it is handled or dead-lettered.
func (s *kvStore) clearAttempts(ctx context.Context, plugin, eventID string) error {
	if _, err := s.st.DB.ExecContext(ctx, `DELETE FROM waqtor_plugin_attempts WHERE plugin = $1 AND event_id = $2`,
		plugin, eventID); err != nil {
		return fmt.Errorf("%w: clear attempts: %w", waqtor.ErrDatabase, err)
	}
	return nil
}
