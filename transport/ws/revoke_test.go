package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/ws"
)

// closedWith reads until the connection ends and returns its close status
// and reason.
func closedWith(t *testing.T, c *client) (websocket.StatusCode, string) {
	t.Helper()
	for {
		if _, err := c.tryRead(5 * time.Second); err != nil {
			var ce websocket.CloseError
			require.True(t, errors.As(err, &ce), "not closed by the server: %v", err)
			return ce.Code, ce.Reason
		}
	}
}

// TestRevokeEndsAccess: revoking a key through the hub's KeyStore closes
// its sockets at once (1008, "key revoked"), the one opened with a token it
// minted included, and a token it minted before the revocation no longer
// opens one; other keys' sockets go on receiving events. The periodic
// recheck is off: this is the in-process notification.
func TestRevokeEndsAccess(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) {
		o.Tokens = tokens
		o.AllowedOrigins = []string{"app.example.com"}
		o.KeyRecheckInterval = -1
	})
	ctx := context.Background()
	k, secret, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	p, err := b.keys.Authenticate(ctx, secret)
	require.NoError(t, err)
	tokOpen, _, err := tokens.Issue(p)
	require.NoError(t, err)
	tokLater, _, err := tokens.Issue(p)
	require.NoError(t, err)

	byKey := b.dial(t, secret)
	defer byKey.close()
	byKey.handshake(t)
	byKey.subscribe(t, "message.*")
	byToken, _, err := b.tryDial("", "?token="+tokOpen, "Origin", "https://app.example.com")
	require.NoError(t, err)
	defer byToken.close()
	byToken.handshake(t)
	byToken.subscribe(t, "message.*")
	bystander := b.dial(t, b.keyA)
	defer bystander.close()
	bystander.handshake(t)
	bystander.subscribe(t, "message.*")
	emitText(t, b.core, "s1", "default", "before")
	require.Equal(t, []string{"before"}, byKey.eventsUntil(t, "before"))
	require.Equal(t, []string{"before"}, byToken.eventsUntil(t, "before"))
	require.Equal(t, []string{"before"}, bystander.eventsUntil(t, "before"))

	require.NoError(t, b.keys.Revoke(ctx, "default", k.ID))
	for name, c := range map[string]*client{"key": byKey, "token": byToken} {
		code, reason := closedWith(t, c)
		require.Equal(t, websocket.StatusPolicyViolation, code, name)
		require.Equal(t, "key revoked", reason, name)
	}
	emitText(t, b.core, "s1", "default", "after")
	require.Equal(t, []string{"after"}, bystander.eventsUntil(t, "after"), "other keys are untouched")

	_, res, err := b.tryDial("", "?token="+tokLater, "Origin", "https://app.example.com")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a token minted before the revocation is void")
	_, res, err = b.tryDial(secret, "")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Eventually(t, func() bool { return b.hub.Stats("").Connections.Current == 1 }, 5*time.Second, time.Millisecond)
}

// TestRevokeFromAnotherProcess: a key revoked through another KeyStore on
// the same database (another process; this hub is not notified) loses its
// sockets within KeyRecheckInterval, and its tokens are refused at once (the
// hub reads the key's state from the database); so does a key that expires
// while connected.
func TestRevokeFromAnotherProcess(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) {
		o.Tokens = tokens
		o.AllowedOrigins = []string{"app.example.com"}
		o.KeyRecheckInterval = 20 * time.Millisecond
	})
	ctx := context.Background()
	k, secret, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	p, err := b.keys.Authenticate(ctx, secret)
	require.NoError(t, err)
	tok, _, err := tokens.Issue(p)
	require.NoError(t, err)
	c := b.dial(t, secret)
	defer c.close()
	c.handshake(t)

	other, err := auth.NewKeyStore(ctx, b.core, nil)
	require.NoError(t, err)
	require.NoError(t, other.Revoke(ctx, "default", k.ID))
	_, res, err := b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the token's key is read from the database")
	code, reason := closedWith(t, c)
	require.Equal(t, websocket.StatusPolicyViolation, code)
	require.Equal(t, "key revoked", reason)

	_, expiring, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default",
		ExpiresAt: time.Now().Add(time.Second)})
	require.NoError(t, err)
	e := b.dial(t, expiring)
	defer e.close()
	e.handshake(t)
	code, reason = closedWith(t, e)
	require.Equal(t, websocket.StatusPolicyViolation, code)
	require.Equal(t, "key expired", reason)
}

// TestRevokeThroughREST is the reported reproduction end to end: a socket
// opened with a key, and a browser token the key got from POST /ws-token,
// both lose access when DELETE /keys/{id} revokes the key through the REST
// handler sharing the hub's KeyStore.
func TestRevokeThroughREST(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) {
		o.Tokens = tokens
		o.AllowedOrigins = []string{"app.example.com"}
		o.KeyRecheckInterval = -1
	})
	group, err := b.hub.TokenRoutes()
	require.NoError(t, err)
	api, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys, Groups: []rest.RouteGroup{group}, Logger: discardLogger()})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	defer srv.Close()
	call := func(key, method, path string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-API-Key", key)
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = res.Body.Close() })
		return res
	}
	ctx := context.Background()
	k, secret, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	res := call(secret, "POST", "/ws-token")
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var tok ws.TokenResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))

	c := b.dial(t, secret)
	defer c.close()
	c.handshake(t)
	c.subscribe(t, "message.*")
	require.Equal(t, http.StatusNoContent, call(b.keyA, "DELETE", "/keys/"+k.ID).StatusCode)
	code, reason := closedWith(t, c)
	require.Equal(t, websocket.StatusPolicyViolation, code)
	require.Equal(t, "key revoked", reason)
	_, res, err = b.tryDial("", "?token="+tok.Token, "Origin", "https://app.example.com")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the token minted before the revocation")
}
