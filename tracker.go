package waqtor

import (
	"context"
	"sync"
)

// tracker counts work in progress and lets Stop refuse new work and wait for
// the rest. Unlike sync.WaitGroup, adding while another goroutine waits is fine.
type tracker struct {
	mu       sync.Mutex
	n        int
	closed   bool
	idle     chan struct{}
	closeErr error
}

// add registers one unit of work; it fails once close was called.
func (t *tracker) add() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.closeErr
	}
	t.n++
	return nil
}

// done ends one unit of work.
func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// close refuses new work with err and waits until the work in progress ends or
// ctx does; it reports whether everything ended.
func (t *tracker) close(ctx context.Context, err error) bool {
	t.mu.Lock()
	t.closed, t.closeErr = true, err
	if t.n == 0 {
		t.mu.Unlock()
		return true
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}
