// Command embed shows how a host application mounts waqtor's REST API and
// WebSocket into its own chi router, behind its own authentication: the host
// maps its users to waqtor principals (tenant and scopes) with an
// AuthenticateFunc, and waqtor enforces tenant isolation and scopes.
//
//	go run ./examples/embed
//	curl -H "X-User: alice" localhost:8081/app/whatsapp/sessions
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/ws"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, "127.0.0.1:8081", "waqtor-embed.db", nil); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// users is the host's own user table: each user is a waqtor tenant.
var users = map[string]*auth.Principal{
	"alice": {Name: "alice", Tenant: "alice", Scopes: []auth.Scope{auth.ScopeAdmin}},
	"bob":   {Name: "bob", Tenant: "bob", Scopes: []auth.Scope{auth.ScopeRead}},
}

// hostAuth is the host's authentication middleware (here a header; in a real
// app a session cookie or an OIDC token).
func hostAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := users[r.Header.Get("X-User")]; !ok {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// principal maps the host's user to a waqtor principal.
func principal(r *http.Request) (*auth.Principal, error) {
	if p, ok := users[r.Header.Get("X-User")]; ok {
		cp := *p
		return &cp, nil
	}
	return nil, auth.ErrUnauthenticated
}

func run(ctx context.Context, addr, db string, ready chan<- string) error {
	logger := slog.Default()
	network := sandbox.NewNetwork(&sandbox.Config{AutoPair: true})
	defer network.Close(context.WithoutCancel(ctx))
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: db, Engine: network.Factory(), Logger: logger})
	if err != nil {
		return err
	}
	defer core.Stop(context.WithoutCancel(ctx))
	if err := core.Start(ctx); err != nil {
		return err
	}

	// The five lines that mount waqtor:
	api, err := rest.NewHandler(core, &rest.HandlerOpts{AuthenticateFunc: principal})
	if err != nil {
		return err
	}
	hub, err := ws.NewHub(core, &ws.HubOpts{AuthenticateFunc: principal})
	if err != nil {
		return err
	}
	if err := hub.Start(ctx); err != nil {
		return err
	}

	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the host application") })
	r.Route("/app", func(r chi.Router) {
		r.Use(hostAuth)
		r.Handle("/whatsapp/ws", hub) // no timeout middleware on WebSockets
		r.With(middleware.Timeout(30*time.Second)).Mount("/whatsapp", api)
	})

	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	if ready != nil {
		ready <- addr
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(hub.Stop(sctx), srv.Shutdown(sctx))
}
