package rest

import (
	"context"
	"sync"
)

// memoryBudget is a weighted semaphore over bytes: the media bodies in
// flight. A nil *memoryBudget admits everything.
type memoryBudget struct {
	size int64

	mu   sync.Mutex
	used int64
	wake chan struct{} // closed when bytes are released; nil when none waits
}

func newMemoryBudget(size int64) *memoryBudget {
	if size <= 0 {
		return nil
	}
	return &memoryBudget{size: size}
}

// acquire takes n bytes (at most the budget's size), waiting for releases
// until ctx is done; it reports whether it got them.
func (b *memoryBudget) acquire(ctx context.Context, n int64) bool {
	if b == nil {
		return true
	}
	n = min(n, b.size)
	b.mu.Lock()
	for b.used+n > b.size {
		if b.wake == nil {
			b.wake = make(chan struct{})
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
		b.mu.Lock()
	}
	b.used += n
	b.mu.Unlock()
	return true
}

// release gives back n bytes taken by acquire.
func (b *memoryBudget) release(n int64) {
	if b == nil {
		return
	}
	n = min(n, b.size)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}
