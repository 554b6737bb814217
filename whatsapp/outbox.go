package whatsapp

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
)

// outbox runs a connection's status, QR and presence callbacks in order on its
// own goroutine, so that whatsmeow's event goroutine never waits for the Core
// (STYLE F.27). Inbound messages and receipts do not go through it: they are
// handled synchronously, because their acknowledgement depends on the result.
type outbox struct {
	ctx  context.Context
	log  *slog.Logger
	done chan struct{}
	wake chan struct{}

	mu        sync.Mutex
	closed    bool
	dropped   int
	droppable int // queued items that may be dropped (presence)
	q         []outItem
}

type outItem struct {
	droppable bool
	fn        func(ctx context.Context)
}

// maxDroppable bounds queued presence updates; beyond it they are dropped.
const maxDroppable = 256

func newOutbox(ctx context.Context, log *slog.Logger) *outbox {
	o := &outbox{ctx: ctx, log: log, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	go o.run()
	return o
}

// push queues fn. Droppable items are dropped when too many are queued; others
// never are. It reports whether fn was queued.
func (o *outbox) push(droppable bool, fn func(ctx context.Context)) bool {
	o.mu.Lock()
	if o.closed || (droppable && o.droppable >= maxDroppable) {
		if !o.closed {
			o.dropped++
		}
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, outItem{droppable, fn})
	if droppable {
		o.droppable++
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

func (o *outbox) run() {
	defer close(o.done)
	for {
		o.mu.Lock()
		q := o.q
		o.q = nil
		o.droppable = 0
		closed := o.closed
		o.mu.Unlock()
		for _, it := range q {
			o.call(it.fn)
		}
		if closed && len(q) == 0 {
			return
		}
		if len(q) == 0 {
			<-o.wake
		}
	}
}

func (o *outbox) call(fn func(ctx context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			o.log.Error("WhatsApp connection handler panicked", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	fn(o.ctx)
}

// close stops accepting items, runs those queued and waits for the goroutine,
// or until ctx is done.
func (o *outbox) close(ctx context.Context) error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
