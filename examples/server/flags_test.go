package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/transport/rest"
)

// TestRateLimitFlag: -rate-limit sets the REST requests per minute per key.
func TestRateLimitFlag(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key, "-rate-limit", "5"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	codes := map[int]int{}
	for range 8 {
		codes[status(t, srv.addr, "/api/sessions", key)]++
	}
	require.Equal(t, map[int]int{http.StatusOK: 5, http.StatusTooManyRequests: 3}, codes)
	srv.stop(t)
}

// TestMediaAllowCIDRsFlag: media URLs on loopback are refused by default and
// fetched with -media-allow-cidrs 127.0.0.0/8.
func TestMediaAllowCIDRsFlag(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	}))
	t.Cleanup(files.Close)
	body := `{"chat":"+15550002222","kind":"image","url":"` + files.URL + `/a.png"}`
	for _, allow := range []bool{false, true} {
		key := auth.NewKeySecret()
		args := []string{"-api-key", key}
		if allow {
			args = append(args, "-media-allow-cidrs", "127.0.0.0/8")
		}
		srv := startServer(t, args, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
		require.Eventually(t, func() bool {
			code, body := apiCall(t, srv.addr, key, "GET", "/api/session/state", "")
			return code == 200 && strings.Contains(body, `"status":"ready"`)
		}, 30*time.Second, 10*time.Millisecond)
		code, resp := apiCall(t, srv.addr, key, "POST", "/api/messages/send-media", body)
		if allow {
			require.Equal(t, http.StatusOK, code, resp)
		} else {
			require.Equal(t, http.StatusUnprocessableEntity, code, resp)
			require.Contains(t, resp, "media-fetch")
		}
		srv.stop(t)
	}
}

