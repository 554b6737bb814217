package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// The protocol tests run a plugin in-process with go-plugin's
// TestPluginGRPCConn and exercise every RPC of both services, through the
// Go-native types on both sides.

// fakePlugin implements every capability and, in OnEvent, calls every Host
// method.
type fakePlugin struct {
	mu       sync.Mutex
	config   json.RawMessage
	name     string
	events   []*EventRequest
	results  map[string]any
	unhealth error
}

func (p *fakePlugin) Info(context.Context) (*Info, error) {
	return &Info{Name: "fake", Version: "1.2.3", Kinds: []waqtor.EventKind{waqtor.KindMessageReceived, waqtor.KindMessageSent},
		Commands: []CommandInfo{{Name: "sum", Description: "adds numbers"}}}, nil
}

func (p *fakePlugin) Configure(_ context.Context, req *ConfigureRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.config, p.name = req.Config, req.Name
	return nil
}

func (p *fakePlugin) OnEvent(ctx context.Context, req *EventRequest) (*EventResponse, error) {
	p.mu.Lock()
	p.events = append(p.events, req)
	p.mu.Unlock()
	m := req.Event.(*waqtor.MessageReceived)
	if m.Message.Content.(*waqtor.Text).Body == "panic" {
		panic("boom")
	}
	if m.Message.Content.(*waqtor.Text).Body == "fail" {
		return nil, waqtor.ErrNotReady
	}
	h := req.Host
	res := map[string]any{}
	msg, err := h.SendText(ctx, "main", "+15550001111", "hi")
	res["send"], res["send_err"] = msg, err
	res["media_err"] = errOnly(h.Send(ctx, &SendAction{Session: "main", Chat: "+1", Content: &waqtor.Media{Kind: waqtor.ContentImage, Data: []byte("png")}, Key: "k1"}))
	res["markread"] = h.MarkRead(ctx, &MarkReadAction{Session: "main", Chat: "+1", IDs: []string{"A"}, Sender: "+2"})
	res["presence"] = h.SetPresence(ctx, &PresenceAction{Session: "main", Chat: "+1", Presence: waqtor.PresenceTyping})
	sess, err := h.Session(ctx, "main")
	res["session"], res["session_err"] = sess, err
	_, err = h.Session(ctx, "gone")
	res["session_gone"] = err
	list, err := h.Sessions(ctx)
	res["sessions"], res["sessions_err"] = list, err
	res["log"] = h.Log(ctx, slog.LevelWarn, "hello", slog.Int("n", 3))
	res["kvset"] = h.KVSet(ctx, "k", []byte("v"))
	v, ok, err := h.KVGet(ctx, "k")
	res["kvget"] = []any{string(v), ok, err}
	del, err := h.KVDelete(ctx, "k")
	res["kvdel"] = []any{del, err}
	keys, err := h.KVList(ctx, "p/", "p/1", 10)
	res["kvlist"] = []any{keys, err}
	res["kvlimit"] = h.KVSet(ctx, "big", nil)
	p.mu.Lock()
	p.results = res
	p.mu.Unlock()
	return &EventResponse{Actions: []Action{
		ReplyText(m, "pong"),
		{MarkRead: &MarkReadAction{Session: "main", Chat: "c", IDs: []string{"x"}}},
		{Presence: &PresenceAction{Session: "main", Chat: "c", Presence: waqtor.PresencePaused}},
	}}, nil
}

func errOnly(_ any, err error) error { return err }

func asErr(v any) error {
	if v == nil {
		return nil
	}
	return v.(error)
}

func (p *fakePlugin) Command(_ context.Context, req *CommandRequest) (*CommandResponse, error) {
	if req.Name != "sum" {
		return nil, ErrUnknownCommand
	}
	var xs []int
	if err := json.Unmarshal(req.Args, &xs); err != nil {
		return nil, errors.Join(ErrInvalidArgs, err)
	}
	n := 0
	for _, x := range xs {
		n += x
	}
	b, _ := json.Marshal(n)
	return &CommandResponse{Result: b}, nil
}

func (p *fakePlugin) Health(context.Context) error { return p.unhealth }

// fakeHost records the Host calls it serves.
type fakeHost struct {
	proto.UnimplementedHostServer
	mu    sync.Mutex
	calls []string
	reqs  []any
}

func (h *fakeHost) record(name string, req any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, name)
	h.reqs = append(h.reqs, req)
}

func (h *fakeHost) Send(_ context.Context, req *proto.Send_Request) (*proto.Send_Response, error) {
	h.record("Send", req)
	if req.GetSend().GetKey() == "k1" {
		return nil, toproto.Error(waqtor.ErrMediaTooLarge, reasons)
	}
	b, _ := toproto.Message(&waqtor.Message{ID: "3EB0X", Session: "main", Content: &waqtor.Text{Body: "hi"}, Status: waqtor.StatusSent})
	return &proto.Send_Response{MessageJson: b}, nil
}

