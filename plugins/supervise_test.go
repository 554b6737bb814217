package plugins_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/plugins"
)

// TestCrashLoopOpensBreaker is docs/reliability.md T21 (crash loop): a plugin that
// exits at start is restarted with backoff until the breaker opens; its
// events wait in the log, counted, and run once it is fixed and restarted.
func TestCrashLoopOpensBreaker(t *testing.T) {
	t.Parallel()
	cfg := fastPlugin(t, "loop", "exit-at-start")
	cfg.BreakerThreshold = 3
	cfg.BreakerCooldown = time.Hour
	good := fastPlugin(t, "good")
	b := setup(t, cfg, good)
	st := b.waitState(t, "loop", waqtor.PluginBreakerOpen)
	require.Equal(t, 2, st.Restarts, "three starts, then the breaker")
	require.Contains(t, st.LastError, "handshake failed")
	require.WithinDuration(t, time.Now().Add(time.Hour), st.BreakerUntil, time.Minute)

	// The healthy plugin is not slowed down; the broken one's events wait.
	b.waitRunning(t, "good", 0)
	b.say(t, "while broken")
	b.waitText(t, "ack: while broken")
	require.Eventually(t, func() bool {
		st, _ = b.host.Status(context.Background(), "loop")
		return st.Backlog > 0
	}, waitTimeout, 5*time.Millisecond)
	require.Equal(t, waqtor.PluginBreakerOpen, st.State)

	// plugin.status events tell the story.
	evs, err := b.core.ReadLog(context.Background(), &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindPluginStatus}, Limit: 1000})
	require.NoError(t, err)
	var states []waqtor.PluginState
	for _, e := range evs {
		if ps := e.(*waqtor.PluginStatus); ps.Plugin == "loop" {
			states = append(states, ps.State)
		}
	}
	require.Equal(t, []waqtor.PluginState{waqtor.PluginStarting, waqtor.PluginRestarting, waqtor.PluginStarting,
		waqtor.PluginRestarting, waqtor.PluginStarting, waqtor.PluginBreakerOpen}, states)

	_, err = b.host.Command(context.Background(), "loop", "echo", nil)
	require.ErrorIs(t, err, plugins.ErrNotRunning)
	require.ErrorIs(t, b.host.Restart(context.Background(), "nope"), plugins.ErrPluginNotFound)
}

// TestHangKilledWithinDeadline is docs/reliability.md T21 (hang): a plugin that never
// answers OnEvent is killed after CallTimeout plus KillGrace, reaped, and
// restarted; the event is retried, then dead-lettered; later events flow.
func TestHangKilledWithinDeadline(t *testing.T) {
	t.Parallel()
	cfg := fastPlugin(t, "tp")
	cfg.CallTimeout = time.Second // the reply of the later event must fit, on a loaded machine
	cfg.KillGrace = 200 * time.Millisecond
	cfg.MaxEventAttempts = 2
	b := setup(t, cfg)
	pid := b.waitRunning(t, "tp", 0).PID
	start := time.Now()
	b.say(t, "hang")
	requireGone(t, pid)
	// Deadline + grace, plus a generous ceiling for a loaded machine.
	require.Less(t, time.Since(start), cfg.CallTimeout+cfg.KillGrace+3*time.Second)
	requireNoZombie(t, pid)
	st := b.waitRunning(t, "tp", pid)
	require.Contains(t, st.LastError, "took more than")

	st2 := b.waitRunning(t, "tp", st.PID) // the second attempt hangs too
	requireNoZombie(t, st.PID)
	require.Eventually(t, func() bool {
		st2, _ = b.host.Status(context.Background(), "tp")
		return st2.DeadLetters == 1
	}, waitTimeout, 5*time.Millisecond)
	dls, err := b.host.DeadLetters(context.Background(), "tp", nil)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, 2, dls[0].Attempts)
	require.Equal(t, waqtor.KindMessageReceived, dls[0].Kind)
	e, err := waqtor.UnmarshalEvent(dls[0].Envelope)
	require.NoError(t, err)
	require.Equal(t, "hang", e.(*waqtor.MessageReceived).Message.Content.(*waqtor.Text).Body)

	b.say(t, "after the hang")
	b.waitText(t, "ack: after the hang")
}

