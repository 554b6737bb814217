package webhook

import (
	"errors"
	"fmt"

	"github.com/waqtor/waqtor"
)

// Configuration and lifecycle errors.
var (
	// ErrConfig reports an invalid Config; the message names the field and the fix.
	ErrConfig = errors.New("webhook: invalid config")
	// ErrStopped reports a call on a Service that has been stopped.
	ErrStopped = errors.New("webhook: service stopped")
	// ErrDatabase reports a database failure.
	ErrDatabase = errors.New("webhook: database error")
)

// Errors of the endpoint and delivery API.
var (
	// ErrInvalidEndpoint reports endpoint input that fails validation. The
	// concrete error is a *FieldError naming the field.
	ErrInvalidEndpoint = errors.New("webhook: invalid endpoint")
	// ErrEndpointNotFound reports an unknown endpoint, or one of another tenant.
	ErrEndpointNotFound = errors.New("webhook: endpoint not found")
	// ErrDeliveryNotFound reports an unknown delivery, or one of another tenant.
	ErrDeliveryNotFound = errors.New("webhook: delivery not found")
	// ErrEndpointDisabled reports a test sent to a disabled endpoint.
	ErrEndpointDisabled = errors.New("webhook: endpoint disabled")
	// ErrSecretUnavailable reports a stored secret that cannot be decrypted:
	// it was encrypted with a key that is not in Config.EncryptionKey or
	// Config.OldEncryptionKeys.
	ErrSecretUnavailable = errors.New("webhook: secret cannot be decrypted")
)

// Errors of the signature verifiers ([Verify], [VerifySeed]).
var (
	// ErrInvalidSecret reports a secret that is not "whsec_" followed by the
	// base64 encoding of 24 to 64 bytes.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrMissingHeaders reports a request without the signature headers.
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrNoMatchingSignature reports that no signature in the header matches.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	// ErrTimestamp reports a webhook-timestamp that is malformed or outside the
	// tolerance (5 minutes by default): a replay, or a clock that is off.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
)

// FieldError names the input field that failed validation; it is the root
// package's [waqtor.FieldError], so every transport maps it the same way. It
// matches ErrInvalidEndpoint (or the sentinel in Err) with errors.Is.
type FieldError = waqtor.FieldError

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Err: ErrInvalidEndpoint, Field: field, Reason: fmt.Sprintf(format, args...)}
}
