package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/webhook"
)

// Benchmarks of the delivery path, reported as custom metrics: deliveries/s
// and latency percentiles, p50 and p99 in milliseconds. Each operation is one
// event (b.N events per run; setup is not timed), so
//
//	go test -run '^$' -bench . -benchtime 1x ./webhook/                # smoke (CI)
//	go test -run '^$' -bench 'Inbound|LatencyAt500' -benchtime 20000x -count 3 ./webhook/
//
// BenchmarkInbound is the end-to-end path: sandbox phones send text messages
// to a session; the Core persists them (the sandbox hands over bursts, one
// transaction each) and appends message.received to the event log; the
// dispatcher reads the log, records the deliveries, and the endpoint's worker
// POSTs each one, signed, to a loopback receiver. Latency runs from the
// phone's send to the receiver reading the request. In the same run, a raw
// loop of http.Post calls sends as many requests of the same size to a
// receiver doing the same work (with 1 and with 32 workers, the endpoint's
// concurrency); raw_posts/s is the faster, and vs_raw the ratio of
// deliveries/s to it. BenchmarkLatencyAt500 is the same path with the phones
// paced at 500 messages/s. BenchmarkDispatch appends events straight to the
// log (100 per transaction) and measures the dispatcher alone, latency from
// the event's timestamp. BenchmarkRawPost is the raw loop alone.

// latencyReceiver records, for each request, its latency: from the send time
// of the message it carries (sentAt, by the index in its text), or else from
// the event's timestamp.
type latencyReceiver struct {
	*receiver
	sentAt []atomic.Int64 // unix nanoseconds, by message index
	mu     sync.Mutex
	lats   []time.Duration
	first  []byte // a request body, for the raw loop
	got    atomic.Int64
	done   chan struct{}
	want   int64
}

// benchMarker precedes a message's index in its text.
const benchMarker = "bench#"

func newLatencyReceiver(b testing.TB, want int) *latencyReceiver {
	lr := &latencyReceiver{want: int64(want), done: make(chan struct{}), sentAt: make([]atomic.Int64, want)}
	lr.receiver = newReceiver(b, nil)
	lr.Config.Handler = http.HandlerFunc(lr.serve)
	return lr
}

func (lr *latencyReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	now := time.Now()
	lat, ok := lr.latency(body, now)
	lr.mu.Lock()
	if lr.first == nil {
		lr.first = body
	}
	if ok {
		lr.lats = append(lr.lats, lat)
	}
	lr.mu.Unlock()
	if lr.got.Add(1) == lr.want {
		close(lr.done)
	}
}

func (lr *latencyReceiver) latency(body []byte, now time.Time) (time.Duration, bool) {
	if i := bytes.Index(body, []byte(benchMarker)); i >= 0 {
		rest := body[i+len(benchMarker):]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if k, err := strconv.Atoi(string(rest[:j])); err == nil && k < len(lr.sentAt) {
			if t := lr.sentAt[k].Load(); t != 0 {
				return now.Sub(time.Unix(0, t)), true
			}
		}
		return 0, false
	}
	var env struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal(body, &env) != nil {
		return 0, false
	}
	return now.Sub(env.Timestamp), true
}

func (lr *latencyReceiver) report(b *testing.B, elapsed time.Duration) float64 {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	slices.Sort(lr.lats)
	n := len(lr.lats)
	rate := float64(lr.got.Load()) / elapsed.Seconds()
	b.ReportMetric(rate, "deliveries/s")
	if n > 0 {
		b.ReportMetric(float64(lr.lats[n/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lr.lats[min(n*99/100, n-1)].Microseconds())/1000, "p99_ms")
	}
	return rate
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

// benchConfig runs the Service with its defaults (setup polls every 50 ms
// for the tests' sake) and without logs.
func benchConfig(c *webhook.Config) {
	c.Logger = discard()
	c.PollInterval = 0
}

func BenchmarkDispatch(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) {
		n := b.N
		tb := setup(b, kind, benchConfig)
		lr := newLatencyReceiver(b, n)
		createEndpoint(b, tb.svc, &webhook.EndpointParams{URL: lr.URL, Events: []string{"message.received"}})
		b.ResetTimer()
		start := time.Now()
		go emitMessages(b, tb.core, n, 100)
		lr.wait(b, 5*time.Minute)
		elapsed := time.Since(start)
		b.StopTimer()
		lr.report(b, elapsed)
	})
}

func BenchmarkInbound(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) { benchInbound(b, kind, 0) })
}

func BenchmarkLatencyAt500(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) { benchInbound(b, kind, 500) })
}

// benchInbound sends b.N messages from sandbox phones to the session, as fast
// as they go (rate 0) or paced at rate messages per second, and measures
// their webhooks.
func benchInbound(b *testing.B, kind dbtest.Kind, rate int) {
	n := b.N
	tb := setup(b, kind, benchConfig)
	lr := newLatencyReceiver(b, n)
	createEndpoint(b, tb.svc, &webhook.EndpointParams{URL: lr.URL, Events: []string{"message.received"}})
	ctx := context.Background()
	const phones = 8
	ps := make([]*sandbox.Phone, phones)
	for p := range ps {
		ps[p] = tb.network.Phone(fmt.Sprintf("+2010012%05d", p))
	}
	sendOne := func(i int) {
		lr.sentAt[i].Store(time.Now().UnixNano())
		if _, err := ps[i%phones].SendText(ctx, tb.botJID, benchMarker+strconv.Itoa(i)); err != nil {
			b.Error(err)
		}
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	if rate == 0 {
		var wg sync.WaitGroup
		for p := range phones {
			wg.Go(func() {
				for i := p; i < n; i += phones {
					sendOne(i)
				}
			})
		}
		wg.Wait()
	} else {
		tick := time.NewTicker(2 * time.Millisecond)
		for sent := 0; sent < n; {
			<-tick.C
			// Catch up with the schedule: rate messages per second on average.
			for due := min(int(time.Since(start).Seconds()*float64(rate))+1, n); sent < due; sent++ {
				sendOne(sent)
			}
		}
		tick.Stop()
	}
	lr.wait(b, 5*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	delivered := lr.report(b, elapsed)
	// CPU of this process (Core, dispatcher, sandbox and receiver; not the
	// PostgreSQL server) per delivery: less sensitive to the machine's load
	// than the rates.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu_us/delivery")
	if rate != 0 {
		return
	}
	// How fast the Core persisted the inbound messages: the time of the last
	// message.received event in the log.
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
	b.ReportMetric(float64(n)/last.Sub(start).Seconds(), "inbound_persisted/s")
	// The ceiling: the same number of requests of the same size, to a
	// receiver doing the same work, in a loop of http.Post.
	lr.mu.Lock()
	body := lr.first
	lr.mu.Unlock()
	raw := 0.0
	for _, workers := range []int{1, webhook.ConcurrencyDefault} {
		raw = max(raw, rawPosts(b, n, workers, body))
	}
	b.ReportMetric(raw, "raw_posts/s")
	b.ReportMetric(delivered/raw, "vs_raw")
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawPosts POSTs body n times with workers goroutines to a fresh
// latencyReceiver and returns the requests per second.
func rawPosts(b *testing.B, n, workers int, body []byte) float64 {
	lr := newLatencyReceiver(b, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := client.Post(lr.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func BenchmarkRawPost(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	body := bytes.Repeat([]byte("x"), 600) // about an envelope's size
	for _, workers := range []int{1, webhook.ConcurrencyDefault} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.ReportMetric(rawPosts(b, b.N, workers, body), "posts/s")
		})
	}
}
