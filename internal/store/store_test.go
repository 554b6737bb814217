package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/store"
	"github.com/waqtor/waqtor/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			storetest.Exercise(t, func(t *testing.T) *store.Store {
				t.Helper()
				s, err := store.Open(context.Background(), dbtest.DSN(t, kind), nil)
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return s
			})
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nothing listens on port 1 of loopback.
	_, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", nil)
	require.ErrorIs(t, err, store.ErrUnreachable)

	// A directory that cannot be created.
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err = store.Open(ctx, filepath.Join(blocker, "sub", "x.db"), nil)
	require.ErrorIs(t, err, store.ErrUnreachable)
}

func TestSchemaTooNewRefusedAtOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	s, err := store.Open(ctx, dsn, nil)
	require.NoError(t, err)
	_, err = s.DB.ExecContext(ctx, `UPDATE waqtor_schema_versions SET version = version + 1 WHERE component = 'core'`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = store.Open(ctx, dsn, nil)
	require.True(t, errors.Is(err, store.ErrSchemaTooNew), "got %v", err)
	require.Contains(t, err.Error(), "upgrade waqtor")
}

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in       string
		contains []string
		wantErr  bool
	}{
		"path":          {in: "data/w.db", contains: []string{"file:data/w.db?", "foreign_keys%281%29", "journal_mode%28WAL%29", "_txlock=immediate"}},
		"uri keeps own": {in: "file:x.db?_pragma=journal_mode(DELETE)", contains: []string{"journal_mode%28DELETE%29", "foreign_keys"}},
		"memory":        {in: "file:mem?mode=memory&cache=shared", contains: []string{"mode=memory", "cache=shared"}},
		"empty":         {in: "", wantErr: true},
		"bad query":     {in: "file:x.db?%zz", wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := store.SQLiteDSN(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			for _, c := range tt.contains {
				require.True(t, strings.Contains(got, c), "%q lacks %q", got, c)
			}
			require.NotContains(t, got, "journal_mode%28WAL%29&_pragma=journal_mode%28DELETE")
		})
	}
}

func TestMigrateComponent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s, err := store.Open(ctx, dbtest.DSN(t, kind), nil)
			require.NoError(t, err)
			defer s.Close()
			d := string(s.Dialect)
			v1 := fstest.MapFS{d + "/1_a.sql": {Data: []byte(`CREATE TABLE feat_a (x TEXT)`)}}
			require.NoError(t, s.MigrateComponent(ctx, "feat", v1))
			require.NoError(t, s.MigrateComponent(ctx, "feat", v1), "idempotent")
			v2 := fstest.MapFS{d + "/1_a.sql": v1[d+"/1_a.sql"], d + "/2_b.sql": {Data: []byte(`CREATE TABLE feat_b (y TEXT)`)}}
			require.NoError(t, s.MigrateComponent(ctx, "feat", v2))
			v, err := s.SchemaVersion(ctx, "feat")
			require.NoError(t, err)
			require.Equal(t, 2, v)
			core, err := s.SchemaVersion(ctx, store.CoreComponent)
			require.NoError(t, err)
			require.Equal(t, s.LatestVersion(), core, "components are versioned apart")
			require.ErrorIs(t, s.MigrateComponent(ctx, "feat", v1), store.ErrSchemaTooNew)
			gap := fstest.MapFS{d + "/1_a.sql": v1[d+"/1_a.sql"], d + "/3_c.sql": {Data: []byte(`SELECT 1`)}}
			require.ErrorContains(t, s.MigrateComponent(ctx, "gap", gap), "numbered")
			bad := fstest.MapFS{d + "/1_a.sql": {Data: []byte(`CREATE TABLE nonsense (`)}}
			require.Error(t, s.MigrateComponent(ctx, "bad", bad))
			_, err = s.SchemaVersion(ctx, "bad")
			require.Error(t, err, "a failed migration leaves nothing behind")
		})
	}
}