// TestFrozenPluginFailsHealthCheck: a process that stops answering anything
// (SIGSTOP) fails its health check and is killed, though it never exits by
// itself.
func TestFrozenPluginFailsHealthCheck(t *testing.T) {
	t.Parallel()
	cfg := fastPlugin(t, "tp")
	cfg.HealthInterval = 100 * time.Millisecond
	cfg.HealthTimeout = 300 * time.Millisecond
	cfg.KillGrace = 200 * time.Millisecond
	b := setup(t, cfg)
	pid := b.waitRunning(t, "tp", 0).PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	st := b.waitRunning(t, "tp", pid)
	requireNoZombie(t, pid)
	require.Contains(t, st.LastError, "unhealthy")
	b.say(t, "thawed")
	b.waitText(t, "ack: thawed")
}

// TestPoisonEventDeadLettered: an event that kills the plugin every time is
// recorded as a dead letter after MaxEventAttempts, before the breaker opens,
// and the plugin goes on with the next event.
func TestPoisonEventDeadLettered(t *testing.T) {
	t.Parallel()
	cfg := fastPlugin(t, "tp")
	cfg.BreakerThreshold = 5
	b := setup(t, cfg)
	b.waitRunning(t, "tp", 0)
	b.say(t, "poison")
	b.say(t, "next")
	b.waitText(t, "ack: next")
	st, err := b.host.Status(context.Background(), "tp")
	require.NoError(t, err)
	require.EqualValues(t, 1, st.DeadLetters)
	require.Equal(t, 3, st.Restarts)
	require.Equal(t, waqtor.PluginRunning, st.State)
}

// TestHandlerErrorRetriedThenDeadLettered: a handler error is retried in the
// same process, with backoff, then dead-lettered.
func TestHandlerErrorRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, fastPlugin(t, "tp"))
	pid := b.waitRunning(t, "tp", 0).PID
	b.say(t, "error")
	b.say(t, "fine")
	b.waitText(t, "ack: fine")
	st, err := b.host.Status(context.Background(), "tp")
	require.NoError(t, err)
	require.Equal(t, pid, st.PID, "no restart for an error")
	require.EqualValues(t, 1, st.DeadLetters)
	require.Contains(t, st.LastError, "cannot handle this")
}

// TestFloodAndGarbage: a plugin that floods actions is cut at MaxActions; one
// that returns invalid actions gets them refused and logged; the host goes on.
func TestFloodAndGarbage(t *testing.T) {
	t.Parallel()
	cfg := fastPlugin(t, "tp")
	cfg.MaxActions = 5
	b := setup(t, cfg)
	b.waitRunning(t, "tp", 0)
	b.say(t, "flood")
	b.say(t, "garbage")
	b.waitText(t, "ack: garbage")
	n := 0
	for _, s := range b.texts() {
		if strings.HasPrefix(s, "flood") {
			n++
		}
	}
	require.Equal(t, 5, n, "callbacks and actions share the budget")
	st, err := b.host.Status(context.Background(), "tp")
	require.NoError(t, err)
	require.Zero(t, st.DeadLetters)
	require.Equal(t, 1, b.count("ack: garbage"))
}

// TestStartFaults: a missing binary, a program that is not a plugin, one with
// another protocol version, one that never completes its handshake, and one
// whose Configure fails each end in a clear state and log; the host keeps
// serving the good plugin.
func TestStartFaults(t *testing.T) {
	t.Parallel()
	missing := fastPlugin(t, "missing")
	missing.Path = filepath.Join(t.TempDir(), "nope")
	garbage := fastPlugin(t, "garbage", "garbage-handshake")
	wrong := fastPlugin(t, "wrong", "wrong-handshake")
	hang := fastPlugin(t, "hang", "hang-at-start")
	hang.StartTimeout = 300 * time.Millisecond
	refuse := fastPlugin(t, "refuse")
	refuse.Config = []byte(`{"refuse":true}`)
	for _, c := range []*plugins.PluginConfig{&missing, &garbage, &wrong, &hang, &refuse} {
		c.BreakerThreshold = 1
		c.BreakerCooldown = time.Hour
	}
	b := setup(t, missing, garbage, wrong, hang, refuse, fastPlugin(t, "good"))
	for name, want := range map[string]string{
		"missing": "binary not found",
		"garbage": "handshake failed",
		"wrong":   "handshake failed",
		"hang":    "start timed out",
		"refuse":  "refusing this configuration",
	} {
		st := b.waitState(t, name, waqtor.PluginBreakerOpen)
		require.Contains(t, st.LastError, want, name)
	}
	b.waitRunning(t, "good", 0)
	b.say(t, "still serving")
	b.waitText(t, "ack: still serving")
}