func (h *fakeHost) MarkRead(_ context.Context, req *proto.MarkRead_Request) (*proto.MarkRead_Response, error) {
	h.record("MarkRead", req)
	return &proto.MarkRead_Response{}, nil
}

func (h *fakeHost) SetPresence(_ context.Context, req *proto.SetPresence_Request) (*proto.SetPresence_Response, error) {
	h.record("SetPresence", req)
	return nil, toproto.Error(waqtor.ErrNotReady, reasons)
}

func (h *fakeHost) GetSession(_ context.Context, req *proto.GetSession_Request) (*proto.GetSession_Response, error) {
	h.record("GetSession", req)
	if req.GetId() != "main" {
		return nil, toproto.Error(waqtor.ErrSessionNotFound, reasons)
	}
	b, _ := toproto.Session(&waqtor.Session{ID: "main", State: waqtor.StateReady, Tenant: "default"})
	return &proto.GetSession_Response{SessionJson: b}, nil
}

func (h *fakeHost) ListSessions(_ context.Context, req *proto.ListSessions_Request) (*proto.ListSessions_Response, error) {
	h.record("ListSessions", req)
	b, _ := toproto.Session(&waqtor.Session{ID: "main"})
	return &proto.ListSessions_Response{SessionsJson: [][]byte{b, b}}, nil
}

func (h *fakeHost) Log(_ context.Context, req *proto.Log_Request) (*proto.Log_Response, error) {
	h.record("Log", req)
	return &proto.Log_Response{}, nil
}

func (h *fakeHost) KVGet(_ context.Context, req *proto.KVGet_Request) (*proto.KVGet_Response, error) {
	h.record("KVGet", req)
	return &proto.KVGet_Response{Value: []byte("v"), Found: true}, nil
}

func (h *fakeHost) KVSet(_ context.Context, req *proto.KVSet_Request) (*proto.KVSet_Response, error) {
	h.record("KVSet", req)
	if req.GetKey() == "big" {
		return nil, toproto.Error(ErrKVLimit, reasons)
	}
	return &proto.KVSet_Response{}, nil
}

func (h *fakeHost) KVDelete(_ context.Context, req *proto.KVDelete_Request) (*proto.KVDelete_Response, error) {
	h.record("KVDelete", req)
	return &proto.KVDelete_Response{Deleted: true}, nil
}

func (h *fakeHost) KVList(_ context.Context, req *proto.KVList_Request) (*proto.KVList_Response, error) {
	h.record("KVList", req)
	return &proto.KVList_Response{Keys: []string{"p/2", "p/3"}}, nil
}

// connect serves impl in-process and returns the host's typed client.
func connect(t *testing.T, impl Plugin) *remote {
	t.Helper()
	ps := pluginSet(impl, &serveOptions{logger: slog.New(slog.DiscardHandler)})
	client, _ := plugin.TestPluginGRPCConn(t, false, ps)
	t.Cleanup(func() {
		_ = client.Close() // its Shutdown call stops the server
		gp := ps[pluginKey].(*grpcPlugin)
		gp.mu.Lock()
		defer gp.mu.Unlock()
		for _, s := range gp.servers {
			s.close()
		}
	})
	raw, err := client.Dispense(pluginKey)
	require.NoError(t, err)
	return raw.(*remote)
}

// serveHost serves h to the plugin through the broker and returns its ID.
func serveHost(r *remote, h proto.HostServer) uint32 {
	id := r.broker.NextId()
	go r.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(opts...)
		proto.RegisterHostServer(s, h)
		return s
	})
	return id
}

func sampleReceived(body string) *waqtor.MessageReceived {
	return &waqtor.MessageReceived{
		EventMeta: waqtor.EventMeta{ID: "evt_1", Seq: 9, Session: "main", Tenant: "default",
			Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)},
		Message: waqtor.Message{ID: "M1", Session: "main", Chat: waqtor.Address{JID: "15550001111@s.whatsapp.net"},
			Direction: waqtor.DirectionIn, Status: waqtor.StatusReceived, Content: &waqtor.Text{Body: body},
			Time: time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)},
	}
}

