package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins"
)

// The tests launch this test binary itself as the plugin: with first argument
// testPluginArg, TestMain serves testPlugin instead of running tests. It is
// built once per test run (by go test) and reused by every test.
const testPluginArg = "waqtor-test-plugin"

// With first argument testHostArg, TestMain runs a host with the test plugin
// (see TestPluginExitsWhenHostDies).
const testHostArg = "waqtor-test-host"

// With first argument testForeignArg, TestMain is a foreign local process
// that tries to talk to a plugin (see TestSupplyChainAndIsolation).
const testForeignArg = "waqtor-test-foreign-dial"

// hostSecret is set in the host's environment; a plugin must never see it.
const hostSecret = "WAQTOR_TEST_SECRET"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == testPluginArg {
		os.Exit(runTestPlugin(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == testHostArg {
		os.Exit(runTestHost(os.Args[2]))
	}
	if len(os.Args) > 2 && os.Args[1] == testForeignArg {
		os.Exit(runForeignDial(os.Args[2]))
	}
	_ = os.Setenv(hostSecret, "s3cret")
	goleak.VerifyTestMain(m,
		// database/sql's connection opener lives as long as a pool; pools are
		// closed by Core.Stop, but the goroutine may still be winding down.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		// The reattach attempt of TestSupplyChainAndIsolation leaves go-plugin
		// polling the plugin's PID once a second until that process is gone.
		goleak.IgnoreTopFunction("github.com/hashicorp/go-plugin/internal/cmdrunner.pidWait"),
	)
}

// runTestPlugin serves testPlugin; args select start-up faults.
func runTestPlugin(args []string) int {
	mode := ""
	if len(args) > 0 {
		mode = args[0]
	}
	var opts []plugins.ServeOpt
	switch mode {
	case "exit-at-start":
		fmt.Fprintln(os.Stderr, "test plugin: exiting at start")
		return 1
	case "hang-at-start":
		select {}
	case "garbage-handshake":
		fmt.Println("this is not a handshake")
		time.Sleep(time.Minute)
		return 1
	case "wrong-handshake":
		opts = append(opts, plugins.WithHandshakeVersion(99))
	}
	if err := plugins.Serve(&testPlugin{mode: mode}, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testPlugin answers text messages; a message's first word selects a fault:
//
//	crash <id> exit|panic|gopanic  on attempt 1, crash at a random point
//	slow <id>                      sleep 0–15 ms before and after the reply
//	hang                           never answer
//	poison                         os.Exit(3) on every attempt
//	error                          return an error on every attempt
//	flood                          send and return far too many actions
//	garbage                        return invalid actions, then a valid one
//	noop                           nothing
//	reply                          one reply through the Host service only
//	anything else                  reply
//
// A reply is "echo: <text>" sent through the Host service and "ack: <text>"
// returned as an action.
type testPlugin struct {
	mode string
	host atomic.Value // plugins.HostClient
}

func (p *testPlugin) Info(context.Context) (*plugins.Info, error) {
	return &plugins.Info{Name: "test", Version: "0.0.1", Kinds: []waqtor.EventKind{waqtor.KindMessageReceived},
		Commands: []plugins.CommandInfo{{Name: "env"}, {Name: "kv"}, {Name: "hang"}, {Name: "fail"}, {Name: "echo"}}}, nil
}

func (p *testPlugin) Configure(_ context.Context, req *plugins.ConfigureRequest) error {
	p.host.Store(req.Host)
	if string(req.Config) == `{"refuse":true}` {
		return errors.New("refusing this configuration")
	}
	return nil
}

func (p *testPlugin) OnEvent(ctx context.Context, req *plugins.EventRequest) (*plugins.EventResponse, error) {
	m, ok := req.Event.(*waqtor.MessageReceived)
	if !ok || m.Message.FromMe {
		return nil, nil
	}
	t, ok := m.Message.Content.(*waqtor.Text)
	if !ok {
		return nil, nil
	}
	fields := strings.Fields(t.Body)
	reply := func() error {
		_, err := req.Host.SendText(ctx, m.Session, m.Message.Chat.JID, "echo: "+t.Body)
		return err
	}
	ack := &plugins.EventResponse{Actions: []plugins.Action{plugins.ReplyText(m, "ack: "+t.Body)}}
	switch fields[0] {
	case "noop":
		return nil, nil
	case "reply":
		_, err := req.Host.SendText(ctx, m.Session, m.Message.Chat.JID, "r")
		return nil, err
	case "crash":
		if req.Attempt > 1 {
			break
		}
		crash := func() {
			switch fields[2] {
			case "exit":
				os.Exit(2)
			case "panic":
				panic("test plugin: panic in OnEvent")
			case "gopanic":
				go panic("test plugin: panic in a goroutine")
				select {}
			}
		}
		point := rand.IntN(3)
		if point == 0 {
			crash()
		}
		if err := reply(); err != nil {
			return nil, err
		}
		if point == 1 {
			crash()
		}
		if point == 2 {
			// Crash in the middle of the host running the returned action is
			// covered by SIGKILL; here, crash right after a second send.
			if _, err := req.Host.SendText(ctx, m.Session, m.Message.Chat.JID, "late: "+t.Body); err != nil {
				return nil, err
			}
			crash()
		}
	case "slow":
		time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
		if err := reply(); err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
		return ack, nil
	case "hang":
		if p.mode == "ignore-hang" { // a healthy plugin beside a stuck one
			return ack, nil
		}
		select {}
	case "poison":
		os.Exit(3)
	case "error":
		return nil, errors.New("test plugin: cannot handle this")
	case "flood":
		n := 0
		for ; n < 1000; n++ {
			if _, err := req.Host.SendText(ctx, m.Session, m.Message.Chat.JID, fmt.Sprintf("flood %d", n)); err != nil {
				break
			}
		}
		out := &plugins.EventResponse{}
		for i := range 1000 {
			out.Actions = append(out.Actions, plugins.ReplyText(m, fmt.Sprintf("flood action %d", i)))
		}
		return out, nil
	case "garbage":
		return &plugins.EventResponse{Actions: []plugins.Action{
			plugins.ReplyText(m, "   "), // empty text: refused by the Core
			{Send: &plugins.SendAction{Session: m.Session, Chat: "not a phone", Content: &waqtor.Text{Body: "x"}}},
			{Send: &plugins.SendAction{Session: "nope", Chat: m.Message.Chat.JID, Content: &waqtor.Text{Body: "x"}}},
			plugins.ReplyText(m, "ack: garbage"),
		}}, nil
	}
	if err := reply(); err != nil {
		return nil, err
	}
	return ack, nil
}

func (p *testPlugin) Command(ctx context.Context, req *plugins.CommandRequest) (*plugins.CommandResponse, error) {
	switch req.Name {
	case "env":
		var seen []string
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "WAQTOR") || strings.Contains(kv, "s3cret") {
				seen = append(seen, kv)
			}
		}
		slices.Sort(seen)
		return &plugins.CommandResponse{Result: mustJSON(map[string]any{"waqtor": seen, "n": len(os.Environ())})}, nil
	case "kv":
		h := req.Host
		if err := h.KVSet(ctx, "a/1", []byte("one")); err != nil {
			return nil, err
		}
		if err := h.KVSet(ctx, "a/2", []byte("two")); err != nil {
			return nil, err
		}
		if err := h.KVSet(ctx, "b/1", []byte("three")); err != nil {
			return nil, err
		}
		v, found, err := h.KVGet(ctx, "a/2")
		if err != nil {
			return nil, err
		}
		keys, err := h.KVList(ctx, "a/", "", 0)
		if err != nil {
			return nil, err
		}
		deleted, err := h.KVDelete(ctx, "a/1")
		if err != nil {
			return nil, err
		}
		_, missing, err := h.KVGet(ctx, "a/1")
		if err != nil {
			return nil, err
		}
		tooLong := h.KVSet(ctx, strings.Repeat("k", plugins.KVKeyMax+1), nil)
		if err := h.Log(ctx, slog.LevelInfo, "kv command ran", slog.String("keys", strings.Join(keys, ","))); err != nil {
			return nil, err
		}
		sessions, err := h.Sessions(ctx)
		if err != nil {
			return nil, err
		}
		_, noSession := h.Session(ctx, "does-not-exist")
		return &plugins.CommandResponse{Result: mustJSON(map[string]any{"value": string(v), "found": found, "keys": keys,
			"deleted": deleted, "still_there": missing, "too_long_is_limit": errors.Is(tooLong, plugins.ErrKVLimit),
			"sessions": len(sessions), "session_not_found": errors.Is(noSession, waqtor.ErrSessionNotFound)})}, nil
	case "hang":
		select {}
	case "fail":
		return nil, fmt.Errorf("%w: fail always fails", plugins.ErrInvalidArgs)
	case "echo":
		return &plugins.CommandResponse{Result: req.Args}, nil
	}
	return nil, fmt.Errorf("%w: %q", plugins.ErrUnknownCommand, req.Name)
}
