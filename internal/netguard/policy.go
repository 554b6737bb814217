package netguard

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Policy decides which destinations outbound HTTP may reach. It checks URLs when
// they are created ([Policy.ValidateURL]) and, independently, every connection
// when it is made ([Policy.Control], [Policy.DialContext]), so a DNS answer that
// changes between the two (DNS rebinding) is still caught.
//
// A Policy is immutable; all methods are safe for concurrent use.
type Policy struct {
	cfg Config // with defaults applied and validated
}

// NewPolicy validates cfg and returns a Policy. A nil cfg gives the default
// policy. cfg is not modified and not retained.
func NewPolicy(cfg *Config) (*Policy, error) {
	c := cfg.WithDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: *c}, nil
}

// CheckAddr reports whether addr may be connected to: nil if permitted, a
// *BlockedError (matching [ErrBlocked]) if not. It applies [Classify] and then
// the allow-lists: a range in AllowCIDRs is permitted, a metadata endpoint only
// by an exact DangerouslyAllowMetadataPrefixes entry.
func (p *Policy) CheckAddr(addr netip.Addr) error {
	if e := p.check(addr); e != nil {
		return e
	}
	return nil
}

// CheckAddrPort is [Policy.CheckAddr] plus the AllowedPorts rule.
func (p *Policy) CheckAddrPort(ap netip.AddrPort) error {
	if e := p.checkAddrPort(ap.Addr(), ap.Port(), ""); e != nil {
		return e
	}
	return nil
}

