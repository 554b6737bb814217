package webhook_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// stepClock is real time plus an offset that the test moves forward: the
// breaker's 30 s timeout or a retry's 5 s delay never pass by themselves, and
// pass at once when the test steps over them. Timers run in real time (the
// workers also look again every PollInterval, on the stepped clock).
type stepClock struct{ offset atomic.Int64 }

func (c *stepClock) Now() time.Time                       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *stepClock) NewTimer(d time.Duration) *time.Timer { return time.NewTimer(d) }
func (c *stepClock) AfterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, f)
}
func (c *stepClock) step(d time.Duration) { c.offset.Add(int64(d)) }

// span is one request a receiver served, in real time.
type span struct{ start, end time.Time }

// switchReceiver answers 500 until healthy is set, then 200 after a short
// pause, and records the span of every request.
type switchReceiver struct {
	*receiver
	healthy atomic.Bool
	mu      sync.Mutex
	spans   []span
}

func newSwitchReceiver(t *testing.T) *switchReceiver {
	sr := &switchReceiver{}
	sr.receiver = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		sp := span{start: time.Now()}
		if sr.healthy.Load() {
			time.Sleep(20 * time.Millisecond)
		} else {
			w.WriteHeader(500)
		}
		sp.end = time.Now()
		sr.mu.Lock()
		sr.spans = append(sr.spans, sp)
		sr.mu.Unlock()
	})
	return sr
}

