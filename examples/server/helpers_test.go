package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/slogtest"
)

// testServer is a run of the gateway inside the test process.
type testServer struct {
	addr   string
	logs   *slogtest.Buffer
	cancel context.CancelFunc
	done   chan error
}

// startServer runs the gateway with args (plus -addr on a free loopback
// port) and env as its environment, and waits until it listens.
func startServer(t *testing.T, args []string, env map[string]string) *testServer {
	t.Helper()
	return startServerWith(t, args, &seams{getenv: func(k string) string { return env[k] }})
}

// startServerWith is startServer with seams (getenv, engine, retryBase);
// their stderr and ready are set here.
func startServerWith(t *testing.T, args []string, sm *seams) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{logs: &slogtest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sm.stderr, sm.ready = s.logs, ready
		s.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), sm)
	}()
	select {
	case s.addr = <-ready:
	case err := <-s.done:
		cancel()
		t.Fatalf("run: %v\n%s", err, s.logs.String())
	case <-time.After(time.Minute):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(cancel)
	return s
}

// stop stops the server and requires a clean exit.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("server did not stop")
	}
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }

// runArgs runs the server (or a subcommand) to completion with args, an empty
// environment and out as its stderr.
func runArgs(ctx context.Context, out io.Writer, args ...string) error {
	return run(ctx, args, &seams{getenv: noEnv, stderr: out})
}

// apiCall sends a JSON request with key and returns the status and body.
func apiCall(t *testing.T, addr, key, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}
