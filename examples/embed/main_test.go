package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

func TestEmbed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, filepath.Join(t.TempDir(), "e.db"), ready) }()
	<-ready
	defer func() { cancel(); require.NoError(t, <-done) }()
	call := func(user, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("X-User", user)
		req.Header.Set("Content-Type", "application/json")
		var res *http.Response
		require.Eventually(t, func() bool { res, err = http.DefaultClient.Do(req); return err == nil }, 5*time.Second, 10*time.Millisecond)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := call("alice", "POST", "/app/whatsapp/sessions", `{"id":"alice-1"}`)
	require.Equal(t, 201, code, body)
	code, _ = call("bob", "GET", "/app/whatsapp/sessions/alice-1", "")
	require.Equal(t, 404, code, "bob's tenant cannot see alice's session")
	code, _ = call("mallory", "GET", "/app/whatsapp/sessions", "")
	require.Equal(t, 401, code, "the host's middleware runs first")
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	conn, _, err := websocket.Dial(wctx, fmt.Sprintf("ws://%s/app/whatsapp/ws", addr), &websocket.DialOptions{HTTPHeader: http.Header{"X-User": {"alice"}}})
	require.NoError(t, err)
	_, data, err := conn.Read(wctx)
	require.NoError(t, err)
	require.Contains(t, string(data), `"welcome"`)
	conn.CloseNow()
}
