package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/plugintest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/plugins"
	"github.com/waqtor/waqtor/sandbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestEchoPluginAgainstSandbox runs the echo plugin as a real subprocess on
// a Core with the sandbox engine: a phone's texts are echoed, and killing the
// plugin with SIGKILL in the middle of the conversation loses and doubles no
// reply.
func TestEchoPluginAgainstSandbox(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, "github.com/waqtor/waqtor/examples/echo-plugin")
	ctx := context.Background()
	logger := slogtest.New(t)
	n := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true, ConnectLatency: time.Millisecond,
		DeliverLatency: time.Millisecond, ReadLatency: time.Millisecond, Seed: 11})
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: n.Factory(), Logger: logger})
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	t.Cleanup(func() { require.NoError(t, core.Stop(context.Background())) })
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"})
	require.NoError(t, err)
	var sess *waqtor.Session
	require.Eventually(t, func() bool {
		sess, err = core.Session(ctx, "main")
		return err == nil && sess.State == waqtor.StateReady && sess.Info.Phone != ""
	}, 20*time.Second, time.Millisecond)
	host, err := plugins.NewHost(core, &plugins.Config{Logger: logger, Plugins: []plugins.PluginConfig{{
		Name: "echo", Path: bin, RestartBackoff: 10 * time.Millisecond, BreakerThreshold: 1000}}})
	require.NoError(t, err)
	require.NoError(t, host.Start(ctx))
	t.Cleanup(func() { require.NoError(t, host.Stop(context.Background())) })
	running := func(notPID int) int {
		var st *plugins.Status
		require.Eventually(t, func() bool {
			st, _ = host.Status(ctx, "echo")
			return st.State == waqtor.PluginRunning && st.PID != 0 && st.PID != notPID
		}, 20*time.Second, time.Millisecond)
		return st.PID
	}
	pid := running(0)

	alice := n.Phone("+201001234567")
	_, err = alice.SendText(ctx, sess.Info.Phone, "hi")
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = alice.WaitForText(wctx, "echo: hi")
	require.NoError(t, err)

	// kill -9 mid-conversation.
	const total = 30
	for i := range total {
		_, err := alice.SendText(ctx, sess.Info.Phone, fmt.Sprintf("msg %d", i))
		require.NoError(t, err)
		if i%10 == 5 {
			time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			pid = running(pid)
		}
	}
	for i := range total {
		_, err := alice.WaitForText(wctx, fmt.Sprintf("echo: msg %d", i))
		require.NoError(t, err)
	}
	_, err = alice.SendText(ctx, sess.Info.Phone, "last")
	require.NoError(t, err)
	_, err = alice.WaitForText(wctx, "echo: last")
	require.NoError(t, err)
	counts := map[string]int{}
	for _, r := range alice.Received() {
		counts[r.Text()]++
	}
	for i := range total {
		require.Equal(t, 1, counts[fmt.Sprintf("echo: msg %d", i)], "msg %d", i)
	}
	require.Equal(t, 1, counts["echo: hi"])

	res, err := host.Command(ctx, "echo", "stats", nil)
	require.NoError(t, err)
	var stats map[string]int
	require.NoError(t, json.Unmarshal(res, &stats))
	require.GreaterOrEqual(t, stats["total"], total+2, "the count survives restarts")
}
