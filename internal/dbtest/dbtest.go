// Package dbtest gives tests a fresh database: an SQLite file in t.TempDir, or a
// private schema on the PostgreSQL named by WAQTOR_TEST_DATABASE_URL (tests that ask
// for Postgres skip when it is unset). Every schema is dropped in t.Cleanup.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// EnvPostgres names the variable that points tests at a PostgreSQL database.
const EnvPostgres = "WAQTOR_TEST_DATABASE_URL"

// Kind is a database kind tests can run on.
type Kind string

// The kinds.
const (
	Postgres Kind = "postgres"
	SQLite   Kind = "sqlite"
)

// Kinds returns the kinds to run on: SQLite always, Postgres when configured.
// Use it to run a test body on each: for _, k := range dbtest.Kinds() { t.Run(...) }.
func Kinds() []Kind {
	if os.Getenv(EnvPostgres) != "" {
		return []Kind{SQLite, Postgres}
	}
	return []Kind{SQLite}
}

// AllKinds returns both kinds; Postgres subtests skip when it is not configured.
func AllKinds() []Kind { return []Kind{SQLite, Postgres} }

// DSN returns the DSN of a fresh, empty database of kind k.
func DSN(t testing.TB, k Kind) string {
	t.Helper()
	switch k {
	case SQLite:
		return filepath.Join(t.TempDir(), "waqtor.db")
	case Postgres:
		return PostgresDSN(t)
	}
	t.Fatalf("dbtest: unknown kind %q", k)
	return ""
}

// PostgresDSN creates a private schema and returns a DSN whose search_path is set
// to it; it skips the test when WAQTOR_TEST_DATABASE_URL is unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "waqtor_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", EnvPostgres, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = db.Close()
		t.Fatalf("dbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Logf("dbtest: drop schema %s: %v", schema, err)
		}
		_ = db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
