package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// Benchmarks of the delivery path, reported as custom metrics:
// deliveries/s, and the latency from the event's timestamp (when the Core
// appended it) to the receiver reading the request, p50 and p99.
//
//	go test -run '^$' -bench . -benchtime 1x ./webhook/                    # smoke (CI)
//	WAQTOR_BENCH_EVENTS=20000 go test -run '^$' -bench . -benchtime 1x ./webhook/
//
// BenchmarkDispatch appends events straight to the log (corelink, 100 per
// transaction) and measures the dispatcher alone. BenchmarkInbound sends
// messages from sandbox phones, through the Core's inbound path (one
// transaction per message), to the webhook. BenchmarkRawPost is a loop of
// http.Post to the same kind of receiver, the ceiling to compare with.
// BenchmarkLatencyAt500 paces events at 500/s and reports the latency.

func benchEvents() int {
	if v, err := strconv.Atoi(os.Getenv("WAQTOR_BENCH_EVENTS")); err == nil && v > 0 {
		return v
	}
	return 2000
}

// latencyReceiver records, for each request, the time since the event's
// timestamp.
type latencyReceiver struct {
	*receiver
	mu   sync.Mutex
	lats []time.Duration
	got  atomic.Int64
	done chan struct{}
	want int64
}

func newLatencyReceiver(b testing.TB, want int) *latencyReceiver {
	lr := &latencyReceiver{want: int64(want), done: make(chan struct{})}
	lr.receiver = newReceiver(b, nil)
	lr.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Timestamp time.Time `json:"timestamp"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &env)
		lat := time.Since(env.Timestamp)
		lr.mu.Lock()
		lr.lats = append(lr.lats, lat)
		lr.mu.Unlock()
		if lr.got.Add(1) == lr.want {
			close(lr.done)
		}
	})
	return lr
}

func (lr *latencyReceiver) report(b *testing.B, elapsed time.Duration) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	slices.Sort(lr.lats)
	n := len(lr.lats)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
	if n > 0 {
		b.ReportMetric(float64(lr.lats[n/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lr.lats[min(n*99/100, n-1)].Microseconds())/1000, "p99_ms")
	}
}

func (lr *latencyReceiver) wait(b testing.TB, timeout time.Duration) {
	select {
	case <-lr.done:
	case <-time.After(timeout):
		b.Fatalf("only %d of %d deliveries arrived", lr.got.Load(), lr.want)
	}
}

func benchKinds(b *testing.B, f func(b *testing.B, kind dbtest.Kind)) {
	for _, k := range dbtest.AllKinds() {
		b.Run(string(k), func(b *testing.B) {
			if testing.Short() {
				b.Skip("benchmark")
			}
			f(b, k)
		})
	}
}

func BenchmarkDispatch(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) {
		n := benchEvents()
		for range b.N {
			tb := setup(b, kind, func(c *webhook.Config) { c.Logger = discard() })
			lr := newLatencyReceiver(b, n)
			createEndpoint(b, tb.svc, &webhook.EndpointParams{URL: lr.URL, Events: []string{"message.received"}})
			start := time.Now()
			go emitMessages(b, tb.core, n, 100)
			lr.wait(b, 5*time.Minute)
			lr.report(b, time.Since(start))
		}
	})
}

func BenchmarkInbound(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) {
		n := benchEvents()
		for range b.N {
			tb := setup(b, kind, func(c *webhook.Config) { c.Logger = discard() })
			lr := newLatencyReceiver(b, n)
			createEndpoint(b, tb.svc, &webhook.EndpointParams{URL: lr.URL, Events: []string{"message.received"}})
			ctx := context.Background()
			start := time.Now()
			var wg sync.WaitGroup
			const phones = 8
			for p := range phones {
				wg.Add(1)
				go func() {
					defer wg.Done()
					phone := tb.network.Phone(fmt.Sprintf("+2010012%05d", p))
					for i := p; i < n; i += phones {
						if _, err := phone.SendText(ctx, tb.botJID, "bench "+strconv.Itoa(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			lr.wait(b, 5*time.Minute)
			lr.report(b, time.Since(start))
			// How fast the Core persisted the inbound messages: the time of the
			// last message.received event in the log.
			var last time.Time
			for after := int64(0); ; {
				evs, err := tb.core.ReadLog(ctx, &waqtor.LogReadParams{After: after, Limit: waqtor.LogReadLimitMax,
					Kinds: []waqtor.EventKind{waqtor.KindMessageReceived}})
				require.NoError(b, err)
				if len(evs) == 0 {
					break
				}
				after = evs[len(evs)-1].Meta().Seq
				last = evs[len(evs)-1].Meta().Time
			}
			persisted := last.Sub(start)
			b.ReportMetric(float64(n)/persisted.Seconds(), "inbound_persisted/s")
		}
	})
}

func BenchmarkLatencyAt500(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) {
		const rate = 500
		n := max(benchEvents()/2, 1000)
		for range b.N {
			tb := setup(b, kind, func(c *webhook.Config) { c.Logger = discard() })
			lr := newLatencyReceiver(b, n)
			createEndpoint(b, tb.svc, &webhook.EndpointParams{URL: lr.URL, Events: []string{"message.received"}})
			start := time.Now()
			tick := time.NewTicker(10 * time.Millisecond)
			for sent := 0; sent < n; {
				<-tick.C
				// Catch up with the schedule: 500 events per second on average.
				due := min(int(time.Since(start).Seconds()*rate), n) - sent
				if due > 0 {
					emitMessages(b, tb.core, due, 100)
					sent += due
				}
			}
			tick.Stop()
			lr.wait(b, 5*time.Minute)
			lr.report(b, time.Since(start))
		}
	})
}

func BenchmarkRawPost(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	n := benchEvents()
	body := bytes.Repeat([]byte("x"), 600) // about an envelope's size
	for _, workers := range []int{1, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for range b.N {
				rc := newReceiver(b, nil)
				var done atomic.Int64
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
				start := time.Now()
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for done.Add(1) <= int64(n) {
							resp, err := client.Post(rc.URL, "application/json", bytes.NewReader(body))
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					}()
				}
				wg.Wait()
				client.CloseIdleConnections()
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "posts/s")
			}
		})
	}
}
