package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// hostServer serves the Host service to one plugin process.
type hostServer struct {
	proto.UnimplementedHostServer
	s *supervisor
}

// hostCallTimeout bounds the Core work of one Host call.
const hostCallTimeout = 30 * time.Second

// Core commands run on a context that outlives the plugin's call: a plugin
// that dies mid-send must not leave a send half done (it is finished, and a
// redelivery finds it by its key).
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), hostCallTimeout)
}

func (hs *hostServer) Send(ctx context.Context, req *proto.Send_Request) (*proto.Send_Response, error) {
	s := hs.s
	a, err := sendFromProto(req.GetSend())
	var key string
	if err == nil {
		key, err = hs.sendKey(req.GetDeliveryId(), a.Key)
	}
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	cctx, cancel := detach(hs.tenantCtx(ctx, req.GetDeliveryId()))
	defer cancel()
	m, err := s.h.send(cctx, s, a, key)
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	b, err := toproto.Message(m)
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.Send_Response{MessageJson: b}, nil
}

// tenantCtx returns ctx resolving session IDs for a Host call: within the
// tenant of the delivery's event for a plugin of every tenant (see
// supervisor.tenantCtx).
func (hs *hostServer) tenantCtx(ctx context.Context, deliveryID string) context.Context {
	var tenant string
	if deliveryID != "" {
		if d := hs.s.currentDelivery(deliveryID); d != nil {
			tenant = d.event.Meta().Tenant
		}
	}
	return hs.s.tenantCtx(ctx, tenant)
}

// sendKey returns the idempotency key of a send through the Host service.
func (hs *hostServer) sendKey(deliveryID, own string) (string, error) {
	if deliveryID == "" {
		return actionKey(hs.s.cfg.Name, "", "", 0, own)
	}
	d := hs.s.currentDelivery(deliveryID)
	if d == nil {
		return "", fmt.Errorf("%w: %s", ErrDeliveryOver, deliveryID)
	}
	i, err := d.nextCallback()
	if err != nil {
		return "", err
	}
	return actionKey(hs.s.cfg.Name, d.event.Meta().ID, "c", i, own)
}

// checkDelivery refuses calls of a delivery that is over.
func (hs *hostServer) checkDelivery(id string) error {
	if id == "" {
		return nil
	}
	d := hs.s.currentDelivery(id)
	if d == nil {
		return fmt.Errorf("%w: %s", ErrDeliveryOver, id)
	}
	if !d.reserve() {
		return fmt.Errorf("%w: the limit is %d", ErrTooManyActions, d.max)
	}
	return nil
}

func (hs *hostServer) MarkRead(ctx context.Context, req *proto.MarkRead_Request) (*proto.MarkRead_Response, error) {
	if err := hs.checkDelivery(req.GetDeliveryId()); err != nil {
		return nil, toproto.Error(err, reasons)
	}
	cctx, cancel := detach(hs.tenantCtx(ctx, req.GetDeliveryId()))
	defer cancel()
	if err := hs.s.h.markRead(cctx, hs.s, markReadFromProto(req.GetMarkRead())); err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.MarkRead_Response{}, nil
}

func (hs *hostServer) SetPresence(ctx context.Context, req *proto.SetPresence_Request) (*proto.SetPresence_Response, error) {
	if err := hs.checkDelivery(req.GetDeliveryId()); err != nil {
		return nil, toproto.Error(err, reasons)
	}
	cctx, cancel := detach(hs.tenantCtx(ctx, req.GetDeliveryId()))
	defer cancel()
	if err := hs.s.h.setPresence(cctx, hs.s, presenceFromProto(req.GetPresence())); err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.SetPresence_Response{}, nil
}

func (hs *hostServer) GetSession(ctx context.Context, req *proto.GetSession_Request) (*proto.GetSession_Response, error) {
	sess, err := hs.s.h.session(hs.s.tenantCtx(ctx, ""), hs.s, req.GetId())
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	b, err := toproto.Session(sess)
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.GetSession_Response{SessionJson: b}, nil
}

func (hs *hostServer) ListSessions(ctx context.Context, _ *proto.ListSessions_Request) (*proto.ListSessions_Response, error) {
	list, err := hs.s.h.core.Sessions(ctx, &waqtor.SessionListParams{Tenant: hs.s.cfg.Tenant})
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	resp := &proto.ListSessions_Response{}
	for _, sess := range list {
		b, err := toproto.Session(sess)
		if err != nil {
			return nil, toproto.Error(err, reasons)
		}
		resp.SessionsJson = append(resp.SessionsJson, b)
	}
	return resp, nil
}

// maxLogAttrs caps the attributes of one Log call.
const maxLogAttrs = 64

func (hs *hostServer) Log(ctx context.Context, req *proto.Log_Request) (*proto.Log_Response, error) {
	keys := make([]string, 0, len(req.GetAttrs()))
	for k := range req.GetAttrs() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > maxLogAttrs {
		keys = keys[:maxLogAttrs]
	}
	attrs := make([]any, 0, len(keys)+1)
	attrs = append(attrs, slog.String("source", "plugin"))
	for _, k := range keys {
		attrs = append(attrs, slog.String(k, req.GetAttrs()[k]))
	}
	hs.s.log.Log(ctx, fromproto.Level(req.GetLevel()), req.GetMessage(), attrs...)
	return &proto.Log_Response{}, nil
}

func (hs *hostServer) KVGet(ctx context.Context, req *proto.KVGet_Request) (*proto.KVGet_Response, error) {
	v, ok, err := hs.s.h.kv.get(ctx, hs.s.cfg.Name, req.GetKey())
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.KVGet_Response{Value: v, Found: ok}, nil
}

func (hs *hostServer) KVSet(ctx context.Context, req *proto.KVSet_Request) (*proto.KVSet_Response, error) {
	if err := hs.s.h.kv.set(ctx, hs.s.cfg.Name, hs.s.cfg.Tenant, req.GetKey(), req.GetValue()); err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.KVSet_Response{}, nil
}

func (hs *hostServer) KVDelete(ctx context.Context, req *proto.KVDelete_Request) (*proto.KVDelete_Response, error) {
	ok, err := hs.s.h.kv.delete(ctx, hs.s.cfg.Name, req.GetKey())
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.KVDelete_Response{Deleted: ok}, nil
}

func (hs *hostServer) KVList(ctx context.Context, req *proto.KVList_Request) (*proto.KVList_Response, error) {
	keys, err := hs.s.h.kv.list(ctx, hs.s.cfg.Name, req.GetPrefix(), req.GetAfter(), int(req.GetLimit()))
	if err != nil {
		return nil, toproto.Error(err, reasons)
	}
	return &proto.KVList_Response{Keys: keys}, nil
}
