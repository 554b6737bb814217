package rest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
)

// BenchmarkSendText compares send-text through REST (loopback HTTP, API-key
// auth, JSON both ways) with calling Core.SendText in the same process, on the
// sandbox engine. The goal: REST/Core throughput ≥ 0.6.
func BenchmarkSendText(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	ctx := context.Background()
	n := sandbox.NewTestNetwork(b, &sandbox.Config{AutoPair: true, ConnectLatency: time.Millisecond, DeliverLatency: time.Hour})
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
	if err := n.WaitForState(ctx, "default", waqtor.StateReady); err != nil {
		b.Fatal(err)
	}
	keys, _ := auth.NewKeyStore(ctx, core, nil)
	_, key, _ := keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
	h, err := rest.NewHandler(core, &rest.HandlerOpts{Keys: keys, RateLimit: -1, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := []byte(`{"chat":"+15550002222","text":"benchmark"}`)

	b.Run("core", func(b *testing.B) {
		for b.Loop() {
			if _, err := core.SendText(ctx, "default", "+15550002222", "benchmark", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rest", func(b *testing.B) {
		client := srv.Client()
		for b.Loop() {
			req, _ := http.NewRequest("POST", srv.URL+"/sessions/default/messages/send-text", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", key)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}
