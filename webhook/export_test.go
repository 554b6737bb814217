package webhook

// Exported for tests.

// Outcome is outcome, for tests of NextDelay.
type Outcome = outcome

// NewOutcome builds an outcome.
func NewOutcome(status int, timeout bool, retryAfter *int) Outcome {
	o := outcome{status: status, timeout: timeout, gone: status == 410, success: status >= 200 && status < 300}
	if retryAfter != nil {
		o.hasRA = true
		o.retryAfter = secondsDur(*retryAfter)
	}
	return o
}

var (
	NextDelay       = nextDelay
	ParseRetryAfter = parseRetryAfter
)

var NormalizeEvents = normalizeEvents
