// Package slogtest sends slog output to a test's log, so it shows only for
// failing tests (or with -v).
package slogtest

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
)

// New returns a logger that writes to t.Log at debug level and above.
func New(t testing.TB) *slog.Logger {
	return slog.New(&handler{t: t, mu: &sync.Mutex{}, level: slog.LevelDebug})
}

type handler struct {
	t     testing.TB
	mu    *sync.Mutex
	level slog.Level
	attrs []slog.Attr
	group string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	var buf bytes.Buffer
	th := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: h.level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	var sh slog.Handler = th.WithAttrs(h.attrs)
	if h.group != "" {
		sh = sh.WithGroup(h.group)
	}
	if err := sh.Handle(context.Background(), r); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	defer func() { _ = recover() }() // t.Log after the test ended panics
	h.t.Log(buf.String())
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	n := *h
	n.group = name
	return &n
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads: a log
// destination that a test inspects while the code under test writes to it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
