// Command server is waqtor's ready-made WhatsApp gateway: a Core on SQLite (or
// PostgreSQL) with the REST API at /api (its OpenAPI document at
// /api/openapi.json), the WebSocket at /ws, Prometheus metrics at /metrics, the
// WebSocket monitor at /ws-monitor and a health endpoint at /healthz.
//
//	go run ./examples/server                  # real WhatsApp: scan the QR code it prints
//	go run ./examples/server -engine sandbox  # the simulated network: no phone needed
//	go run ./examples/server -engine sandbox -plugin ./echo-plugin  # with a plugin (repeatable)
//
// On first start without -api-key it creates an admin API key, prints it once
// and keeps only its digest. With the sandbox engine, /api/sandbox/ drives the
// simulated network, so the whole gateway can be tried with curl:
//
//	curl -H "X-API-Key: $KEY" -d '{"chat":"+15550002222","text":"hi"}' localhost:8080/api/messages/send-text
//
// On first start without -api-key it creates an admin API key, prints it once
// and keeps only its digest. With the sandbox engine, /api/sandbox/ drives the
// simulated network, so the whole gateway can be tried with curl:
//
//	curl -H "X-API-Key: $KEY" -d '{"chat":"+15550002222","text":"hi"}' localhost:8080/api/messages/send-text
//
// Every flag can also be set with an environment variable (shown in -help).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/ws"
	"github.com/waqtor/waqtor/whatsapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "waqtor:", err)
		os.Exit(1)
	}
}

// options are the server's settings, from flags and environment variables.
type options struct {
	addr           string
	allowedOrigins string
	apiKey         string
	db             string
	engine         string
	logLevel       string
	plugins        *pluginPaths
	session        string
}

func parseOptions(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &options{}
	fs.StringVar(&o.addr, "addr", env("WAQTOR_ADDR", ":8080"), "listen address (env WAQTOR_ADDR)")
	fs.StringVar(&o.allowedOrigins, "allowed-origins", env("WAQTOR_ALLOWED_ORIGINS", ""),
		"comma-separated host patterns of browser pages allowed to open the WebSocket (env WAQTOR_ALLOWED_ORIGINS)")
	fs.StringVar(&o.apiKey, "api-key", env("WAQTOR_API_KEY", ""),
		"bootstrap admin API key (wqt_…); without it one is generated on first start and printed once (env WAQTOR_API_KEY)")
	fs.StringVar(&o.db, "db", env("WAQTOR_DB", "waqtor-data/waqtor.db"), "SQLite path or postgres:// URL (env WAQTOR_DB)")
	fs.StringVar(&o.engine, "engine", env("WAQTOR_ENGINE", "whatsapp"), "WhatsApp engine: whatsapp or sandbox (env WAQTOR_ENGINE)")
	fs.StringVar(&o.logLevel, "log-level", env("WAQTOR_LOG_LEVEL", "info"), "debug, info, warn or error (env WAQTOR_LOG_LEVEL)")
	o.plugins = addPluginFlag(fs, getenv)
	fs.StringVar(&o.session, "session", env("WAQTOR_SESSION", "default"), "session created on first start (env WAQTOR_SESSION)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, nil
}

// run starts the gateway and blocks until ctx ends, then shuts down gracefully.
// When ready is not nil it receives the listening address.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var factory waqtor.EngineFactory
	var qrOut io.Writer
	var network *sandbox.Network
	switch o.engine {
	case "whatsapp":
		factory = whatsapp.New(&whatsapp.Config{Logger: logger})
		qrOut = stderr // print QR codes in the terminal, to scan with the phone
	case "sandbox":
		// The simulated network pairs every session at once with a made-up
		// number, so the whole gateway can be tried without a phone.
		network = sandbox.NewNetwork(&sandbox.Config{AutoPair: true, AutoRead: true, Logger: logger})
		defer network.Close(context.WithoutCancel(ctx))
		factory = network.Factory()
	default:
		return fmt.Errorf("-engine %q: want whatsapp or sandbox", o.engine)
	}

	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: o.db, Engine: factory, Logger: logger})
	if err != nil {
		return err
	}
	stopCore := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return core.Stop(sctx)
	}
	logEvents(core, logger, qrOut)
	if err := core.Start(ctx); err != nil {
		return errors.Join(err, stopCore())
	}
	stopPlugins, pluginGroups, err := startPlugins(ctx, core, *o.plugins, logger)
	if err != nil {
		return errors.Join(err, stopCore())
	}
	stopCore = chainStop(ctx, stopPlugins, stopCore) // plugins stop before the Core
	if err := ensureSession(ctx, core, o.session); err != nil {
		return errors.Join(err, stopCore())
	}

	keys, err := auth.NewKeyStore(ctx, core, &auth.KeyStoreConfig{Logger: logger})
	if err != nil {
		return errors.Join(err, stopCore())
	}
	if err := bootstrapKey(ctx, keys, o.apiKey, stderr); err != nil {
		return errors.Join(err, stopCore())
	}
	tokens, err := auth.NewTokens(nil)
	if err != nil {
		return errors.Join(err, stopCore())
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var origins []string
	for _, p := range strings.Split(o.allowedOrigins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			origins = append(origins, p)
		}
	}
	hub, err := ws.NewHub(core, &ws.HubOpts{Keys: keys, Tokens: tokens, AllowedOrigins: origins, Logger: logger, Registerer: reg})
	if err != nil {
		return errors.Join(err, stopCore())
	}
	if err := hub.Start(ctx); err != nil {
		return errors.Join(err, stopCore())
	}
	tokenRoutes, err := hub.TokenRoutes()
	if err != nil {
		return errors.Join(err, stopCore())
	}
	groups := append([]rest.RouteGroup{tokenRoutes}, pluginGroups...)
	if network != nil {
		groups = append(groups, sandboxRoutes(network))
	}
	api, err := rest.NewHandler(core, &rest.HandlerOpts{Keys: keys, Groups: groups, Logger: logger, Registerer: reg,
		DefaultSession: o.session})
	if err != nil {
		return errors.Join(err, stopCore())
	}

	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := core.Ping(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	r.Mount("/api", api)
	r.Handle("/ws", hub) // outside any request-timeout middleware
	r.Handle("/metrics", requireScope(keys, auth.ScopeAdmin, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	monitor := hub.MonitorHandler(func(r *http.Request) string {
		if p, ok := auth.PrincipalFrom(r.Context()); ok && !p.Allows(auth.ScopeAdmin) {
			return p.Tenant
		}
		return ""
	})
	r.Handle("/ws-monitor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			requireScope(keys, auth.ScopeRead, monitor).ServeHTTP(w, r)
			return
		}
		monitor.ServeHTTP(w, r) // the page itself holds no data; it asks for a key
	}))
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return errors.Join(err, stopCore())
	}
	logger.InfoContext(ctx, "Listening", slog.String("addr", ln.Addr().String()), slog.String("engine", o.engine),
		slog.String("db", redactDSN(o.db)))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
		logger.Info("Shutting down")
	case err := <-serveErr:
		return errors.Join(err, stopCore())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// Close WebSocket clients with 1001 and stop taking requests first, then stop
	// the Core: sends it accepted but did not finish stay pending in the database
	// and go out after the next start.
	return errors.Join(hub.Stop(sctx), srv.Shutdown(sctx), stopCore())
}

