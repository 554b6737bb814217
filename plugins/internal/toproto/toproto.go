// Package toproto converts waqtor's Go types to the plugin protocol's
// generated types. Its twin, fromproto, converts back.
package toproto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/reason"
)

// Event encodes an event as its wire envelope.
func Event(e waqtor.Event) (*proto.Event, error) {
	if e == nil {
		return nil, errors.New("toproto: nil event")
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("toproto: encode %s event: %w", e.Kind(), err)
	}
	m := e.Meta()
	var us int64
	if !m.Time.IsZero() {
		us = m.Time.UnixMicro()
	}
	return &proto.Event{Id: m.ID, Seq: m.Seq, Type: string(e.Kind()), Session: m.Session, Tenant: m.Tenant,
		TimestampUnixMicro: us, Data: data}, nil
}

// Content encodes message content as its JSON and, for media, its bytes.
func Content(c waqtor.Content) (contentJSON, media []byte, err error) {
	if c == nil {
		return nil, nil, errors.New("toproto: nil content")
	}
	b, err := waqtor.MarshalContent(c)
	if err != nil {
		return nil, nil, fmt.Errorf("toproto: encode content: %w", err)
	}
	if m, ok := c.(*waqtor.Media); ok {
		media = m.Data
	}
	return b, media, nil
}

// Message encodes a stored message as JSON.
func Message(m *waqtor.Message) ([]byte, error) {
	if m == nil {
		return nil, errors.New("toproto: nil message")
	}
	return json.Marshal(m)
}

// Session encodes a session as JSON.
func Session(s *waqtor.Session) ([]byte, error) {
	if s == nil {
		return nil, errors.New("toproto: nil session")
	}
	return json.Marshal(s)
}

// Level names a log level: "debug", "info", "warn" or "error".
func Level(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// Error turns err into a gRPC status error: the first reason whose sentinel
// err matches gives the code and an ErrorInfo; context errors become
// Canceled and DeadlineExceeded; an error that already is a status passes
// through; anything else is Unknown. nil stays nil.
func Error(err error, reasons []reason.Reason) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, r := range reasons {
		if errors.Is(err, r.Err) {
			st := status.New(r.Code, err.Error())
			if d, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: reason.Domain, Reason: r.Name}); derr == nil {
				st = d
			}
			return st.Err()
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}
