package webhook

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/waqtor/waqtor/internal/retryafter"
)

// Limits of a RetryPolicy and of the delays the dispatcher computes.
const (
	// JitterDefault is the ± fraction applied to each scheduled delay.
	JitterDefault = 0.2
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter = time.Hour
	// MaxRetries caps the length of a schedule.
	MaxRetries = 50
	// MaxRetryDelay caps one scheduled delay.
	MaxRetryDelay = 7 * 24 * time.Hour
	// ThrottleDelay is the least delay after a 429 or a timeout that came
	// without a Retry-After header.
	ThrottleDelay = 60 * time.Second
)

// RetryPolicy says when a failed delivery is tried again. A delivery gets
// len(Schedule)+1 attempts: the first at once, then one after each delay of
// Schedule (counted from the end of the previous attempt), each delay varied by
// ±Jitter. A delivery whose attempts are exhausted is dead: it stays in the
// delivery log, and [Service.Replay] sends it again.
//
// On the wire (REST, and in the database) a policy is
// {"schedule": ["5s", "5m", ...], "jitter": 0.2}; a missing jitter means
// JitterDefault.
type RetryPolicy struct {
	// Jitter is the fraction by which each delay is varied at random, from 0
	// (exact) to 1.
	Jitter float64
	// Schedule lists the delays before the second, third, ... attempt.
	Schedule []time.Duration
}

// StandardRetry returns the schedule of the Standard Webhooks specification
// (and Svix): attempts at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
// and 10 h (8 attempts over about 28 hours), with ±20 % jitter. It is the
// default.
func StandardRetry() *RetryPolicy {
	return &RetryPolicy{Jitter: JitterDefault, Schedule: []time.Duration{5 * time.Second, 5 * time.Minute,
		30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}}
}

// ExponentialRetry returns a policy of attempts attempts in all, the first
// retry after initial and each next one factor times longer, capped at
// maxDelay (0: no cap), with ±20 % jitter. The original plan's default, 3
// attempts from 1,000 ms, is ExponentialRetry(3, time.Second, 2, 0): retries
// after 1 s and 2 s.
func ExponentialRetry(attempts int, initial time.Duration, factor float64, maxDelay time.Duration) *RetryPolicy {
	p := &RetryPolicy{Jitter: JitterDefault}
	d := float64(initial)
	for i := 1; i < attempts && i <= MaxRetries; i++ {
		delay := time.Duration(d)
		if maxDelay > 0 {
			delay = min(delay, maxDelay)
		}
		p.Schedule = append(p.Schedule, min(delay, MaxRetryDelay))
		d = min(d*max(factor, 1), float64(MaxRetryDelay))
	}
	return p
}

// Attempts returns how many attempts a delivery gets in all.
func (p *RetryPolicy) Attempts() int { return len(p.Schedule) + 1 }

func (p *RetryPolicy) clone() *RetryPolicy {
	return &RetryPolicy{Jitter: p.Jitter, Schedule: append([]time.Duration(nil), p.Schedule...)}
}

func (p *RetryPolicy) validate() error {
	if len(p.Schedule) > MaxRetries {
		return fieldErr("retry.schedule", "%d retries; at most %d", len(p.Schedule), MaxRetries)
	}
	for i, d := range p.Schedule {
		if d < 0 || d > MaxRetryDelay {
			return fieldErr("retry.schedule", "delay %d is %s; each must be between 0 and %s", i, d, MaxRetryDelay)
		}
	}
	if p.Jitter < 0 || p.Jitter > 1 {
		return fieldErr("retry.jitter", "%v must be between 0 and 1", p.Jitter)
	}
	return nil
}

type retryPolicyJSON struct {
	Jitter   *float64 `json:"jitter,omitempty"`
	Schedule []string `json:"schedule"`
}

// MarshalJSON encodes the policy as {"schedule": ["5s", ...], "jitter": 0.2}.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	j := retryPolicyJSON{Jitter: &p.Jitter, Schedule: make([]string, len(p.Schedule))}
	for i, d := range p.Schedule {
		j.Schedule[i] = d.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes {"schedule": ["5s", ...], "jitter": 0.2}; delays are Go
// durations ("1.5s", "10m", "2h"), and a missing jitter means JitterDefault.
func (p *RetryPolicy) UnmarshalJSON(b []byte) error {
	var j retryPolicyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("retry policy: %w", err)
	}
	out := RetryPolicy{Jitter: JitterDefault}
	if j.Jitter != nil {
		out.Jitter = *j.Jitter
	}
	for _, s := range j.Schedule {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("retry policy: schedule entry %q is not a duration like \"5s\" or \"2h\"", s)
		}
		out.Schedule = append(out.Schedule, d)
	}
	*p = out
	return nil
}

// outcome is what one attempt produced, as far as retrying is concerned.
type outcome struct {
	gone       bool          // 410
	retryAfter time.Duration // from Retry-After; valid when hasRetryAfter
	hasRA      bool
	status     int
	success    bool
	timeout    bool
}

// nextDelay returns the delay before the next attempt after the tries-th failed
// try (1-based) of a delivery, and false when the policy is exhausted.
//
// The scheduled delay is Schedule[tries-1] ± Jitter. When the receiver sent
// Retry-After the delay is max(scheduled, min(Retry-After, 1 h)): a receiver
// can ask for more time, up to an hour, never for less than the schedule. A 429
// or a timeout without Retry-After waits max(scheduled, 60 s).
func nextDelay(p *RetryPolicy, tries int, o outcome, rnd func() float64) (time.Duration, bool) {
	if tries < 1 || tries > len(p.Schedule) {
		return 0, false
	}
	d := p.Schedule[tries-1]
	if p.Jitter > 0 && d > 0 {
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*rnd()-1)))
	}
	switch {
	case o.hasRA:
		d = max(d, min(o.retryAfter, MaxRetryAfter))
	case o.status == http.StatusTooManyRequests || o.timeout:
		d = max(d, ThrottleDelay)
	}
	return d, true
}

func randFloat() float64 { return rand.Float64() }

// parseRetryAfter reads a Retry-After header: delay-seconds, or an HTTP date
// (relative to now), at most MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	return retryafter.Parse(v, now, MaxRetryAfter)
}

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }

// JSONSchema describes the wire form for OpenAPI documents.
func (RetryPolicy) JSONSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"schedule": map[string]any{"type": "array", "items": map[string]any{"type": "string", "examples": []string{"5s", "5m", "2h"}},
				"description": "Delays before the second, third, ... attempt, as Go durations."},
			"jitter": map[string]any{"type": "number", "minimum": 0, "maximum": 1, "description": "± fraction applied to each delay; defaults to 0.2."},
		},
		"required":             []string{"schedule"},
		"additionalProperties": false,
	}
}
