package webhook_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// rawServer accepts connections on loopback and hands each to serve after
// reading the request head.
func rawServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = req.Body.Read(make([]byte, 1<<16))
				serve(&struct{ net.Conn }{c})
				select {
				case <-done:
				default:
				}
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/hook"
}

// gzipBomb is a few tens of KB of gzip that expands to 50 MB: 50 gzip
// members of 1 MiB each (gzip readers read concatenated members as one
// stream).
var gzipBomb = sync.OnceValue(func() []byte {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = zw.Write(bytes.Repeat([]byte("a"), 1<<20))
	_ = zw.Close()
	return bytes.Repeat(member.Bytes(), 50)
})

// TestHostileReceivers is docs/reliability.md T12: receivers that send a 1 GB
// body, a gzip bomb, a slowloris body or header, endless headers, or hang.
// A hostile receiver never crashes, hangs or bloats the dispatcher: every
// delivery is attempted and finishes (succeeded, or dead after its one
// attempt), every attempt ends within the timeout plus a second, the stored
// body stays under the cap, memory and goroutines stay bounded. 4 deliveries
// per kind (24) in the normal run, 20 per kind (120) with WAQTOR_NIGHTLY=1.
// Not parallel: it measures the heap.
//
// The circuit breaker is on, as in production, and is accounted for: it
// opens once its window holds BreakerMinRequestsDefault attempts that mostly
// failed, and then rightly holds the endpoint's other deliveries back for its
// cool-down (tested in breaker_test.go), so they would not be attempted
// within this test. Each kind's deliveries are therefore spread over
// endpoints that get fewer than that many each, and the test checks at the
// end that no breaker opened: every delivery met its hostile receiver.
func TestHostileReceivers(t *testing.T) {
	perKind := 4
	if os.Getenv("WAQTOR_NIGHTLY") != "" {
		perKind = 20
	}
	const timeout = 700 * time.Millisecond
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) { c.Concurrency = 64 })
	ctx := context.Background()
	stop := make(chan struct{})
	var stopOnce sync.Once
	closeStop := func() { stopOnce.Do(func() { close(stop) }) }
	t.Cleanup(closeStop) // runs last: receivers close first, so stop them before failing out
	defer closeStop()

	huge := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Length", fmt.Sprint(1<<30))
		w.WriteHeader(200)
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < 1<<30; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	bomb := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(500)
		_, _ = w.Write(gzipBomb())
	})
	slowBody := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(503)
		for range 100 {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	hang := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	slowHeader := rawServer(t, func(c net.Conn) {
		for _, ch := range []byte("HTTP/1.1 200 OK\r\nX-Slow: yes\r\n") {
			if _, err := c.Write([]byte{ch}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	endless := rawServer(t, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n"))
		line := []byte("X-Junk: " + string(bytes.Repeat([]byte("a"), 1000)) + "\r\n")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})

	t.Logf("gzip bomb: %d bytes", len(gzipBomb()))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	var peak atomic.Uint64
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	type hostile struct {
		name string
		url  string
	}
	targets := []hostile{{"1 GB body", huge.URL}, {"gzip bomb", bomb.URL}, {"slowloris body", slowBody.URL},
		{"hang", hang.URL}, {"slowloris header", slowHeader}, {"endless headers", endless}}
	type sent struct {
		name string
		id   string
	}
	var deliveries []sent
	var endpoints []string
	oneTry := &webhook.RetryPolicy{} // one attempt, then dead
	perEndpoint := webhook.BreakerMinRequestsDefault - 1
	for _, h := range targets {
		var ep *webhook.Endpoint
		for i := range perKind {
			if i%perEndpoint == 0 {
				ep = createEndpoint(t, b.svc, &webhook.EndpointParams{URL: h.url, Timeout: timeout, Retry: oneTry,
					Events: []string{quietKind}})
				endpoints = append(endpoints, ep.ID)
			}
			d, err := b.svc.Test(ctx, "default", ep.ID)
			require.NoError(t, err)
			deliveries = append(deliveries, sent{h.name, d.ID})
		}
	}
	for _, d := range deliveries {
		var got *webhook.Delivery
		require.NoError(t, waitFor(ctx, func() bool {
			got, _ = b.svc.Delivery(ctx, "default", d.id)
			return got != nil && got.State != webhook.StatePending
		}), "%s: delivery never finished (%+v)", d.name, got)
		require.Contains(t, []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed}, got.State, d.name)
		atts, err := b.svc.Attempts(ctx, "default", d.id)
		require.NoError(t, err)
		require.Len(t, atts, 1, d.name)
		a := atts[0]
		require.LessOrEqual(t, a.Latency, timeout+time.Second, "%s: attempt took %s", d.name, a.Latency)
		require.LessOrEqual(t, len(a.ResponseBody), webhook.MaxResponseBytesDefault, d.name)
		switch d.name {
		case "1 GB body":
			require.Equal(t, webhook.StateSucceeded, got.State, "a 2xx with a huge body still succeeds")
			require.True(t, a.ResponseTruncated)
		case "gzip bomb":
			require.Equal(t, 500, a.StatusCode, "%+v", a)
			require.True(t, a.ResponseTruncated, "the cap applies after decompression")
			require.Len(t, a.ResponseBody, webhook.MaxResponseBytesDefault)
		case "slowloris body":
			require.Equal(t, 503, a.StatusCode)
			require.Contains(t, a.Error, "timed out")
		case "hang", "slowloris header":
			require.Contains(t, a.Error, "timeout")
		case "endless headers":
			require.Equal(t, webhook.StateFailed, got.State)
			require.NotEmpty(t, a.Error)
		}
	}
	for _, id := range endpoints {
		st, err := b.svc.Stats(ctx, "default", id, nil)
		require.NoError(t, err)
		require.Zero(t, st.Breaker.Opens, "endpoint %s: its breaker opened, so the test did not send what it meant to", id)
	}
	closeStop()
	<-sampling
	growth := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("%d hostile deliveries: peak heap growth %.1f MiB", len(deliveries), float64(growth)/(1<<20))
	require.Less(t, growth, int64(64<<20), "heap growth")
	goroutines += len(endpoints) // one worker per endpoint is the steady state
	if err := waitFor(ctx, func() bool { return runtime.NumGoroutine() <= goroutines+5 }); err != nil {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), goroutines, buf[:runtime.Stack(buf, true)])
	}
}
