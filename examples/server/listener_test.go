package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// getHealthz writes a keep-alive GET /healthz on conn and reads the answer.
func getHealthz(t *testing.T, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	_, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// requireClosedBy waits until the server closes conn, failing after limit.
func requireClosedBy(t *testing.T, br *bufio.Reader, conn net.Conn, limit time.Duration) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(limit)))
	_, err := br.ReadByte()
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the server kept the connection open for %s", limit)
}

// TestIdleConnectionsClosed: a keep-alive connection left idle after a
// request is closed after -idle-timeout (B-10: thousands of silent
// keep-alive connections used to pile up forever).
func TestIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, []string{"-idle-timeout", "50ms"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	conn, err := net.Dial("tcp", srv.addr)
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	getHealthz(t, conn, br)
	start := time.Now()
	requireClosedBy(t, br, conn, 20*time.Second)
	t.Logf("idle connection closed after %s", time.Since(start))
	srv.stop(t)
}

// TestSlowBodyCut: a request body trickled slower than -body-min-rate is cut
// once -body-grace has passed; a body sent at a normal pace is not, however
// large within the limits.
func TestSlowBodyCut(t *testing.T) {
	t.Parallel()
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-api-key", key, "-body-min-rate", "1000", "-body-grace", "100ms"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})

	conn, err := net.Dial("tcp", srv.addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /api/messages/send-text HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"chat\":", key)
	require.NoError(t, err)
	// Nothing more: at 1000 bytes/s the 100 kB body is far from on time. The
	// server answers (or just closes) and the connection ends.
	br := bufio.NewReader(conn)
	start := time.Now()
	requireClosedOrAnswered(t, br, conn, 20*time.Second)
	t.Logf("slow body cut after %s", time.Since(start))

	// A whole body at once goes through.
	req, err := http.NewRequest("POST", "http://"+srv.addr+"/api/messages/send-text",
		strings.NewReader(`{"chat":"+15550002222","text":"`+strings.Repeat("x", 4000)+`"}`))
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.NotEqual(t, http.StatusBadRequest, res.StatusCode)
	srv.stop(t)
}

// requireClosedOrAnswered reads until the server answers with an error
// status and closes, or just closes; it fails if the server still waits for
// the body after limit.
func requireClosedOrAnswered(t *testing.T, br *bufio.Reader, conn net.Conn, limit time.Duration) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(limit)))
	res, err := http.ReadResponse(br, nil)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		require.GreaterOrEqual(t, res.StatusCode, 400)
		_, err = br.ReadByte()
		require.Error(t, err)
	}
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the server still waits for the body after %s", limit)
}

// TestConnectionCap: beyond -max-conns, a connection waits to be accepted;
// once the others go, it is served, and /healthz answers.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	srv := startServer(t, []string{"-max-conns", "2"},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", srv.addr)
		require.NoError(t, err)
		defer c.Close()
		getHealthz(t, c, bufio.NewReader(c)) // accepted, now idle
		held = append(held, c)
	}
	third, err := net.Dial("tcp", srv.addr) // in the kernel's backlog
	require.NoError(t, err)
	defer third.Close()
	_, err = io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(third)
	require.NoError(t, third.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "not served while two connections are open")

	for _, c := range held {
		require.NoError(t, c.Close())
	}
	require.NoError(t, third.SetReadDeadline(time.Now().Add(20*time.Second)))
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "served once the others closed")
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, third.Close())
	require.Equal(t, http.StatusOK, status(t, srv.addr, "/healthz", ""))
	srv.stop(t)
}
