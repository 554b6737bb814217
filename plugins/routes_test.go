package plugins_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/plugins"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/resttest"
)

type restBundle struct {
	*testBundle
	srv                    *httptest.Server
	admin, intruder, noOps string
	adminKey               *auth.Key
}

func setupREST(t *testing.T, cfgs ...plugins.PluginConfig) *restBundle {
	t.Helper()
	b := setup(t, cfgs...)
	ctx := context.Background()
	ks, err := auth.NewKeyStore(ctx, b.core, &auth.KeyStoreConfig{Logger: slogtest.New(t)})
	require.NoError(t, err)
	adminKey, admin, err := ks.Create(ctx, &auth.KeyCreateParams{Name: "admin", Tenant: "default", Scopes: []auth.Scope{auth.ScopeAdmin}})
	require.NoError(t, err)
	_, intruder, err := ks.Create(ctx, &auth.KeyCreateParams{Name: "intruder", Tenant: "acme", Scopes: []auth.Scope{auth.ScopeAdmin}})
	require.NoError(t, err)
	_, reader, err := ks.Create(ctx, &auth.KeyCreateParams{Name: "reader", Tenant: "default", Scopes: []auth.Scope{auth.ScopeRead}})
	require.NoError(t, err)
	h, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: ks, Groups: []rest.RouteGroup{b.host.Routes(nil)},
		Logger: slogtest.New(t)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &restBundle{testBundle: b, srv: srv, admin: admin, intruder: intruder, noOps: reader, adminKey: adminKey}
}

func (b *restBundle) do(t *testing.T, key, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+"/api"+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	down := fastPlugin(t, "down", "exit-at-start")
	down.BreakerThreshold = 1
	b := setupREST(t, fastPlugin(t, "tp"), down)
	b.waitRunning(t, "tp", 0)
	b.waitState(t, "down", waqtor.PluginBreakerOpen)

	code, body := b.do(t, b.admin, "GET", "/plugins", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var list plugins.PluginList
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list.Plugins, 2)
	require.Equal(t, waqtor.PluginRunning, list.Plugins[0].State)
	require.Equal(t, waqtor.PluginBreakerOpen, list.Plugins[1].State)
	require.Contains(t, list.Plugins[1].LastError, "handshake")

	code, body = b.do(t, b.intruder, "GET", "/plugins", nil)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"plugins":[]}`, string(body), "another tenant sees no plugin")

	code, body = b.do(t, b.admin, "POST", "/plugins/tp/commands/echo", []byte(`{"a":[1,2]}`))
	require.Equal(t, http.StatusOK, code, string(body))
	require.JSONEq(t, `{"result":{"a":[1,2]}}`, string(body))
	code, body = b.do(t, b.admin, "POST", "/plugins/tp/commands/echo", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	require.JSONEq(t, `{"result":{}}`, string(body))
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/plugins/tp/commands/nope", `{}`, http.StatusNotFound},
		{"/plugins/tp/commands/fail", `{}`, http.StatusUnprocessableEntity},
		{"/plugins/tp/commands/echo", `{bad`, http.StatusBadRequest},
		{"/plugins/down/commands/echo", `{}`, http.StatusServiceUnavailable},
		{"/plugins/missing/commands/echo", `{}`, http.StatusNotFound},
	} {
		code, body = b.do(t, b.admin, "POST", tc.path, []byte(tc.body))
		require.Equal(t, tc.want, code, "%s: %s", tc.path, body)
		require.Contains(t, string(body), `"type"`, "problem+json")
	}
	code, _ = b.do(t, b.noOps, "POST", "/plugins/tp/restart", nil)
	require.Equal(t, http.StatusForbidden, code, "restart needs plugins:admin")

	pid := b.waitRunning(t, "tp", 0).PID
	code, body = b.do(t, b.admin, "POST", "/plugins/tp/restart", nil)
	require.Equal(t, http.StatusAccepted, code, string(body))
	b.waitRunning(t, "tp", pid)

	b.say(t, "error")
	b.say(t, "ok")
	b.waitText(t, "ack: ok")
	code, body = b.do(t, b.noOps, "GET", "/plugins/tp/dead-letters?limit=10", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var dls plugins.DeadLetterList
	require.NoError(t, json.Unmarshal(body, &dls))
	require.Len(t, dls.DeadLetters, 1)
	require.Equal(t, waqtor.KindMessageReceived, dls.DeadLetters[0].Kind)
	require.Contains(t, string(dls.DeadLetters[0].Envelope), `"body":"error"`)

	code, body = b.do(t, b.admin, "GET", "/plugins/tp", nil)
	require.Equal(t, http.StatusOK, code)
	var st plugins.Status
	require.NoError(t, json.Unmarshal(body, &st))
	require.Equal(t, 1, st.Restarts)
	require.EqualValues(t, 1, st.DeadLetters)

	code, body = b.do(t, b.admin, "GET", "/openapi.json", nil)
	require.Equal(t, http.StatusOK, code)
	for _, op := range []string{"listPlugins", "getPlugin", "restartPlugin", "runPluginCommand", "listPluginDeadLetters"} {
		require.Contains(t, string(body), `"`+op+`"`)
	}
}

// TestRoutesTenantMatrix is docs/reliability.md T23 for the plugins' routes: another
// tenant's key gets 404 on every plugin route, and changes nothing.
func TestRoutesTenantMatrix(t *testing.T) {
	t.Parallel()
	b := setupREST(t, fastPlugin(t, "tp"))
	b.waitRunning(t, "tp", 0)
	ctx := context.Background()
	m, err := b.core.SendText(ctx, "main", b.phone.Number(), "victim's message", nil)
	require.NoError(t, err)
	resttest.RunTenantMatrix(t, &resttest.MatrixConfig{
		BaseURL:     b.srv.URL + "/api",
		IntruderKey: b.intruder,
		Objects: map[string]string{"plugin": "tp", "session": "main", "message": m.ID, "key": b.adminKey.ID,
			"contact": b.phone.Number()},
		Snapshot: func(t *testing.T) string {
			st, err := b.host.Status(ctx, "tp")
			require.NoError(t, err)
			return fmt.Sprintf("state=%s pid=%d restarts=%d dead=%d", st.State, st.PID, st.Restarts, st.DeadLetters)
		},
	})
}
