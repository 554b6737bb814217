package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
)

var keyRe = regexp.MustCompile(`wqt_[0-9A-Za-z]{46}`)

// status returns the status of GET path with key.
func status(t *testing.T, addr, path, key string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

// TestBootstrapKeyFlow: while no key was used every start prints a new
// bootstrap key (the last unused one stops working); once one is used starts
// print none and say how to make one. The newcomer's path of the issue: a
// first start whose key is lost, then a second start on the same database.
func TestBootstrapKeyFlow(t *testing.T) {
	t.Parallel()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	env := map[string]string{"WAQTOR_DB": dsn, "WAQTOR_ENGINE": "sandbox"}

	srv := startServer(t, nil, env)
	first := keyRe.FindString(srv.logs.String())
	require.NotEmpty(t, first, srv.logs.String())
	srv.stop(t)

	srv = startServer(t, nil, env)
	second := keyRe.FindString(srv.logs.String())
	require.NotEmpty(t, second, "a key is printed again while none was used:\n%s", srv.logs.String())
	require.NotEqual(t, first, second)
	require.Contains(t, srv.logs.String(), "It replaces "+first[:14])
	require.Equal(t, http.StatusUnauthorized, status(t, srv.addr, "/api/sessions", first), "the replaced key is revoked")
	require.Equal(t, http.StatusOK, status(t, srv.addr, "/api/sessions", second))
	srv.stop(t)

	srv = startServer(t, nil, env)
	require.Empty(t, keyRe.FindString(srv.logs.String()), "a key was used: none printed")
	require.Contains(t, srv.logs.String(), "keys create -db "+dsn)
	require.Equal(t, http.StatusOK, status(t, srv.addr, "/api/sessions", second))
	srv.stop(t)
}

// TestKeysCommand: keys create prints a working key, list shows it, revoke
// ends it; bad input changes nothing.
func TestKeysCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	var out bytes.Buffer
	require.NoError(t, runArgs(ctx, &out, "keys", "create", "-db", dsn, "-name", "ci", "-scopes", "read,messages:send"))
	key := keyRe.FindString(out.String())
	require.NotEmpty(t, key, out.String())
	id := key[4:14]

	out.Reset()
	require.ErrorContains(t, runArgs(ctx, &out, "keys", "create", "-db", dsn, "-scopes", "Not A Scope"), "scopes")
	require.ErrorContains(t, runArgs(ctx, &out, "keys", "create", "-db", dsn, "-tenant", "UPPER"), "tenant")
	require.ErrorContains(t, runArgs(ctx, &out, "keys", "nope"), "unknown command")
	require.ErrorContains(t, runArgs(ctx, &out, "keys", "revoke", "-db", dsn), "unexpected arguments")
	require.ErrorContains(t, runArgs(ctx, &out, "keys", "revoke", "-db", dsn, "wqt_0000000000"), "not found")
	out.Reset()
	require.NoError(t, runArgs(ctx, &out, "keys", "list", "-db", dsn))
	require.Equal(t, 2, strings.Count(out.String(), "\n"), "a header and the one key:\n%s", out.String())
	require.Contains(t, out.String(), id)
	require.Contains(t, out.String(), "messages:send,read")
	require.Contains(t, out.String(), "never")

	// The server does not print a bootstrap key: one was made by other means.
	srv := startServer(t, nil, map[string]string{"WAQTOR_DB": dsn, "WAQTOR_ENGINE": "sandbox"})
	require.Empty(t, keyRe.FindString(srv.logs.String()), srv.logs.String())
	require.Equal(t, http.StatusOK, status(t, srv.addr, "/api/sessions", key))
	require.Equal(t, http.StatusForbidden, status(t, srv.addr, "/metrics", key), "read is not admin")

	out.Reset()
	require.NoError(t, runArgs(ctx, &out, "keys", "revoke", "-db", dsn, key[:14]))
	require.Contains(t, out.String(), "Revoked key "+id)
	out.Reset()
	require.NoError(t, runArgs(ctx, &out, "keys", "list", "-db", dsn, "-all"))
	require.Contains(t, out.String(), "revoked")
	srv.stop(t)

	out.Reset()
	require.NoError(t, runArgs(ctx, &out, "keys", "-help"))
	require.Contains(t, out.String(), "server keys create")
}

func TestKeysHintRedacts(t *testing.T) {
	t.Parallel()
	require.Equal(t, "go run ./examples/server keys create -db postgres://u:***@h/db", keysHint("postgres://u:secret@h/db"))
	require.Equal(t, "go run ./examples/server keys create -db data/w.db", keysHint("data/w.db"))
}
