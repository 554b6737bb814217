// Package fromproto converts the plugin protocol's generated types to waqtor's
// Go types. Its twin, toproto, converts the other way.
package fromproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/reason"
)

// Event decodes a wire envelope into its typed event.
func Event(p *proto.Event) (waqtor.Event, error) {
	if p == nil {
		return nil, errors.New("fromproto: missing event")
	}
	env := waqtor.Envelope{Data: p.GetData(), ID: p.GetId(), Seq: p.GetSeq(), Session: p.GetSession(),
		Tenant: p.GetTenant(), Type: waqtor.EventKind(p.GetType())}
	if us := p.GetTimestampUnixMicro(); us != 0 {
		env.Time = time.UnixMicro(us).UTC()
	}
	e, err := env.Event()
	if err != nil {
		return nil, fmt.Errorf("fromproto: %w", err)
	}
	return e, nil
}

// Content decodes message content from its JSON and, for media, its bytes.
func Content(contentJSON, media []byte) (waqtor.Content, error) {
	if len(contentJSON) == 0 {
		return nil, fmt.Errorf("fromproto: %w: missing content", waqtor.ErrInvalidMessage)
	}
	c, err := waqtor.UnmarshalContent(contentJSON)
	if err != nil {
		return nil, fmt.Errorf("fromproto: %w", err)
	}
	if m, ok := c.(*waqtor.Media); ok {
		m.Data = media
	}
	return c, nil
}

// Message decodes a stored message from JSON.
func Message(b []byte) (*waqtor.Message, error) {
	var m waqtor.Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("fromproto: decode message: %w", err)
	}
	return &m, nil
}

// Session decodes a session from JSON.
func Session(b []byte) (*waqtor.Session, error) {
	var s waqtor.Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("fromproto: decode session: %w", err)
	}
	return &s, nil
}

// Level parses "debug", "info", "warn" or "error"; anything else is info.
func Level(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// RemoteError is an error returned across the plugin boundary. It matches the
// sentinel its ErrorInfo reason names (errors.Is), and keeps the status.
type RemoteError struct {
	// Sentinel is the matched sentinel, nil when the reason is unknown.
	Sentinel error
	// Status is the gRPC status as received.
	Status *status.Status
}

func (e *RemoteError) Error() string {
	return e.Status.Message()
}

// Unwrap returns the sentinel.
func (e *RemoteError) Unwrap() error { return e.Sentinel }

// GRPCStatus lets status.FromError and status.Code see the original status.
func (e *RemoteError) GRPCStatus() *status.Status { return e.Status }

// Error turns a gRPC status error back into an error that matches the sentinel
// named by its ErrorInfo reason. Errors that are not statuses pass through; nil
// stays nil.
func Error(err error, reasons []reason.Reason) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &RemoteError{Status: st}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != reason.Domain {
			continue
		}
		for _, r := range reasons {
			if r.Name == info.GetReason() {
				out.Sentinel = r.Err
				return out
			}
		}
	}
	return out
}
