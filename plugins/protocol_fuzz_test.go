package plugins

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	gproto "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/reason"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// Kinds of wire message FuzzPluginMessages decodes.
const (
	fuzzAction = iota // an action a plugin returns from OnEvent
	fuzzSend          // a Host.Send request
	fuzzEvent         // an event the host sends
	fuzzInfo          // a plugin's Info answer
	fuzzStatus        // a gRPC status with details, as a plugin's error
	fuzzKinds
)

// FuzzPluginMessages feeds arbitrary bytes, as each protocol message a peer
// sends, to the decoders: no panic; what decodes converts back to the wire
// (the host never holds a value it could not send on); a bad message is an
// error wrapping waqtor.ErrInvalidMessage where the protocol promises one.
func FuzzPluginMessages(f *testing.F) {
	text, err := actionToProto(&Action{Send: &SendAction{Session: "s1", Chat: "+15550002222", Content: &waqtor.Text{Body: "hi"}, Key: "k"}})
	if err != nil {
		f.Fatal(err)
	}
	media, err := actionToProto(&Action{Send: &SendAction{Chat: "+1", Content: &waqtor.Media{Kind: waqtor.ContentImage, Data: []byte{1, 2}, MIME: "image/png"}}})
	if err != nil {
		f.Fatal(err)
	}
	ev, err := toproto.Event(&waqtor.SessionStatus{})
	if err != nil {
		f.Fatal(err)
	}
	st, err := status.New(codes.InvalidArgument, "bad").WithDetails(&errdetails.ErrorInfo{Domain: reason.Domain, Reason: reasons[0].Name})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		kind uint8
		m    gproto.Message
	}{
		{fuzzAction, text}, {fuzzAction, media}, {fuzzAction, &proto.Action{}},
		{fuzzAction, &proto.Action{Action: &proto.Action_MarkRead{MarkRead: &proto.MarkReadAction{Chat: "x", MessageIds: []string{"a"}}}}},
		{fuzzSend, &proto.Send_Request{Send: text.GetSend(), DeliveryId: "d"}},
		{fuzzSend, &proto.Send_Request{Send: &proto.SendAction{ContentJson: []byte(`{"type":"poll"}`)}}},
		{fuzzEvent, ev}, {fuzzEvent, &proto.Event{Type: "message.received", Data: []byte(`{"message":null}`)}},
		{fuzzInfo, infoToProto(&Info{Name: "echo", Kinds: []waqtor.EventKind{"message.received"}, Commands: []CommandInfo{{Name: "c"}}})},
		{fuzzStatus, st.Proto()},
	} {
		b, err := gproto.Marshal(seed.m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed.kind, b)
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		switch kind % fuzzKinds {
		case fuzzAction:
			var p proto.Action
			if gproto.Unmarshal(b, &p) != nil {
				return
			}
			a, err := actionFromProto(&p)
			if err != nil {
				if !errors.Is(err, waqtor.ErrInvalidMessage) {
					t.Fatalf("a bad action is not ErrInvalidMessage: %v", err)
				}
				return
			}
			if _, err := actionToProto(&a); err != nil {
				t.Fatalf("a decoded action does not encode: %+v: %v", a, err)
			}
		case fuzzSend:
			var p proto.Send_Request
			if gproto.Unmarshal(b, &p) != nil {
				return
			}
			s, err := sendFromProto(p.GetSend())
			if err != nil {
				if !errors.Is(err, waqtor.ErrInvalidMessage) {
					t.Fatalf("a bad send is not ErrInvalidMessage: %v", err)
				}
				return
			}
			if _, err := sendToProto(s); err != nil {
				t.Fatalf("a decoded send does not encode: %+v: %v", s, err)
			}
		case fuzzEvent:
			var p proto.Event
			if gproto.Unmarshal(b, &p) != nil {
				return
			}
			e, err := fromproto.Event(&p)
			if err != nil {
				return
			}
			if _, err := toproto.Event(e); err != nil {
				t.Fatalf("a decoded %s event does not encode: %v", e.Kind(), err)
			}
		case fuzzInfo:
			var p proto.Info_Response
			if gproto.Unmarshal(b, &p) != nil {
				return
			}
			_ = infoToProto(infoFromProto(&p))
		case fuzzStatus:
			var p spb.Status
			if gproto.Unmarshal(b, &p) != nil {
				return
			}
			err := fromproto.Error(status.ErrorProto(&p), reasons)
			if p.GetCode() == 0 {
				return // OK: no error
			}
			var re *fromproto.RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("status %v decoded to %T", p.GetCode(), err)
			}
			_ = err.Error()
			// Only an ErrorInfo of waqtor's domain names a sentinel.
			if re.Sentinel != nil {
				ours := false
				for _, d := range p.GetDetails() {
					var info errdetails.ErrorInfo
					if anypb.UnmarshalTo(d, &info, gproto.UnmarshalOptions{}) == nil && info.GetDomain() == reason.Domain {
						ours = true
					}
				}
				if !ours {
					t.Fatalf("sentinel %v without an ErrorInfo of domain %q", re.Sentinel, reason.Domain)
				}
			}
		}
	})
}
