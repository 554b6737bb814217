package waqtor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asaskevich/EventBus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The raw EventBus bugs, reproduced, so that a fixed upstream release would show
// up here; then the same scenarios on waqtor's bus.

func TestRawEventBusPublishInHandlerDeadlocks(t *testing.T) {
	bus := EventBus.New()
	require.NoError(t, bus.Subscribe("a", func() { bus.Publish("b") }))
	done := make(chan struct{})
	go func() {
		bus.Publish("a") // never returns: the bus mutex is held while "a" runs
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("EventBus no longer deadlocks when a handler publishes; revisit bus.go")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestRawEventBusSubscribeOnceRemovesWrongHandler(t *testing.T) {
	t.Parallel()
	bus := EventBus.New()
	var once1, once2, always int
	require.NoError(t, bus.SubscribeOnce("t", func() { once1++ }))
	require.NoError(t, bus.SubscribeOnce("t", func() { once2++ }))
	require.NoError(t, bus.Subscribe("t", func() { always++ }))
	bus.Publish("t")
	bus.Publish("t")
	// Correct would be once1=1, once2=1, always=2.
	require.Equal(t, []int{1, 2, 1}, []int{once1, once2, always}, "EventBus fixed SubscribeOnce; revisit bus.go")
}

func TestRawEventBusUnsubscribeConfusesClosures(t *testing.T) {
	t.Parallel()
	bus := EventBus.New()
	calls := make([]int, 3)
	fns := make([]func(), 3)
	for i := range fns {
		fns[i] = func() { calls[i]++ }
		require.NoError(t, bus.Subscribe("t", fns[i]))
	}
	require.NoError(t, bus.Unsubscribe("t", fns[2]))
	bus.Publish("t")
	// Correct would be [1 1 0]: the first closure was removed instead.
	require.Equal(t, []int{0, 1, 1}, calls, "EventBus fixed Unsubscribe; revisit bus.go")
}

func TestRawEventBusWrongArgumentTypePanics(t *testing.T) {
	t.Parallel()
	bus := EventBus.New()
	require.NoError(t, bus.Subscribe("t", func(int) {}))
	require.Panics(t, func() { bus.Publish("t", "not an int") })
}

func newTestBusCore(t *testing.T, buffer int) *Core {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Core{bus: newBus(slog.New(slog.DiscardHandler)), cfg: &Config{SubscriptionBuffer: buffer}, lifeCtx: ctx, lifeCancel: cancel}
	t.Cleanup(func() {
		c.bus.closeAll()
		c.handlers.close(context.Background(), ErrStopped)
		cancel(ErrStopped)
	})
	return c
}

func sent(id string) *MessageSent {
	return &MessageSent{EventMeta: EventMeta{ID: id}, Message: Message{ID: id}}
}

func TestBusHandlerMayPublishAndSubscribe(t *testing.T) {
	t.Parallel()
	c := newTestBusCore(t, 16)
	got := make(chan string, 4)
	On(c, func(ctx context.Context, e *MessageSent) error {
		// Publishing and subscribing from inside a handler must not deadlock.
		c.bus.publish(&MessageFailed{EventMeta: EventMeta{ID: "from-handler"}})
		unsub := On(c, func(context.Context, *MessageRead) error { return nil })
		unsub()
		return nil
	})
	On(c, func(ctx context.Context, e *MessageFailed) error {
		got <- e.ID
		return nil
	})
	c.bus.publish(sent("x"))
	select {
	case id := <-got:
		require.Equal(t, "from-handler", id)
	case <-time.After(5 * time.Second):
		t.Fatal("handler that publishes deadlocked")
	}
}

func TestBusUnsubscribeRemovesExactlyThatHandler(t *testing.T) {
	t.Parallel()
	c := newTestBusCore(t, 16)
	var calls [5]atomic.Int32
	var wg sync.WaitGroup
	unsubs := make([]func(), len(calls))
	for i := range calls {
		unsubs[i] = On(c, func(context.Context, *MessageSent) error {
			calls[i].Add(1)
			wg.Done()
			return nil
		})
	}
	unsubs[2]()
	unsubs[2]() // twice is harmless
	wg.Add(4)
	c.bus.publish(sent("a"))
	wg.Wait()
	for i := range calls {
		want := int32(1)
		if i == 2 {
			want = 0
		}
		require.Equal(t, want, calls[i].Load(), "handler %d", i)
	}
}

func TestBusDeliversOnlyTheSubscribedType(t *testing.T) {
	t.Parallel()
	c := newTestBusCore(t, 16)
	got := make(chan Event, 8)
	On(c, func(_ context.Context, e *MessageRead) error { got <- e; return nil })
	ch, unsub, err := c.Subscribe(KindMessageSent, KindSessionQR)
	require.NoError(t, err)
	defer unsub()
	c.bus.publish(nil) // ignored, no panic
	c.bus.publish(sent("s"))
	c.bus.publish(&MessageRead{EventMeta: EventMeta{ID: "r"}})
	c.bus.publish(&SessionQR{EventMeta: EventMeta{ID: "q"}})
	require.Equal(t, "r", (<-got).Meta().ID)
	require.Equal(t, "s", (<-ch).Meta().ID)
	require.Equal(t, "q", (<-ch).Meta().ID)
	_, _, err = c.Subscribe()
	require.ErrorIs(t, err, ErrConfig)
	_, _, err = c.Subscribe("message.nope")
	require.ErrorIs(t, err, ErrConfig)
}

func TestBusSlowHandlerNeverBlocksPublisher(t *testing.T) {
	t.Parallel()
	c := newTestBusCore(t, 4)
	release := make(chan struct{})
	On(c, func(context.Context, *MessageSent) error { <-release; return nil })
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			c.bus.publish(sent(fmt.Sprint(i)))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked on a slow handler")
	}
	close(release)
	stats := c.EventStats()
	require.EqualValues(t, 100, stats.Published)
	// One event is being handled, four are queued, the rest were dropped.
	require.GreaterOrEqual(t, stats.Dropped, uint64(95))
}

func TestBusHandlerPanicsAndErrorsAreCounted(t *testing.T) {
	t.Parallel()
	c := newTestBusCore(t, 16)
	var after atomic.Int32
	done := make(chan struct{}, 3)
	On(c, func(_ context.Context, e *MessageSent) error {
		defer func() { done <- struct{}{} }()
		switch e.ID {
		case "panic":
			panic("boom")
		case "error":
			return errors.New("nope")
		}
		after.Add(1)
		return nil
	})
	for _, id := range []string{"panic", "error", "ok"} {
		c.bus.publish(sent(id))
	}
	for range 3 {
		<-done
	}
	require.EqualValues(t, 1, after.Load(), "the handler survives its panic")
	st := c.EventStats()
	require.EqualValues(t, 1, st.Panics)
	require.EqualValues(t, 1, st.HandlerErrors)
}

func TestBusNoGoroutineLeftAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := newTestBusCore(t, 16)
	for range 10 {
		On(c, func(context.Context, *MessageSent) error { return nil })
	}
	c.bus.closeAll()
	require.True(t, c.handlers.close(context.Background(), ErrStopped))
	// On after close starts nothing.
	On(c, func(context.Context, *MessageSent) error { return nil })
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
