package plugins

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

// The benchmarks launch this test binary as the plugin (see main_test.go) and
// compare a call through the plugin process (gRPC over a Unix socket with
// AutoMTLS) with the same handler called in-process.

type benchBundle struct {
	core  *waqtor.Core
	host  *Host
	sup   *supervisor
	proc  *process
	phone *sandbox.Phone
	bot   string
}

func benchSetup(b *testing.B, start bool) *benchBundle {
	b.Helper()
	if testing.Short() {
		b.Skip("benchmarks launch plugin processes")
	}
	ctx := context.Background()
	n := sandbox.NewTestNetwork(b, &sandbox.Config{AutoPair: true, ConnectLatency: time.Millisecond,
		DeliverLatency: time.Millisecond, ReadLatency: time.Millisecond, Seed: 3})
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(b, dbtest.SQLite), Engine: n.Factory(),
		Logger: quietLogger()})
	require.NoError(b, err)
	require.NoError(b, core.Start(ctx))
	b.Cleanup(func() { _ = core.Stop(context.Background()) })
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"})
	require.NoError(b, err)
	require.NoError(b, n.WaitForState(ctx, "main", waqtor.StateReady))
	var sess *waqtor.Session
	require.Eventually(b, func() bool {
		sess, err = core.Session(ctx, "main")
		return err == nil && sess.State == waqtor.StateReady && sess.Info.Phone != ""
	}, 20*time.Second, time.Millisecond)
	exe, err := os.Executable()
	require.NoError(b, err)
	h, err := NewHost(core, &Config{Logger: quietLogger(), Plugins: []PluginConfig{{Name: "bench", Path: exe,
		Args: []string{"waqtor-test-plugin"}, HealthInterval: time.Hour}}})
	require.NoError(b, err)
	bb := &benchBundle{core: core, host: h, sup: h.sups["bench"], phone: n.Phone("+15550002222"), bot: sess.Info.Phone}
	if start {
		require.NoError(b, h.Start(ctx))
		b.Cleanup(func() { _ = h.Stop(context.Background()) })
		return bb
	}
	require.NoError(b, corelinkMigrate(ctx, h))
	bb.proc, err = bb.sup.launch(ctx)
	require.NoError(b, err)
	b.Cleanup(func() { bb.proc.stop(time.Second) })
	return bb
}

// reportLatencies reports p50 and p99 in microseconds.
func reportLatencies(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds())/1e3, "p99-µs")
}

func BenchmarkOnEvent(b *testing.B) {
	ctx := context.Background()
	bb := benchSetup(b, false)
	ev := sampleReceived("noop")
	b.Run("plugin-process", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			_, err := bb.proc.remote.onEvent(ctx, ev, 1, "d")
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		reportLatencies(b, lat)
	})
	b.Run("in-process", func(b *testing.B) {
		p := &benchPlugin{}
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			_, err := p.OnEvent(ctx, &EventRequest{Attempt: 1, Event: ev})
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		reportLatencies(b, lat)
	})
}

// benchPlugin is the "noop" handler of the test plugin, in-process.
type benchPlugin struct{}

func (benchPlugin) OnEvent(_ context.Context, req *EventRequest) (*EventResponse, error) {
	if _, ok := req.Event.(*waqtor.MessageReceived); !ok {
		return nil, fmt.Errorf("unexpected %T", req.Event)
	}
	return nil, nil
}

func BenchmarkReplyViaCallback(b *testing.B) {
	ctx := context.Background()
	bb := benchSetup(b, false)
	ev := sampleReceived("reply")
	ev.Message.Chat = waqtor.Address{JID: bb.phone.JID()}
	b.Run("plugin-process", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			i++
			e := *ev
			e.ID = fmt.Sprintf("evt_bench_%d", i) // a fresh event: no deduplication
			d := bb.sup.beginDelivery(&e)
			t0 := time.Now()
			_, err := bb.proc.remote.onEvent(ctx, &e, 1, d.id)
			lat = append(lat, time.Since(t0))
			bb.sup.endDelivery(d)
			if err != nil {
				b.Fatal(err)
			}
		}
		reportLatencies(b, lat)
	})
	b.Run("in-process", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			i++
			t0 := time.Now()
			_, err := bb.core.SendText(ctx, "main", bb.phone.JID(), "r", &waqtor.SendOpts{IdempotencyKey: fmt.Sprintf("direct-%d", i)})
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		reportLatencies(b, lat)
	})
}

// BenchmarkEventsThroughPlugin measures events/s through the whole path: the
// log, the plugin's cursor, OnEvent in the plugin process, and the commit.
// The events are in the log before the plugin starts (it replays from the
// oldest), so the producer does not limit the rate.
func BenchmarkEventsThroughPlugin(b *testing.B) {
	ctx := context.Background()
	bb := benchSetup(b, false)
	bb.proc.stop(time.Second) // only the Core and the session are needed
	for i := range b.N {
		if _, err := bb.phone.SendText(ctx, bb.bot, fmt.Sprintf("noop %d", i)); err != nil {
			b.Fatal(err)
		}
	}
	require.Eventually(b, func() bool {
		last, _ := bb.core.LastSeq(ctx)
		evs, _ := bb.core.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageReceived}, Limit: 10000})
		return last > 0 && len(evs) >= min(b.N, 10000)
	}, time.Minute, 5*time.Millisecond)
	exe, err := os.Executable()
	require.NoError(b, err)
	h, err := NewHost(bb.core, &Config{Logger: quietLogger(), Plugins: []PluginConfig{{Name: "replay", Path: exe,
		Args: []string{"waqtor-test-plugin"}, HealthInterval: time.Hour, ReplayFromOldest: true}}})
	require.NoError(b, err)
	require.NoError(b, h.Start(ctx))
	b.Cleanup(func() { _ = h.Stop(context.Background()) })
	require.Eventually(b, func() bool {
		st, _ := h.Status(ctx, "replay")
		return st.State == waqtor.PluginRunning
	}, time.Minute, time.Millisecond)
	b.ResetTimer()
	start := time.Now()
	for {
		st, _ := h.Status(ctx, "replay")
		if st.Handled >= int64(b.N) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
