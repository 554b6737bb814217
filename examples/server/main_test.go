package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
)

func TestServerStartsServesHealthAndStops(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dsn := dbtest.DSN(t, kind)
			for round := range 2 { // the second start resumes the stored session
				srv := startServer(t, nil, map[string]string{"WAQTOR_DB": dsn, "WAQTOR_ENGINE": "sandbox"})
				logs := srv.logs
				res, err := http.Get("http://" + srv.addr + "/healthz")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, res.StatusCode)
				_ = res.Body.Close()
				require.Eventually(t, func() bool {
					return strings.Contains(logs.String(), "status=ready")
				}, 10*time.Second, 10*time.Millisecond, "round %d: the default session becomes ready:\n%s", round, logs.String())
				srv.stop(t)
			}
		})
	}
}

func TestServerBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out bytes.Buffer
	require.ErrorContains(t, runArgs(ctx, &out, "-engine", "telegram", "-db", filepath.Join(t.TempDir(), "x.db")), "-engine")
	require.ErrorContains(t, runArgs(ctx, &out, "-log-level", "loud"), "-log-level")
	require.Error(t, runArgs(ctx, &out, "-nope"))
	require.ErrorContains(t, runArgs(ctx, &out, "extra"), "unexpected arguments")
	require.ErrorContains(t, runArgs(ctx, &out, "-db", "postgres://x@127.0.0.1:1/x?connect_timeout=1", "-addr", "127.0.0.1:0"),
		"database unavailable")
	require.Equal(t, "postgres://u:***@h/db", redactDSN("postgres://u:secret@h/db"))
}