func TestProtocolEveryRPC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	impl := &fakePlugin{}
	r := connect(t, impl)

	info, err := r.info(ctx)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(&Info{Name: "fake", Version: "1.2.3",
		Kinds:    []waqtor.EventKind{waqtor.KindMessageReceived, waqtor.KindMessageSent},
		Commands: []CommandInfo{{Name: "sum", Description: "adds numbers"}}}, info))

	fh := &fakeHost{}
	require.NoError(t, r.configure(ctx, "inst", json.RawMessage(`{"a":1}`), serveHost(r, fh)))
	require.JSONEq(t, `{"a":1}`, string(impl.config))
	require.Equal(t, "inst", impl.name)

	ev := sampleReceived("ping")
	actions, err := r.onEvent(ctx, ev, 2, "d-1")
	require.NoError(t, err)
	require.Len(t, impl.events, 1)
	require.Equal(t, 2, impl.events[0].Attempt)
	require.Empty(t, cmp.Diff(waqtor.Event(ev), impl.events[0].Event), "the event crosses intact")

	res := impl.results
	require.NoError(t, asErr(res["send_err"]))
	require.Equal(t, "3EB0X", res["send"].(*waqtor.Message).ID)
	require.ErrorIs(t, asErr(res["media_err"]), waqtor.ErrMediaTooLarge, "sentinels survive the round trip")
	require.NoError(t, asErr(res["markread"]))
	require.ErrorIs(t, asErr(res["presence"]), waqtor.ErrNotReady)
	require.NoError(t, asErr(res["session_err"]))
	require.Equal(t, waqtor.StateReady, res["session"].(*waqtor.Session).State)
	require.ErrorIs(t, asErr(res["session_gone"]), waqtor.ErrSessionNotFound)
	require.Len(t, res["sessions"].([]*waqtor.Session), 2)
	require.NoError(t, asErr(res["log"]))
	require.NoError(t, asErr(res["kvset"]))
	require.Equal(t, []any{"v", true, nil}, res["kvget"])
	require.Equal(t, []any{true, nil}, res["kvdel"])
	require.Equal(t, []any{[]string{"p/2", "p/3"}, nil}, res["kvlist"])
	require.ErrorIs(t, asErr(res["kvlimit"]), ErrKVLimit)

	require.Equal(t, []string{"Send", "Send", "MarkRead", "SetPresence", "GetSession", "GetSession", "ListSessions", "Log",
		"KVSet", "KVGet", "KVDelete", "KVList", "KVSet"}, fh.calls)
	send := fh.reqs[0].(*proto.Send_Request)
	require.Equal(t, "d-1", send.GetDeliveryId(), "sends carry the delivery")
	require.JSONEq(t, `{"type":"text","body":"hi"}`, string(send.GetSend().GetContentJson()))
	media := fh.reqs[1].(*proto.Send_Request)
	require.Equal(t, []byte("png"), media.GetSend().GetMediaData())
	logReq := fh.reqs[7].(*proto.Log_Request)
	require.Equal(t, "warn", logReq.GetLevel())
	require.Equal(t, map[string]string{"n": "3"}, logReq.GetAttrs())
	list := fh.reqs[11].(*proto.KVList_Request)
	require.Equal(t, "p/1", list.GetAfter())

	var got []Action
	for _, pa := range actions {
		a, err := actionFromProto(pa)
		require.NoError(t, err)
		got = append(got, a)
	}
	require.Empty(t, cmp.Diff([]Action{
		{Send: &SendAction{Session: "main", Chat: "15550001111@s.whatsapp.net", Content: &waqtor.Text{Body: "pong"}}},
		{MarkRead: &MarkReadAction{Session: "main", Chat: "c", IDs: []string{"x"}}},
		{Presence: &PresenceAction{Session: "main", Chat: "c", Presence: waqtor.PresencePaused}},
	}, got))

	// A handler error keeps its sentinel; a panic is recovered as Internal.
	_, err = r.onEvent(ctx, sampleReceived("fail"), 1, "d-2")
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	_, err = r.onEvent(ctx, sampleReceived("panic"), 1, "d-3")
	require.ErrorContains(t, err, "panicked in OnEvent: boom")
	require.False(t, isConnectionLoss(err))

	out, err := r.command(ctx, "sum", json.RawMessage(`[1,2,3]`))
	require.NoError(t, err)
	require.JSONEq(t, `6`, string(out))
	_, err = r.command(ctx, "sum", json.RawMessage(`"x"`))
	require.ErrorIs(t, err, ErrInvalidArgs)
	_, err = r.command(ctx, "nope", nil)
	require.ErrorIs(t, err, ErrUnknownCommand)

	require.NoError(t, r.health(ctx))
	impl.unhealth = errors.New("disk full")
	require.ErrorContains(t, r.health(ctx), "disk full")
}

// minimalPlugin has no optional capability.
type minimalPlugin struct{}

