package auththrottle

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
