package plugins

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve serves impl as a waqtor plugin and returns when the host closes the
// connection. Call it from the plugin program's main:
//
//	func main() {
//		if err := plugins.Serve(&echo{}); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// The program must be launched by a waqtor host: run by hand, it prints a
// notice and exits with status 1.
func Serve(impl Plugin, opts ...ServeOpt) error {
	if impl == nil {
		return errors.New("plugins: Serve: nil Plugin")
	}
	o := &serveOptions{}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(o); err != nil {
			return err
		}
	}
	if o.logger == nil {
		o.logger = slog.New(newStderrHandler(os.Stderr, slog.LevelDebug))
	}
	hs := handshake
	if o.handshake != nil {
		hs = *o.handshake
	}
	cfg := &plugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         pluginSet(impl, o),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Info, Output: os.Stderr,
			JSONFormat: true}),
	}
	go exitWithHost(o.logger)
	plugin.Serve(cfg)
	return nil
}

// exitWithHost ends the plugin when the host process is gone (its parent
// changed: it was re-parented after the host crashed or was killed), so that
// no plugin outlives its host.
func exitWithHost(logger *slog.Logger) {
	ppid := os.Getppid()
	t := time.NewTicker(parentPollInterval)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			logger.Error("The host process is gone: exiting", slog.Int("host_pid", ppid))
			os.Exit(1)
		}
	}
}

// parentPollInterval is how often a plugin checks that its host still runs.
const parentPollInterval = 500 * time.Millisecond

// ServeOpt is an option of Serve. Most plugins need none.
type ServeOpt interface {
	apply(o *serveOptions) error
}

type serveOptions struct {
	handshake *plugin.HandshakeConfig // tests only: a wrong handshake
	logger    *slog.Logger
}

type serveOptFunc func(o *serveOptions) error

func (f serveOptFunc) apply(o *serveOptions) error { return f(o) }

// WithLogger sets the logger the SDK uses for its own messages (such as a
// recovered panic) and returns from Host.Logger. Defaults to a logger writing
// JSON lines to stderr, which the host routes into its own log with levels
// kept.
func WithLogger(l *slog.Logger) ServeOpt {
	return serveOptFunc(func(o *serveOptions) error {
		if l == nil {
			return errors.New("plugins: WithLogger: nil logger")
		}
		if o.logger != nil {
			return errors.New("plugins: WithLogger given twice")
		}
		o.logger = l
		return nil
	})
}

// newStderrHandler returns a slog handler that writes the JSON lines go-plugin
// parses from a plugin's stderr ("@level", "@message", "@timestamp"), so the
// host logs them at their level.
func newStderrHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.LevelKey:
			lv, _ := a.Value.Any().(slog.Level)
			return slog.String("@level", strings.ToLower(hclogLevelName(lv)))
		case slog.MessageKey:
			return slog.String("@message", a.Value.String())
		case slog.TimeKey:
			return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
		}
		return a
	}})
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// sdkTimeout bounds the SDK's own calls to the host made without a deadline.
const sdkTimeout = 30 * time.Second