// TestStopStopsPlugins: Host.Stop ends every plugin process; Core.Stop alone
// stops the plugins too.
func TestStopStopsPlugins(t *testing.T) {
	t.Parallel()
	b := setup(t, fastPlugin(t, "a"), fastPlugin(t, "b"))
	pa := b.waitRunning(t, "a", 0).PID
	pb := b.waitRunning(t, "b", 0).PID
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, b.host.Stop(ctx))
	requireNoZombie(t, pa)
	requireNoZombie(t, pb)
	for _, st := range b.host.Statuses(ctx) {
		require.Equal(t, waqtor.PluginStopped, st.State)
		require.Zero(t, st.PID)
	}
	require.NoError(t, b.host.Stop(ctx), "twice is fine")
	require.ErrorIs(t, b.host.Start(ctx), plugins.ErrStopped)
}

func TestCoreStopStopsPlugins(t *testing.T) {
	t.Parallel()
	b := setup(t, fastPlugin(t, "a"))
	pid := b.waitRunning(t, "a", 0).PID
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, b.core.Stop(ctx))
	select {
	case <-b.host.Stopped():
		t.Fatal("Stopped closes only once Stop returned")
	default:
	}
	require.Eventually(t, func() bool {
		_, err := os.Stat("/proc/" + itoa(pid))
		return err != nil
	}, waitTimeout, 5*time.Millisecond)
	requireNoZombie(t, pid)
}

// TestSlowPluginDoesNotBlockOthers: a plugin stuck on an event does not
// delay another plugin's events, nor the Core.
func TestSlowPluginDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	stuck := fastPlugin(t, "stuck")
	stuck.CallTimeout = time.Minute
	b := setup(t, stuck, fastPlugin(t, "quick", "ignore-hang"))
	b.waitRunning(t, "stuck", 0)
	b.waitRunning(t, "quick", 0)
	b.say(t, "hang")
	b.say(t, "quickly")
	b.waitText(t, "ack: quickly") // the quick plugin's reply; the stuck one hangs
	_, err := b.core.SendText(context.Background(), "main", b.phone.Number(), "the core is fine", nil)
	require.NoError(t, err)
	b.waitText(t, "the core is fine")
}

// requireGone waits until process pid no longer runs (exited, or a zombie
// until its parent reaps it).
func requireGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	}, waitTimeout, time.Millisecond, "process %d still runs", pid)
}

// TestAttemptsSurviveHostRestart: failed deliveries are counted across host
// restarts. The first host fails the event once and is stopped during its
// backoff; the second, allowing two attempts, makes exactly one more and
// dead-letters the event, instead of starting the count again.
func TestAttemptsSurviveHostRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	cfg := fastPlugin(t, "tp")
	cfg.MaxEventAttempts = 2
	cfg.RestartBackoff = time.Hour // the first host waits after its failure
	cfg.RestartBackoffMax = time.Hour

	first := startHost(t, b.core, slogtest.New(t), cfg)
	b.host = first
	b.waitRunning(t, "tp", 0)
	b.say(t, "error")
	require.Eventually(t, func() bool {
		st, err := first.Status(ctx, "tp")
		return err == nil && strings.Contains(st.LastError, "cannot handle this")
	}, waitTimeout, 5*time.Millisecond)
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	require.NoError(t, first.Stop(sctx))
	cancel()

	logs := &countingHandler{msg: "Plugin failed to handle an event"}
	cfg.RestartBackoff = 5 * time.Millisecond
	second := startHost(t, b.core, slog.New(logs), cfg)
	b.host = second
	b.say(t, "fine")
	b.waitText(t, "ack: fine")
	dls, err := second.DeadLetters(ctx, "tp", nil)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, 2, dls[0].Attempts, "one failure before the restart, one after")
	require.EqualValues(t, 1, logs.count.Load(), "the second host delivered the failing event once")
}

// countingHandler counts log records with one message.
type countingHandler struct {
	msg   string
	count atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.count.Add(1)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *countingHandler) WithGroup(string) slog.Handler { return h }