func (minimalPlugin) Info(context.Context) (*Info, error) { return &Info{Name: "min"}, nil }
func (minimalPlugin) OnEvent(context.Context, *EventRequest) (*EventResponse, error) {
	return nil, nil
}

func TestProtocolMinimalPlugin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := connect(t, minimalPlugin{})
	require.NoError(t, r.configure(ctx, "m", nil, serveHost(r, &fakeHost{})))
	acts, err := r.onEvent(ctx, sampleReceived("x"), 1, "d")
	require.NoError(t, err)
	require.Empty(t, acts)
	_, err = r.command(ctx, "any", nil)
	require.ErrorIs(t, err, ErrUnknownCommand)
	require.NoError(t, r.health(ctx), "healthy by default")
}

func TestActionConversion(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      *proto.Action
		want    Action
		wantErr string
	}{
		"send": {in: &proto.Action{Action: &proto.Action_Send{Send: &proto.SendAction{Session: "s", Chat: "c",
			ContentJson: []byte(`{"type":"text","body":"b"}`), Key: "k"}}},
			want: Action{Send: &SendAction{Session: "s", Chat: "c", Content: &waqtor.Text{Body: "b"}, Key: "k"}}},
		"media keeps its bytes": {in: &proto.Action{Action: &proto.Action_Send{Send: &proto.SendAction{Session: "s",
			ContentJson: []byte(`{"type":"image","kind":"image"}`), MediaData: []byte{1, 2}}}},
			want: Action{Send: &SendAction{Session: "s", Content: &waqtor.Media{Kind: waqtor.ContentImage, Data: []byte{1, 2}}}}},
		"garbage content": {in: &proto.Action{Action: &proto.Action_Send{Send: &proto.SendAction{ContentJson: []byte(`{nope`)}}},
			wantErr: "invalid message"},
		"unknown content type": {in: &proto.Action{Action: &proto.Action_Send{Send: &proto.SendAction{ContentJson: []byte(`{"type":"hologram"}`)}}},
			wantErr: "unknown content type"},
		"no content": {in: &proto.Action{Action: &proto.Action_Send{Send: &proto.SendAction{}}}, wantErr: "missing content"},
		"empty":      {in: &proto.Action{}, wantErr: "empty or unknown action"},
		"nil send":   {in: &proto.Action{Action: &proto.Action_Send{}}, wantErr: "missing send"},
		"nil mark":   {in: &proto.Action{Action: &proto.Action_MarkRead{}}, wantErr: "empty or unknown action"},
		"mark read": {in: &proto.Action{Action: &proto.Action_MarkRead{MarkRead: &proto.MarkReadAction{Session: "s", Chat: "c",
			MessageIds: []string{"a"}, Sender: "x"}}},
			want: Action{MarkRead: &MarkReadAction{Session: "s", Chat: "c", IDs: []string{"a"}, Sender: "x"}}},
		"presence": {in: &proto.Action{Action: &proto.Action_Presence{Presence: &proto.PresenceAction{Session: "s", Chat: "c",
			Presence: "typing"}}},
			want: Action{Presence: &PresenceAction{Session: "s", Chat: "c", Presence: waqtor.PresenceTyping}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := actionFromProto(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got))
			back, err := actionToProto(&got)
			require.NoError(t, err)
			again, err := actionFromProto(back)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, again), "round trip")
		})
	}
	_, err := actionToProto(&Action{})
	require.ErrorContains(t, err, "exactly one field")
	_, err = actionToProto(&Action{MarkRead: &MarkReadAction{}, Presence: &PresenceAction{}})
	require.ErrorContains(t, err, "exactly one field")
}

func TestInfoConversion(t *testing.T) {
	t.Parallel()
	tests := map[string]*Info{
		"empty": {},
		"full": {Name: "n", Version: "v", Kinds: []waqtor.EventKind{waqtor.KindSessionQR},
			Commands: []CommandInfo{{Name: "a"}, {Name: "b", Description: "d"}}},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, cmp.Diff(in, infoFromProto(infoToProto(in))))
		})
	}
}

func TestActionKey(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		event, kind, own string
		index            int
		want, wantErr    string
	}{
		"callback":         {event: "evt_A", kind: "c", index: 2, want: "plugin:p:evt_A:c2"},
		"action":           {event: "evt_A", kind: "a", index: 0, want: "plugin:p:evt_A:a0"},
		"own key in event": {event: "evt_A", kind: "c", index: 5, own: "x", want: "plugin:p:evt_A:k:x"},
		"own key outside":  {own: "x", want: "plugin:p:k:x"},
		"none outside":     {want: ""},
		"too long":         {event: "evt_A", own: string(make([]byte, 250)), wantErr: "longer than"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := actionKey("p", tt.event, tt.kind, tt.index, tt.own)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
