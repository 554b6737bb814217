package webhook_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// emitMessages appends n message.received events of session "main" to the
// log, batch per transaction, and returns their IDs in order.
func emitMessages(t testing.TB, core *waqtor.Core, n, batch int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := 0; i < n; i += batch {
		var evs []any
		var typed []*waqtor.MessageReceived
		for j := i; j < min(i+batch, n); j++ {
			e := &waqtor.MessageReceived{Message: waqtor.Message{ID: fmt.Sprintf("3EB0%08d", j), Session: "main",
				Tenant: "default", Direction: waqtor.DirectionIn, Status: waqtor.StatusReceived,
				Chat: waqtor.Address{JID: "201001234567@s.whatsapp.net"}, Content: &waqtor.Text{Body: "order " + strconv.Itoa(j)}}}
			evs = append(evs, e)
			typed = append(typed, e)
		}
		require.NoError(t, corelink.Emit(ctx, core, "main", "default", evs...))
		for _, e := range typed {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// simReceiver records every request with the simulated time it arrived at,
// and answers through behave.
type simReceiver struct {
	*receiver
	clock webhook.Clock
	mu    sync.Mutex
	ok    map[string]int     // webhook-id -> 2xx answers
	seen  map[string][]int64 // webhook-id -> webhook-timestamps, in arrival order
	order []string           // webhook-ids answered 2xx, in order
	dlv   map[string]string  // webhook-id -> X-Waqtor-Delivery
}

func newSimReceiver(t testing.TB, clock webhook.Clock, behave func(w http.ResponseWriter, r *http.Request, now time.Time) bool) *simReceiver {
	s := newUnstartedSimReceiver(t, clock, behave)
	s.Start()
	return s
}

func newUnstartedSimReceiver(t testing.TB, clock webhook.Clock, behave func(w http.ResponseWriter, r *http.Request, now time.Time) bool) *simReceiver {
	s := &simReceiver{clock: clock, ok: map[string]int{}, seen: map[string][]int64{}, dlv: map[string]string{}}
	s.receiver = newUnstartedReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		id := r.Header.Get(webhook.HeaderWebhookID)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderWebhookTimestamp), 10, 64)
		s.mu.Lock()
		s.seen[id] = append(s.seen[id], ts)
		if prev, ok := s.dlv[id]; ok && prev != r.Header.Get(webhook.HeaderDelivery) {
			panic("delivery ID changed between retries")
		}
		s.dlv[id] = r.Header.Get(webhook.HeaderDelivery)
		s.mu.Unlock()
		if behave(w, r, clock.Now()) {
			s.mu.Lock()
			s.ok[id]++
			s.order = append(s.order, id)
			s.mu.Unlock()
		}
	})
	return s
}

func (s *simReceiver) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ok)
}

// TestReceiverOutage is docs/reliability.md T6, time-compressed 500 times: 1,000
// events to five endpoints while A answers 500 for ten simulated minutes (and
// A-fifo too, in FIFO mode), B refuses connections for ten minutes, C hangs
// past its timeout for ten minutes, and D is healthy. Everything arrives, the
// attempts follow the schedule within its jitter, every retry carries the
// same webhook-id and a fresh webhook-timestamp, and the log has one row per
// attempt.
func TestReceiverOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes about 10 s")
	}
	kinds(t, func(t *testing.T, kind dbtest.Kind) { testReceiverOutage(t, kind) })
}

