// Package component runs the long-lived parts of a program (a Core, a webhook
// dispatcher, a WebSocket hub, an HTTP listener, ...) as one ordered list:
// Start starts them in order, Stop stops them in reverse, and a Start that
// fails part way stops what had already started, in reverse, so no part is
// left running and none is stopped before the parts that depend on it.
//
// It is the composition River uses for its services (a client holds a list of
// start/stop services and starts them together): adding a part to a program
// is one Add call instead of another start step and another cleanup at every
// later failure.
//
// The package is internal: its shape follows the example gateway's needs and
// may change. Hosts that embed waqtor compose the same types themselves; every
// long-lived waqtor type already has Start(ctx) and Stop(ctx).
package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Component is a part with a lifecycle.
//
// Start must return promptly (background work runs on the component's own
// goroutines; ctx bounds their lifetime) and, when it fails, must leave the
// component stopped: the Group does not call Stop on a component whose Start
// failed. Stop stops gracefully within ctx and must be safe to call once
// after a successful Start.
type Component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Func is a Component made of two functions. A nil function does nothing.
type Func struct {
	// StartFunc starts the component. Defaults to doing nothing.
	StartFunc func(ctx context.Context) error
	// StopFunc stops it. Defaults to doing nothing.
	StopFunc func(ctx context.Context) error
}

// Start calls StartFunc.
func (f Func) Start(ctx context.Context) error {
	if f.StartFunc == nil {
		return nil
	}
	return f.StartFunc(ctx)
}

// Stop calls StopFunc.
func (f Func) Stop(ctx context.Context) error {
	if f.StopFunc == nil {
		return nil
	}
	return f.StopFunc(ctx)
}

// RollbackTimeoutDefault bounds stopping the started components after a
// failed Start.
const RollbackTimeoutDefault = 15 * time.Second

// Config configures a Group.
type Config struct {
	// Logger receives a debug line per component started and stopped, and a
	// warning per component that fails to stop. Defaults to slog.Default().
	Logger *slog.Logger
	// RollbackTimeout bounds stopping the components already started when a
	// later one fails to start. Defaults to RollbackTimeoutDefault (15 s).
	RollbackTimeout time.Duration
}

// Error reports which component failed and in which step.
type Error struct {
	// Component is the failing component's name.
	Component string
	// Err is what it returned (or the context's cause when it did not stop
	// in time).
	Err error
	// Op is "start" or "stop".
	Op string
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Component, e.Err) }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// ErrStarted is returned by Add after Start and by a second Start.
var ErrStarted = errors.New("component: group already started")

type entry struct {
	name string
	c    Component
}

// Group is an ordered list of components. Build it with NewGroup and Add,
// then Start it once and Stop it once. All methods are safe for concurrent
// use.
type Group struct {
	logger          *slog.Logger
	rollbackTimeout time.Duration

	mu      sync.Mutex
	entries []entry
	started int  // how many entries are running, from the front
	used    bool // Start was called
}

// NewGroup returns an empty Group.
func NewGroup(cfg *Config) *Group {
	if cfg == nil {
		cfg = &Config{}
	}
	g := &Group{logger: cfg.Logger, rollbackTimeout: cfg.RollbackTimeout}
	if g.logger == nil {
		g.logger = slog.Default()
	}
	if g.rollbackTimeout <= 0 {
		g.rollbackTimeout = RollbackTimeoutDefault
	}
	return g
}

// Add appends a component, started after those added before it and stopped
// before them. Names appear in logs and errors and must be unique. Add panics
// on a duplicate or empty name, a nil component, or a Group already started:
// all are programming errors (see AddSafely).
func (g *Group) Add(name string, c Component) {
	if err := g.AddSafely(name, c); err != nil {
		panic(err)
	}
}

// AddSafely is Add returning an error instead of panicking.
func (g *Group) AddSafely(name string, c Component) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.used:
		return fmt.Errorf("%w: cannot add %q", ErrStarted, name)
	case name == "":
		return errors.New("component: empty name")
	case c == nil:
		return fmt.Errorf("component: %q is nil", name)
	}
	for _, e := range g.entries {
		if e.name == name {
			return fmt.Errorf("component: duplicate name %q", name)
		}
	}
	g.entries = append(g.entries, entry{name: name, c: c})
	return nil
}

// Names returns the components' names in start order.
func (g *Group) Names() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, len(g.entries))
	for i, e := range g.entries {
		out[i] = e.name
	}
	return out
}

// Start starts the components in order; ctx is handed to each and bounds
// their lifetime. When one fails (or ctx ends between two), Start stops the
// ones already started, in reverse, within RollbackTimeout, and returns the
// failure (an *Error) joined with the errors of that rollback. A Group starts
// once: a second Start returns ErrStarted.
func (g *Group) Start(ctx context.Context) error {
	g.mu.Lock()
	if g.used {
		g.mu.Unlock()
		return ErrStarted
	}
	g.used = true
	entries := g.entries
	g.mu.Unlock()
	for i, e := range entries {
		err := context.Cause(ctx)
		if err == nil {
			t0 := time.Now()
			err = e.c.Start(ctx)
			if err == nil {
				g.mu.Lock()
				g.started = i + 1
				g.mu.Unlock()
				g.logger.DebugContext(ctx, "Component started", slog.String("component", e.name),
					slog.Duration("took", time.Since(t0)))
				continue
			}
		}
		startErr := &Error{Component: e.name, Err: err, Op: "start"}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.rollbackTimeout)
		defer cancel()
		return errors.Join(startErr, g.Stop(rctx))
	}
	return nil
}

// Stop stops the started components in reverse order, each with ctx, and
// returns their errors joined (each an *Error). A component that fails to
// stop does not keep the others running. Stop returns by the time ctx ends:
// a component still stopping then is reported with ctx's cause and left to
// finish on its own while the rest are told to stop. Stop is safe to call
// more than once (later calls stop nothing) and before Start.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	entries := g.entries[:g.started]
	g.started = 0
	g.used = true // a stopped group cannot start
	g.mu.Unlock()
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if err := stopOne(ctx, e.c); err != nil {
			g.logger.WarnContext(ctx, "Component failed to stop", slog.String("component", e.name), slog.Any("error", err))
			errs = append(errs, &Error{Component: e.name, Err: err, Op: "stop"})
			continue
		}
		g.logger.DebugContext(ctx, "Component stopped", slog.String("component", e.name))
	}
	return errors.Join(errs...)
}

// stopOne calls c.Stop and waits for it until ctx ends.
func stopOne(ctx context.Context, c Component) error {
	done := make(chan error, 1)
	go func() { done <- c.Stop(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // it finished as ctx ended
			return err
		default:
			return fmt.Errorf("did not stop in time: %w", context.Cause(ctx))
		}
	}
}
