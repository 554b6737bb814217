// Command webhookreceiver is a minimal receiver of waqtor webhooks: it
// verifies both signature formats, deduplicates on webhook-id, and prints
// each event once.
//
//	WEBHOOK_SECRET=whsec_... go run ./examples/webhookreceiver -addr :3000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/waqtor/waqtor/webhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	secret := os.Getenv("WEBHOOK_SECRET")
	if _, err := webhook.ParseSecret(secret); err != nil {
		fmt.Fprintln(os.Stderr, "set WEBHOOK_SECRET to the endpoint's secret:", err)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: newHandler(secret, slog.Default()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newHandler verifies and deduplicates deliveries. (A real receiver keeps the
// seen IDs in its database, for at least the retry schedule's span.)
func newHandler(secret string, logger *slog.Logger) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, nil); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		if err := webhook.VerifySeed(secret, r.Header.Get(webhook.HeaderSignature), body); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderWebhookID)
		mu.Lock()
		dup := seen[id]
		seen[id] = true
		mu.Unlock()
		if !dup {
			logger.Info("Event", slog.String("webhook_id", id), slog.String("type", r.Header.Get(webhook.HeaderEvent)),
				slog.String("body", string(body)))
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
