package plugins

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/waqtor/waqtor/internal/corelink"
)

// WithHandshakeVersion serves with another protocol version: a plugin the host
// must refuse.
func WithHandshakeVersion(v uint) ServeOpt {
	return serveOptFunc(func(o *serveOptions) error {
		hs := handshake
		hs.ProtocolVersion = v
		o.handshake = &hs
		return nil
	})
}

// PluginReattach returns how to reach a running plugin's process (address
// and PID), for the isolation tests.
func (h *Host) PluginReattach(name string) *plugin.ReattachConfig {
	s := h.sups[name]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.client.ReattachConfig()
}

// PluginSet is the plugin map, for the isolation tests.
func PluginSet() plugin.PluginSet { return pluginSet(nil, nil) }

// Handshake is the handshake, for the isolation tests.
var Handshake = handshake

// HclogForTest adapts a slog logger for go-plugin clients built by tests.
func HclogForTest(l *slog.Logger) hclog.Logger { return newHclog(l, "test") }

func corelinkMigrate(ctx context.Context, h *Host) error {
	return corelink.Store(h.core).MigrateComponent(ctx, schemaComponent, migrations)
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
