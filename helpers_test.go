package waqtor_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/fakeengine"
	"github.com/waqtor/waqtor/internal/slogtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m,
		// database/sql's connection opener outlives a closed *sql.DB briefly.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		// The reproduction of EventBus's publish-in-handler deadlock leaves its
		// goroutine blocked for good, by design.
		goleak.IgnoreAnyFunction("github.com/waqtor/waqtor.TestRawEventBusPublishInHandlerDeadlocks.func2"),
	)
}

type testBundle struct {
	core   *waqtor.Core
	engine *fakeengine.Engine
	dsn    string
}

// setup builds a started Core on the fake engine with a ready session "main".
func setup(t *testing.T, kind dbtest.Kind, mutate ...func(*waqtor.Config)) *testBundle {
	return setupB(t, kind, mutate...)
}

func setupB(t testing.TB, kind dbtest.Kind, mutate ...func(*waqtor.Config)) *testBundle {
	t.Helper()
	b := &testBundle{engine: fakeengine.New(), dsn: dbtest.DSN(t, kind)}
	b.core = startCore(t, b.dsn, b.engine, mutate...)
	ctx := context.Background()
	_, err := b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"})
	require.NoError(t, err)
	b.engine.Conn("main").Pair(ctx, "15550001111@s.whatsapp.net")
	waitState(t, b.core, "main", waqtor.StateReady)
	return b
}

func startCore(t testing.TB, dsn string, eng *fakeengine.Engine, mutate ...func(*waqtor.Config)) *waqtor.Core {
	t.Helper()
	cfg := &waqtor.Config{Database: dsn, Logger: slogtest.New(t), RetryInterval: 20 * time.Millisecond}
	if eng != nil {
		cfg.Engine = eng.Factory()
	}
	for _, m := range mutate {
		m(cfg)
	}
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, core.Stop(ctx))
	})
	return core
}

func waitState(t testing.TB, c *waqtor.Core, id string, want waqtor.SessionState) *waqtor.Session {
	t.Helper()
	return waitStateIn(t, c, context.Background(), id, want)
}

// waitStateIn waits for session id of ctx's tenant (waqtor.WithTenant) to reach want.
func waitStateIn(t testing.TB, c *waqtor.Core, ctx context.Context, id string, want waqtor.SessionState) *waqtor.Session {
	t.Helper()
	var last *waqtor.Session
	require.Eventually(t, func() bool {
		s, err := c.Session(ctx, id)
		if err != nil {
			return false
		}
		last = s
		return s.State == want
	}, 5*time.Second, 2*time.Millisecond, "session %s never reached %s (last: %+v)", id, want, last)
	return last
}

// waitEvent reads ch until an event matches or the deadline passes.
func waitEvent[T waqtor.Event](t *testing.T, ch <-chan waqtor.Event, match func(T) bool) T {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			require.True(t, ok, "subscription closed")
			if v, ok := e.(T); ok && (match == nil || match(v)) {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event arrived", zero)
			return zero
		}
	}
}

func kinds(t *testing.T, f func(t *testing.T, kind dbtest.Kind)) {
	t.Helper()
	for _, k := range dbtest.AllKinds() {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

var errTransient = errors.New("network unreachable")

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