// TestSandboxPairDelayFlag: with -sandbox-pair-delay the new session shows
// its QR code (as qr.png too) until the delay has passed.
func TestSandboxPairDelayFlag(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key, "-sandbox-pair-delay", "1h"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	require.Eventually(t, func() bool {
		return status(t, srv.addr, "/api/sessions/default/qr.png", key) == http.StatusOK
	}, 30*time.Second, 10*time.Millisecond, "the QR code can be fetched")
	code, body := apiCall(t, srv.addr, key, "GET", "/api/session/state", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"status":"qr"`, "not paired by itself yet")
	// Pairing by hand still works meanwhile.
	code, body = apiCall(t, srv.addr, key, "POST", "/api/sandbox/sessions/default/pair", `{"phone":"+15550004444"}`)
	require.Equal(t, http.StatusNoContent, code, body)
	require.Eventually(t, func() bool {
		_, body := apiCall(t, srv.addr, key, "GET", "/api/session/state", "")
		return strings.Contains(body, `"status":"ready"`)
	}, 30*time.Second, 10*time.Millisecond)
	srv.stop(t)
}

// TestWSQueryAPIKeyFlag: the seed's /ws?apiKey= is refused unless the
// operator turns on -ws-query-api-key.
func TestWSQueryAPIKeyFlag(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		key := auth.NewKeySecret()
		args := []string{"-api-key", key}
		if on {
			args = append(args, "-ws-query-api-key")
		}
		srv := startServer(t, args, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, res, err := websocket.Dial(ctx, "ws://"+srv.addr+"/ws?apiKey="+key, nil)
		if on {
			require.NoError(t, err)
			_ = conn.Close(websocket.StatusNormalClosure, "")
		} else {
			require.Error(t, err)
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		}
		cancel()
		srv.stop(t)
	}
	_, err := parseOptions(nil, func(k string) string {
		if k == "WAQTOR_WS_QUERY_API_KEY" {
			return "maybe"
		}
		return ""
	}, io.Discard)
	require.ErrorContains(t, err, `WAQTOR_WS_QUERY_API_KEY="maybe": not true or false`)
}

// TestTrustedProxiesFlag: behind a trusted proxy the auth throttle counts the
// client named by X-Forwarded-For, so one client's wrong guesses do not lock
// out another; without the flag the header is ignored and every request is
// the proxy's.
func TestTrustedProxiesFlag(t *testing.T) {
	t.Parallel()
	guess := func(addr, client string) int {
		req, err := http.NewRequest("GET", "http://"+addr+"/api/sessions", nil)
		require.NoError(t, err)
		req.Header.Set("X-API-Key", auth.NewKeySecret()) // well-formed, unknown
		req.Header.Set("X-Forwarded-For", client)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		return res.StatusCode
	}
	for _, trusted := range []bool{false, true} {
		args := []string{"-api-key", auth.NewKeySecret()}
		if trusted {
			args = append(args, "-trusted-proxies", "127.0.0.0/8")
		}
		srv := startServer(t, args, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
		for range rest.AuthFailureLimitDefault {
			require.Equal(t, http.StatusUnauthorized, guess(srv.addr, "203.0.113.1"))
		}
		require.Equal(t, http.StatusTooManyRequests, guess(srv.addr, "203.0.113.1"))
		want := http.StatusTooManyRequests // one address: the proxy's
		if trusted {
			want = http.StatusUnauthorized // another client, not locked out
		}
		require.Equal(t, want, guess(srv.addr, "203.0.113.2"), "trusted=%v", trusted)
		srv.stop(t)
	}
}

// TestTenantSendLimitFlag: -tenant-send-limit caps a tenant's sends per
// minute, answered 429 with Retry-After beyond it.
func TestTenantSendLimitFlag(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key, "-tenant-send-limit", "2"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	defer srv.stop(t)
	require.Eventually(t, func() bool {
		code, body := apiCall(t, srv.addr, key, "GET", "/api/session/state", "")
		return code == 200 && strings.Contains(body, `"status":"ready"`)
	}, 30*time.Second, 10*time.Millisecond)
	var codes []int
	for range 3 {
		code, _ := apiCall(t, srv.addr, key, "POST", "/api/messages/send-text", `{"chat":"+15550002222","text":"hi"}`)
		codes = append(codes, code)
	}
	require.Equal(t, []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests}, codes)
}

// TestOptOutFlags: -opt-out-keywords replaces the keywords a contact opts out
// with, and -opt-out-reply confirms; the opt-out shows in the consent API and
// refuses the next plain send to the contact.
func TestOptOutFlags(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key, "-opt-out-keywords", "basta, halt", "-opt-out-reply", "bye"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	defer srv.stop(t)
	require.Eventually(t, func() bool {
		code, body := apiCall(t, srv.addr, key, "GET", "/api/session/state", "")
		return code == 200 && strings.Contains(body, `"status":"ready"`)
	}, 30*time.Second, 10*time.Millisecond)
	for _, text := range []string{"STOP", "Basta!"} {
		code, body := apiCall(t, srv.addr, key, "POST", "/api/sandbox/sessions/default/inbound", `{"from":"+15550003333","text":"`+text+`"}`)
		require.Equal(t, http.StatusCreated, code, body)
	}
	var body string
	require.Eventually(t, func() bool {
		var code int
		code, body = apiCall(t, srv.addr, key, "GET", "/api/consent/15550003333", "")
		return code == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	var got struct {
		History []struct{ Scope, Source, Status string } `json:"history"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	require.Len(t, got.History, 1, "STOP is no keyword here: %s", body)
	require.Equal(t, "keyword", got.History[0].Source)
	require.Equal(t, "opted_out", got.History[0].Status)
	require.Equal(t, "marketing", got.History[0].Scope)
	code, resp := apiCall(t, srv.addr, key, "POST", "/api/messages/send-text", `{"chat":"+15550003333","text":"sale","transactional":false}`)
	require.Equal(t, http.StatusOK, code, "an opt-out of marketing leaves plain sends: %s", resp)
}
