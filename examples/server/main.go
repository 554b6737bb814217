// Command server is waqtor's ready-made WhatsApp gateway: a Core on SQLite (or
// PostgreSQL) with a health endpoint, logging every event.
//
//	go run ./examples/server                  # sandbox engine, SQLite in ./waqtor-data/
//	go run ./examples/server -engine sandbox  # no phone needed
//	go run ./examples/server -plugin ./echo-plugin  # with a plugin (repeatable)
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

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
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
	addr     string
	db       string
	engine   string
	logLevel string
	plugins  *pluginPaths
	session  string
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
	fs.StringVar(&o.db, "db", env("WAQTOR_DB", "waqtor-data/waqtor.db"), "SQLite path or postgres:// URL (env WAQTOR_DB)")
	fs.StringVar(&o.engine, "engine", env("WAQTOR_ENGINE", "sandbox"), "WhatsApp engine: sandbox (env WAQTOR_ENGINE)")
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
	switch o.engine {
	case "sandbox":
		// The simulated network pairs every session at once with a made-up
		// number, so the whole gateway can be tried without a phone.
		network := sandbox.NewNetwork(&sandbox.Config{AutoPair: true, AutoRead: true, Logger: logger})
		defer network.Close(context.WithoutCancel(ctx))
		factory = network.Factory()
	default:
		return fmt.Errorf("-engine %q: want sandbox", o.engine)
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
	logEvents(core, logger)
	if err := core.Start(ctx); err != nil {
		return errors.Join(err, stopCore())
	}
	stopPlugins, err := startPlugins(ctx, core, *o.plugins, logger)
	if err != nil {
		return errors.Join(err, stopCore())
	}
	stopCore = chainStop(ctx, stopPlugins, stopCore) // plugins stop before the Core
	if err := ensureSession(ctx, core, o.session); err != nil {
		return errors.Join(err, stopCore())
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := core.Ping(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
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
	// Stop taking requests first, then stop the Core: sends it accepted but did not
	// finish stay pending in the database and go out after the next start.
	return errors.Join(srv.Shutdown(sctx), stopCore())
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

// logEvents logs every event at info level (QR codes at debug: they are long).
func logEvents(core *waqtor.Core, logger *slog.Logger) {
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
