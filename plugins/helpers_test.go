package plugins_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/plugins"
	"github.com/waqtor/waqtor/sandbox"
)

// waitTimeout is a generous ceiling for anything the tests wait for.
const waitTimeout = 20 * time.Second

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	exeOnce sync.Once
	exePath string
	exeSum  string
)

// testExe returns this test binary (the test plugin) and its SHA-256.
func testExe(t testing.TB) (string, string) {
	t.Helper()
	exeOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			panic(err)
		}
		f, err := os.Open(p)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			panic(err)
		}
		exePath, exeSum = p, hex.EncodeToString(h.Sum(nil))
	})
	return exePath, exeSum
}

// fastPlugin returns a PluginConfig of the test plugin with test timings.
func fastPlugin(t testing.TB, name string, args ...string) plugins.PluginConfig {
	exe, _ := testExe(t)
	return plugins.PluginConfig{
		Name:             name,
		Path:             exe,
		Args:             append([]string{"waqtor-test-plugin"}, args...),
		CallTimeout:      2 * time.Second,
		HealthInterval:   200 * time.Millisecond,
		HealthTimeout:    time.Second,
		KillGrace:        300 * time.Millisecond,
		RestartBackoff:   5 * time.Millisecond,
		BreakerThreshold: 1000,
		StartTimeout:     10 * time.Second,
	}
}

type testBundle struct {
	bot   string // the session's phone number
	core  *waqtor.Core
	host  *plugins.Host
	net   *sandbox.Network
	phone *sandbox.Phone
}

// setup starts a Core on the sandbox with a ready session "main", and a Host
// with the given plugins.
func setup(t *testing.T, cfgs ...plugins.PluginConfig) *testBundle {
	t.Helper()
	return setupKind(t, dbtest.SQLite, cfgs...)
}

func setupKind(t *testing.T, kind dbtest.Kind, cfgs ...plugins.PluginConfig) *testBundle {
	t.Helper()
	ctx := context.Background()
	logger := slogtest.New(t)
	n := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true, ConnectLatency: time.Millisecond,
		DeliverLatency: time.Millisecond, ReadLatency: time.Millisecond, ReconnectDelay: 2 * time.Millisecond,
		RedeliverDelay: 2 * time.Millisecond, Seed: 7})
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, kind), Engine: n.Factory(), Logger: logger,
		RetryInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		require.NoError(t, core.Stop(sctx))
	})
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	require.NoError(t, n.WaitForState(wctx, "main", waqtor.StateReady))
	var sess *waqtor.Session
	require.Eventually(t, func() bool {
		sess, err = core.Session(ctx, "main")
		return err == nil && sess.State == waqtor.StateReady && sess.Info.Phone != ""
	}, waitTimeout, 2*time.Millisecond)
	host := startHost(t, core, logger, cfgs...)
	return &testBundle{bot: sess.Info.Phone, core: core, host: host, net: n, phone: n.Phone("+15550001111")}
}

// startHost starts a Host of core with the given plugins, stopped when the
// test ends.
func startHost(t *testing.T, core *waqtor.Core, logger *slog.Logger, cfgs ...plugins.PluginConfig) *plugins.Host {
	t.Helper()
	host, err := plugins.NewHost(core, &plugins.Config{Logger: logger, Plugins: cfgs,
		Test: plugins.TestConfig{ExitPollInterval: 20 * time.Millisecond}})
	require.NoError(t, err)
	require.NoError(t, host.Start(context.Background()))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		require.NoError(t, host.Stop(sctx)) // a second Stop is a no-op
	})
	return host
}

// waitState waits until the plugin reaches state and returns its status.
func (b *testBundle) waitState(t *testing.T, name string, state waqtor.PluginState) *plugins.Status {
	t.Helper()
	var st *plugins.Status
	require.Eventually(t, func() bool {
		var err error
		st, err = b.host.Status(context.Background(), name)
		require.NoError(t, err)
		return st.State == state
	}, waitTimeout, 2*time.Millisecond, "plugin %s never reached %s (last: %+v)", name, state, st)
	return st
}

// waitRunning waits until the plugin runs a process other than notPID.
func (b *testBundle) waitRunning(t *testing.T, name string, notPID int) *plugins.Status {
	t.Helper()
	var st *plugins.Status
	require.Eventually(t, func() bool {
		var err error
		st, err = b.host.Status(context.Background(), name)
		require.NoError(t, err)
		return st.State == waqtor.PluginRunning && st.PID != 0 && st.PID != notPID
	}, waitTimeout, 2*time.Millisecond, "plugin %s never ran again (last: %+v)", name, st)
	return st
}

// say sends text from the test phone to the session.
func (b *testBundle) say(t *testing.T, text string) {
	t.Helper()
	_, err := b.phone.SendText(context.Background(), b.bot, text)
	require.NoError(t, err)
}

// waitText waits until the phone received text.
func (b *testBundle) waitText(t *testing.T, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := b.phone.WaitForText(ctx, text)
	require.NoError(t, err, "the phone never received %q; it has: %v", text, b.texts())
}

// texts returns what the phone received, in order.
func (b *testBundle) texts() []string {
	var out []string
	for _, r := range b.phone.Received() {
		out = append(out, r.Text())
	}
	return out
}

// count returns how many times the phone received text.
func (b *testBundle) count(text string) int {
	n := 0
	for _, s := range b.texts() {
		if s == text {
			n++
		}
	}
	return n
}

// requireNoZombie fails if pid still exists (as a zombie or otherwise).
func requireNoZombie(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		if err != nil {
			return true // gone and reaped
		}
		// A pid can be reused by another process; only ours would be a zombie child.
		return !strings.Contains(string(b), ") Z ")
	}, 5*time.Second, 5*time.Millisecond, "process %d is a zombie", pid)
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonInt(i)) }

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }
