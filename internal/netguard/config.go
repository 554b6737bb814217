package netguard

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Defaults for [Config]. They suit webhook deliveries and media downloads: short
// enough that a stalled receiver cannot hold a worker for long, long enough for a
// slow but honest one.
const (
	// DialTimeoutDefault bounds name resolution plus TCP connect, for all
	// resolved addresses together.
	DialTimeoutDefault = 10 * time.Second

	// MaxResponseHeaderBytesDefault caps the response header block; a receiver
	// that streams headers forever is cut off here.
	MaxResponseHeaderBytesDefault = 64 << 10

	// ResponseHeaderTimeoutDefault bounds the wait for response headers after the
	// request is written.
	ResponseHeaderTimeoutDefault = 15 * time.Second

	// TLSHandshakeTimeoutDefault bounds the TLS handshake.
	TLSHandshakeTimeoutDefault = 10 * time.Second

	// TimeoutDefault bounds a whole request, including reading the body.
	TimeoutDefault = 30 * time.Second
)

// Resolver resolves host names to addresses. *net.Resolver satisfies it; tests
// and embedders with their own DNS inject another. network is "ip", "ip4" or
// "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ResolverFunc adapts a function to [Resolver].
type ResolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// LookupNetIP calls f.
func (f ResolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

// Config configures a [Policy] and the client built from it. The zero value (or
// a nil *Config) is the secure default: public addresses only, http and https,
// any port, no redirects.
type Config struct {
	// AllowCIDRs permits destinations inside these prefixes even though they are
	// in a blocked range: an embedder's LAN (10.0.0.0/8), or a test server on
	// loopback (127.0.0.0/8). For an IPv6 address that embeds an IPv4 address
	// (::ffff:10.0.0.5, 64:ff9b::a00:5) the IPv4 address must be permitted too.
	// Cloud metadata endpoints stay blocked even inside these prefixes: see
	// DangerouslyAllowMetadataPrefixes. IPv4-mapped prefixes (::ffff:10.0.0.0/104)
	// are converted to IPv4. Defaults to none.
	AllowCIDRs []netip.Prefix

	// AllowCIDRsName is what the embedder's users call AllowCIDRs, for the
	// hint of a refusal ("add 10.0.0.0/8 to Config.MediaAllowCIDRs to permit
	// it"): the option to set is theirs, not this package's. Defaults to
	// "AllowCIDRs".
	AllowCIDRsName string

	// AllowUserinfo permits URLs with user:password@ in the authority. They are
	// refused by default because credentials in URLs end up in logs, and because
	// "http://trusted.example@evil.example/" misleads the humans and the other
	// parsers that look at the URL. Defaults to false.
	AllowUserinfo bool

	// AllowedPorts restricts destination ports, checked both on the URL and on
	// the connection. Port 0 is always refused. Defaults to any port.
	AllowedPorts []uint16

	// AllowedSchemes lists the URL schemes that may be requested, lowercase.
	// Only http and https reach the network through the client; listing others
	// only affects [Policy.ValidateURL]. Defaults to http and https.
	AllowedSchemes []string

	// DangerouslyAllowMetadataPrefixes permits cloud metadata endpoints, which
	// hand out instance credentials to anyone who can reach them. Each entry
	// must be exactly one of the known endpoints (169.254.169.254/32,
	// fd00:ec2::254/128, ...); a containing range is refused so that nobody
	// unblocks one by accident. You almost certainly do not want this.
	// Defaults to none.
	DangerouslyAllowMetadataPrefixes []netip.Prefix

	// DialTimeout bounds name resolution plus connecting, across all addresses
	// a name resolves to. It also bounds the resolution in ValidateURL.
	// Defaults to DialTimeoutDefault.
	DialTimeout time.Duration

	// MaxResponseHeaderBytes caps the size of response headers. Defaults to
	// MaxResponseHeaderBytesDefault.
	MaxResponseHeaderBytes int64

	// Resolver resolves host names, at creation time (ValidateURL) and again at
	// dial time. Defaults to net.DefaultResolver.
	Resolver Resolver

	// ResponseHeaderTimeout bounds the wait for response headers. Defaults to
	// ResponseHeaderTimeoutDefault.
	ResponseHeaderTimeout time.Duration

	// TLSClientConfig is cloned into the transport, e.g. to trust a private CA.
	// Defaults to nil (the system roots).
	TLSClientConfig *tls.Config

	// TLSHandshakeTimeout bounds the TLS handshake. Defaults to
	// TLSHandshakeTimeoutDefault.
	TLSHandshakeTimeout time.Duration

	// Timeout bounds a whole request made with the client, including reading
	// the body. Defaults to TimeoutDefault.
	Timeout time.Duration
}

// WithDefaults returns a copy of c with every unset field at its default. The
// slices are copied too, so later changes to c do not affect the copy. A nil c
// gives the default Config.
func (c *Config) WithDefaults() *Config {
	if c == nil {
		c = &Config{}
	}
	out := *c
	out.AllowCIDRs = slices.Clone(c.AllowCIDRs)
	out.AllowedPorts = slices.Clone(c.AllowedPorts)
	out.AllowedSchemes = slices.Clone(c.AllowedSchemes)
	if len(out.AllowedSchemes) == 0 {
		out.AllowedSchemes = []string{"http", "https"}
	}
	out.DangerouslyAllowMetadataPrefixes = slices.Clone(c.DangerouslyAllowMetadataPrefixes)
	out.DialTimeout = cmp.Or(c.DialTimeout, DialTimeoutDefault)
	out.MaxResponseHeaderBytes = cmp.Or(c.MaxResponseHeaderBytes, MaxResponseHeaderBytesDefault)
	if out.Resolver == nil {
		out.Resolver = net.DefaultResolver
	}
	out.ResponseHeaderTimeout = cmp.Or(c.ResponseHeaderTimeout, ResponseHeaderTimeoutDefault)
	out.TLSClientConfig = c.TLSClientConfig.Clone()
	out.TLSHandshakeTimeout = cmp.Or(c.TLSHandshakeTimeout, TLSHandshakeTimeoutDefault)
	out.Timeout = cmp.Or(c.Timeout, TimeoutDefault)
	return &out
}

// validate checks a Config that already has its defaults, and normalizes its
// prefixes and schemes in place.
func (c *Config) validate() error {
	for i, p := range c.AllowCIDRs {
		np, err := normalizePrefix(p)
		if err != nil {
			return fmt.Errorf("netguard: AllowCIDRs[%d]: %w", i, err)
		}
		c.AllowCIDRs[i] = np
	}
	for i, p := range c.DangerouslyAllowMetadataPrefixes {
		np, err := normalizePrefix(p)
		if err != nil {
			return fmt.Errorf("netguard: DangerouslyAllowMetadataPrefixes[%d]: %w", i, err)
		}
		if !slices.ContainsFunc(metadataRanges, func(m blockedRange) bool { return m.prefix == np }) {
			return fmt.Errorf("netguard: DangerouslyAllowMetadataPrefixes[%d] = %s is not a known metadata endpoint; "+
				"list the exact endpoint (e.g. 169.254.169.254/32), or use AllowCIDRs for ordinary ranges", i, p)
		}
		c.DangerouslyAllowMetadataPrefixes[i] = np
	}
	for _, port := range c.AllowedPorts {
		if port == 0 {
			return fmt.Errorf("netguard: AllowedPorts contains 0; list real ports such as 443")
		}
	}
	for i, s := range c.AllowedSchemes {
		s = strings.ToLower(s)
		if !validScheme(s) {
			return fmt.Errorf("netguard: AllowedSchemes[%d] = %q is not a URL scheme; use e.g. \"https\"", i, c.AllowedSchemes[i])
		}
		c.AllowedSchemes[i] = s
	}
	for name, d := range map[string]time.Duration{
		"DialTimeout":           c.DialTimeout,
		"ResponseHeaderTimeout": c.ResponseHeaderTimeout,
		"TLSHandshakeTimeout":   c.TLSHandshakeTimeout,
		"Timeout":               c.Timeout,
	} {
		if d < 0 {
			return fmt.Errorf("netguard: %s is negative (%s); leave it zero for the default", name, d)
		}
	}
	if c.MaxResponseHeaderBytes < 0 {
		return fmt.Errorf("netguard: MaxResponseHeaderBytes is negative (%d); leave it zero for the default", c.MaxResponseHeaderBytes)
	}
	return nil
}

// normalizePrefix masks p and turns an IPv4-mapped prefix into its IPv4 form.
func normalizePrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %v; write it like netip.MustParsePrefix(\"10.0.0.0/8\")", p)
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("prefix %s mixes IPv4-mapped and other IPv6 space; write the IPv4 and IPv6 parts separately", p)
		}
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), nil
	}
	return p.Masked(), nil
}

// validScheme reports whether s is an RFC 3986 scheme.
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
