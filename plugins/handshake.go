package plugins

import (
	"context"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/waqtor/waqtor/plugins/internal/proto"
)

// handshake is the go-plugin handshake both sides must agree on. The SDK owns
// it: plugin authors never see it. The magic cookie only stops people from
// running a plugin by hand; it is not a security measure (AutoMTLS is).
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "WAQTOR_PLUGIN",
	MagicCookieValue: "5f1c0d6e-waqtor-plugin-v1",
}

// pluginKey is the single entry of the plugin map.
const pluginKey = "waqtor"

// pluginSet returns the plugin map; impl is nil on the host side.
func pluginSet(impl Plugin, opts *serveOptions) plugin.PluginSet {
	return plugin.PluginSet{pluginKey: &grpcPlugin{impl: impl, opts: opts}}
}

// grpcPlugin is the go-plugin glue: it serves impl in the plugin process and
// builds the typed client in the host. It supports gRPC only.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Plugin
	opts *serveOptions

	mu      sync.Mutex
	servers []*pluginServer
}

// GRPCServer registers the Plugin service in the plugin process.
func (p *grpcPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	ps := newPluginServer(p.impl, broker, p.opts)
	p.mu.Lock()
	p.servers = append(p.servers, ps)
	p.mu.Unlock()
	proto.RegisterPluginServer(s, ps)
	return nil
}

// GRPCClient returns the host's typed client of the Plugin service.
func (p *grpcPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &remote{c: proto.NewPluginClient(conn), broker: broker}, nil
}
