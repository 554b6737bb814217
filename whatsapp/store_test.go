package whatsapp

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

func listTables(t *testing.T, db *sql.DB, dialect string) map[string][]string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if dialect == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	out := map[string][]string{}
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		prefix, _, _ := strings.Cut(name, "_")
		out[prefix] = append(out[prefix], name)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestStore runs the device store on SQLite and PostgreSQL: whatsmeow's tables,
// the engine's and waqtor's share one database, migrations are idempotent, and
// devices, session mappings and polls survive a new engine.
func TestStore(t *testing.T) {
	t.Parallel()
	for _, k := range dbtest.AllKinds() {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn, dialect := testDSN(t, k)
			ff := &fakeFactory{}
			e1 := newTestEngineOn(t, dsn, dialect, fastConfig(), ff.newClient)

			tables := listTables(t, e1.db, dialect)
			require.Len(t, tables["whatsmeow"], 15, "whatsmeow's 14 tables and its version table: %v", tables["whatsmeow"])
			require.ElementsMatch(t, []string{"whatsapp_polls", "whatsapp_sessions", "whatsapp_version"}, tables["whatsapp"])
			require.Contains(t, tables["waqtor"], "waqtor_messages", "waqtor's own tables are in the same database")

			// A second engine on the same database migrates nothing and sees the same state.
			dev := putDevice(t, e1, "s1", ownJID, ownLID)
			_, err := e1.tables.putPoll(ctx, "s1", "P1", contactPN.String(), []string{"A", "B"}, []byte("first-secret"))
			require.NoError(t, err)
			e2 := newTestEngineOn(t, dsn, dialect, fastConfig(), ff.newClient)
			require.Equal(t, tables, listTables(t, e2.db, dialect))
			var version int
			require.NoError(t, e2.db.QueryRow(`SELECT version FROM whatsapp_version`).Scan(&version))
			require.Equal(t, len(migrations), version)
			require.NoError(t, e2.tables.migrate(ctx), "migrating again is a no-op")

			got, err := e2.container.GetDevice(ctx, ownJID)
			require.NoError(t, err)
			require.Equal(t, dev.NoiseKey.Priv, got.NoiseKey.Priv)
			require.Equal(t, ownLID, got.LID)
			c, err := e2.Open(ctx, &waqtor.EngineSession{ID: "s1", JID: "201000000001@s.whatsapp.net"}, newRecorder())
			require.NoError(t, err)
			require.True(t, c.(*conn).paired, "the session finds its device")
			require.Equal(t, ownJID, ff.last().Identity().JID)
			ids, err := e2.PairedSessions(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"s1"}, ids)

			secret, err := e2.tables.putPoll(ctx, "s1", "P1", contactPN.String(), []string{"A", "B"}, []byte("second-secret"))
			require.NoError(t, err)
			require.Equal(t, []byte("first-secret"), secret)
			opts, err := e2.tables.pollOptions(ctx, "s1", "P1")
			require.NoError(t, err)
			require.Equal(t, []string{"A", "B"}, opts)
			opts, err = e2.tables.pollOptions(ctx, "s1", "unknown")
			require.NoError(t, err)
			require.Nil(t, opts)

			// Logout deletes the device's keys through whatsmeow's store (cascading
			// to its sessions, prekeys, ...) and the mapping.
			require.NoError(t, e2.tables.deleteSession(ctx, "s1"))
			require.NoError(t, got.Delete(ctx))
			var n int
			require.NoError(t, e2.db.QueryRow(`SELECT COUNT(*) FROM whatsmeow_device`).Scan(&n))
			require.Zero(t, n)
		})
	}
}

func TestNewEngineErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	_, err := NewEngine(ctx, nil, nil)
	require.ErrorIs(t, err, waqtor.ErrConfig)
	_, err = NewEngine(ctx, &waqtor.EngineEnv{Dialect: "mysql", DSN: "x"}, nil)
	require.ErrorIs(t, err, waqtor.ErrConfig)
	_, err = NewEngine(ctx, &waqtor.EngineEnv{Dialect: "sqlite"}, nil)
	require.ErrorIs(t, err, waqtor.ErrConfig)

	// SQLite without foreign keys: whatsmeow refuses, the error names the fix.
	raw := "file:" + dbtest.DSN(t, dbtest.SQLite)
	_, err = NewEngine(ctx, &waqtor.EngineEnv{Dialect: "sqlite", DSN: raw, Logger: testLogger(t)}, nil)
	require.ErrorIs(t, err, waqtor.ErrDatabase)
	require.Contains(t, err.Error(), "foreign_keys(1)")

	for name, cfg := range map[string]*Config{
		"NegativeDuration":  {ConnectWait: -1},
		"MinAboveMax":       {ReconnectMin: 2, ReconnectMax: 1},
		"BadMode":           {InteractiveMode: "carousel"},
		"BadPairName":       {PairDisplayName: "waqtor"},
		"NegativeMaxMedia":  {MaxMediaBytes: -1},
		"NegativeKeepAlive": {KeepAliveFailures: -1},
	} {
		require.ErrorIs(t, cfg.WithDefaults().validate(), waqtor.ErrConfig, name)
	}
	require.NoError(t, (*Config)(nil).WithDefaults().validate())
	cfg := &Config{ConnectWait: 5}
	d := cfg.WithDefaults()
	require.Equal(t, ConnectTimeoutDefault, d.ConnectTimeout)
	require.EqualValues(t, 5, d.ConnectWait)
	require.Zero(t, cfg.ConnectTimeout, "WithDefaults does not touch the caller's config")
}

func TestEngineEnvDB(t *testing.T) {
	t.Parallel()
	// Without a DSN the engine uses the Core's pool (fine on Postgres; on SQLite
	// the Core passes its DSN).
	dsn, dialect := testDSN(t, dbtest.SQLite)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	e, err := newEngine(context.Background(), &waqtor.EngineEnv{DB: db, Dialect: dialect, Logger: testLogger(t)}, nil, (&fakeFactory{}).newClient)
	require.NoError(t, err)
	require.NoError(t, e.Close(context.Background()))
	require.NoError(t, db.Ping(), "the engine does not close a pool it does not own")
}
