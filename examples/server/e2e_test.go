package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestEndToEnd is the "done when": curl sends a message on the
// sandbox and a WebSocket client sees message.sent then message.delivered.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, nil, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_API_KEY": key, "WAQTOR_ENGINE": "sandbox"})
	defer srv.stop(t)
	addr := srv.addr
	base := "http://" + addr
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	require.Eventually(t, func() bool {
		code, body := call("GET", "/api/session/state", "")
		return code == 200 && strings.Contains(body, `"status":"ready"`)
	}, 10*time.Second, 10*time.Millisecond)

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	conn, _, err := websocket.Dial(wctx, "ws://"+addr+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {key}}})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(wctx, websocket.MessageText, []byte(`{"type":"subscribe","topics":["message.*"]}`)))
	next := func(typ string) map[string]any {
		for {
			_, data, err := conn.Read(wctx)
			require.NoError(t, err)
			var f map[string]any
			require.NoError(t, json.Unmarshal(data, &f))
			if f["type"] == typ {
				return f
			}
		}
	}
	next("subscribed")

	code, body := call("POST", "/api/messages/send-text", `{"chat":"+15550002222","text":"hello from curl"}`)
	require.Equal(t, 200, code, body)
	var topics []string
	for len(topics) < 2 {
		topics = append(topics, next("event")["topic"].(string))
	}
	require.Equal(t, []string{"message.sent", "message.delivered"}, topics)

	code, body = call("POST", "/api/sandbox/sessions/default/inbound", `{"from":"+15550002222","text":"hi bot"}`)
	require.Equal(t, 201, code, body)
	require.Equal(t, "message.received", next("event")["topic"])

	code, body = call("GET", "/api/openapi.json", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, `"/sandbox/sessions/{session}/inbound"`)
	require.Contains(t, body, `"url":"/api"`)
	code, body = call("GET", "/metrics", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, "waqtor_http_requests_total")
	require.Contains(t, body, "waqtor_ws_connections 1")
	code, body = call("GET", "/ws-monitor?format=json", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, `"uptimeFormatted"`)
	res, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)
}
