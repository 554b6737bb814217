// Command watch prints a waqtor server's events as they happen, one line
// each, over the WebSocket (package client's resuming event stream):
//
//	go run ./examples/watch -key "$KEY"                      # every message.* event
//	go run ./examples/watch -key "$KEY" -topics '*' -after 1 # every kind, replaying the log after event 1 first
//
// It is the live view of the README's quickstart and a small example of the
// Go client. Flags can also be set with WAQTOR_URL and WAQTOR_API_KEY.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/waqtor/waqtor/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil && ctx.Err() == nil:
		fmt.Fprintln(os.Stderr, "watch:", err)
		os.Exit(1)
	}
}

// run streams events to out until ctx ends or the stream fails.
func run(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(errOut)
	base := fs.String("url", cmp.Or(getenv("WAQTOR_URL"), "http://localhost:8080"), "the server's address (env WAQTOR_URL)")
	key := fs.String("key", getenv("WAQTOR_API_KEY"), "an API key with the read scope (env WAQTOR_API_KEY)")
	topics := fs.String("topics", "message.*", "comma-separated event kinds or wildcards (\"*\" for all)")
	after := fs.Int64("after", 0, "first replay the log's events after this event ID (0: live events only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		return errors.New("-key is required (the API key the server printed, or one from 'server keys create')")
	}
	c, err := client.New(&client.Config{BaseURL: strings.TrimSuffix(*base, "/") + "/api", APIKey: *key})
	if err != nil {
		return err
	}
	opts := &client.StreamOpts{Topics: strings.Split(*topics, ","), After: *after}
	stream, err := c.Events(ctx, opts)
	if err != nil {
		return fmt.Errorf("open the event stream: %w", err)
	}
	defer stream.Close()
	fmt.Fprintf(errOut, "watching %s for %s\n", *base, *topics)
	for {
		e, err := stream.Next(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d %s session=%s %s\n", e.ID, e.Topic, e.Session, e.Data)
	}
}