func (sr *switchReceiver) spansAfter(t0 time.Time) []span {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	var out []span
	for _, s := range sr.spans {
		if s.start.After(t0) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	return out
}

func breakerStatus(t *testing.T, svc *webhook.Service, id string) *webhook.BreakerStatus {
	t.Helper()
	st, err := svc.Stats(context.Background(), "default", id, nil)
	require.NoError(t, err)
	require.NotNil(t, st.Breaker)
	return st.Breaker
}

func waitBreaker(t *testing.T, svc *webhook.Service, id string, cond func(*webhook.BreakerStatus) bool) *webhook.BreakerStatus {
	t.Helper()
	var st *webhook.BreakerStatus
	require.NoError(t, waitFor(context.Background(), func() bool {
		st = breakerStatus(t, svc, id)
		return cond(st)
	}), "breaker of %s: last %+v", id, st)
	return st
}

// gauge reads waqtor_webhook_breaker_state or another per-endpoint series.
func endpointMetric(t *testing.T, reg *prometheus.Registry, name, endpoint string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue(), true
					}
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// TestCircuitBreaker is the breaker half of docs/reliability.md T9 through the
// whole Service, with the default breaker (10 attempts, 70 %, 30 s doubling
// to 1 h, 3 probes, 10 re-opens) on a clock the test steps.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		clock := &stepClock{}
		b := setup(t, kind, func(c *webhook.Config) { c.Test.Clock = clock })
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(b.svc.Collector()))
		ctx := context.Background()
		// Retries come a simulated minute apart: only when the test steps.
		slow := webhook.ExponentialRetry(20, time.Minute, 1, 0)
		slow.Jitter = 0
		test := func(id string, n int) []string {
			var ids []string
			for range n {
				d, err := b.svc.Test(ctx, "default", id)
				require.NoError(t, err)
				ids = append(ids, d.ID)
			}
			return ids
		}

		t.Run("holds back, probes and closes", func(t *testing.T) {
			bad, good := newSwitchReceiver(t), newReceiver(t, nil)
			epBad := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: bad.URL, Events: []string{quietKind}, Retry: slow})
			epGood := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: good.URL, Events: []string{quietKind}})

			// Ten failures (the minimum) open the breaker; no retry is due yet.
			first := test(epBad.ID, 9)
			bad.waitN(t, 9, 10*time.Second)
			require.Equal(t, webhook.BreakerClosed, breakerStatus(t, b.svc, epBad.ID).State, "9 attempts are below the minimum")
			first = append(first, test(epBad.ID, 1)...)
			st := waitBreaker(t, b.svc, epBad.ID, func(s *webhook.BreakerStatus) bool { return s.State == webhook.BreakerOpen })
			require.Equal(t, 1, st.Opens)
			require.Len(t, bad.requests(), 10)
			v, ok := endpointMetric(t, reg, "waqtor_webhook_breaker_state", epBad.ID)
			require.True(t, ok)
			require.Equal(t, 2.0, v)

			// While it is open: new deliveries to it stay pending, unattempted;
			// the healthy endpoint gets everything at once.
			held := test(epBad.ID, 10)
			for _, id := range test(epGood.ID, 10) {
				waitDelivery(t, b.svc, "default", id, webhook.StateSucceeded)
			}
			time.Sleep(150 * time.Millisecond) // three poll intervals
			require.Len(t, bad.requests(), 10, "nothing reaches an open breaker's endpoint")
			for _, id := range held {
				d, err := b.svc.Delivery(ctx, "default", id)
				require.NoError(t, err)
				require.Equal(t, webhook.StatePending, d.State)
				require.Zero(t, d.Attempts, "held back is not an attempt")
			}
			require.Equal(t, webhook.BreakerClosed, breakerStatus(t, b.svc, epGood.ID).State)
			require.Zero(t, breakerStatus(t, b.svc, epBad.ID).HeldBack, "due deliveries are not even claimed while it is open")

			// The receiver recovers; after the timeout one probe at a time goes
			// out (the held deliveries are due), three successes close the
			// breaker and the rest follows, then the retries of the first ten.
			bad.healthy.Store(true)
			recovered := time.Now()
			clock.step(webhook.BreakerOpenTimeoutDefault)
			for _, id := range held {
				waitDelivery(t, b.svc, "default", id, webhook.StateSucceeded)
			}
			clock.step(time.Minute)
			for _, id := range first {
				waitDelivery(t, b.svc, "default", id, webhook.StateSucceeded)
			}
			spans := bad.spansAfter(recovered)
			require.Len(t, spans, 20)
			for i := 1; i <= webhook.BreakerProbeSuccessesDefault; i++ {
				require.False(t, spans[i].start.Before(spans[i-1].end),
					"request %d started before the probe before it ended: probes go one at a time", i)
			}
			st = breakerStatus(t, b.svc, epBad.ID)
			require.Equal(t, webhook.BreakerClosed, st.State)
			require.Equal(t, 1, st.Opens)
			require.Zero(t, st.Reopens)
			for _, id := range held {
				d, err := b.svc.Delivery(ctx, "default", id)
				require.NoError(t, err)
				require.Equal(t, 1, d.Attempts, "one attempt: the one that succeeded")
			}
			v, _ = endpointMetric(t, reg, "waqtor_webhook_breaker_state", epBad.ID)
			require.Equal(t, 0.0, v)
			v, _ = endpointMetric(t, reg, "waqtor_webhook_breaker_opens_total", epBad.ID)
			require.Equal(t, 1.0, v)
		})

		t.Run("fifo keeps its order through the breaker", func(t *testing.T) {
			bad := newSwitchReceiver(t)
			fast := webhook.ExponentialRetry(20, 10*time.Second, 1, 0)
			fast.Jitter = 0
			ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: bad.URL, Events: []string{quietKind}, Retry: fast, FIFO: true})
			ids := test(ep.ID, 5)
			attempts := func(id string) int {
				d, err := b.svc.Delivery(ctx, "default", id)
				require.NoError(t, err)
				return d.Attempts
			}
			// The head of the line fails ten times, a simulated 10 s apart;
			// nothing behind it is tried, and the ten failures open the breaker.
			for i := 1; i <= 10; i++ {
				require.NoError(t, waitFor(ctx, func() bool { return attempts(ids[0]) == i }), "attempt %d of the head", i)
				if i < 10 {
					clock.step(10 * time.Second)
				}
			}
			waitBreaker(t, b.svc, ep.ID, func(s *webhook.BreakerStatus) bool { return s.State == webhook.BreakerOpen })
			for _, r := range bad.requests() {
				require.Equal(t, ids[0], r.Header.Get(webhook.HeaderDelivery), "only the head is tried")
			}
			// Open: the head's next retry comes due and is held back too.
			clock.step(10 * time.Second)
			time.Sleep(150 * time.Millisecond) // three poll intervals
			require.Len(t, bad.requests(), 10, "nothing reaches an open breaker's endpoint")
			for _, id := range ids[1:] {
				require.Zero(t, attempts(id))
			}

			// Recovered: after the timeout the head is the first probe, and
			// every delivery follows in event order, one request at a time.
			bad.healthy.Store(true)
			recovered := time.Now()
			clock.step(webhook.BreakerOpenTimeoutDefault)
			for _, id := range ids {
				waitDelivery(t, b.svc, "default", id, webhook.StateSucceeded)
			}
			var order []string
			for _, r := range bad.requests()[10:] {
				order = append(order, r.Header.Get(webhook.HeaderDelivery))
			}
			require.Equal(t, ids, order, "event order, each delivered once")
			spans := bad.spansAfter(recovered)
			for i := 1; i < len(spans); i++ {
				require.False(t, spans[i].start.Before(spans[i-1].end), "FIFO: request %d overlapped the one before", i)
			}
			require.Equal(t, 11, attempts(ids[0]))
			for _, id := range ids[1:] {
				require.Equal(t, 1, attempts(id))
			}
			st := breakerStatus(t, b.svc, ep.ID)
			require.Equal(t, webhook.BreakerClosed, st.State)
			require.Equal(t, 1, st.Opens)
		})

		t.Run("ten failed probes in a row disable", func(t *testing.T) {
			bad := newSwitchReceiver(t)
			ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: bad.URL, Events: []string{quietKind}, Retry: slow})
			ids := test(ep.ID, 10)
			waitBreaker(t, b.svc, ep.ID, func(s *webhook.BreakerStatus) bool { return s.State == webhook.BreakerOpen })
			for i := 1; i <= webhook.BreakerMaxReopensDefault; i++ {
				// Past the breaker's timeout (doubling each time) and the next retry.
				st := breakerStatus(t, b.svc, ep.ID)
				require.Equal(t, webhook.BreakerOpen, st.State)
				clock.step(max(st.OpenUntil.Sub(clock.Now()), 0) + time.Minute)
				bad.waitN(t, 10+i, 10*time.Second)
				if i < webhook.BreakerMaxReopensDefault {
					waitBreaker(t, b.svc, ep.ID, func(s *webhook.BreakerStatus) bool {
						return s.State == webhook.BreakerOpen && s.Reopens == i
					})
				}
			}
			e := requireDisabledEvent(t, b.core, ep.ID, "breaker")
			require.Contains(t, e.LastError, "circuit breaker re-opened 10 times")
			got, err := b.svc.Endpoint(ctx, "default", ep.ID)
			require.NoError(t, err)
			require.False(t, got.Enabled)
			require.Equal(t, "breaker", got.DisabledReason)
			require.Len(t, bad.requests(), 20, "10 attempts, then 10 probes one at a time")
			v, _ := endpointMetric(t, reg, "waqtor_webhook_breaker_opens_total", ep.ID)
			require.Equal(t, 11.0, v)
			require.NoError(t, waitFor(ctx, func() bool {
				_, ok := endpointMetric(t, reg, "waqtor_webhook_breaker_state", ep.ID)
				return !ok
			}), "a disabled endpoint has no breaker")

			// Nothing is lost: enabled again (with a fresh breaker), every
			// delivery goes out.
			bad.healthy.Store(true)
			_, err = b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Enabled: ptr(true)})
			require.NoError(t, err)
			clock.step(time.Hour) // the probed deliveries' next retries
			for _, id := range ids {
				waitDelivery(t, b.svc, "default", id, webhook.StateSucceeded)
			}
			st := breakerStatus(t, b.svc, ep.ID)
			require.Equal(t, webhook.BreakerClosed, st.State)
			require.Zero(t, st.Opens)
		})
	})
}
