package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// timer and Conn worker must stop on Network.Close. No goroutine is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout is a generous ceiling for anything the tests wait for.
const waitTimeout = 5 * time.Second

// fastConfig returns a config with millisecond latencies.
func fastConfig() *Config {
	return &Config{
		ConnectLatency: time.Millisecond,
		DeliverLatency: time.Millisecond,
		QRInterval:     time.Minute,
		ReadLatency:    time.Millisecond,
		ReconnectDelay: 2 * time.Millisecond,
		RedeliverDelay: 2 * time.Millisecond,
		Seed:           1,
	}
}

// recorder is a ConnHandler that records every call, in order.
type recorder struct {
	mu      sync.Mutex
	changed chan struct{}
	log     []any // *waqtor.ConnStatus, qrEvent, *waqtor.InboundMessage (acknowledged), *waqtor.Receipt (acknowledged)

	attempts     map[string]int // HandleMessage calls per message ID
	failMessages int            // fail this many HandleMessage calls
	failReceipts int            // fail this many HandleReceipt calls
	onMessage    func(ctx context.Context, m *waqtor.InboundMessage) error
	onStatus     func(ctx context.Context, st *waqtor.ConnStatus)
}

type qrEvent struct {
	code    string
	expires time.Time
}

var errRefused = errors.New("test: handler refused")

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), attempts: make(map[string]int)}
}

func (r *recorder) add(v any) {
	r.log = append(r.log, v)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) HandleMessage(ctx context.Context, m *waqtor.InboundMessage) error {
	r.mu.Lock()
	r.attempts[m.ID]++
	if r.failMessages > 0 {
		r.failMessages--
		r.add(nil)
		r.mu.Unlock()
		return errRefused
	}
	hook := r.onMessage
	r.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(m)
	return nil
}

func (r *recorder) HandleQR(ctx context.Context, code string, expires time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(qrEvent{code, expires})
}

func (r *recorder) HandleReceipt(ctx context.Context, rc *waqtor.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failReceipts > 0 {
		r.failReceipts--
		r.add(nil)
		return errRefused
	}
	r.add(rc)
	return nil
}

func (r *recorder) HandleStatus(ctx context.Context, st *waqtor.ConnStatus) {
	r.mu.Lock()
	hook := r.onStatus
	r.mu.Unlock()
	if hook != nil {
		hook(ctx, st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(st)
}

// wait waits until cond (called with r.mu held) is true.
func (r *recorder) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok, ch := cond(), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Millisecond):
			// cond may read state outside the log (Network.Session), which
			// changes after the handler returns: look again.
		case <-deadline.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s; handler log: %s", what, r.describeLocked())
		}
	}
}

func (r *recorder) describeLocked() string {
	s := ""
	for _, v := range r.log {
		switch v := v.(type) {
		case *waqtor.ConnStatus:
			s += " status:" + string(v.State)
		case qrEvent:
			s += " qr"
		case *waqtor.InboundMessage:
			s += " msg:" + v.ID
		case *waqtor.Receipt:
			s += " receipt:" + string(v.Type)
		case nil:
			s += " refused"
		}
	}
	return s
}

func (r *recorder) statuses() []*waqtor.ConnStatus { return collect[*waqtor.ConnStatus](r) }
func (r *recorder) messages() []*waqtor.InboundMessage {
	return collect[*waqtor.InboundMessage](r)
}
func (r *recorder) receipts() []*waqtor.Receipt { return collect[*waqtor.Receipt](r) }
func (r *recorder) qrs() []qrEvent              { return collect[qrEvent](r) }

func collect[T any](r *recorder) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return collectLocked[T](r)
}

func collectLocked[T any](r *recorder) []T {
	var out []T
	for _, v := range r.log {
		if t, ok := v.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// waitStatus waits for the count-th status (from 1) to be state, or any later
// status to be, and returns it.
func (r *recorder) waitStatus(t testing.TB, state waqtor.SessionState) *waqtor.ConnStatus {
	t.Helper()
	var got *waqtor.ConnStatus
	r.wait(t, "status "+string(state), func() bool {
		for _, st := range collectLocked[*waqtor.ConnStatus](r) {
			if st.State == state {
				got = st
				return true
			}
		}
		return false
	})
	return got
}

// waitStatusCount waits until state was reported count times.
func (r *recorder) waitStatusCount(t testing.TB, state waqtor.SessionState, count int) {
	t.Helper()
	r.wait(t, "status "+string(state), func() bool {
		c := 0
		for _, st := range collectLocked[*waqtor.ConnStatus](r) {
			if st.State == state {
				c++
			}
		}
		return c >= count
	})
}

func (r *recorder) waitMessages(t testing.TB, count int) []*waqtor.InboundMessage {
	t.Helper()
	r.wait(t, "messages", func() bool { return len(collectLocked[*waqtor.InboundMessage](r)) >= count })
	return r.messages()
}

func (r *recorder) waitReceipts(t testing.TB, count int) []*waqtor.Receipt {
	t.Helper()
	r.wait(t, "receipts", func() bool { return len(collectLocked[*waqtor.Receipt](r)) >= count })
	return r.receipts()
}

func (r *recorder) waitQRs(t testing.TB, count int) []qrEvent {
	t.Helper()
	r.wait(t, "QR codes", func() bool { return len(collectLocked[qrEvent](r)) >= count })
	return r.qrs()
}

// testBundle is one network with one open session.
type testBundle struct {
	n    *Network
	conn waqtor.Conn
	h    *recorder
}

const (
	botNumber = "+15550000001"
	botJID    = "15550000001@s.whatsapp.net"
)

// setup opens session "s1" on a fast network; paired as botNumber unless the
// config says otherwise through jid ("" for unpaired).
func setup(t *testing.T, cfg *Config, jid string) *testBundle {
	t.Helper()
	if cfg == nil {
		cfg = fastConfig()
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	n := NewTestNetwork(t, cfg)
	h := newRecorder()
	conn, err := n.Open(t.Context(), &waqtor.EngineSession{ID: "s1", JID: jid}, h)
	require.NoError(t, err)
	return &testBundle{n: n, conn: conn, h: h}
}

// setupReady is setup with a paired session that is connected and ready.
func setupReady(t *testing.T, cfg *Config) *testBundle {
	t.Helper()
	b := setup(t, cfg, botJID)
	require.NoError(t, b.conn.Connect(t.Context()))
	b.h.waitStatus(t, waqtor.StateReady)
	return b
}

// testLogger sends logs to t.Log. The network must be closed before the test
// ends (NewTestNetwork does it in a cleanup), so nothing logs afterwards.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}
