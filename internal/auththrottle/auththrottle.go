// Package auththrottle slows down guessing of credentials: it counts failed
// authentications per client address and per API key ID over a sliding
// window, and refuses further attempts once either count reaches its limit.
// REST and the WebSocket hub share it, so both entry points throttle the same
// way (docs/reliability.md T24: brute-force throttling per IP and per key prefix).
package auththrottle

import (
	"net"
	"net/http"
	"time"

	"github.com/go-chi/httprate"

	"github.com/waqtor/waqtor/auth"
)

// Throttle counts failed authentications. A nil *Throttle throttles nothing.
// All methods are safe for concurrent use.
type Throttle struct {
	ip, key           *httprate.RateLimiter // nil when that limit is off
	ipLimit, keyLimit int
	window            time.Duration
}

// New returns a Throttle allowing ipLimit failures per address and keyLimit
// failures per key ID in each window; a limit ≤ 0 turns that count off. It
// returns nil when both are off.
func New(ipLimit, keyLimit int, window time.Duration) *Throttle {
	if ipLimit <= 0 && keyLimit <= 0 {
		return nil
	}
	t := &Throttle{ipLimit: ipLimit, keyLimit: keyLimit, window: window}
	if ipLimit > 0 {
		t.ip = httprate.NewRateLimiter(ipLimit, window)
	}
	if keyLimit > 0 {
		t.key = httprate.NewRateLimiter(keyLimit, window)
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

// Attempt is one authentication attempt, between Check and Failed.
type Attempt struct {
	ip, keyID string
}

// Check is called before authenticating r: it returns the attempt to pass to
// Failed, and a Reason other than None when r must be refused at once.
func (t *Throttle) Check(r *http.Request) (Attempt, Reason) {
	a := Attempt{ip: ClientIP(r)}
	if t == nil {
		return a, None
	}
	if t.ip != nil {
		if _, rate, _ := t.ip.Status(a.ip); rate >= float64(t.ipLimit) {
			return a, Address
		}
	}
	if t.key != nil {
		if id, err := auth.ParseKey(auth.KeyFromRequest(r)); err == nil {
			a.keyID = id
			if _, rate, _ := t.key.Status(id); rate >= float64(t.keyLimit) {
				return a, Key
			}
		}
	}
	return a, None
}

// Failed records that the attempt's credentials were refused.
func (t *Throttle) Failed(r *http.Request, a Attempt) {
	if t == nil {
		return
	}
	if t.ip != nil {
		t.ip.OnLimit(headerSink{}, r, a.ip)
	}
	if t.key != nil && a.keyID != "" {
		t.key.OnLimit(headerSink{}, r, a.keyID)
	}
}

// Window is the counting window: how long a refused client should wait.
func (t *Throttle) Window() time.Duration {
	if t == nil {
		return 0
	}
	return t.window
}

// ClientIP is r's remote address without the port, canonical (IPv6 to its
// /64), as the throttle counts it.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return httprate.CanonicalizeIP(host)
}

// headerSink swallows the rate limiter's headers: only its counter is used.
type headerSink http.Header

func (s headerSink) Header() http.Header       { return http.Header(s) }
func (headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (headerSink) WriteHeader(int)             {}
