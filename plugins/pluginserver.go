package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// pluginServer adapts a Plugin to the generated Plugin service, in the plugin
// process. It recovers panics in the author's code: the call fails with
// codes.Internal and the process keeps serving.
type pluginServer struct {
	proto.UnimplementedPluginServer
	broker *plugin.GRPCBroker
	impl   Plugin
	logger *slog.Logger

	mu       sync.Mutex
	host     *sdkHost
	hostConn *grpc.ClientConn
}

// close closes the connection to the Host service (a plugin process simply
// exits; in-process tests call it).
func (s *pluginServer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hostConn != nil {
		_ = s.hostConn.Close()
		s.hostConn = nil
	}
}

func newPluginServer(impl Plugin, broker *plugin.GRPCBroker, opts *serveOptions) *pluginServer {
	logger := slog.Default()
	if opts != nil && opts.logger != nil {
		logger = opts.logger
	}
	return &pluginServer{impl: impl, broker: broker, logger: logger}
}

// guard turns a panic into a codes.Internal error.
func (s *pluginServer) guard(ctx context.Context, what string, err *error) {
	if p := recover(); p != nil {
		s.logger.ErrorContext(ctx, "Plugin panicked", slog.String("call", what), slog.Any("panic", p),
			slog.String("stack", string(debug.Stack())))
		*err = status.Errorf(codes.Internal, "plugin panicked in %s: %v", what, p)
	}
}

func (s *pluginServer) Info(ctx context.Context, _ *proto.Info_Request) (resp *proto.Info_Response, err error) {
	defer s.guard(ctx, "Info", &err)
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	if info == nil {
		return nil, status.Error(codes.Internal, "plugin returned no Info")
	}
	return infoToProto(info), nil
}

func (s *pluginServer) Configure(ctx context.Context, req *proto.Configure_Request) (resp *proto.Configure_Response, err error) {
	defer s.guard(ctx, "Configure", &err)
	conn, err := s.broker.Dial(req.GetHostBrokerId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial the host service: %v", err)
	}
	h := &sdkHost{c: proto.NewHostClient(conn), logger: s.logger}
	s.mu.Lock()
	if s.hostConn != nil {
		_ = s.hostConn.Close() // configured again: the old service is gone
	}
	s.host, s.hostConn = h, conn
	s.mu.Unlock()
	if c, ok := s.impl.(Configurer); ok {
		cfg := json.RawMessage(req.GetConfigJson())
		if len(cfg) == 0 {
			cfg = json.RawMessage("{}")
		}
		if err := c.Configure(ctx, &ConfigureRequest{Config: cfg, Host: h, Name: req.GetPluginName()}); err != nil {
			return nil, toproto.Error(err, reasons)
		}
	}
	return &proto.Configure_Response{}, nil
}

func (s *pluginServer) currentHost() *sdkHost {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.host == nil {
		return &sdkHost{logger: s.logger}
	}
	return s.host
}

func (s *pluginServer) OnEvent(ctx context.Context, req *proto.OnEvent_Request) (resp *proto.OnEvent_Response, err error) {
	defer s.guard(ctx, "OnEvent", &err)
	e, err := fromproto.Event(req.GetEvent())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	h := s.currentHost().forDelivery(req.GetDeliveryId())
	out, err := s.impl.OnEvent(ctx, &EventRequest{Attempt: int(req.GetAttempt()), Event: e, Host: h})
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	resp = &proto.OnEvent_Response{}
	if out == nil {
		return resp, nil
	}
	for i := range out.Actions {
		a, err := actionToProto(&out.Actions[i])
		if err != nil {
			return nil, status.Errorf(codes.Internal, "action %d: %v", i, err)
		}
		resp.Actions = append(resp.Actions, a)
	}
	return resp, nil
}

func (s *pluginServer) Command(ctx context.Context, req *proto.Command_Request) (resp *proto.Command_Response, err error) {
	defer s.guard(ctx, "Command", &err)
	c, ok := s.impl.(Commander)
	if !ok {
		return nil, toproto.Error(fmt.Errorf("%w: %q", ErrUnknownCommand, req.GetName()), reasons)
	}
	args := json.RawMessage(req.GetArgsJson())
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	out, err := c.Command(ctx, &CommandRequest{Args: args, Host: s.currentHost(), Name: req.GetName()})
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	resp = &proto.Command_Response{ResultJson: []byte("null")}
	if out != nil && len(out.Result) > 0 {
		if !json.Valid(out.Result) {
			return nil, status.Error(codes.Internal, "plugin returned a command result that is not JSON")
		}
		resp.ResultJson = out.Result
	}
	return resp, nil
}

func (s *pluginServer) Health(ctx context.Context, _ *proto.Health_Request) (resp *proto.Health_Response, err error) {
	defer s.guard(ctx, "Health", &err)
	if h, ok := s.impl.(HealthChecker); ok {
		if err := h.Health(ctx); err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
	}
	return &proto.Health_Response{}, nil
}
