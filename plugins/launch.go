package plugins

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/proto"
)

// process is one running plugin process: the typed result of the loader.
// Nothing outside launch sees go-plugin's Dispense or its interface{}.
type process struct {
	client  *plugin.Client
	cmd     *exec.Cmd
	info    *Info
	pid     int
	remote  *remote
	started time.Time
}

// resolveBinary returns the absolute path of an executable regular file.
func resolveBinary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrBinaryNotFound, path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBinaryNotFound, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file", ErrBinaryNotFound, abs)
	}
	return abs, nil
}

// launch starts the plugin process, checks its checksum and handshake over
// AutoMTLS, and runs Info and Configure.
func (s *supervisor) launch(ctx context.Context) (_ *process, err error) {
	defer func() {
		if err != nil && !errors.As(err, new(*StartError)) {
			err = &StartError{Plugin: s.cfg.Name, Err: err}
		}
	}()
	p, err := startProcess(ctx, s.cfg, s.log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.stop(s.cfg.KillGrace)
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	hs := &hostServer{s: s}
	r := p.remote
	id := r.broker.NextId()
	go r.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		srv := grpc.NewServer(opts...)
		proto.RegisterHostServer(srv, hs)
		return srv
	})
	if err := r.configure(sctx, s.cfg.Name, s.cfg.Config, id); err != nil {
		return nil, fmt.Errorf("Configure: %w", err)
	}
	return p, nil
}

// startProcess starts the plugin process of cfg, checks its checksum and
// handshake over AutoMTLS, and runs Info; it stops the process on failure.
func startProcess(ctx context.Context, cfg *PluginConfig, log *slog.Logger) (_ *process, err error) {
	path, err := resolveBinary(cfg.Path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, cfg.Args...)
	// The host's environment is never passed on (SkipHostEnv); only Env and
	// go-plugin's handshake variables are.
	cmd.Env = slices.Clone(cfg.Env)
	ccfg := &plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          pluginSet(nil, nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Managed:          true,
		StartTimeout:     cfg.StartTimeout,
		Logger:           newHclog(log, ""),
		Stderr:           io.Discard,
		SyncStdout:       io.Discard,
		SyncStderr:       io.Discard,
	}
	if cfg.SHA256 != "" {
		sum, _ := hex.DecodeString(cfg.SHA256) // validated in NewHost and Probe
		ccfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(ccfg)
	p := &process{client: client, cmd: cmd, started: time.Now()}
	defer func() {
		if err != nil {
			p.stop(cfg.KillGrace)
		}
	}()
	rpc, err := client.Client()
	if err != nil {
		return nil, classifyStartError(err)
	}
	if cmd.Process != nil {
		p.pid = cmd.Process.Pid
	}
	raw, err := rpc.Dispense(pluginKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	r, ok := raw.(*remote)
	if !ok {
		return nil, fmt.Errorf("%w: unexpected client type %T", ErrHandshake, raw)
	}
	p.remote = r
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	info, err := r.info(sctx)
	if err != nil {
		return nil, fmt.Errorf("Info: %w", err)
	}
	known := waqtor.AllKinds()
	for _, k := range info.Kinds {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("Info: the plugin wants unknown event kind %q (known: %v)", k, known)
		}
	}
	info.Kinds = slices.Compact(slices.Sorted(slices.Values(info.Kinds)))
	p.info = info
	return p, nil
}

// Probe starts the executable of cfg (Path, Args, Env, SHA256 and
// StartTimeout count; Name only names it in logs and errors), asks its Info
// and stops it, without configuring it or sending it events. A host uses it to
// name plugin instances after the names the plugins declare. Errors are
// *StartError.
func Probe(ctx context.Context, cfg *PluginConfig, logger *slog.Logger) (*Info, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil PluginConfig", ErrConfig)
	}
	cfg = cfg.WithDefaults()
	cfg.Name = cmp.Or(cfg.Name, "probe")
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	p, err := startProcess(ctx, cfg, logger.With(slog.String("plugin", cfg.Name)))
	if err != nil {
		return nil, &StartError{Plugin: cfg.Name, Err: err}
	}
	p.stop(cfg.KillGrace)
	return p.info, nil
}

// classifyStartError maps go-plugin's start errors (plain strings, mostly) to
// this package's sentinels.
func classifyStartError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%w: %w", ErrChecksum, err)
	case strings.Contains(msg, "error verifying checksum"):
		return fmt.Errorf("%w: %w", ErrChecksum, err)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%w: %w", ErrStartTimeout, err)
	case strings.Contains(msg, "exec format error"), strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "no such file"):
		return fmt.Errorf("%w: %w", ErrBinaryNotFound, err)
	}
	return fmt.Errorf("%w: %w", ErrHandshake, err)
}

// exited reports whether the process has exited.
func (p *process) exited() bool { return p.client.Exited() }

// stop asks the plugin to exit, waits grace, then kills it with SIGKILL; it
// returns once the process is reaped. go-plugin's Kill does the asking and
// its own 2 s wait, but it blocks forever on a process that is frozen
// (SIGSTOP, a wedged runtime), so after grace the process is killed here.
func (p *process) stop(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	t := time.NewTimer(grace + 500*time.Millisecond)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	<-done
}
