package api

import "fmt"

// ProblemTypeBase prefixes every problem type URI.
const ProblemTypeBase = "https://waqtor.dev/problems/"

// Problem types: each error has one stable type, documented in the OpenAPI
// document and never reworded.
const (
	// TypeBadRequest: malformed JSON, a value of the wrong type, an unknown
	// field, trailing data, a bad query parameter (400).
	TypeBadRequest = ProblemTypeBase + "bad-request"
	// TypeValidation: a well-formed request whose values are invalid (422); the
	// errors member names each offending field.
	TypeValidation = ProblemTypeBase + "validation-failed"
	// TypeUnauthorized: no credentials, or a malformed, unknown, expired or
	// revoked key (401).
	TypeUnauthorized = ProblemTypeBase + "unauthorized"
	// TypeForbidden: the key lacks the route's scope (403).
	TypeForbidden = ProblemTypeBase + "forbidden"
	// TypeNotFound: no such route or object, or one of another tenant (404).
	TypeNotFound = ProblemTypeBase + "not-found"
	// TypeMethodNotAllowed: the path exists with other methods (405).
	TypeMethodNotAllowed = ProblemTypeBase + "method-not-allowed"
	// TypeConflict: the object already exists, or its state forbids the
	// change (editing or revoking a message one did not send, or one past
	// WhatsApp's limits) (409).
	TypeConflict = ProblemTypeBase + "conflict"
	// TypeSessionNotReady: the session is not connected and logged in, or is
	// banned (409).
	TypeSessionNotReady = ProblemTypeBase + "session-not-ready"
	// TypeAlreadyPaired: pairing a session that is logged in (409).
	TypeAlreadyPaired = ProblemTypeBase + "already-paired"
	// TypeOptedOut: the send's 1:1 contact opted out (of all messages, or of
	// marketing for a marketing send) (409); the errors member names the
	// contact under "chat". Nothing was sent or stored; a message the
	// contact expects may be sent with "transactional": true.
	TypeOptedOut = ProblemTypeBase + "opted-out"
	// TypeBodyTooLarge: the request body exceeds the route's limit (413).
	TypeBodyTooLarge = ProblemTypeBase + "body-too-large"
	// TypeMediaTooLarge: media above the Core's MaxMediaBytes (413).
	TypeMediaTooLarge = ProblemTypeBase + "media-too-large"
	// TypeUnsupportedMediaType: a body that is not application/json (or
	// multipart/form-data where accepted) (415).
	TypeUnsupportedMediaType = ProblemTypeBase + "unsupported-media-type"
	// TypeMediaFetch: media could not be fetched from its URL (422).
	TypeMediaFetch = ProblemTypeBase + "media-fetch-failed"
	// TypeIdempotencyKeyReused: an Idempotency-Key header reused with a
	// different request (another chat, content or media) (422); the first
	// request's message stands and nothing was sent.
	TypeIdempotencyKeyReused = ProblemTypeBase + "idempotency-key-reused"
	// TypeRateLimited: too many requests for this key or address; see
	// Retry-After (429).
	TypeRateLimited = ProblemTypeBase + "rate-limited"
	// TypeInternal: an unexpected server error; details are logged, not shown (500).
	TypeInternal = ProblemTypeBase + "internal"
	// TypeNotImplemented: the engine does not offer this command (501).
	TypeNotImplemented = ProblemTypeBase + "not-implemented"
	// TypeSendFailed: WhatsApp refused the message for good (502); the message
	// is stored as failed.
	TypeSendFailed = ProblemTypeBase + "send-failed"
	// TypeUnavailable: the Core is stopped or its database is unreachable (503).
	TypeUnavailable = ProblemTypeBase + "unavailable"
)

// Problem is an RFC 9457 problem details object: the body of every error
// response.
type Problem struct {
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Errors lists the offending fields of a 400 or 422.
	Errors []FieldProblem `json:"errors,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Title is the short, fixed summary of the type.
	Title string `json:"title"`
	// Type is the problem type URI (one of the Type constants).
	Type string `json:"type"`
}

// FieldProblem names one invalid field.
type FieldProblem struct {
	// Field is the field's JSON name or path ("text", "options[2]",
	// "Idempotency-Key").
	Field string `json:"field"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// Error implements error.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%s: %s", p.Title, p.Detail)
	}
	return p.Title
}

// FieldError is a request field that fails validation (Validate methods).
// The server answers it as a 422 problem of TypeValidation naming Field.
type FieldError struct {
	// Field is the JSON name or path of the field ("chat", "buttons[1].id").
	Field string
	// Reason says what is wrong in words a user can act on.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }
