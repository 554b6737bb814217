package plugins

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/go-plugin"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// remote is the host's typed client of one plugin process's Plugin service.
type remote struct {
	broker *plugin.GRPCBroker
	c      proto.PluginClient
}

func (r *remote) info(ctx context.Context) (*Info, error) {
	resp, err := r.c.Info(ctx, &proto.Info_Request{})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	return infoFromProto(resp), nil
}

func (r *remote) configure(ctx context.Context, name string, cfg json.RawMessage, hostID uint32) error {
	_, err := r.c.Configure(ctx, &proto.Configure_Request{PluginName: name, ConfigJson: cfg, HostBrokerId: hostID})
	return fromproto.Error(err, reasons)
}

// onEvent delivers e and returns the actions, still encoded: each is decoded
// (and may fail) on its own.
func (r *remote) onEvent(ctx context.Context, e waqtor.Event, attempt int, deliveryID string) ([]*proto.Action, error) {
	pe, err := toproto.Event(e)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.OnEvent(ctx, &proto.OnEvent_Request{Event: pe, Attempt: uint32(attempt), DeliveryId: deliveryID})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	return resp.GetActions(), nil
}

func (r *remote) command(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	resp, err := r.c.Command(ctx, &proto.Command_Request{Name: name, ArgsJson: args})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	return resp.GetResultJson(), nil
}

func (r *remote) health(ctx context.Context) error {
	_, err := r.c.Health(ctx, &proto.Health_Request{})
	return fromproto.Error(err, reasons)
}
