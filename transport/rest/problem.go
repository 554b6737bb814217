package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/netguard"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// ErrNotFound reports an object that does not exist or that the principal does
// not own; Owner.LookupFunc and handlers return errors wrapping it. It is
// answered 404 with the problem type TypeNotFound.
var ErrNotFound = errors.New("rest: not found")

// ProblemTypeBase prefixes every problem type URI.
const ProblemTypeBase = api.ProblemTypeBase

// Problem types: each error has one stable type, documented in the OpenAPI
// document and never reworded. They are package api's, repeated here.
const (
	// TypeBadRequest: malformed JSON, a value of the wrong type, an unknown
	// field, trailing data, a bad query parameter (400).
	TypeBadRequest = api.TypeBadRequest
	// TypeValidation: a well-formed request whose values are invalid (422); the
	// errors member names each offending field.
	TypeValidation = api.TypeValidation
	// TypeUnauthorized: no credentials, or a malformed, unknown, expired or
	// revoked key (401).
	TypeUnauthorized = api.TypeUnauthorized
	// TypeForbidden: the key lacks the route's scope (403).
	TypeForbidden = api.TypeForbidden
	// TypeNotFound: no such route or object, or one of another tenant (404).
	TypeNotFound = api.TypeNotFound
	// TypeMethodNotAllowed: the path exists with other methods (405).
	TypeMethodNotAllowed = api.TypeMethodNotAllowed
	// TypeConflict: the object already exists, or its state forbids the
	// change (editing or revoking a message one did not send, or one past
	// WhatsApp's limits) (409).
	TypeConflict = api.TypeConflict
	// TypeSessionNotReady: the session is not connected and logged in, or is
	// banned (409).
	TypeSessionNotReady = api.TypeSessionNotReady
	// TypeAlreadyPaired: pairing a session that is logged in (409).
	TypeAlreadyPaired = api.TypeAlreadyPaired
	// TypeOptedOut: the send's 1:1 contact opted out (409).
	TypeOptedOut = api.TypeOptedOut
	// TypeBodyTooLarge: the request body exceeds the route's limit (413).
	TypeBodyTooLarge = api.TypeBodyTooLarge
	// TypeMediaTooLarge: media above the Core's MaxMediaBytes (413).
	TypeMediaTooLarge = api.TypeMediaTooLarge
	// TypeUnsupportedMediaType: a body that is not application/json (or
	// multipart/form-data where accepted) (415).
	TypeUnsupportedMediaType = api.TypeUnsupportedMediaType
	// TypeMediaFetch: media could not be fetched from its URL (422).
	TypeMediaFetch = api.TypeMediaFetch
	// TypeIdempotencyKeyReused: an Idempotency-Key reused with a different
	// request (422).
	TypeIdempotencyKeyReused = api.TypeIdempotencyKeyReused
	// TypeRateLimited: too many requests for this key or address; see
	// Retry-After (429).
	TypeRateLimited = api.TypeRateLimited
	// TypeInternal: an unexpected server error; details are logged, not shown (500).
	TypeInternal = api.TypeInternal
	// TypeNotImplemented: the engine does not offer this command (501).
	TypeNotImplemented = api.TypeNotImplemented
	// TypeSendFailed: WhatsApp refused the message for good (502); the message
	// is stored as failed.
	TypeSendFailed = api.TypeSendFailed
	// TypeUnavailable: the Core is stopped or its database is unreachable (503).
	TypeUnavailable = api.TypeUnavailable
)

// Problem is an RFC 9457 problem details object (api.Problem). Handlers may
// return one (or an error wrapping one) to answer with it.
type Problem = api.Problem

// FieldProblem names one invalid field (api.FieldProblem).
type FieldProblem = api.FieldProblem

var titles = map[string]string{
	TypeBadRequest:           "Bad request",
	TypeValidation:           "Validation failed",
	TypeUnauthorized:         "Unauthorized",
	TypeForbidden:            "Forbidden",
	TypeNotFound:             "Not found",
	TypeMethodNotAllowed:     "Method not allowed",
	TypeConflict:             "Conflict",
	TypeSessionNotReady:      "Session not ready",
	TypeAlreadyPaired:        "Session already paired",
	TypeOptedOut:             "Contact opted out",
	TypeBodyTooLarge:         "Request body too large",
	TypeMediaTooLarge:        "Media too large",
	TypeUnsupportedMediaType: "Unsupported media type",
	TypeMediaFetch:           "Media fetch failed",
	TypeIdempotencyKeyReused: "Idempotency key reused",
	TypeRateLimited:          "Too many requests",
	TypeInternal:             "Internal server error",
	TypeNotImplemented:       "Not implemented",
	TypeSendFailed:           "Send failed",
	TypeUnavailable:          "Service unavailable",
}

