package auth_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// dumpAll returns the text of every row of every table the database holds
// (for Postgres, of the test's schema), as a backup would.
func dumpAll(t *testing.T, db *sql.DB, postgres bool) string {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.QueryContext(ctx, q)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Contains(t, tables, "auth_api_keys")
	var sb strings.Builder
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		require.NoError(t, err, table)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&sb, "%s.%s=%v\n", table, cols[i], v)
			}
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return sb.String()
}

// TestDumpHoldsNoPlaintextKey (docs/reliability.md T24): after keys are created,
// imported, used and revoked, a dump of every table holds each key's public
// prefix and SHA-256 digest, and no part of its secret.
func TestDumpHoldsNoPlaintextKey(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, kind)
			ctx := context.Background()
			var secrets []string
			var keys []*auth.Key
			for i := range 5 {
				k, secret, err := b.ks.Create(ctx, &auth.KeyCreateParams{Name: fmt.Sprintf("k%d", i), Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "acme"})
				require.NoError(t, err)
				secrets, keys = append(secrets, secret), append(keys, k)
			}
			boot := auth.NewKeySecret()
			k, err := b.ks.Import(ctx, boot, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
			require.NoError(t, err)
			secrets, keys = append(secrets, boot), append(keys, k)
			for _, s := range secrets {
				_, err := b.ks.Authenticate(ctx, s)
				require.NoError(t, err)
			}
			require.NoError(t, b.ks.Revoke(ctx, "acme", keys[0].ID))

			dump := strings.ToLower(dumpAll(t, rawDB(t, b), kind == dbtest.Postgres))
			for i, s := range secrets {
				require.Contains(t, dump, strings.ToLower(keys[i].ID), "the dump misses key %d: the test reads the wrong tables", i)
				secretPart := s[len(auth.KeyPrefix)+10 : len(s)-6] // after the public ID, before the checksum
				for j := 0; j+8 <= len(secretPart); j++ {
					require.NotContains(t, dump, strings.ToLower(secretPart[j:j+8]), "key %d: 8 characters of its secret are in the dump", i)
				}
			}
		})
	}
}
