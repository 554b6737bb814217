package smartbot

import (
	"errors"
	"fmt"

	"github.com/waqtor/waqtor/template"
)

// Sentinel errors returned (wrapped) by the package. Use [errors.Is] to test for them.
var (
	// ErrEmptyRule is returned when a rule has no trigger at all: no exact
	// phrase, keyword, regex or example.
	ErrEmptyRule = errors.New("smartbot: rule has no triggers (add Examples, Keywords, Exact or Regexes)")

	// ErrInvalidRule is the parent of every rule validation error.
	ErrInvalidRule = errors.New("smartbot: invalid rule")

	// ErrInvalidTemplate is returned (inside a [*RuleError]) when a reply
	// template cannot be parsed. It is [template.ErrInvalid], so either
	// matches with [errors.Is].
	ErrInvalidTemplate = template.ErrInvalid

	// ErrInvalidConfig is returned by [NewMatcher] for an unusable [MatcherConfig].
	ErrInvalidConfig = errors.New("smartbot: invalid config")

	// ErrEmbedding is returned when the embedding function fails or returns
	// an unusable vector.
	ErrEmbedding = errors.New("smartbot: embedding failed")
)

// RuleError describes why one rule is invalid. It unwraps to [ErrInvalidRule]
// and to the underlying cause (for example a regexp syntax error or
// [ErrEmptyRule]).
type RuleError struct {
	// RuleID is the ID of the offending rule (may be empty).
	RuleID string
	// Index is the rule's position in the slice or the line number (1-based)
	// in a JSONL file; 0 when unknown.
	Index int
	// Field names the offending field, e.g. "Regexes[1]".
	Field string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *RuleError) Error() string {
	where := fmt.Sprintf("rule %q", e.RuleID)
	if e.Index > 0 {
		where = fmt.Sprintf("rule #%d %q", e.Index, e.RuleID)
	}
	if e.Field != "" {
		where += " " + e.Field
	}
	return fmt.Sprintf("smartbot: invalid %s: %v", where, e.Err)
}

// Unwrap returns the cause and [ErrInvalidRule].
func (e *RuleError) Unwrap() []error { return []error{ErrInvalidRule, e.Err} }