// bootstrapKey stores the -api-key admin key, or creates and prints one when
// the database has no active key.
func bootstrapKey(ctx context.Context, keys *auth.KeyStore, key string, out io.Writer) error {
	admin := &auth.KeyCreateParams{Name: "bootstrap admin", Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: waqtor.DefaultTenantDefault}
	if key != "" {
		if _, err := auth.ParseKey(key); err != nil {
			return fmt.Errorf("-api-key: not a waqtor key (want %s followed by %d characters, for example %s)", auth.KeyPrefix,
				auth.KeyLength-len(auth.KeyPrefix), auth.NewKeySecret())
		}
		_, err := keys.Import(ctx, key, admin)
		if errors.Is(err, auth.ErrKeyExists) {
			return nil
		}
		return err
	}
	n, err := keys.CountActive(ctx)
	if err != nil || n > 0 {
		return err
	}
	_, secret, err := keys.Create(ctx, admin)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nBootstrap admin API key (shown once, stored only as a digest):\n\n    %s\n\n", secret)
	return nil
}

// requireScope lets through requests whose API key holds scope.
func requireScope(keys *auth.KeyStore, scope auth.Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := keys.AuthenticateRequest(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="waqtor"`)
			http.Error(w, "missing or invalid API key", http.StatusUnauthorized)
			return
		}
		if !p.Allows(scope) {
			http.Error(w, "this key lacks the "+string(scope)+" scope", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// ensureSession creates the session on first start and connects it when it was
// never paired (so that it shows a QR code).
func ensureSession(ctx context.Context, core *waqtor.Core, id string) error {
	s, err := core.Session(ctx, id)
	if errors.Is(err, waqtor.ErrSessionNotFound) {
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: id})
		return err
	}
	if err != nil {
		return err
	}
	if s.Info.JID == "" {
		return core.Connect(ctx, id)
	}
	return nil
}

// logEvents logs every event at info level (QR codes at debug: they are long),
// and draws QR codes on qrOut when it is not nil.
func logEvents(core *waqtor.Core, logger *slog.Logger, qrOut io.Writer) {
	ch, _, err := core.Subscribe(waqtor.AllKinds()...)
	if err != nil {
		panic(err) // AllKinds is never empty
	}
	go func() {
		for e := range ch {
			m := e.Meta()
			attrs := []any{slog.String("kind", string(e.Kind())), slog.String("session", m.Session), slog.Int64("seq", m.Seq)}
			switch v := e.(type) {
			case *waqtor.SessionStatus:
				attrs = append(attrs, slog.String("status", string(v.State)), slog.String("reason", v.Reason))
			case *waqtor.MessageReceived:
				attrs = append(attrs, slog.String("from", v.Message.Sender.JID), slog.String("type", string(v.Message.Content.ContentType())))
			case *waqtor.MessageSent:
				attrs = append(attrs, slog.String("to", v.Message.Chat.JID), slog.String("message_id", v.Message.ID))
			case *waqtor.PluginStatus:
				attrs = append(attrs, slog.String("plugin", v.Plugin), slog.String("state", string(v.State)), slog.String("error", v.Error))
			case *waqtor.SessionQR:
				logger.Debug("Event", append(attrs, slog.String("qr", v.Code))...)
				if qrOut != nil {
					fmt.Fprintf(qrOut, "\nScan this QR code with WhatsApp (Linked devices) for session %q:\n", m.Session)
					if err := whatsapp.QRTerminal(qrOut, v.Code); err != nil {
						logger.Warn("Drawing the QR code failed", slog.Any("error", err))
					}
				}
				continue
			}
			logger.Info("Event", attrs...)
		}
	}()
}

// redactDSN hides a password in a postgres:// URL.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}
