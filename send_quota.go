package waqtor

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrSendQuota reports that a tenant has sent as many messages as
// Config.TenantSendLimit allows for now; errors.As gives the *QuotaError
// with the wait.
var ErrSendQuota = errors.New("waqtor: tenant send quota exceeded")

// QuotaError is a send refused by Config.TenantSendLimit.
type QuotaError struct {
	// Limit and Window are the quota: Limit messages per Window.
	Limit  int
	Window time.Duration
	// RetryAfter is how long until the tenant may send one more.
	RetryAfter time.Duration
	// Tenant is the tenant whose quota is spent.
	Tenant string
}

// Error implements error.
func (e *QuotaError) Error() string {
	return fmt.Sprintf("%v: tenant %q may send %d messages per %s; retry after %s", ErrSendQuota, e.Tenant, e.Limit,
		e.Window, e.RetryAfter.Round(time.Millisecond))
}

// Unwrap returns ErrSendQuota.
func (e *QuotaError) Unwrap() error { return ErrSendQuota }

// sendQuota is a token bucket per tenant: Limit tokens, refilled evenly over
// Window, one per send. A tenant's quota is shared by all its sessions and
// every path that sends (REST, plugins, handlers), so one tenant cannot
// crowd out the others on a shared gateway. A nil *sendQuota allows all.
type sendQuota struct {
	limit  float64
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newSendQuota(limit int, window time.Duration, now func() time.Time) *sendQuota {
	if limit <= 0 {
		return nil
	}
	return &sendQuota{limit: float64(limit), window: window, now: now, buckets: map[string]*bucket{}}
}

// take spends one of tenant's sends, or returns a *QuotaError.
func (q *sendQuota) take(tenant string) error {
	if q == nil {
		return nil
	}
	now := q.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.buckets[tenant]
	if b == nil {
		b = &bucket{tokens: q.limit, at: now}
		q.buckets[tenant] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(q.limit, b.tokens+q.limit*float64(elapsed)/float64(q.window))
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) * float64(q.window) / q.limit)
	return &QuotaError{Limit: int(q.limit), Window: q.window, RetryAfter: max(wait, time.Millisecond), Tenant: tenant}
}
