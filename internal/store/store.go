// Package store is waqtor's persistence layer: one database/sql handle on SQLite
// (modernc.org/sqlite, pure Go, the default) or PostgreSQL (pgx), embedded versioned
// migrations, and the typed queries the Core runs. It is internal: its API is not
// promised to stay stable.
//
// All methods are safe for concurrent use.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect names the SQL flavour of a database.
type Dialect string

// The dialects waqtor supports. Their values are also the database/sql driver names
// whatsmeow's sqlstore expects ("sqlite" for modernc, "postgres" maps to "pgx").
const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
)

// Errors returned by Open and Migrate.
var (
	// ErrUnreachable reports that the database could not be opened or pinged.
	ErrUnreachable = errors.New("store: database unreachable")
	// ErrSchemaTooNew reports a database written by a newer waqtor.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this waqtor")
	// ErrNotFound reports a missing row.
	ErrNotFound = errors.New("store: not found")
	// ErrDuplicate reports a unique-key conflict.
	ErrDuplicate = errors.New("store: duplicate")
)

//go:embed migrations
var migrationsFS embed.FS

// Store is an open database with waqtor's schema.
type Store struct {
	// DB is the connection pool. On SQLite it holds a single connection (writes are
	// serialised by SQLite anyway, and one connection rules out SQLITE_BUSY).
	DB *sql.DB
	// Dialect is the database's SQL flavour.
	Dialect Dialect
	// DSN is the driver data source name the pool was opened with.
	DSN string

	logger *slog.Logger
	now    func() time.Time
	stmts  sync.Map // query -> *sql.Stmt, see Prepare
}

// Config configures Open.
type Config struct {
	// Logger receives migration messages. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock used for timestamps. Defaults to time.Now.
	Now func() time.Time
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// SQLiteDSN turns a file path or a "file:" URI into a modernc.org/sqlite DSN with
// the pragmas waqtor and whatsmeow need: foreign keys on, WAL, a busy timeout and
// immediate transactions. Pragmas already present in a "file:" URI are kept.
func SQLiteDSN(path string) (string, error) {
	if path == "" {
		return "", errors.New("store: empty SQLite path")
	}
	base, rawQuery := path, ""
	if !strings.HasPrefix(path, "file:") {
		base = "file:" + path
	} else if i := strings.IndexByte(path, '?'); i >= 0 {
		base, rawQuery = path[:i], path[i+1:]
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("store: parse SQLite DSN %q: %w", path, err)
	}
	have := strings.Join(q["_pragma"], ",")
	for _, p := range []struct{ name, value string }{
		{"foreign_keys", "foreign_keys(1)"},
		{"busy_timeout", "busy_timeout(10000)"},
		{"journal_mode", "journal_mode(WAL)"},
		{"synchronous", "synchronous(NORMAL)"},
	} {
		if !strings.Contains(have, p.name) {
			q.Add("_pragma", p.value)
		}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return base + "?" + q.Encode(), nil
}

// Open opens the database named by dsn (an SQLite file path or "file:" URI, or a
// postgres:// URL), checks that it answers, and runs the migrations.
func Open(ctx context.Context, dsn string, cfg *Config) (*Store, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	s := &Store{logger: cfg.Logger, now: cfg.Now}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	driver := "pgx"
	s.Dialect = DialectPostgres
	s.DSN = dsn
	if !IsPostgresDSN(dsn) {
		s.Dialect = DialectSQLite
		driver = "sqlite"
		var err error
		if s.DSN, err = SQLiteDSN(dsn); err != nil {
			return nil, err
		}
		if p := sqliteFilePath(s.DSN); p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, fmt.Errorf("%w: create directory for %s: %w", ErrUnreachable, p, err)
			}
		}
	}
	db, err := sql.Open(driver, s.DSN)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if s.Dialect == DialectSQLite {
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
	}
	s.DB = db
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.Prepare(ctx, hotQueries(s.Dialect)...); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// sqliteFilePath returns the file a "file:" DSN points at, or "" for in-memory ones.
func sqliteFilePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		if strings.Contains(p[i:], "mode=memory") {
			return ""
		}
		p = p[:i]
	}
	if p == "" || p == ":memory:" || strings.HasPrefix(p, ":") {
		return ""
	}
	return p
}

