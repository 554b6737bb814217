// Command server is waqtor's ready-made WhatsApp gateway: a Core on SQLite (or
// PostgreSQL) with the REST API at /api (its OpenAPI document at
// /api/openapi.json), durable signed webhooks at /api/webhooks, the WebSocket
// at /ws, Prometheus metrics at /metrics, the WebSocket monitor at /ws-monitor
// and a health endpoint at /healthz.
//
//	go run ./examples/server                  # real WhatsApp: scan the QR code it prints
//	go run ./examples/server -engine sandbox  # the simulated network: no phone, no internet
//	go run ./examples/server -engine sandbox -plugin ./echo-plugin  # with a plugin (repeatable)
//	go run ./examples/server -help            # every flag, each with its environment variable
//
// # API keys
//
// Every request but /healthz carries an API key, as "X-API-Key: wqt_…" or
// "Authorization: Bearer wqt_…". While no key was ever used, each start prints
// a new bootstrap admin key (and revokes the previous bootstrap key, which was
// never used); once a key has been used, starts print none. Keys are stored as
// digests only. Make one at any time, with the server running or not:
//
//	go run ./examples/server keys create [-db waqtor-data/waqtor.db] [-name ci] [-scopes admin] [-tenant default]
//	go run ./examples/server keys list [-db …]
//	go run ./examples/server keys revoke [-db …] ID
//
// # Trying it
//
// With the sandbox engine, /api/sandbox/ drives the simulated network, so the
// whole gateway can be tried with curl:
//
//	curl -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
//	  -d '{"chat":"+15550002222","text":"hi"}' localhost:8080/api/messages/send-text
//
// Webhooks go to public addresses only unless -webhook-allow-cidrs lets them
// reach a private range (127.0.0.0/8 for a receiver on the same machine).
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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/component"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], &seams{getenv: os.Getenv, stderr: os.Stderr}); err != nil {
		fmt.Fprintln(os.Stderr, exitMessage(err))
		os.Exit(1)
	}
}

// exitMessage is the line printed when the server fails: the error with one
// "waqtor:" prefix, whether or not the error already carries it.
func exitMessage(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "waqtor: ") {
		return msg
	}
	return "waqtor: " + msg
}

// stopTimeout bounds the graceful shutdown of all components.
const stopTimeout = 25 * time.Second

// retryBaseDefault is the first wait before a session that failed to connect
// tries again; each failure doubles it up to retryMax.
const (
	retryBaseDefault = time.Second
	retryMax         = time.Minute
)

// seams are what run takes from its surroundings, so that tests can replace
// them.
type seams struct {
	// engine, when set, replaces the engine -engine names (tests inject a
	// fake one).
	engine waqtor.EngineFactory
	// getenv reads environment variables.
	getenv func(string) string
	// ready, when set, receives the listening address once the server serves.
	ready chan<- string
	// retryBase is the first retry delay of a session that failed to
	// connect. Defaults to retryBaseDefault.
	retryBase time.Duration
	// stderr receives logs, the usage and the bootstrap key.
	stderr io.Writer
}

// run starts the gateway and blocks until ctx ends, then shuts down gracefully;
// with "keys" as its first argument it manages API keys instead. -help prints
// the usage and returns nil.
func run(ctx context.Context, args []string, s *seams) error {
	if len(args) > 0 && args[0] == "keys" {
		return runKeys(ctx, args[1:], s)
	}
	o, err := parseOptions(args, s.getenv, s.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: level}))
	g, err := newGateway(o, s, logger)
	if err != nil {
		return err
	}
	parts := component.NewGroup(&component.Config{Logger: logger, RollbackTimeout: stopTimeout})
	for _, f := range g.features {
		parts.Add(f.name, f.c)
	}
	if err := parts.Start(ctx); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("Shutting down")
	case serveErr = <-g.serveErr:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	// The listener stops first (WebSocket clients are closed with 1001), the
	// Core last: sends it accepted but did not finish stay pending in the
	// database and go out after the next start.
	return errors.Join(serveErr, parts.Stop(sctx))
}
