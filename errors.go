package waqtor

import (
	"errors"
	"fmt"
	"time"
)

// Configuration and lifecycle errors.
var (
	// ErrConfig reports an invalid Config; the message names the field and the fix.
	ErrConfig = errors.New("waqtor: invalid config")
	// ErrDatabase reports that the database could not be opened, pinged or migrated.
	ErrDatabase = errors.New("waqtor: database unavailable")
	// ErrSchemaTooNew reports a database written by a newer waqtor.
	ErrSchemaTooNew = errors.New("waqtor: database schema is newer than this waqtor")
	// ErrStopped reports a call on a Core that has been stopped.
	ErrStopped = errors.New("waqtor: core stopped")
	// ErrNotStarted reports a call that needs Start first.
	ErrNotStarted = errors.New("waqtor: core not started")
)

// Session errors.
var (
	// ErrInvalidSessionID reports a session ID that is not a slug
	// ([a-z0-9][a-z0-9_-]{0,63}).
	ErrInvalidSessionID = errors.New("waqtor: invalid session ID")
	// ErrSessionExists reports a CreateSession with an ID already in use.
	ErrSessionExists = errors.New("waqtor: session already exists")
	// ErrSessionNotFound reports an unknown session.
	ErrSessionNotFound = errors.New("waqtor: session not found")
	// ErrNotReady reports a command on a session that is not connected and logged in.
	// Nothing was sent or stored.
	ErrNotReady = errors.New("waqtor: session not ready")
	// ErrAlreadyPaired reports a pairing request on a session that is logged in.
	ErrAlreadyPaired = errors.New("waqtor: session already paired")
)

// Input errors. They are returned before anything is stored or sent.
var (
	// ErrInvalidPhone reports a phone number or chat ID that cannot be normalised.
	ErrInvalidPhone = errors.New("waqtor: invalid phone number or chat ID")
	// ErrInvalidMessage reports message content that fails validation (empty text,
	// bad coordinates, a poll without options, ...).
	ErrInvalidMessage = errors.New("waqtor: invalid message")
	// ErrMediaTooLarge reports media above Config.MaxMediaBytes.
	ErrMediaTooLarge = errors.New("waqtor: media too large")
	// ErrMediaFetch reports media that could not be read from a path or URL,
	// including a URL refused by the SSRF guard.
	ErrMediaFetch = errors.New("waqtor: media fetch failed")
	// ErrMessageNotFound reports an unknown message ID.
	ErrMessageNotFound = errors.New("waqtor: message not found")
	// ErrIdempotencyKeyReused reports a send whose idempotency key was first used
	// for a different request (another chat, content or media). Nothing was sent.
	ErrIdempotencyKeyReused = errors.New("waqtor: idempotency key reused with a different request")
	// ErrDuplicateMessageID reports a send with a caller-chosen message ID
	// (SendOpts.MessageID) that this session has used already, without the
	// idempotency key that would make it a replay. Nothing was sent.
	ErrDuplicateMessageID = errors.New("waqtor: message ID already used")
	// ErrMediaUnavailable reports media whose bytes cannot be had: media this
	// session sent (the Core does not keep sent bytes once WhatsApp has them; the
	// sender has them), or media WhatsApp no longer holds.
	ErrMediaUnavailable = errors.New("waqtor: media not available")
	// ErrNotOwnMessage reports an edit or revocation of a message this session
	// did not send. Nothing was sent.
	ErrNotOwnMessage = errors.New("waqtor: not a message this session sent")
	// ErrNotEditable reports an edit WhatsApp would not apply: the target is not
	// a text message, was revoked, was never sent, or is older than EditWindow.
	// Nothing was sent.
	ErrNotEditable = errors.New("waqtor: message cannot be edited")
	// ErrNotRevocable reports a revocation WhatsApp would not apply: the target
	// was revoked already, was never sent, or is not a message one can delete
	// (a reaction, an edit). Nothing was sent.
	ErrNotRevocable = errors.New("waqtor: message cannot be revoked")
	// ErrUnsupported reports a command the session's engine does not offer.
	ErrUnsupported = errors.New("waqtor: not supported by this engine")
)

// Consent errors.
var (
	// ErrInvalidConsent reports a consent change or query with an invalid
	// contact, scope, status, source or note. Nothing was stored.
	ErrInvalidConsent = errors.New("waqtor: invalid consent")
	// ErrOptedOut reports a send refused because the contact opted out (see
	// SendOpts.Transactional and SendOpts.Consent); errors.As gives the
	// *OptedOutError. Nothing was sent or stored.
	ErrOptedOut = errors.New("waqtor: contact opted out")
)

// OptedOutError reports a send refused because its 1:1 contact opted out. It
// matches ErrOptedOut with errors.Is.
type OptedOutError struct {
	// Contact is the contact (E.164, or "<digits>@lid").
	Contact string
	// Scope is the scope the contact opted out of.
	Scope ConsentScope
}

// Error implements error.
func (e *OptedOutError) Error() string {
	return fmt.Sprintf("waqtor: contact opted out: %s opted out of %s messages", e.Contact, e.Scope)
}

// Is lets errors.Is(err, ErrOptedOut) match.
func (e *OptedOutError) Is(target error) bool { return target == ErrOptedOut }

// FieldError names the input field that failed validation. It matches the
// sentinel it wraps with errors.Is.
type FieldError struct {
	// Err is the sentinel, such as ErrInvalidMessage or ErrInvalidPhone.
	Err error
	// Field is the offending field, such as "text" or "latitude".
	Field string
	// Reason says what is wrong in words a user can act on.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Reason)
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(sentinel error, field, format string, args ...any) error {
	return &FieldError{Err: sentinel, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// PermanentError marks an engine send error that retrying cannot fix (an invalid
// recipient, a message WhatsApp refuses). The Core marks the message failed instead
// of keeping it pending. Engines build one with [Permanent].
type PermanentError struct{ Err error }

// Error implements error.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the Core treats the send as failed for good.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is a [PermanentError].
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// BannedError reports that WhatsApp temporarily banned the session's account.
type BannedError struct {
	// Expires is when the ban lifts; zero when unknown.
	Expires time.Time
	// Reason is the engine's description.
	Reason string
}

// Error implements error.
func (e *BannedError) Error() string {
	if e.Expires.IsZero() {
		return "waqtor: account temporarily banned: " + e.Reason
	}
	return fmt.Sprintf("waqtor: account temporarily banned until %s: %s", e.Expires.Format(time.RFC3339), e.Reason)
}

// Is lets errors.Is(err, ErrNotReady) match a ban: a banned session cannot send.
func (e *BannedError) Is(target error) bool { return target == ErrNotReady }
