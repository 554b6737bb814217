package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestSandboxInboundAcrossRestarts is B2: after a restart on the same
// database the sandbox used to replay the message IDs of the last run, so
// injected messages were dropped as duplicates while the route answered 201.
// Both runs' messages must be stored.
func TestSandboxInboundAcrossRestarts(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	env := map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox", "WAQTOR_API_KEY": key}
	var ids []string
	for round := range 2 {
		srv := startServer(t, nil, env)
		require.Eventually(t, func() bool {
			code, body := apiCall(t, srv.addr, key, "GET", "/api/session/state", "")
			return code == 200 && strings.Contains(body, `"status":"ready"`)
		}, 30*time.Second, 10*time.Millisecond)
		text := []string{"first run", "second run"}[round]
		code, body := apiCall(t, srv.addr, key, "POST", "/api/sandbox/sessions/default/inbound", `{"from":"+15550003333","text":"`+text+`"}`)
		require.Equal(t, http.StatusCreated, code, body)
		ids = append(ids, body)
		require.Eventually(t, func() bool {
			_, body := apiCall(t, srv.addr, key, "GET", "/api/sessions/default/messages?chat=%2B15550003333", "")
			return strings.Contains(body, `"body":"`+text+`"`)
		}, 30*time.Second, 10*time.Millisecond, "round %d: the message is stored", round)
		srv.stop(t)
	}
	require.NotEqual(t, ids[0], ids[1])
}

// TestSandboxInboundValidation is B10: a bad sender is reported under the
// field the request names, "from".
func TestSandboxInboundValidation(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key}, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	code, body := apiCall(t, srv.addr, key, "POST", "/api/sandbox/sessions/default/inbound", `{"from":"not a number","text":"hi"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, `"field":"from"`)
	require.NotContains(t, body, `"field":"phone"`)
	code, body = apiCall(t, srv.addr, key, "POST", "/api/sandbox/sessions/default/pair", `{"phone":"nope"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, `"field":"phone"`)
	srv.stop(t)
}
