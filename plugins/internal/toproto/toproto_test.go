package toproto_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/reason"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

func TestEvent(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 5, 1, 12, 0, 0, 123000, time.UTC)
	tests := map[string]struct {
		in      waqtor.Event
		want    *proto.Event
		wantErr string
	}{
		"session status": {
			in: &waqtor.SessionStatus{EventMeta: waqtor.EventMeta{ID: "evt_1", Seq: 3, Session: "s", Tenant: "t", Time: ts},
				State: waqtor.StateReady, Previous: waqtor.StateConnecting},
			want: &proto.Event{Id: "evt_1", Seq: 3, Type: "session.status", Session: "s", Tenant: "t",
				TimestampUnixMicro: ts.UnixMicro(),
				Data:               []byte(`{"client_info":{},"previous":"connecting","status":"ready"}`)},
		},
		"plugin status without time": {
			in: &waqtor.PluginStatus{EventMeta: waqtor.EventMeta{ID: "evt_2"}, Plugin: "echo", State: waqtor.PluginRunning},
			want: &proto.Event{Id: "evt_2", Type: "plugin.status",
				Data: []byte(`{"backlog":0,"dead_letters":0,"plugin":"echo","restarts":0,"state":"running"}`)},
		},
		"nil": {wantErr: "nil event"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := toproto.Event(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, protocmp.Transform()))
		})
	}
}

func TestContent(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in                  waqtor.Content
		wantJSON, wantMedia string
		wantErr             string
	}{
		"text":   {in: &waqtor.Text{Body: "hi"}, wantJSON: `{"type":"text","body":"hi"}`},
		"media":  {in: &waqtor.Media{Kind: waqtor.ContentImage, Data: []byte("png"), Caption: "c"}, wantJSON: `{"type":"image","caption":"c","kind":"image"}`, wantMedia: "png"},
		"revoke": {in: &waqtor.Revoke{TargetID: "X"}, wantJSON: `{"type":"revoke","target_id":"X"}`},
		"nil":    {wantErr: "nil content"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j, m, err := toproto.Content(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tt.wantJSON, string(j))
			require.Equal(t, tt.wantMedia, string(m))
		})
	}
}

func TestMessageAndSession(t *testing.T) {
	t.Parallel()
	b, err := toproto.Message(&waqtor.Message{ID: "M", Content: &waqtor.Text{Body: "x"}})
	require.NoError(t, err)
	require.Contains(t, string(b), `"content":{"type":"text","body":"x"}`)
	_, err = toproto.Message(nil)
	require.Error(t, err)
	b, err = toproto.Session(&waqtor.Session{ID: "s", State: waqtor.StateQR})
	require.NoError(t, err)
	require.Contains(t, string(b), `"status":"qr"`)
	_, err = toproto.Session(nil)
	require.Error(t, err)
}

func TestLevel(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   slog.Level
		want string
	}{
		"trace": {slog.LevelDebug - 4, "debug"}, "debug": {slog.LevelDebug, "debug"}, "info": {slog.LevelInfo, "info"},
		"warn": {slog.LevelWarn, "warn"}, "error": {slog.LevelError, "error"}, "fatal": {slog.LevelError + 4, "error"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, toproto.Level(tt.in))
		})
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	already := status.Error(codes.Aborted, "aborted")
	tests := map[string]struct {
		in         error
		wantCode   codes.Code
		wantReason string
	}{
		"session not found":   {in: fmt.Errorf("x: %w", waqtor.ErrSessionNotFound), wantCode: codes.NotFound, wantReason: "SESSION_NOT_FOUND"},
		"message not found":   {in: waqtor.ErrMessageNotFound, wantCode: codes.NotFound, wantReason: "MESSAGE_NOT_FOUND"},
		"field error":         {in: &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "text", Reason: "empty"}, wantCode: codes.InvalidArgument, wantReason: "INVALID_MESSAGE"},
		"banned is not ready": {in: &waqtor.BannedError{Reason: "ban"}, wantCode: codes.FailedPrecondition, wantReason: "NOT_READY"},
		"stopped":             {in: waqtor.ErrStopped, wantCode: codes.Unavailable, wantReason: "CORE_STOPPED"},
		"deadline":            {in: context.DeadlineExceeded, wantCode: codes.DeadlineExceeded},
		"canceled":            {in: context.Canceled, wantCode: codes.Canceled},
		"status passes":       {in: already, wantCode: codes.Aborted},
		"other":               {in: errors.New("boom"), wantCode: codes.Unknown},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := toproto.Error(tt.in, reason.Core)
			st, ok := status.FromError(err)
			require.True(t, ok)
			require.Equal(t, tt.wantCode, st.Code())
			if _, isStatus := status.FromError(tt.in); !isStatus {
				require.Equal(t, tt.in.Error(), st.Message())
			}
			var got string
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					require.Equal(t, reason.Domain, info.GetDomain())
					got = info.GetReason()
				}
			}
			require.Equal(t, tt.wantReason, got)
		})
	}
	require.NoError(t, toproto.Error(nil, reason.Core))
}