func testReceiverOutage(t *testing.T, kind dbtest.Kind) {
	scale, n := 500.0, 1000
	switch {
	case os.Getenv("WAQTOR_NIGHTLY") != "":
		n = 5000
	case raceEnabled:
		scale, n = 250, 50
	}
	clock := webhook.ScaledClock(scale)
	b := setup(t, kind, func(c *webhook.Config) {
		c.Test.Clock = clock
		c.LeaseMargin = time.Hour // 7 s of real time: a loaded test machine never outlives a lease
		// T6 measures the retry schedule itself. With the circuit breaker on,
		// retries that fall due while it is open wait for its probe (later than
		// scheduled, never lost): TestCircuitBreaker covers that.
		c.Breaker.Disabled = true
	})
	ctx := context.Background()
	// Each receiver's outage starts with the first request it gets, however
	// long a loaded machine takes to get there: an outage timed from when
	// the events are appended could be over before the first attempt (then
	// nothing is retried and the test proves nothing).
	outage := 10 * time.Minute
	outageFrom := func() func(now time.Time) bool {
		var first atomic.Int64
		return func(now time.Time) bool {
			first.CompareAndSwap(0, now.UnixNano())
			return now.Sub(time.Unix(0, first.Load())) < outage
		}
	}
	downA, downF, downC := outageFrom(), outageFrom(), outageFrom()

	a := newSimReceiver(t, clock, func(w http.ResponseWriter, r *http.Request, now time.Time) bool {
		if downA(now) {
			w.WriteHeader(500)
			return false
		}
		return true
	})
	fifo := newSimReceiver(t, clock, func(w http.ResponseWriter, r *http.Request, now time.Time) bool {
		if downF(now) {
			w.WriteHeader(500)
			return false
		}
		return true
	})
	c := newSimReceiver(t, clock, func(w http.ResponseWriter, r *http.Request, now time.Time) bool {
		if downC(now) {
			<-r.Context().Done() // hang until the client gives up
			return false
		}
		return true
	})
	d := newSimReceiver(t, clock, func(w http.ResponseWriter, r *http.Request, now time.Time) bool { return true })
	// B: a port with no listener, until the outage ends.
	bRecv := newUnstartedSimReceiver(t, clock, func(w http.ResponseWriter, r *http.Request, now time.Time) bool { return true })
	bAddr := bRecv.Listener.Addr().String()
	require.NoError(t, bRecv.Listener.Close()) // nothing listens: connections are refused

	evs := []string{"message.received"}
	std := webhook.StandardRetry()
	epA := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: a.URL, Events: evs, Timeout: webhook.MaxTimeout})
	epF := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: fifo.URL, Events: evs, FIFO: true, Timeout: webhook.MaxTimeout})
	epB := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: "http://" + bAddr + "/hook", Events: evs, Timeout: webhook.MaxTimeout})
	epC := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: c.URL, Events: evs, Timeout: webhook.MaxTimeout})
	epD := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: d.URL, Events: evs, Timeout: webhook.MaxTimeout})

	start := clock.Now()
	ids := emitMessages(t, b.core, n, 100)

	// B comes back on the same port once the outage is over, counted from its
	// first refused attempt.
	var bRefused time.Time
	require.NoError(t, waitFor(ctx, func() bool {
		st, err := b.svc.Stats(ctx, "default", epB.ID, nil)
		bRefused = time.Now()
		return err == nil && st.Failed > 0
	}), "B's first attempt")
	time.Sleep(time.Until(bRefused.Add(time.Duration(float64(outage) / scale))))
	ln, err := net.Listen("tcp", bAddr)
	require.NoError(t, err, "relisten on %s", bAddr)
	bRecv.Listener = ln
	bRecv.Start()

	deadline := time.Now().Add(90 * time.Second)
	lastLog := time.Now()
	for _, r := range []*simReceiver{a, fifo, bRecv, c, d} {
		for r.delivered() < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			if time.Since(lastLog) > 5*time.Second {
				lastLog = time.Now()
				t.Logf("delivered: A %d, A-fifo %d, B %d, C %d, D %d (%s simulated)", a.delivered(), fifo.delivered(),
					bRecv.delivered(), c.delivered(), d.delivered(), clock.Now().Sub(start).Round(time.Second))
			}
		}
	}
	elapsed := clock.Now().Sub(start)
	for name, r := range map[string]*simReceiver{"A": a, "A-fifo": fifo, "B": bRecv, "C": c, "D": d} {
		r.mu.Lock()
		for _, id := range ids {
			require.GreaterOrEqual(t, r.ok[id], 1, "%s: event %s was never delivered", name, id)
		}
		for id, tss := range r.seen {
			for i := 1; i < len(tss); i++ {
				require.Greater(t, tss[i], tss[i-1], "%s: %s retry %d has no fresh webhook-timestamp", name, id, i)
			}
		}
		r.mu.Unlock()
	}
	// FIFO: receive order equals log order, after dedupe on webhook-id (an
	// attempt that timed out after the receiver answered is sent again).
	fifo.mu.Lock()
	var order []string
	dups := 0
	for _, id := range fifo.order {
		if len(order) > 0 && order[len(order)-1] == id {
			dups++
			continue
		}
		order = append(order, id)
	}
	fifo.mu.Unlock()
	require.Equal(t, ids, order, "FIFO endpoint: receive order equals log order")

	// The delivery log: one row per attempt, retries on schedule.
	var lateMax time.Duration
	var lates []time.Duration
	lateBy := map[string][]time.Duration{}
	retries := 0
	retriesBy := map[string]int{}
	for name, ep := range map[string]*webhook.Endpoint{"A": epA, "A-fifo": epF, "B": epB, "C": epC, "D": epD} {
		recv := map[string]*simReceiver{"A": a, "A-fifo": fifo, "B": bRecv, "C": c, "D": d}[name]
		var all []*webhook.Delivery
		for before := ""; ; {
			page, err := b.svc.Deliveries(ctx, &webhook.DeliveryListParams{EndpointID: ep.ID, Before: before, Limit: 500})
			require.NoError(t, err)
			all = append(all, page.Deliveries...)
			if page.Next == "" {
				break
			}
			before = page.Next
		}
		require.Len(t, all, n, name)
		for _, dl := range all {
			// The receiver has it; the log says so once the attempt that
			// brought it is recorded (after a client-side timeout, a retry
			// hours later in simulated time).
			var got *webhook.Delivery
			for wait := time.Now().Add(60 * time.Second); ; {
				got, _ = b.svc.Delivery(ctx, "default", dl.ID)
				if got.State == webhook.StateSucceeded {
					break
				}
				require.True(t, time.Now().Before(wait), "%s: %s is still %s", name, dl.ID, got.State)
				time.Sleep(10 * time.Millisecond)
			}
			atts, err := b.svc.Attempts(ctx, "default", dl.ID)
			require.NoError(t, err)
			require.Len(t, atts, got.Attempts, name)
			recv.mu.Lock()
			reqs := len(recv.seen[dl.EventID])
			recv.mu.Unlock()
			// Every request the receiver saw is in the log; attempts that failed
			// before reaching it (refused, or timed out connecting) are too.
			answered := 0
			for _, at := range atts {
				if at.StatusCode > 0 {
					answered++
				}
			}
			require.LessOrEqual(t, reqs, len(atts), "%s: a request is missing from the log", name)
			require.GreaterOrEqual(t, reqs, answered, "%s: one log row per request", name)
			for i, at := range atts {
				require.Equal(t, i+1, at.N)
				late := at.StartedAt.Sub(at.DueAt)
				require.GreaterOrEqual(t, late, time.Duration(0), "%s: attempt before its due time", name)
				if i == 0 {
					continue
				}
				if name != "A-fifo" { // FIFO deliveries wait for the ones before them
					lateMax = max(lateMax, late)
					lates = append(lates, late)
					lateBy[name] = append(lateBy[name], late)
				}
				retries++
				retriesBy[name]++
				prev := atts[i-1]
				gap := at.DueAt.Sub(prev.StartedAt.Add(prev.Latency))
				want := std.Schedule[i-1]
				lo, hi := time.Duration(float64(want)*0.8), time.Duration(float64(want)*1.2)
				if strings.HasPrefix(prev.Error, "timeout") { // a timeout waits at least 60 s (C, or a loaded machine)
					lo, hi = max(lo, webhook.ThrottleDelay), max(hi, webhook.ThrottleDelay)
				}
				if !(gap >= lo-time.Millisecond && gap <= hi+time.Millisecond) {
					for _, a := range atts {
						t.Logf("%+v", a)
					}
				}
				require.True(t, gap >= lo-time.Millisecond && gap <= hi+time.Millisecond,
					"%s: retry %d after %s, want %s ±20%%", name, i, gap, want)
			}
		}
	}
	for name, ls := range lateBy {
		slices.Sort(ls)
		t.Logf("%s: %d retries started after due by p50 %s, max %s", name, len(ls), ls[len(ls)/2], ls[len(ls)-1])
	}
	slices.Sort(lates)
	p50 := time.Duration(0)
	if len(lates) > 0 {
		p50 = lates[len(lates)/2]
	}
	t.Logf("%d events × 5 endpoints delivered in %s simulated (%s real); %d retries, started after their due time by "+
		"p50 %s, max %s simulated (bursts of up to n retries fall due together and wait for the pipeline); FIFO duplicates (answered, then timed out): %d",
		n, elapsed.Round(time.Second), time.Duration(float64(elapsed)/scale).Round(time.Millisecond), retries,
		p50.Round(time.Millisecond), lateMax.Round(time.Millisecond), dups)
	require.Positive(t, retries)
	for _, name := range []string{"A", "A-fifo", "B", "C"} {
		require.Positive(t, retriesBy[name], "%s never failed: the outage was over before its first attempt", name)
	}
}
