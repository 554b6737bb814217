package main

import (
	"context"
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
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{logs: &slogtest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		s.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, s.logs, ready)
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
