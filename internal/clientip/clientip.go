// Package clientip finds the address of the client behind an HTTP request,
// trusting forwarding headers only from configured proxies. REST and the
// WebSocket hub use it for their per-address throttles, and a host's own
// handlers can use it for the same answer.
//
// Without trusted proxies the client is the TCP peer (r.RemoteAddr) and every
// forwarding header is ignored: a client can write anything into them. With
// trusted proxies, and only when the peer is one of them, the chosen header is
// read from right to left (the order in which proxies append to it), skipping
// trusted proxies; the first address that is not a trusted proxy is the
// client. Entries further left were written by that client and are never
// believed.
package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Header names a forwarding header (Config.Header).
const (
	// HeaderXForwardedFor is the de facto standard header ("client, proxy1,
	// proxy2"), appended to by nginx, HAProxy, Envoy, cloud load balancers.
	HeaderXForwardedFor = "X-Forwarded-For"
	// HeaderForwarded is RFC 7239's header ("for=192.0.2.1, for=\"[2001:db8::1]:80\"").
	HeaderForwarded = "Forwarded"
)

// Config configures a Resolver.
type Config struct {
	// Header is the forwarding header the trusted proxies append the client's
	// address to: HeaderXForwardedFor or HeaderForwarded. Only that header is
	// read: one a proxy does not write passes the client's own text through.
	// Defaults to HeaderXForwardedFor.
	Header string
	// TrustedProxies are the proxies whose forwarding header is believed.
	// Defaults to none: the client is always the TCP peer.
	TrustedProxies []netip.Prefix
}

// Resolver finds request's client addresses. A nil *Resolver trusts no
// proxy. It is safe for concurrent use.
type Resolver struct {
	header  string
	trusted []netip.Prefix
}

// New returns a Resolver for cfg (nil cfg: no trusted proxies).
func New(cfg *Config) (*Resolver, error) {
	if cfg == nil {
		return nil, nil
	}
	r := &Resolver{header: cfg.Header, trusted: slices.Clone(cfg.TrustedProxies)}
	switch http.CanonicalHeaderKey(r.header) {
	case "", HeaderXForwardedFor:
		r.header = HeaderXForwardedFor
	case HeaderForwarded:
		r.header = HeaderForwarded
	default:
		return nil, fmt.Errorf("clientip: Header %q: want %q or %q", cfg.Header, HeaderXForwardedFor, HeaderForwarded)
	}
	for i, p := range r.trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("clientip: TrustedProxies[%d] is not a valid prefix (try netip.MustParsePrefix(\"10.0.0.0/8\"))", i)
		}
		r.trusted[i] = p.Masked()
	}
	return r, nil
}

// ErrNoAddress reports a request whose RemoteAddr holds no IP address (a
// request not from a TCP connection, such as a test's).
var ErrNoAddress = errors.New("clientip: RemoteAddr holds no IP address")

// Addr returns the address of req's client: the TCP peer, or, when the peer is
// a trusted proxy, the right-most address in the forwarding header that is
// not a trusted proxy. An entry that does not parse (or "unknown", or an
// obfuscated RFC 7239 identifier) stops the walk: the client is then the
// trusted hop to its right, since nothing it claims can be checked.
func (r *Resolver) Addr(req *http.Request) (netip.Addr, error) {
	peer, err := peerAddr(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	if r == nil || len(r.trusted) == 0 || !r.isTrusted(peer) {
		return peer, nil
	}
	hops := r.hops(req.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(hops[i], r.header == HeaderForwarded)
		if err != nil {
			return client, nil
		}
		client = a
		if !r.isTrusted(a) {
			return a, nil
		}
	}
	return client, nil // every hop is a trusted proxy: the left-most one
}

// String returns Addr as text, or req.RemoteAddr as it is when it holds no
// address, so that it can always key a counter or a log line.
func (r *Resolver) String(req *http.Request) string {
	a, err := r.Addr(req)
	if err != nil {
		return req.RemoteAddr
	}
	return a.String()
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hops returns the header's entries, all lines joined, left to right.
func (r *Resolver) hops(h http.Header) []string {
	var out []string
	for _, line := range h.Values(r.header) {
		for _, e := range strings.Split(line, ",") {
			out = append(out, strings.TrimSpace(e))
		}
	}
	return out
}

func peerAddr(remote string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNoAddress, remote)
	}
	return a.Unmap(), nil
}

// parseHop parses one X-Forwarded-For entry ("192.0.2.1", "2001:db8::1",
// tolerating a port) or one RFC 7239 forwarded-element (its for= parameter).
func parseHop(s string, forwarded bool) (netip.Addr, error) {
	if forwarded {
		v, ok := "", false
		for _, pair := range strings.Split(s, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "for") {
				v, ok = strings.Trim(val, `"`), true
			}
		}
		if !ok {
			return netip.Addr{}, errors.New("no for= parameter")
		}
		s = v
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("not an address: %q", s)
	}
	return a.Unmap(), nil
}
