package template

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by the package. Use [errors.Is] to test
// for them.
var (
	// ErrInvalid is the parent of every error [Parse] returns: the source is
	// not a valid template.
	ErrInvalid = errors.New("template: invalid template")

	// ErrEmpty is returned by [ParseNonEmpty] for a source that is empty or
	// holds only white space and invisible formatting characters. The error
	// also matches [ErrInvalid].
	ErrEmpty = errors.New("template: empty template")
)

// ParseError says where a template source is wrong and what is wrong there.
// It unwraps to [ErrInvalid] and, when set, to Err.
type ParseError struct {
	// Offset is the byte offset in the source of the problem (for a source
	// longer than [MaxBytes], MaxBytes).
	Offset int
	// Msg says what is wrong, and usually how to fix it.
	Msg string
	// Err is a more specific sentinel such as [ErrEmpty]; nil for syntax
	// errors.
	Err error
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("template: invalid template at byte %d: %s", e.Offset, e.Msg)
}

// Unwrap returns [ErrInvalid] and Err.
func (e *ParseError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}
