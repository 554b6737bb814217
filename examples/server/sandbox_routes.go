package main

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
)

// scopeSandbox controls the simulated network.
const scopeSandbox auth.Scope = "sandbox:control"

// PairRequest pairs a session showing QR codes as a virtual phone.
type PairRequest struct {
	Phone string `json:"phone" doc:"The virtual account's number (+<country code><number>)."`
}

// Validate checks the fields.
func (r *PairRequest) Validate() error {
	return checkPhone("phone", r.Phone)
}

// checkPhone parses a number and reports a bad one under field, the name the
// request gives it (ParsePhone names every number "phone").
func checkPhone(field, number string) error {
	_, err := waqtor.ParsePhone(number)
	if fe, ok := errors.AsType[*waqtor.FieldError](err); ok {
		return &waqtor.FieldError{Err: fe.Err, Field: field, Reason: fe.Reason}
	}
	return err
}

// InboundRequest makes a virtual phone send a text to the session's account.
type InboundRequest struct {
	From string `json:"from" doc:"The virtual phone's number."`
	Text string `json:"text"`
}

// Validate checks the fields.
func (r *InboundRequest) Validate() error {
	if err := checkPhone("from", r.From); err != nil {
		return err
	}
	if strings.TrimSpace(r.Text) == "" {
		return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "text", Reason: "is required"}
	}
	return nil
}

// InboundResponse is the ID of the message the phone sent.
type InboundResponse struct {
	MessageID string `json:"message_id"`
}

// FaultRequest injects a fault into a session's connection.
type FaultRequest struct {
	Count      int    `json:"count,omitempty" doc:"fail_sends: how many sends fail (default 1)."`
	DurationMS int    `json:"duration_ms,omitempty" doc:"ban: how long (default 60000); send_latency: the latency."`
	Kind       string `json:"kind" doc:"disconnect, fail_sends, send_latency, ban or logout_remote."`
}

// Validate checks the fields.
func (r *FaultRequest) Validate() error {
	switch r.Kind {
	case "disconnect", "fail_sends", "send_latency", "ban", "logout_remote":
	default:
		return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "kind", Reason: "must be disconnect, fail_sends, send_latency, ban or logout_remote"}
	}
	if r.Count < 0 || r.Count > 1000 || r.DurationMS < 0 || r.DurationMS > 24*3600*1000 {
		return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "count", Reason: "count must be 0 to 1000 and duration_ms 0 to a day"}
	}
	return nil
}

// sandboxRoutes exposes the simulated network's controls as a route group, so
// anyone can try the gateway end to end with curl and no phone.
func sandboxRoutes(n *sandbox.Network) rest.RouteGroup {
	return rest.RouteGroup{
		Name:        "sandbox",
		Description: "Controls of the simulated WhatsApp network (-engine sandbox only).",
		Scopes:      map[auth.Scope]string{scopeSandbox: "Drive the simulated network: pair sessions, send from virtual phones, inject faults."},
		Routes: []rest.Route{
			{Method: "POST", Pattern: "/sandbox/sessions/{session}/pair", Scope: scopeSandbox, OperationID: "sandboxPair",
				Summary: "Pair a session that shows QR codes as a virtual phone.", Request: PairRequest{},
				Handler: rest.HandleJSON(func(r *http.Request, req *PairRequest) (*struct{}, error) {
					return nil, sandboxErr(n.Pair(r.Context(), r.PathValue("session"), req.Phone))
				})},
			{Method: "POST", Pattern: "/sandbox/sessions/{session}/inbound", Scope: scopeSandbox, OperationID: "sandboxInbound",
				Summary: "Make a virtual phone send a text message to the session's account.", Request: InboundRequest{},
				Response: InboundResponse{}, Status: http.StatusCreated,
				Handler: rest.HandleJSON(func(r *http.Request, req *InboundRequest) (*InboundResponse, error) {
					info, ok := n.Session(r.PathValue("session"))
					if !ok || info.JID == "" {
						return nil, rest.NewProblem(http.StatusConflict, rest.TypeSessionNotReady, "the session is not paired")
					}
					id, err := n.Phone(req.From).SendText(r.Context(), info.JID, req.Text)
					if err != nil {
						return nil, sandboxErr(err)
					}
					return &InboundResponse{MessageID: id}, nil
				})},
			{Method: "POST", Pattern: "/sandbox/sessions/{session}/faults", Scope: scopeSandbox, OperationID: "sandboxFault",
				Summary: "Inject a fault: drop the connection, fail or slow sends, ban the account, or unlink the device.",
				Request: FaultRequest{},
				Handler: rest.HandleJSON(func(r *http.Request, req *FaultRequest) (*struct{}, error) {
					id := r.PathValue("session")
					d := time.Duration(req.DurationMS) * time.Millisecond
					switch req.Kind {
					case "disconnect":
						return nil, sandboxErr(n.Disconnect(id))
					case "fail_sends":
						n.FailSends(id, nil, max(req.Count, 1))
					case "send_latency":
						n.SetSendLatency(id, d)
					case "ban":
						if d == 0 {
							d = time.Minute
						}
						return nil, sandboxErr(n.Ban(id, d))
					case "logout_remote":
						return nil, sandboxErr(n.LogoutRemote(id))
					}
					return nil, nil
				})},
		},
	}
}

// sandboxErr reports the network's refusals (not pairing, not connected, ...)
// as 409 problems.
func sandboxErr(err error) error {
	if err == nil {
		return nil
	}
	return rest.NewProblem(http.StatusConflict, rest.TypeConflict, err.Error())
}