// NewProblem returns a problem of type typ (a Type constant) with its fixed
// title.
func NewProblem(status int, typ, detail string, fields ...FieldProblem) *Problem {
	title := titles[typ]
	if title == "" {
		title = http.StatusText(status)
	}
	return &Problem{Detail: detail, Errors: fields, Status: status, Title: title, Type: typ}
}

// NotFound returns the 404 problem for an object, worded the same whether the
// object is missing or owned by someone else.
func NotFound(kind, id string) *Problem {
	return NewProblem(http.StatusNotFound, TypeNotFound, fmt.Sprintf("%s %q not found", kind, id))
}

// ProblemFor maps an error to its problem: a *Problem as is, auth and waqtor
// errors to their types, anything else to TypeInternal (500).
func ProblemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var afe *api.FieldError
	if errors.As(err, &afe) {
		return NewProblem(http.StatusUnprocessableEntity, TypeValidation, afe.Field+": "+afe.Reason,
			FieldProblem{Field: afe.Field, Reason: afe.Reason})
	}
	var fe *waqtor.FieldError
	if errors.As(err, &fe) {
		status, typ := http.StatusUnprocessableEntity, TypeValidation
		if errors.Is(fe.Err, waqtor.ErrMediaTooLarge) {
			status, typ = http.StatusRequestEntityTooLarge, TypeMediaTooLarge
		}
		field := fe.Field
		if field == "idempotency_key" {
			field = "Idempotency-Key"
		}
		return NewProblem(status, typ, fmt.Sprintf("%s: %s", field, fe.Reason), FieldProblem{Field: field, Reason: fe.Reason})
	}
	var be *waqtor.BannedError
	var oe *waqtor.OptedOutError
	switch {
	case errors.As(err, &oe):
		reason := fmt.Sprintf("%s opted out of %s messages", oe.Contact, oe.Scope)
		return NewProblem(http.StatusConflict, TypeOptedOut, "chat: "+reason, FieldProblem{Field: "chat", Reason: reason})
	case errors.As(err, &be):
		return NewProblem(http.StatusConflict, TypeSessionNotReady, trimPrefix(err))
	case errors.Is(err, auth.ErrUnauthenticated):
		return NewProblem(http.StatusUnauthorized, TypeUnauthorized, "missing or invalid API key")
	case errors.Is(err, auth.ErrForbidden):
		return NewProblem(http.StatusForbidden, TypeForbidden, trimPrefix(err))
	case errors.Is(err, auth.ErrInvalidKey):
		return validationFromText(err)
	case errors.Is(err, ErrNotFound), errors.Is(err, auth.ErrKeyNotFound):
		return NewProblem(http.StatusNotFound, TypeNotFound, trimPrefix(err))
	case errors.Is(err, waqtor.ErrSessionNotFound):
		return NewProblem(http.StatusNotFound, TypeNotFound, "session not found")
	case errors.Is(err, waqtor.ErrMediaUnavailable):
		return NewProblem(http.StatusNotFound, TypeNotFound, trimPrefix(err))
	case errors.Is(err, waqtor.ErrMessageNotFound):
		return NewProblem(http.StatusNotFound, TypeNotFound, "message not found")
	case errors.Is(err, waqtor.ErrInvalidSessionID), errors.Is(err, waqtor.ErrInvalidPhone), errors.Is(err, waqtor.ErrInvalidMessage):
		return validationFromText(err)
	case errors.Is(err, waqtor.ErrNotOwnMessage), errors.Is(err, waqtor.ErrNotEditable), errors.Is(err, waqtor.ErrNotRevocable):
		return NewProblem(http.StatusConflict, TypeConflict, trimPrefix(err))
	case errors.Is(err, waqtor.ErrSessionExists), errors.Is(err, auth.ErrKeyExists):
		return NewProblem(http.StatusConflict, TypeConflict, trimPrefix(err))
	case errors.Is(err, waqtor.ErrAlreadyPaired):
		return NewProblem(http.StatusConflict, TypeAlreadyPaired, trimPrefix(err))
	case errors.Is(err, waqtor.ErrNotReady):
		return NewProblem(http.StatusConflict, TypeSessionNotReady, trimPrefix(err))
	case errors.Is(err, waqtor.ErrMediaTooLarge):
		return NewProblem(http.StatusRequestEntityTooLarge, TypeMediaTooLarge, trimPrefix(err))
	case errors.Is(err, waqtor.ErrSendQuota):
		return NewProblem(http.StatusTooManyRequests, TypeRateLimited, trimPrefix(err))
	case errors.Is(err, waqtor.ErrIdempotencyKeyReused):
		return NewProblem(http.StatusUnprocessableEntity, TypeIdempotencyKeyReused, trimPrefix(err),
			FieldProblem{Field: "Idempotency-Key", Reason: "was first used with a different request"})
	case errors.Is(err, waqtor.ErrMediaFetch):
		// The cause names resolved addresses, the resolver and the server's
		// own options: the caller gets its category, the log gets the rest.
		reason := "could not be fetched"
		switch {
		case errors.Is(err, netguard.ErrBlocked):
			reason = "points to an address this server does not fetch from"
		case errors.Is(err, netguard.ErrRedirect):
			reason = "answered with a redirect, which is not followed (use the final URL)"
		case errors.Is(err, netguard.ErrInvalidURL), errors.Is(err, netguard.ErrScheme):
			reason = "is not an http or https URL this server can check"
		}
		return NewProblem(http.StatusUnprocessableEntity, TypeMediaFetch, "url: "+reason,
			FieldProblem{Field: "url", Reason: reason})
	case errors.Is(err, waqtor.ErrUnsupported):
		return NewProblem(http.StatusNotImplemented, TypeNotImplemented, trimPrefix(err))
	case errors.Is(err, waqtor.ErrStopped), errors.Is(err, waqtor.ErrNotStarted), errors.Is(err, waqtor.ErrDatabase):
		return NewProblem(http.StatusServiceUnavailable, TypeUnavailable, "the server is not running or its database is unreachable")
	case waqtor.IsPermanent(err):
		return NewProblem(http.StatusBadGateway, TypeSendFailed, trimPrefix(err))
	case errors.Is(err, context.DeadlineExceeded):
		return NewProblem(http.StatusServiceUnavailable, TypeUnavailable, "the operation timed out")
	}
	return NewProblem(http.StatusInternalServerError, TypeInternal, "")
}

