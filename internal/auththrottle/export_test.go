package auththrottle

import "time"

// Entries is how many keys t remembers, for tests.
func Entries(t *Throttle) int {
	n := 0
	for _, c := range []*counter{t.ip, t.key} {
		if c != nil {
			c.mu.Lock()
			n += len(c.entries)
			c.mu.Unlock()
		}
	}
	return n
}

// SetNow replaces t's clock, for tests.
func SetNow(t *Throttle, now func() time.Time) { t.now = now }
