package main

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// delivery is one request the receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// TestWebhooksMounted: WEBHOOKS.md's curl works on the gateway. An endpoint
// created over REST (an allow-listed loopback receiver) gets a signed
// delivery of a message sent on the sandbox; its secret is stored encrypted
// with -webhook-encryption-key.
func TestWebhooksMounted(t *testing.T) {
	t.Parallel()
	got := make(chan delivery, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{header: r.Header.Clone(), body: b}
	}))
	t.Cleanup(receiver.Close)

	key := auth.NewKeySecret()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	srv := startServer(t, []string{"-webhook-allow-cidrs", "127.0.0.0/8", "-webhook-encryption-key", strings.Repeat("42", 32)},
		map[string]string{"WAQTOR_DB": dsn, "WAQTOR_API_KEY": key, "WAQTOR_ENGINE": "sandbox"})
	call := func(method, path, body string) (int, string) { return apiCall(t, srv.addr, key, method, path, body) }
	require.Eventually(t, func() bool {
		code, body := call("GET", "/api/session/state", "")
		return code == 200 && strings.Contains(body, `"status":"ready"`)
	}, 30*time.Second, 10*time.Millisecond)

	code, body := call("POST", "/api/webhooks", `{"url":"`+receiver.URL+`/hook","events":["message_sent"],"retry_attempts":3,"retry_delay_ms":1000}`)
	require.Equal(t, http.StatusCreated, code, body)
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ep))
	require.NotEmpty(t, ep.Secret)

	code, body = call("POST", "/api/messages/send-text", `{"chat":"+15550002222","text":"hello hook"}`)
	require.Equal(t, http.StatusOK, code, body)
	select {
	case d := <-got:
		require.NoError(t, webhook.Verify(ep.Secret, d.header, d.body, nil), "signed with the endpoint's secret")
		require.Equal(t, "message.sent", d.header.Get("X-Waqtor-Event"))
		require.Contains(t, string(d.body), "hello hook")
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery")
	}

	code, body = call("GET", "/api/openapi.json", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "webhooks:admin", "the scope is known")
	srv.stop(t)

	// The secret is stored encrypted, not as the API returned it.
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	var stored string
	require.NoError(t, db.QueryRow(`SELECT secret FROM waqtor_webhook_endpoints WHERE id = ?`, ep.ID).Scan(&stored))
	require.NotEmpty(t, stored)
	require.NotContains(t, stored, strings.TrimPrefix(ep.Secret, "whsec_"))
}

// TestWebhookSSRFGuardDefault: without -webhook-allow-cidrs a loopback
// endpoint is refused with 422, as WEBHOOKS.md says.
func TestWebhookSSRFGuardDefault(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key}, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	req, err := http.NewRequest("POST", "http://"+srv.addr+"/api/webhooks", strings.NewReader(`{"url":"http://127.0.0.1:9/hook","events":["*"]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, string(b))
	srv.stop(t)
}