// ValidateURL checks rawURL before it is stored or used: the scheme must be
// allowed, the URL must have a host and no userinfo (unless AllowUserinfo), and
// every address the host resolves to must be permitted. Resolution goes through
// Config.Resolver and is bounded by ctx and DialTimeout.
//
// Hosts that end in a number but are not a canonical dotted quad
// ("2130706433", "0177.0.0.1", "0x7f.1", "127.1") are decoded the way browsers
// and inet_aton do. If the decoded address is blocked the error is a
// *BlockedError; otherwise the URL is still refused with [ErrInvalidURL],
// because other components (Go's resolver, proxies, logs) read such hosts
// differently. Non-ASCII hosts are refused: write them in punycode.
//
// Passing ValidateURL does not make a URL safe to fetch later, since DNS can
// change: fetch it with a client from [NewClient] or [Policy.Client], which
// checks again on every connection.
func (p *Policy) ValidateURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	t, err := p.checkURL(u)
	if err != nil || t.literal {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	addrs, err := p.cfg.Resolver.LookupNetIP(ctx, "ip", t.host)
	if err != nil {
		return fmt.Errorf("netguard: resolve %q: %w", t.host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("netguard: resolve %q: no addresses", t.host)
	}
	for _, a := range addrs {
		if e := p.checkAddrPort(a, t.port, t.host); e != nil {
			return e
		}
	}
	return nil
}

// check applies the default ranges and the allow-lists to a.
func (p *Policy) check(a netip.Addr) *BlockedError {
	var metaAllowed netip.Addr
	for _, m := range matches(a) {
		if m.metadata {
			if slices.Contains(p.cfg.DangerouslyAllowMetadataPrefixes, m.rng.prefix) {
				// Explicitly allowed; do not also demand its link-local or ULA range.
				metaAllowed = m.addr
				continue
			}
			return p.named(m.blockedError(a))
		}
		if m.addr == metaAllowed || p.allowed(m.addr) {
			continue
		}
		return p.named(m.blockedError(a))
	}
	return nil
}

// named puts the embedder's name of AllowCIDRs into e's hint.
func (p *Policy) named(e *BlockedError) *BlockedError {
	if n := p.cfg.AllowCIDRsName; n != "" {
		e.hint = strings.ReplaceAll(e.hint, "AllowCIDRs", n)
	}
	return e
}

func (p *Policy) allowed(a netip.Addr) bool {
	for _, pf := range p.cfg.AllowCIDRs {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// checkAddrPort checks a and port; host, if set, names what resolved to a.
func (p *Policy) checkAddrPort(a netip.Addr, port uint16, host string) *BlockedError {
	if e := p.checkPort(port); e != nil {
		e.Addr, e.Host = a, host
		return e
	}
	if e := p.check(a); e != nil {
		e.Host = host
		return e
	}
	return nil
}

func (p *Policy) checkPort(port uint16) *BlockedError {
	if port == 0 {
		return &BlockedError{Port: port, Reason: "port 0 is never a valid destination"}
	}
	if len(p.cfg.AllowedPorts) == 0 || slices.Contains(p.cfg.AllowedPorts, port) {
		return nil
	}
	return &BlockedError{
		Port:   port,
		Reason: fmt.Sprintf("port %d is not in AllowedPorts %v", port, p.cfg.AllowedPorts),
		hint:   fmt.Sprintf("add %d to AllowedPorts to permit it", port),
	}
}

// target is the checked destination of a URL.
type target struct {
	addr    netip.Addr // set when literal
	host    string
	literal bool // host is an IP address; addr has been checked
	port    uint16
}

// checkURL does every check that needs no DNS: scheme, userinfo, host syntax,
// port, and the address when the host is an IP literal.
func (p *Policy) checkURL(u *url.URL) (target, error) {
	scheme := strings.ToLower(u.Scheme)
	if !slices.Contains(p.cfg.AllowedSchemes, scheme) {
		return target{}, fmt.Errorf("%w: %q; allowed schemes are %s (see Config.AllowedSchemes)",
			ErrScheme, u.Scheme, strings.Join(p.cfg.AllowedSchemes, ", "))
	}
	if u.Opaque != "" {
		return target{}, fmt.Errorf("%w: opaque URL %q; write it as %s://host/path", ErrInvalidURL, u.Opaque, scheme)
	}
	if u.User != nil && !p.cfg.AllowUserinfo {
		return target{}, fmt.Errorf("%w: URL carries userinfo (user:password@); send credentials in a header, or set AllowUserinfo", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return target{}, fmt.Errorf("%w: URL has no host", ErrInvalidURL)
	}
	t := target{host: host}
	switch ps := u.Port(); {
	case ps != "":
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil {
			return target{}, fmt.Errorf("%w: port %q is not a number from 1 to 65535", ErrInvalidURL, ps)
		}
		t.port = uint16(n)
	case scheme == "http":
		t.port = 80
	case scheme == "https":
		t.port = 443
	default:
		return target{}, fmt.Errorf("%w: no port in URL and no default port for scheme %q; write one explicitly", ErrInvalidURL, scheme)
	}
	addr, literal, err := p.literalHost(host)
	if err != nil {
		return target{}, err
	}
	t.addr, t.literal = addr, literal
	if literal {
		if e := p.checkAddrPort(addr, t.port, ""); e != nil {
			return target{}, e
		}
		return t, nil
	}
	if e := p.checkPort(t.port); e != nil {
		e.Host = host
		return target{}, e
	}
	return t, nil
}

// literalHost classifies host. It returns (addr, true, nil) for an IP address,
// including an IPv4 address written in a numeric form that resolvers and
// browsers decode (which is then refused unless it is blocked anyway, in which
// case the *BlockedError is returned), and (zero, false, nil) for a DNS name.
// It does not check addr against the policy except for non-canonical forms.
func (p *Policy) literalHost(host string) (netip.Addr, bool, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true, nil
	}
	if err := checkHostName(host); err != nil {
		return netip.Addr{}, false, err
	}
	if !endsInNumber(host) {
		return netip.Addr{}, false, nil
	}
	a, ok := parseWHATWGIPv4(host)
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("%w: host %q ends in a number but is not an IPv4 address", ErrInvalidURL, host)
	}
	if e := p.check(a); e != nil {
		e.Host = host
		return netip.Addr{}, false, e
	}
	return netip.Addr{}, false, fmt.Errorf("%w: host %q is a non-canonical way to write %s, which parsers disagree on; write %s",
		ErrInvalidURL, host, a, a)
}

// checkHostName refuses host names that are not plain ASCII DNS names.
func checkHostName(host string) error {
	name := strings.TrimSuffix(host, ".")
	if len(name) == 0 || len(name) > 253 {
		return fmt.Errorf("%w: host %q is not a valid DNS name", ErrInvalidURL, host)
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Errorf("%w: host %q has an empty or over-long label", ErrInvalidURL, host)
		}
		for _, c := range []byte(label) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return fmt.Errorf("%w: host %q is not ASCII; write it in punycode (xn--...)", ErrInvalidURL, host)
			default:
				return fmt.Errorf("%w: host %q contains %q", ErrInvalidURL, host, c)
			}
		}
	}
	return nil
}

// endsInNumber is the WHATWG URL Standard's "ends in a number checker": a host
// for which it is true is parsed as IPv4 by browsers, or refused.
func endsInNumber(host string) bool {
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

// parseWHATWGIPv4 is the WHATWG URL Standard's IPv4 parser, which accepts what
// inet_aton accepts: one to four parts, each decimal, octal (leading 0) or hex
// (0x), the last part filling the remaining bytes ("127.1", "2130706433").
func parseWHATWGIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, part := range parts {
		n, ok := parseIPv4Number(part)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	for _, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := last
	for i, n := range nums[:len(nums)-1] {
		v += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Number parses one part of a WHATWG IPv4 host. Values above 2^32
// saturate, which is enough to reject them.
func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	var n uint64
	for _, c := range []byte(s) {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		n = min(n*base+d, 1<<33)
	}
	return n, true
}
