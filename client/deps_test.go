package client_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies: a client binary links neither the server (chi, the REST
// handler, the WebSocket hub, the Core) nor any database driver. The list
// comes from the go tool itself, so a new import anywhere in client's graph is
// caught.
func TestDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/waqtor/waqtor/client").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/waqtor/waqtor/transport/rest/api", "the list is not client's dependency list")
	forbidden := []string{
		"github.com/go-chi/",                      // the server's router
		"github.com/waqtor/waqtor/transport/rest", // the REST handler (rest/api is allowed below)
		"github.com/waqtor/waqtor/transport/ws",   // the WebSocket hub
		"github.com/waqtor/waqtor/internal/store", // the Core's database layer
		"github.com/jackc/pgx",                    // PostgreSQL driver
		"modernc.org/sqlite",                      // SQLite driver
		"github.com/lib/pq",                       // PostgreSQL driver
		"github.com/mattn/go-sqlite3",             // SQLite driver
		"database/sql",                            // any driver registers here
		"github.com/prometheus/client_golang",     // server metrics
		"go.mau.fi/whatsmeow",                     // the engine
	}
	for _, d := range deps {
		if d == "github.com/waqtor/waqtor/transport/rest/api" {
			continue
		}
		for _, f := range forbidden {
			require.False(t, strings.HasPrefix(d, f), "client depends on %s (matches %q)", d, f)
		}
	}
	require.NotContains(t, deps, "github.com/waqtor/waqtor", "client links the root package, and with it the database drivers")
}
