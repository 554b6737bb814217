// Package auththrottle slows down guessing of credentials: it counts failed
// authentications per client address and per API key ID over a sliding
// window, and refuses further attempts once either count reaches its limit.
// REST and the WebSocket hub share it, so both entry points throttle the same
// way (docs/reliability.md T24: brute-force throttling per IP and per key prefix).
//
// Checking and counting are one step: Begin reserves a slot under each limit
// before the credentials are verified, and the attempt then either fails
// (the slot becomes a counted failure) or succeeds (the slot is given back).
// So N parallel guesses from one address get exactly the limit checked, never
// more; a valid request that finds every free slot reserved by attempts still
// being verified waits for one of them to end rather than being refused.
package auththrottle

import (
	"context"
	"sync"
	"time"

	"github.com/go-chi/httprate"

	"github.com/waqtor/waqtor/auth"
)

// Throttle counts failed authentications. A nil *Throttle throttles nothing.
// All methods are safe for concurrent use.
type Throttle struct {
	ip, key *counter // nil when that limit is off
	window  time.Duration
	now     func() time.Time
}

// New returns a Throttle allowing ipLimit failures per address and keyLimit
// failures per key ID in each window; a limit ≤ 0 turns that count off. It
// returns nil when both are off.
func New(ipLimit, keyLimit int, window time.Duration) *Throttle {
	if ipLimit <= 0 && keyLimit <= 0 {
		return nil
	}
	t := &Throttle{window: window, now: time.Now}
	if ipLimit > 0 {
		t.ip = newCounter(ipLimit, window)
	}
	if keyLimit > 0 {
		t.key = newCounter(keyLimit, window)
	}
	return t
}

// Reason says why an attempt is refused before its credentials are checked.
type Reason string

const (
	// None: the attempt may go on.
	None Reason = ""
	// Address: too many failures from the client's address.
	Address Reason = "too many failed authentications from this address"
	// Key: too many failures presenting this key ID.
	Key Reason = "too many failed authentications with this key"
)

// Attempt is one authentication attempt. Begin returns it holding a slot
// under each limit; exactly one of Failed and Succeeded must end it (later
// calls do nothing). A nil *Attempt does nothing.
type Attempt struct {
	t         *Throttle
	ip, keyID string

	mu   sync.Mutex
	done bool
}

// Begin starts authenticating a request from clientIP presenting apiKey (the
// raw credential, "" when none; only a well-formed key's public ID is
// counted). It returns Address or Key, and no attempt, when that count has
// reached its limit. When the limit is reached only because other attempts
// are still being verified, Begin waits for one of them to end, until ctx is
// done (then it refuses with the reason of the count it waited for).
func (t *Throttle) Begin(ctx context.Context, clientIP, apiKey string) (*Attempt, Reason) {
	if t == nil {
		return nil, None
	}
	a := &Attempt{t: t, ip: canonical(clientIP)}
	if t.key != nil {
		if id, err := auth.ParseKey(apiKey); err == nil {
			a.keyID = id
		}
	}
	if t.ip != nil {
		if !t.ip.reserve(ctx, a.ip, t.now) {
			return nil, Address
		}
	}
	if t.key != nil && a.keyID != "" {
		if !t.key.reserve(ctx, a.keyID, t.now) {
			if t.ip != nil {
				t.ip.release(a.ip, false, t.now)
			}
			return nil, Key
		}
	}
	return a, None
}

// Failed counts the attempt as a failed authentication.
func (a *Attempt) Failed() { a.end(true) }

// Succeeded gives the attempt's slots back: it is not counted.
func (a *Attempt) Succeeded() { a.end(false) }

func (a *Attempt) end(failed bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return
	}
	a.done = true
	t := a.t
	if t.ip != nil {
		t.ip.release(a.ip, failed, t.now)
	}
	if t.key != nil && a.keyID != "" {
		t.key.release(a.keyID, failed, t.now)
	}
}

// Window is the counting window: how long a refused client should wait.
func (t *Throttle) Window() time.Duration {
	if t == nil {
		return 0
	}
	return t.window
}

// canonical returns an address as counted: IPv6 addresses by their /64.
func canonical(ip string) string { return httprate.CanonicalizeIP(ip) }

// counter counts failures per key over a sliding window, exactly: an entry
// keeps the times of its failures within the last window (at most limit of
// them, since a key at its limit is refused), plus the slots reserved by
// attempts not yet ended. An estimate from fixed windows (httprate's) would
// let a burst that straddles a window boundary through with more than the
// limit.
type counter struct {
	limit  int
	window time.Duration

	mu        sync.Mutex
	entries   map[string]*entry
	lastSweep time.Time
}

type entry struct {
	fails   []time.Time   // failures within the window, oldest first
	pending int           // reserved slots of attempts not yet ended
	wake    chan struct{} // closed when a pending attempt ends; nil when none waits
}

func newCounter(limit int, window time.Duration) *counter {
	return &counter{limit: limit, window: window, entries: map[string]*entry{}}
}

// entryLocked returns key's entry with failures older than the window
// dropped, sweeping forgotten entries once per window.
func (c *counter) entryLocked(key string, now time.Time) *entry {
	if now.Sub(c.lastSweep) > c.window {
		c.lastSweep = now
		for k, e := range c.entries {
			c.expire(e, now)
			if e.pending == 0 && e.wake == nil && len(e.fails) == 0 {
				delete(c.entries, k)
			}
		}
	}
	e := c.entries[key]
	if e == nil {
		return &entry{} // the caller stores it when it counts something
	}
	c.expire(e, now)
	return e
}

// expire drops e's failures that are a window old or older.
func (c *counter) expire(e *entry, now time.Time) {
	i := 0
	for i < len(e.fails) && now.Sub(e.fails[i]) >= c.window {
		i++
	}
	if i > 0 {
		e.fails = append(e.fails[:0], e.fails[i:]...)
	}
}

// reserve takes a slot for key, waiting while the limit is reached only by
// pending attempts; false when failures fill it or ctx ends first.
func (c *counter) reserve(ctx context.Context, key string, now func() time.Time) bool {
	c.mu.Lock()
	for {
		e := c.entryLocked(key, now())
		switch f := len(e.fails); {
		case f >= c.limit:
			c.mu.Unlock()
			return false
		case f+e.pending < c.limit:
			e.pending++
			c.entries[key] = e
			c.mu.Unlock()
			return true
		}
		if e.wake == nil {
			e.wake = make(chan struct{})
		}
		wake := e.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
		c.mu.Lock()
	}
}

// release ends a reserved slot, counting it as a failure or not.
func (c *counter) release(key string, failed bool, now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now()
	e := c.entryLocked(key, t)
	e.pending--
	if failed {
		e.fails = append(e.fails, t)
		if len(e.fails) > c.limit {
			e.fails = append(e.fails[:0], e.fails[len(e.fails)-c.limit:]...)
		}
	}
	if e.wake != nil {
		close(e.wake)
		e.wake = nil
	}
	if e.pending == 0 && len(e.fails) == 0 {
		delete(c.entries, key) // only failures are remembered
	} else {
		c.entries[key] = e
	}
}
