package rest_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
)

// BenchmarkMediaUploadPeakHeap sends 16 parallel 16 MiB multipart uploads
// and reports the peak heap above the baseline (peak-MiB), with the default
// MediaMemoryBudget and without one (-1), and how many were refused with 503
// (refused/op). The session is not paired, so each upload is read and
// decoded by the handler and then refused by the Core (409) before any engine
// or store keeps a copy: the sandbox keeps every media it carries and SQLite
// the outbox's, about 48 MiB per upload that would hide what the handler
// holds (retained-MiB shows what stays after a GC). Run it once: go test -run '^$' -bench MediaUploadPeakHeap
// -benchtime=1x ./transport/rest/
func BenchmarkMediaUploadPeakHeap(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	const parallel, size = 16, 16<<20 - 4096
	file := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, size/4)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("chat", alicePhone)
	_ = mw.WriteField("kind", "document")
	fw, _ := mw.CreateFormFile("file", "big.bin")
	_, _ = fw.Write(file)
	_ = mw.Close()
	file = nil
	for name, budget := range map[string]int64{"budget=off": -1, "budget=default": 0} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			n := sandbox.NewTestNetwork(b, &sandbox.Config{ConnectLatency: time.Millisecond, DeliverLatency: time.Hour})
			core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(b, dbtest.SQLite), Engine: n.Factory(), Logger: discard()})
			if err != nil {
				b.Fatal(err)
			}
			defer core.Stop(ctx)
			if err := core.Start(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "default"}); err != nil {
				b.Fatal(err)
			}
			if err := n.WaitForState(ctx, "default", waqtor.StateQR); err != nil {
				b.Fatal(err)
			}
			keys, _ := auth.NewKeyStore(ctx, core, nil)
			_, key, _ := keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
			h, err := rest.NewHandler(core, &rest.HandlerOpts{Keys: keys, RateLimit: -1, Logger: discard(), MediaMemoryBudget: budget,
				MediaMemoryWait: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			var peak, refused, retained atomic.Int64
			for b.Loop() {
				runtime.GC()
				base := heapBytes()
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					for {
						if v := heapBytes() - base; v > peak.Load() {
							peak.Store(v)
						}
						select {
						case <-stop:
							return
						case <-time.After(time.Millisecond):
						}
					}
				}()
				var wg sync.WaitGroup
				for range parallel {
					wg.Go(func() {
						req, _ := http.NewRequest("POST", srv.URL+"/sessions/default/messages/send-media", bytes.NewReader(body.Bytes()))
						req.Header.Set("Content-Type", mw.FormDataContentType())
						req.Header.Set("X-API-Key", key)
						res, err := srv.Client().Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						msg, _ := io.ReadAll(res.Body)
						res.Body.Close()
						switch res.StatusCode {
						case 409: // read and decoded, then refused: the session is not paired
						case 503:
							refused.Add(1)
						default:
							b.Errorf("status %d: %s", res.StatusCode, msg)
						}
					})
				}
				wg.Wait()
				close(stop)
				<-sampled
				runtime.GC()
				retained.Store(heapBytes() - base)
			}
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-MiB")
			b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/op")
			b.ReportMetric(float64(retained.Load())/(1<<20), "retained-MiB")
		})
	}
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