// Close closes the pool.
func (s *Store) Close() error {
	s.closeStmts()
	return s.DB.Close()
}

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

type migration struct {
	version int
	name    string
	sql     string
}

// CoreComponent names the Core's own schema in waqtor_schema_versions.
const CoreComponent = "core"

// coreMigrations holds the Core's migrations: one directory per dialect.
var coreMigrations, _ = fs.Sub(migrationsFS, "migrations")

func (s *Store) migrations(fsys fs.FS) ([]migration, error) {
	dir := string(s.Dialect)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("store: bad migration name %q", e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migrations must be numbered 1, 2, 3, ...; found %q at position %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the Core schema version this build of waqtor writes.
func (s *Store) LatestVersion() int {
	ms, _ := s.migrations(coreMigrations)
	return len(ms)
}

// Migrate brings the Core's schema up to date; see MigrateComponent.
func (s *Store) Migrate(ctx context.Context) error {
	return s.MigrateComponent(ctx, CoreComponent, coreMigrations)
}

// MigrateComponent brings one component's schema up to date. fsys holds a
// directory per dialect ("sqlite", "postgres") of files named
// "<version>_<name>.sql", numbered from 1 without gaps. Each component (the Core,
// and feature packages such as webhook) keeps its own version, so features own
// their tables. It is idempotent, safe to run from several processes at once (on
// Postgres an advisory lock serialises them), and refuses a database whose
// version is newer than this build knows (ErrSchemaTooNew).
func (s *Store) MigrateComponent(ctx context.Context, component string, fsys fs.FS) error {
	ms, err := s.migrations(fsys)
	if err != nil {
		return fmt.Errorf("store: read %s migrations: %w", component, err)
	}
	latest := len(ms)
	return s.InTx(ctx, func(tx *sql.Tx) error {
		if s.Dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7170775)`); err != nil {
				return fmt.Errorf("store: migration lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS waqtor_schema_versions (
			component TEXT PRIMARY KEY, version BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("store: create version table: %w", err)
		}
		current := 0
		err := tx.QueryRowContext(ctx, `SELECT version FROM waqtor_schema_versions WHERE component = $1`, component).Scan(&current)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO waqtor_schema_versions (component, version) VALUES ($1, 0)`, component); err != nil {
				return fmt.Errorf("store: init version: %w", err)
			}
		case err != nil:
			return fmt.Errorf("store: read schema version: %w", err)
		}
		if current > latest {
			return fmt.Errorf("%w: the %s schema is at version %d, this build knows up to %d; upgrade waqtor or use another database",
				ErrSchemaTooNew, component, current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			s.logger.InfoContext(ctx, "Applying database migration", slog.String("component", component), slog.String("migration", m.name))
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("store: %s migration %s: %w", component, m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE waqtor_schema_versions SET version = $1 WHERE component = $2`, m.version, component); err != nil {
				return fmt.Errorf("store: record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// SchemaVersion returns the version recorded in the database for a component.
func (s *Store) SchemaVersion(ctx context.Context, component string) (int, error) {
	var v int
	err := s.DB.QueryRowContext(ctx, `SELECT version FROM waqtor_schema_versions WHERE component = $1`, component).Scan(&v)
	return v, err
}

// InTx runs fn in a transaction, committing when it returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Querier is what both *sql.DB and *sql.Tx offer.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// isUniqueViolation reports whether err is a unique-constraint failure.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") || // Postgres
		strings.Contains(msg, "constraint failed: UNIQUE")
}

// Micros converts t to Unix microseconds, the unit every time column holds.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros converts Unix microseconds back to a UTC time; 0 is the zero time.
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
