package component_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/component"
	"github.com/waqtor/waqtor/internal/slogtest"
)

// recorder is a fake component that logs its calls in a shared journal.
type recorder struct {
	name     string
	journal  *journal
	startErr error
	stopErr  error
	hang     chan struct{} // when set, Stop waits for it to close
}

type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.calls...)
}

func (r *recorder) Start(context.Context) error {
	r.journal.add("start " + r.name)
	return r.startErr
}

func (r *recorder) Stop(ctx context.Context) error {
	r.journal.add("stop " + r.name)
	if r.hang != nil {
		<-r.hang
	}
	return r.stopErr
}

type testBundle struct {
	group   *component.Group
	journal *journal
	parts   map[string]*recorder
}

func setup(t *testing.T, names ...string) *testBundle {
	t.Helper()
	b := &testBundle{group: component.NewGroup(&component.Config{Logger: slogtest.New(t), RollbackTimeout: time.Second}),
		journal: &journal{}, parts: map[string]*recorder{}}
	for _, n := range names {
		r := &recorder{name: n, journal: b.journal}
		b.parts[n] = r
		b.group.Add(n, r)
	}
	return b
}

func TestGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("StartsInOrderStopsInReverse", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "core", "webhooks", "http")
		require.Equal(t, []string{"core", "webhooks", "http"}, b.group.Names())
		require.NoError(t, b.group.Start(ctx))
		require.NoError(t, b.group.Stop(ctx))
		require.Equal(t, []string{"start core", "start webhooks", "start http", "stop http", "stop webhooks", "stop core"}, b.journal.get())
		require.NoError(t, b.group.Stop(ctx), "a second Stop stops nothing")
		require.Len(t, b.journal.get(), 6)
		require.ErrorIs(t, b.group.Start(ctx), component.ErrStarted, "a stopped group cannot start again")
	})

	t.Run("FailedStartRollsBackInReverse", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "core", "keys", "webhooks", "http")
		boom := errors.New("boom")
		b.parts["webhooks"].startErr = boom
		b.parts["keys"].stopErr = errors.New("keys stuck")
		err := b.group.Start(ctx)
		require.ErrorIs(t, err, boom)
		var ce *component.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "webhooks", ce.Component)
		require.Equal(t, "start", ce.Op)
		require.ErrorContains(t, err, "start webhooks: boom")
		require.ErrorContains(t, err, "stop keys: keys stuck", "rollback errors are joined")
		// The failed component is not stopped (it cleans up after itself),
		// nor is the one after it started.
		require.Equal(t, []string{"start core", "start keys", "start webhooks", "stop keys", "stop core"}, b.journal.get())
		require.NoError(t, b.group.Stop(ctx), "nothing left to stop")
		require.Len(t, b.journal.get(), 5)
	})

	t.Run("CanceledContextStopsStarting", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "a", "b")
		cctx, cancel := context.WithCancelCause(ctx)
		b.parts["a"].journal = b.journal
		g := component.NewGroup(nil)
		g.Add("a", component.Func{StartFunc: func(context.Context) error { cancel(errors.New("signal")); return nil },
			StopFunc: func(context.Context) error { b.journal.add("stop a"); return nil }})
		g.Add("b", b.parts["b"])
		err := g.Start(cctx)
		require.ErrorContains(t, err, "start b: signal")
		require.Equal(t, []string{"stop a"}, b.journal.get(), "b never started; a was rolled back")
	})

	t.Run("StopErrorsJoinedAndAllStopped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "a", "b", "c")
		b.parts["a"].stopErr = errors.New("a failed")
		b.parts["c"].stopErr = errors.New("c failed")
		require.NoError(t, b.group.Start(ctx))
		err := b.group.Stop(ctx)
		require.ErrorContains(t, err, "stop a: a failed")
		require.ErrorContains(t, err, "stop c: c failed")
		require.Equal(t, []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}, b.journal.get())
	})

	t.Run("StopBoundedByContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "core", "stuck")
		release := make(chan struct{})
		defer close(release)
		b.parts["stuck"].hang = release
		require.NoError(t, b.group.Start(ctx))
		sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- b.group.Stop(sctx) }()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "stop stuck: did not stop in time")
		case <-time.After(30 * time.Second):
			t.Fatal("Stop did not return when its context ended")
		}
		require.Eventually(t, func() bool { return slices.Contains(b.journal.get(), "stop core") }, 30*time.Second, time.Millisecond,
			"the next component is still told to stop")
	})

	t.Run("AddValidates", func(t *testing.T) {
		t.Parallel()
		g := component.NewGroup(nil)
		require.NoError(t, g.AddSafely("a", component.Func{}))
		require.ErrorContains(t, g.AddSafely("a", component.Func{}), "duplicate")
		require.ErrorContains(t, g.AddSafely("", component.Func{}), "empty name")
		require.ErrorContains(t, g.AddSafely("n", nil), "nil")
		require.Panics(t, func() { g.Add("a", component.Func{}) })
		require.NoError(t, g.Start(ctx))
		require.ErrorIs(t, g.AddSafely("late", component.Func{}), component.ErrStarted)
		require.ErrorIs(t, g.Start(ctx), component.ErrStarted)
		require.NoError(t, g.Stop(ctx))
	})
}

func ExampleGroup() {
	g := component.NewGroup(nil)
	for _, name := range []string{"core", "webhooks", "http"} {
		g.Add(name, component.Func{
			StartFunc: func(context.Context) error { fmt.Println("start", name); return nil },
			StopFunc:  func(context.Context) error { fmt.Println("stop", name); return nil },
		})
	}
	ctx := context.Background()
	if err := g.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_ = g.Stop(ctx)
	// Output:
	// start core
	// start webhooks
	// start http
	// stop http
	// stop webhooks
	// stop core
}
