package waqtor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asaskevich/EventBus"
)

// bus is the typed, in-memory live notification layer over asaskevich/EventBus.
// Nothing durable rides on it: consumers that must not miss an event read the event
// log through a Cursor.
//
// EventBus has known traps; this shape is immune to each:
//  1. it holds its mutex while running handlers, so a handler that publishes
//     deadlocks: our only EventBus handler (dispatch) never runs user code; it
//     queues the event on each subscription's channel without blocking, and user
//     handlers run on their own goroutines outside any lock;
//  2. SubscribeOnce removes the wrong handler and
//  3. Unsubscribe matches handlers by code pointer: we call neither; dispatch is
//     subscribed once per kind when the bus is built and never removed, and user
//     subscriptions live in our own registry, removed by identity;
//  4. an argument of the wrong type panics inside Publish: publish only ever passes
//     a non-nil Event, and dispatch takes an Event;
//  5. async mode spawns a goroutine per event per handler with no backpressure: we
//     use synchronous mode, and each subscription has a bounded queue whose
//     overflow is dropped and counted.
type bus struct {
	eb     EventBus.Bus
	logger *slog.Logger

	mu     sync.RWMutex
	subs   map[EventKind][]*subscription // replaced, never mutated in place
	closed bool                          // after closeAll, subscriptions start closed

	nextID        atomic.Uint64
	published     atomic.Uint64
	dropped       atomic.Uint64
	handlerErrors atomic.Uint64
	panics        atomic.Uint64
}

type subscription struct {
	id      uint64
	kinds   []EventKind
	ch      chan Event
	dropped atomic.Uint64
	closed  bool // guarded by bus.mu
}

func newBus(logger *slog.Logger) *bus {
	b := &bus{eb: EventBus.New(), logger: logger, subs: make(map[EventKind][]*subscription)}
	for _, k := range AllKinds() {
		if err := b.eb.Subscribe(string(k), b.dispatch); err != nil {
			panic(fmt.Sprintf("waqtor: subscribe bus dispatcher: %v", err))
		}
	}
	return b
}

// publish hands e to every subscriber of its kind without blocking.
func (b *bus) publish(e Event) {
	if e == nil {
		return
	}
	b.published.Add(1)
	b.eb.Publish(string(e.Kind()), e)
}

// dispatch runs under EventBus's lock: it must stay short and never call user code.
func (b *bus) dispatch(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, s := range b.subs[e.Kind()] {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
			b.dropped.Add(1)
		}
	}
}

func (b *bus) subscribe(buffer int, kinds []EventKind) *subscription {
	s := &subscription{id: b.nextID.Add(1), kinds: slices.Compact(slices.Sorted(slices.Values(kinds))), ch: make(chan Event, buffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.closed = true
		close(s.ch)
		return s
	}
	for _, k := range s.kinds {
		old := b.subs[k]
		next := make([]*subscription, 0, len(old)+1)
		next = append(next, old...)
		b.subs[k] = append(next, s)
	}
	return s
}

// unsubscribe removes s and closes its channel; calling it twice is safe.
func (b *bus) unsubscribe(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, k := range s.kinds {
		old := b.subs[k]
		next := make([]*subscription, 0, len(old))
		for _, o := range old {
			if o != s {
				next = append(next, o)
			}
		}
		b.subs[k] = next
	}
	close(s.ch)
}

// closeAll ends every subscription (on Core.Stop).
func (b *bus) closeAll() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.mu.RLock()
	var all []*subscription
	seen := map[*subscription]bool{}
	for _, ss := range b.subs {
		for _, s := range ss {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
	}
	b.mu.RUnlock()
	for _, s := range all {
		b.unsubscribe(s)
	}
}

// runHandler calls fn for each event of s on the current goroutine until s closes,
// recovering panics and counting errors.
func (b *bus) runHandler(ctx context.Context, s *subscription, fn func(ctx context.Context, e Event) error) {
	for e := range s.ch {
		b.call(ctx, e, fn)
	}
}

func (b *bus) call(ctx context.Context, e Event, fn func(ctx context.Context, e Event) error) {
	defer func() {
		if p := recover(); p != nil {
			b.panics.Add(1)
			b.logger.ErrorContext(ctx, "Event handler panicked",
				slog.String("kind", string(e.Kind())), slog.String("event_id", e.Meta().ID),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		}
	}()
	if err := fn(ctx, e); err != nil {
		b.handlerErrors.Add(1)
		b.logger.WarnContext(ctx, "Event handler failed",
			slog.String("kind", string(e.Kind())), slog.String("event_id", e.Meta().ID), slog.Any("error", err))
	}
}

// EventStats counts what the in-memory event bus did since the Core started.
type EventStats struct {
	// Dropped counts events not queued because a subscriber's buffer was full.
	Dropped uint64
	// HandlerErrors counts handler calls that returned an error.
	HandlerErrors uint64
	// Panics counts handler calls that panicked (and were recovered).
	Panics uint64
	// Published counts events published.
	Published uint64
}

// On calls fn for every event of type T (such as *MessageReceived) until the
// returned function is called or the Core stops. fn runs on a goroutine of its own,
// one event at a time in publication order, so a slow handler never blocks the
// engine or other handlers; if it falls more than Config.SubscriptionBuffer events
// behind, further events are dropped for it and counted in [Core.EventStats]. An
// error returned by fn, or a panic, is logged and counted, and the handler keeps
// receiving events. fn may publish, send messages and subscribe without deadlock.
//
// The bus is a live view: a handler that must see every event, even across
// crashes, reads the durable log through [Core.Cursor] instead.
func On[T Event](c *Core, fn func(ctx context.Context, e T) error) (unsubscribe func()) {
	var zero T
	s := c.bus.subscribe(c.cfg.SubscriptionBuffer, []EventKind{zero.Kind()})
	if c.handlers.add() != nil {
		c.bus.unsubscribe(s)
		return func() {}
	}
	go func() {
		defer c.handlers.done()
		c.bus.runHandler(c.lifeCtx, s, func(ctx context.Context, e Event) error {
			t, ok := e.(T)
			if !ok {
				return fmt.Errorf("waqtor: bus delivered %T to a handler of %T", e, zero)
			}
			return fn(ctx, t)
		})
	}()
	return func() { c.bus.unsubscribe(s) }
}

// Subscribe returns a channel that receives events of the listed kinds (at least
// one is required) and a function that ends the subscription and closes the
// channel. Sends to the channel never block: when its buffer
// (Config.SubscriptionBuffer) is full, events are dropped and counted.
func (c *Core) Subscribe(kinds ...EventKind) (<-chan Event, func(), error) {
	if len(kinds) == 0 {
		return nil, nil, fmt.Errorf("%w: Subscribe needs at least one event kind (see AllKinds)", ErrConfig)
	}
	for _, k := range kinds {
		if newEvent(k) == nil {
			return nil, nil, fmt.Errorf("%w: unknown event kind %q", ErrConfig, k)
		}
	}
	s := c.bus.subscribe(c.cfg.SubscriptionBuffer, kinds)
	return s.ch, func() { c.bus.unsubscribe(s) }, nil
}

// EventStats returns the bus counters.
func (c *Core) EventStats() EventStats {
	return EventStats{
		Dropped:       c.bus.dropped.Load(),
		HandlerErrors: c.bus.handlerErrors.Load(),
		Panics:        c.bus.panics.Load(),
		Published:     c.bus.published.Load(),
	}
}
