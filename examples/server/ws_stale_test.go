package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestStaleSocketsClosed: the WebSocket authenticates on the upgrade request
// only, so the sockets that are connected but not authenticated are those
// that never complete a request: a silent one and one that stops mid-header
// are both closed by the server's ReadHeaderTimeout (10 s), within the 15 s
// the reliability target allows; a complete upgrade without credentials gets
// 401 at once.
func TestStaleSocketsClosed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil, map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	addr := srv.addr

	// A complete upgrade request without credentials.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	_ = conn.Close()

	stale := map[string]string{"silent": "", "mid-header": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"}
	closed := make(chan string, len(stale))
	start := time.Now()
	for name, sent := range stale {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, sent)
		require.NoError(t, err)
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadAll(conn); err != nil { // EOF ends ReadAll without an error
				closed <- name + ": " + err.Error()
				return
			}
			closed <- ""
		}()
	}
	for range stale {
		require.Empty(t, <-closed)
	}
	elapsed := time.Since(start)
	t.Logf("stale sockets closed after %s", elapsed)
	require.Less(t, elapsed, 15*time.Second)
	srv.stop(t)
}
