package plugins

import (
	"context"
	"errors"
	"log/slog"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// sdkHost is the plugin side's Host: a client of the host's Host service.
type sdkHost struct {
	c          proto.HostClient
	deliveryID string
	logger     *slog.Logger
}

var errNotConfigured = errors.New("plugins: the host has not configured this plugin yet")

// forDelivery returns a view of h whose sends belong to one event delivery.
func (h *sdkHost) forDelivery(id string) *sdkHost {
	cp := *h
	cp.deliveryID = id
	return &cp
}

func (h *sdkHost) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if h.c == nil {
		return nil, nil, errNotConfigured
	}
	if _, ok := ctx.Deadline(); ok {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, sdkTimeout)
	return ctx, cancel, nil
}

func (h *sdkHost) Send(ctx context.Context, a *SendAction) (*waqtor.Message, error) {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	p, err := sendToProto(a)
	if err != nil {
		return nil, err
	}
	resp, err := h.c.Send(ctx, &proto.Send_Request{DeliveryId: h.deliveryID, Send: p})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	return fromproto.Message(resp.GetMessageJson())
}

func (h *sdkHost) SendText(ctx context.Context, session, chat, text string) (*waqtor.Message, error) {
	return h.Send(ctx, &SendAction{Session: session, Chat: chat, Content: &waqtor.Text{Body: text}})
}

func (h *sdkHost) MarkRead(ctx context.Context, a *MarkReadAction) error {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = h.c.MarkRead(ctx, &proto.MarkRead_Request{DeliveryId: h.deliveryID, MarkRead: markReadToProto(a)})
	return fromproto.Error(err, reasons)
}

func (h *sdkHost) SetPresence(ctx context.Context, a *PresenceAction) error {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = h.c.SetPresence(ctx, &proto.SetPresence_Request{DeliveryId: h.deliveryID, Presence: presenceToProto(a)})
	return fromproto.Error(err, reasons)
}

func (h *sdkHost) Session(ctx context.Context, id string) (*waqtor.Session, error) {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := h.c.GetSession(ctx, &proto.GetSession_Request{Id: id})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	return fromproto.Session(resp.GetSessionJson())
}

func (h *sdkHost) Sessions(ctx context.Context) ([]*waqtor.Session, error) {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := h.c.ListSessions(ctx, &proto.ListSessions_Request{})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	out := make([]*waqtor.Session, 0, len(resp.GetSessionsJson()))
	for _, b := range resp.GetSessionsJson() {
		s, err := fromproto.Session(b)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (h *sdkHost) Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Value.String()
	}
	_, err = h.c.Log(ctx, &proto.Log_Request{Level: toproto.Level(level), Message: msg, Attrs: m})
	return fromproto.Error(err, reasons)
}

func (h *sdkHost) Logger() *slog.Logger { return h.logger }

func (h *sdkHost) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	resp, err := h.c.KVGet(ctx, &proto.KVGet_Request{Key: key})
	if err != nil {
		return nil, false, fromproto.Error(err, reasons)
	}
	return resp.GetValue(), resp.GetFound(), nil
}

func (h *sdkHost) KVSet(ctx context.Context, key string, value []byte) error {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = h.c.KVSet(ctx, &proto.KVSet_Request{Key: key, Value: value})
	return fromproto.Error(err, reasons)
}

func (h *sdkHost) KVDelete(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	resp, err := h.c.KVDelete(ctx, &proto.KVDelete_Request{Key: key})
	if err != nil {
		return false, fromproto.Error(err, reasons)
	}
	return resp.GetDeleted(), nil
}

func (h *sdkHost) KVList(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, cancel, err := h.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := h.c.KVList(ctx, &proto.KVList_Request{Prefix: prefix, After: after, Limit: uint32(max(limit, 0))})
	if err != nil {
		return nil, fromproto.Error(err, reasons)
	}
	return resp.GetKeys(), nil
}
