package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/fakeengine"
)

// offlineEngine is the fake engine with a Connect that fails like whatsmeow's
// without internet.
type offlineEngine struct {
	*fakeengine.Engine
	attempts atomic.Int32
}

var errOffline = errors.New("dial tcp: lookup web.whatsapp.com: no such host")

func (e *offlineEngine) Open(ctx context.Context, s *waqtor.EngineSession, h waqtor.ConnHandler) (waqtor.Conn, error) {
	c, err := e.Engine.Open(ctx, s, h)
	if err != nil {
		return nil, err
	}
	return &offlineConn{Conn: c, e: e}, nil
}

type offlineConn struct {
	waqtor.Conn
	e *offlineEngine
}

func (c *offlineConn) Connect(context.Context) error {
	c.e.attempts.Add(1)
	return errOffline
}

// TestOfflineStart is B5: with no internet the whatsapp engine cannot
// connect the never-paired session; the server stays up on the first start
// and on the second (which used to exit 1), retries with backoff and hints at
// the sandbox.
func TestOfflineStart(t *testing.T) {
	t.Parallel()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	for round := range 2 {
		eng := &offlineEngine{Engine: fakeengine.New()}
		srv := startServerWith(t, []string{"-db", dsn, "-engine", "whatsapp"},
			&seams{getenv: noEnv, engine: func(context.Context, *waqtor.EngineEnv) (waqtor.Engine, error) { return eng, nil },
				retryBase: time.Millisecond})
		require.Eventually(t, func() bool { return eng.attempts.Load() >= 3 }, 30*time.Second, time.Millisecond,
			"round %d: it keeps retrying:\n%s", round, srv.logs.String())
		require.Equal(t, http.StatusOK, status(t, srv.addr, "/healthz", ""), "round %d: still serving", round)
		logs := srv.logs.String()
		require.Contains(t, logs, "Session failed to connect; retrying")
		require.Contains(t, logs, `hint="offline? try -engine sandbox"`)
		require.Contains(t, logs, "retry_in=2ms", "the wait doubles")
		srv.stop(t)
	}
}

// TestExitMessage: the error main prints carries one "waqtor:" prefix.
func TestExitMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite),
		Engine: func(context.Context, *waqtor.EngineEnv) (waqtor.Engine, error) {
			return &offlineEngine{Engine: fakeengine.New()}, nil
		}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, core.Stop(ctx)) })
	require.NoError(t, createSession(ctx, core, "default"))
	require.NoError(t, core.Start(ctx))
	err = core.Connect(ctx, "default")
	require.ErrorIs(t, err, errOffline)
	msg := exitMessage(err)
	require.True(t, strings.HasPrefix(msg, "waqtor: connect session"), msg)
	require.NotContains(t, msg, "waqtor: waqtor:")
	require.Equal(t, "waqtor: -engine \"x\": want whatsapp or sandbox", exitMessage(errors.New(`-engine "x": want whatsapp or sandbox`)))
}

// TestHelp: -help prints the usage, every flag with its variable, and is no
// error.
func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, runArgs(context.Background(), &out, "-help"))
	require.NotContains(t, out.String(), "help requested")
	for _, want := range []string{"X-API-Key", "Authorization: Bearer", "keys create", "WAQTOR_WEBHOOK_ALLOW_CIDRS",
		"WAQTOR_WEBHOOK_ENCRYPTION_KEY", "WAQTOR_RATE_LIMIT", "WAQTOR_MEDIA_ALLOW_CIDRS", "WAQTOR_SANDBOX_PAIR_DELAY",
		"WAQTOR_WS_COMPRESSION_THRESHOLD", "WAQTOR_MAX_CONNS", "WAQTOR_IDLE_TIMEOUT", "WAQTOR_BODY_MIN_RATE"} {
		require.Contains(t, out.String(), want)
	}
}
