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
	none := func(string) string { return "" }
	var out bytes.Buffer
	require.ErrorContains(t, run(ctx, []string{"-engine", "telegram", "-db", filepath.Join(t.TempDir(), "x.db")}, none, &out, nil), "-engine")
	require.ErrorContains(t, run(ctx, []string{"-log-level", "loud"}, none, &out, nil), "-log-level")
	require.Error(t, run(ctx, []string{"-nope"}, none, &out, nil))
	require.ErrorContains(t, run(ctx, []string{"extra"}, none, &out, nil), "unexpected arguments")
	require.ErrorContains(t, run(ctx, []string{"-db", "postgres://x@127.0.0.1:1/x?connect_timeout=1", "-addr", "127.0.0.1:0"}, none, &out, nil),
		"database unavailable")
	require.Equal(t, "postgres://u:***@h/db", redactDSN("postgres://u:secret@h/db"))
}
