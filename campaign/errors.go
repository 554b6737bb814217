package campaign

import (
	"errors"
	"fmt"

	"github.com/waqtor/waqtor"
)

// Configuration and lifecycle errors.
var (
	// ErrConfig reports an invalid Config; the message names the field and the fix.
	ErrConfig = errors.New("campaign: invalid config")
	// ErrDatabase reports a database failure.
	ErrDatabase = errors.New("campaign: database error")
	// ErrStopped reports a call on a Service that has been stopped.
	ErrStopped = errors.New("campaign: service stopped")
)

// Errors of the campaign API.
var (
	// ErrInvalidCampaign reports campaign input that fails validation: a
	// missing name, an empty or unparsable template, a schedule in the past,
	// a session of another tenant. The concrete error is a *FieldError naming
	// the field.
	ErrInvalidCampaign = errors.New("campaign: invalid campaign")
	// ErrNotFound reports an unknown campaign, or one of another tenant.
	ErrNotFound = errors.New("campaign: not found")
	// ErrState reports an action the campaign's state does not allow (pausing
	// a completed campaign, editing a running one). The concrete error is a
	// *StateError.
	ErrState = errors.New("campaign: not allowed in this state")
	// ErrSessionUnavailable reports a resume or execute while a sender session
	// is banned or logged out.
	ErrSessionUnavailable = errors.New("campaign: sender session unavailable")
)

// FieldError names the input field that failed validation; it is the root
// package's [waqtor.FieldError], so every transport maps it the same way. It
// matches ErrInvalidCampaign (or the sentinel in Err) with errors.Is.
type FieldError = waqtor.FieldError

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Err: ErrInvalidCampaign, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// StateError reports an action refused in a campaign's current state. It
// matches ErrState with errors.Is.
type StateError struct {
	// Action is what was asked ("pause", "resume", "update", ...).
	Action string
	// State is the campaign's state.
	State State
}

// Error implements error.
func (e *StateError) Error() string {
	return fmt.Sprintf("campaign: cannot %s a %s campaign", e.Action, e.State)
}

// Is reports whether target is ErrState.
func (e *StateError) Is(target error) bool { return target == ErrState }

func dbErr(err error) error { return fmt.Errorf("%w: %w", ErrDatabase, err) }