// validationFromText turns an error without a FieldError into a 422, taking
// the field from "...: field: reason" when present.
func validationFromText(err error) *Problem {
	msg := trimPrefix(err)
	return NewProblem(http.StatusUnprocessableEntity, TypeValidation, msg)
}

// trimPrefix drops package prefixes ("waqtor: ", "auth: ") from messages.
func trimPrefix(err error) string {
	msg := err.Error()
	for _, p := range []string{"waqtor: ", "auth: ", "rest: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	out := *p
	if r != nil {
		out.Instance = r.URL.Path
	}
	if out.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="waqtor"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(&out)
}

// StatusClientClosedRequest is the status recorded (metrics label "499", as
// nginx does) for a request whose client went away before it was answered:
// the client canceled it, so whatever error the handler met on the canceled
// context is no fault of the server and never counted or logged as one.
const StatusClientClosedRequest = 499

// clientGone reports whether r's client went away: net/http cancels the
// request's context (with context.Canceled) when the connection closes. A
// deadline (a host's timeout middleware) is not the client leaving.
func clientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

// WriteError answers err as problem+json (see ProblemFor) and logs unexpected
// errors (500s) with the request's context. When the client has gone away
// (its request context is canceled), nobody reads the answer and the error is
// most likely the cancellation itself: it answers StatusClientClosedRequest
// without a body and logs at debug level.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r) {
		if h := handlerFrom(r.Context()); h != nil {
			h.logger.DebugContext(r.Context(), "Client went away before the answer", slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Any("error", err))
		}
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	p := ProblemFor(err)
	if qe := (*waqtor.QuotaError)(nil); errors.As(err, &qe) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(qe.RetryAfter.Seconds()))))
	}
	if p.Type == TypeMediaFetch {
		if h := handlerFrom(r.Context()); h != nil {
			h.logger.InfoContext(r.Context(), "Media fetch refused", slog.String("path", r.URL.Path), slog.Any("error", err))
		}
	}
	if p.Status >= 500 {
		if h := handlerFrom(r.Context()); h != nil {
			h.logger.ErrorContext(r.Context(), "Request failed", slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Any("error", err))
		}
	}
	WriteProblem(w, r, p)
}
