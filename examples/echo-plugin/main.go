// Command echo-plugin is a waqtor plugin that answers every text message with
// its echo. It shows the plugin SDK: a Plugin (Info and OnEvent), the optional
// Configurer and Commander, and the plugin's key/value store.
//
// Build it and hand it to a host:
//
//	go build -o echo-plugin ./examples/echo-plugin
//	go run ./examples/server -engine sandbox -plugin ./echo-plugin
//
// Configuration (JSON): {"prefix": "echo: "}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins"
)

func main() {
	if err := plugins.Serve(&echo{prefix: "echo: "}); err != nil {
		fmt.Fprintln(os.Stderr, "echo-plugin:", err)
		os.Exit(1)
	}
}

// echo is the plugin.
type echo struct {
	prefix string
	echoed atomic.Int64 // since this process started
}

// config is the plugin's JSON configuration.
type config struct {
	// Prefix goes before the echoed text. Defaults to "echo: ".
	Prefix *string `json:"prefix"`
}

func (e *echo) Info(context.Context) (*plugins.Info, error) {
	return &plugins.Info{
		Name:    "echo",
		Version: "1.0.0",
		Kinds:   []waqtor.EventKind{waqtor.KindMessageReceived},
		Commands: []plugins.CommandInfo{
			{Name: "stats", Description: "how many messages were echoed"},
		},
	}, nil
}

func (e *echo) Configure(_ context.Context, req *plugins.ConfigureRequest) error {
	var c config
	if err := json.Unmarshal(req.Config, &c); err != nil {
		return fmt.Errorf("echo: config: %w", err)
	}
	if c.Prefix != nil {
		e.prefix = *c.Prefix
	}
	return nil
}

// OnEvent answers a text with its echo. The reply is returned as an action:
// the host sends it with an idempotency key derived from the event, so a
// redelivery after a crash does not send it twice.
func (e *echo) OnEvent(ctx context.Context, req *plugins.EventRequest) (*plugins.EventResponse, error) {
	m, ok := req.Event.(*waqtor.MessageReceived)
	if !ok || m.Message.FromMe {
		return nil, nil
	}
	t, ok := m.Message.Content.(*waqtor.Text)
	if !ok {
		return nil, nil
	}
	e.echoed.Add(1)
	// The total survives restarts in the plugin's key/value store. (Counted at
	// least once: a redelivered event counts again.)
	total := int64(1)
	if v, found, err := req.Host.KVGet(ctx, "echoed"); err == nil && found {
		n, _ := strconv.ParseInt(string(v), 10, 64)
		total = n + 1
	}
	if err := req.Host.KVSet(ctx, "echoed", []byte(strconv.FormatInt(total, 10))); err != nil {
		req.Host.Logger().WarnContext(ctx, "Could not store the count", "error", err)
	}
	return &plugins.EventResponse{Actions: []plugins.Action{plugins.ReplyText(m, e.prefix+t.Body)}}, nil
}

func (e *echo) Command(ctx context.Context, req *plugins.CommandRequest) (*plugins.CommandResponse, error) {
	if req.Name != "stats" {
		return nil, fmt.Errorf("%w: %q", plugins.ErrUnknownCommand, req.Name)
	}
	var total int64
	if v, found, err := req.Host.KVGet(ctx, "echoed"); err != nil {
		return nil, err
	} else if found {
		total, _ = strconv.ParseInt(string(v), 10, 64)
	}
	b, err := json.Marshal(map[string]int64{"since_start": e.echoed.Load(), "total": total})
	if err != nil {
		return nil, err
	}
	return &plugins.CommandResponse{Result: b}, nil
}
