package fromproto_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/reason"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

func TestEvent(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 5, 1, 12, 0, 0, 123000, time.UTC)
	msg := waqtor.Message{ID: "M", Session: "s", Direction: waqtor.DirectionIn, Status: waqtor.StatusReceived,
		Chat: waqtor.Address{JID: "1@s.whatsapp.net"}, Content: &waqtor.Text{Body: "hi"}, Time: ts}
	tests := map[string]struct {
		in      *proto.Event
		want    waqtor.Event
		wantErr string
	}{
		"message received": {
			in:   mustEvent(t, &waqtor.MessageReceived{EventMeta: waqtor.EventMeta{ID: "evt_1", Seq: 4, Session: "s", Tenant: "t", Time: ts}, Message: msg}),
			want: &waqtor.MessageReceived{EventMeta: waqtor.EventMeta{ID: "evt_1", Seq: 4, Session: "s", Tenant: "t", Time: ts}, Message: msg},
		},
		"no timestamp": {
			in:   &proto.Event{Id: "evt_2", Type: "plugin.status", Data: []byte(`{"plugin":"p","state":"failed"}`)},
			want: &waqtor.PluginStatus{EventMeta: waqtor.EventMeta{ID: "evt_2"}, Plugin: "p", State: waqtor.PluginFailed},
		},
		"unknown type": {in: &proto.Event{Type: "nope", Data: []byte(`{}`)}, wantErr: "unknown event type"},
		"no data":      {in: &proto.Event{Type: "session.qr"}, wantErr: "has no data"},
		"bad data":     {in: &proto.Event{Type: "session.qr", Data: []byte(`{`)}, wantErr: "decode session.qr"},
		"nil":          {wantErr: "missing event"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := fromproto.Event(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got))
		})
	}
}

func mustEvent(t *testing.T, e waqtor.Event) *proto.Event {
	t.Helper()
	p, err := toproto.Event(e)
	require.NoError(t, err)
	return p
}

func TestContent(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		json, media string
		want        waqtor.Content
		wantErr     string
	}{
		"text":        {json: `{"type":"text","body":"hi"}`, want: &waqtor.Text{Body: "hi"}},
		"media bytes": {json: `{"type":"document","kind":"document","file_name":"a.pdf"}`, media: "%PDF", want: &waqtor.Media{Kind: waqtor.ContentDocument, FileName: "a.pdf", Data: []byte("%PDF")}},
		"location":    {json: `{"type":"location","latitude":1.5,"longitude":2}`, want: &waqtor.Location{Latitude: 1.5, Longitude: 2}},
		"missing":     {wantErr: "missing content"},
		"garbage":     {json: `{"type":`, wantErr: "invalid message"},
		"unknown":     {json: `{"type":"hologram"}`, wantErr: "unknown content type"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var media []byte
			if tt.media != "" {
				media = []byte(tt.media)
			}
			got, err := fromproto.Content([]byte(tt.json), media)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got))
		})
	}
}

func TestMessageAndSessionRoundTrip(t *testing.T) {
	t.Parallel()
	m := &waqtor.Message{ID: "M", Session: "s", Content: &waqtor.Poll{Question: "q", Options: []string{"a", "b"}},
		Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Status: waqtor.StatusSent}
	b, err := toproto.Message(m)
	require.NoError(t, err)
	back, err := fromproto.Message(b)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(m, back))
	_, err = fromproto.Message([]byte("{"))
	require.Error(t, err)

	s := &waqtor.Session{ID: "s", State: waqtor.StateBanned, Tenant: "t", Info: waqtor.ClientInfo{Phone: "+1"}}
	b, err = toproto.Session(s)
	require.NoError(t, err)
	sb, err := fromproto.Session(b)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(s, sb))
	_, err = fromproto.Session([]byte("["))
	require.Error(t, err)
}

func TestLevel(t *testing.T) {
	t.Parallel()
	tests := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"warning": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo, "loud": slog.LevelInfo}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, fromproto.Level(in))
			if in == "debug" || in == "info" || in == "warn" || in == "error" {
				require.Equal(t, in, toproto.Level(want), "round trip")
			}
		})
	}
}

func TestErrorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range reason.Core {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			err := fromproto.Error(toproto.Error(r.Err, reason.Core), reason.Core)
			require.ErrorIs(t, err, r.Err)
			require.Equal(t, r.Code, status.Code(err), "the status is kept")
			require.Equal(t, r.Err.Error(), err.Error())
		})
	}
	t.Run("no reason", func(t *testing.T) {
		t.Parallel()
		err := fromproto.Error(status.Error(codes.Internal, "x"), reason.Core)
		var re *fromproto.RemoteError
		require.ErrorAs(t, err, &re)
		require.Nil(t, re.Sentinel)
		require.Equal(t, codes.Internal, status.Code(err))
	})
	t.Run("unknown reason", func(t *testing.T) {
		t.Parallel()
		other := []reason.Reason{{Code: codes.NotFound, Err: errors.New("other"), Name: "OTHER"}}
		err := fromproto.Error(toproto.Error(other[0].Err, other), reason.Core)
		require.False(t, errors.Is(err, waqtor.ErrSessionNotFound))
		require.Equal(t, codes.NotFound, status.Code(err))
	})
	t.Run("plain and nil pass", func(t *testing.T) {
		t.Parallel()
		plain := errors.New("plain")
		require.Equal(t, plain, fromproto.Error(plain, reason.Core))
		require.NoError(t, fromproto.Error(nil, reason.Core))
	})
}
