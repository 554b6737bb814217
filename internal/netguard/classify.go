package netguard

import (
	"fmt"
	"net/netip"
	"slices"
)

// blockedRange is one special-purpose range with a human-readable name.
type blockedRange struct {
	prefix netip.Prefix
	name   string
}

func r(prefix, name string) blockedRange {
	return blockedRange{prefix: netip.MustParsePrefix(prefix), name: name}
}

// metadataRanges are cloud metadata and credentials endpoints. They are blocked
// even when a containing range is in Config.AllowCIDRs; only an exact entry in
// Config.DangerouslyAllowMetadataPrefixes permits one. Some are public addresses
// (Azure WireServer) or sit inside ranges that are otherwise allow-listable
// (Alibaba in CGNAT space, AWS in link-local and ULA space).
var metadataRanges = []blockedRange{
	r("169.254.169.254/32", "cloud metadata endpoint (AWS, GCP, Azure, OCI, DigitalOcean, OpenStack and others)"),
	r("169.254.170.2/32", "AWS ECS task metadata and credentials endpoint"),
	r("169.254.170.23/32", "AWS EKS Pod Identity credentials endpoint"),
	r("169.254.0.23/32", "Tencent Cloud metadata endpoint"),
	r("100.100.100.200/32", "Alibaba Cloud metadata endpoint"),
	r("192.0.0.192/32", "Oracle Cloud legacy metadata endpoint"),
	r("168.63.129.16/32", "Azure WireServer host endpoint"),
	r("fd00:ec2::254/128", "AWS IMDS IPv6 endpoint"),
	r("fd00:ec2::23/128", "AWS EKS Pod Identity IPv6 endpoint"),
	r("fd20:ce::254/128", "GCP metadata IPv6 endpoint"),
	r("fd00:c1::a9fe:a9fe/128", "Oracle Cloud IMDS IPv6 endpoint"),
	r("fe80::a9fe:a9fe/128", "OpenStack metadata IPv6 endpoint"),
}

// blocked4 lists the IPv4 special-purpose ranges (IANA registry, RFC 6890 and
// successors) that are not globally reachable destinations. The most specific
// entry comes first where ranges nest.
var blocked4 = []blockedRange{
	r("0.0.0.0/8", `"this network" (RFC 1122; 0.0.0.0 reaches the local host)`),
	r("10.0.0.0/8", "private network (RFC 1918)"),
	r("100.64.0.0/10", "carrier-grade NAT shared space (RFC 6598)"),
	r("127.0.0.0/8", "loopback (RFC 1122)"),
	r("169.254.0.0/16", "link-local (RFC 3927)"),
	r("172.16.0.0/12", "private network (RFC 1918)"),
	r("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
	r("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
	r("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
	r("192.168.0.0/16", "private network (RFC 1918)"),
	r("198.18.0.0/15", "benchmarking (RFC 2544)"),
	r("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
	r("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
	r("224.0.0.0/4", "multicast (RFC 5771)"),
	r("255.255.255.255/32", "limited broadcast (RFC 919)"),
	r("240.0.0.0/4", "reserved (RFC 1112)"),
}

// blocked6 lists the IPv6 special-purpose ranges. Entries with an empty name are
// translation prefixes: the IPv6 address itself is fine and the embedded IPv4
// address decides (see embedded4). Anything outside 2000::/3 that no entry
// matches is blocked as not global unicast.
var blocked6 = []blockedRange{
	r("::/128", "unspecified address (RFC 4291)"),
	r("::1/128", "loopback (RFC 4291)"),
	r("::ffff:0:0/96", ""), // IPv4-mapped: the IPv4 address decides.
	r("::ffff:0:0:0/96", "IPv4-translated address (RFC 2765)"),
	r("::/96", "deprecated IPv4-compatible address (RFC 4291)"),
	r("64:ff9b::/96", ""), // NAT64 well-known prefix: the IPv4 address decides.
	r("64:ff9b:1::/48", "local-use NAT64 prefix (RFC 8215)"),
	r("100::/64", "discard-only (RFC 6666)"),
	r("2001::/32", ""), // Teredo: the IPv4 addresses decide.
	r("2001:2::/48", "benchmarking (RFC 5180)"),
	r("2001:10::/28", "deprecated ORCHID (RFC 4843)"),
	r("2001:20::/28", "ORCHIDv2 (RFC 7343)"),
	r("2001:db8::/32", "documentation (RFC 3849)"),
	r("2002::/16", ""), // 6to4: the IPv4 address decides.
	r("3fff::/20", "documentation (RFC 9637)"),
	r("fc00::/7", "unique local address, private (RFC 4193)"),
	r("fe80::/10", "link-local (RFC 4291)"),
	r("fec0::/10", "deprecated site-local (RFC 3879)"),
	r("ff00::/8", "multicast (RFC 4291)"),
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	mapped6        = netip.MustParsePrefix("::ffff:0:0/96")
	translated6    = netip.MustParsePrefix("::ffff:0:0:0/96")
	compat6        = netip.MustParsePrefix("::/96")
	nat64WKP       = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// match is one reason an address is blocked by default.
type match struct {
	// addr is the address the range applies to: the address itself or an IPv4
	// address decoded from it.
	addr     netip.Addr
	metadata bool
	rng      blockedRange
	// via names the encoding addr was decoded from, or "".
	via string
}

// embed is an IPv4 address decoded from an IPv6 address.
type embed struct {
	addr netip.Addr
	via  string
}

// embedded4 decodes every IPv4 address an IPv6 address can carry to a
// translator, relay or tunnel. Decoding is deliberately generous: a candidate
// that is not really an embedding only makes the check stricter.
func embedded4(a netip.Addr) []embed {
	b := a.As16()
	v4 := func(p0, p1, p2, p3 byte) netip.Addr { return netip.AddrFrom4([4]byte{p0, p1, p2, p3}) }
	last := v4(b[12], b[13], b[14], b[15])
	var out []embed
	switch {
	case mapped6.Contains(a):
		out = append(out, embed{last, "IPv4-mapped ::ffff:0:0/96"})
	case translated6.Contains(a):
		out = append(out, embed{last, "IPv4-translated ::ffff:0:0:0/96"})
	case compat6.Contains(a):
		out = append(out, embed{last, "IPv4-compatible ::/96"})
	case nat64WKP.Contains(a):
		out = append(out, embed{last, "NAT64 64:ff9b::/96"})
	case nat64Local.Contains(a):
		// RFC 6052 allows /48, /56, /64 and /96 inside the /48; bits 64-71 (b[8])
		// are reserved and skipped.
		out = append(out,
			embed{v4(b[6], b[7], b[9], b[10]), "local-use NAT64 64:ff9b:1::/48 (as /48)"},
			embed{v4(b[7], b[9], b[10], b[11]), "local-use NAT64 64:ff9b:1::/48 (as /56)"},
			embed{v4(b[9], b[10], b[11], b[12]), "local-use NAT64 64:ff9b:1::/48 (as /64)"},
			embed{last, "local-use NAT64 64:ff9b:1::/48 (as /96)"},
		)
	case sixToFour.Contains(a):
		out = append(out, embed{v4(b[2], b[3], b[4], b[5]), "6to4 2002::/16"})
	case teredo.Contains(a):
		out = append(out,
			embed{v4(^b[12], ^b[13], ^b[14], ^b[15]), "Teredo client 2001::/32"},
			embed{v4(b[4], b[5], b[6], b[7]), "Teredo server 2001::/32"},
		)
	}
	// ISATAP interface identifier (RFC 5214): [00|02]00:5efe:a.b.c.d under any prefix.
	if (b[8]|0x02) == 0x02 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		out = append(out, embed{last, "ISATAP interface identifier"})
	}
	return out
}

// matches returns every default-blocked range that a, or an IPv4 address
// embedded in it, falls in. Metadata entries come before the range containing
// them.
func matches(a netip.Addr) []match {
	a = a.WithZone("")
	if !a.IsValid() {
		return []match{{addr: a, rng: blockedRange{name: "invalid address"}}}
	}
	if a.Is4() {
		return match4(a, "", nil)
	}
	var out []match
	for _, m := range metadataRanges {
		if m.prefix.Contains(a) {
			out = append(out, match{addr: a, metadata: true, rng: m})
		}
	}
	found := false
	for _, br := range blocked6 {
		if br.prefix.Contains(a) {
			found = true
			if br.name != "" {
				out = append(out, match{addr: a, rng: br})
			}
			break
		}
	}
	if !found && !globalUnicast6.Contains(a) {
		out = append(out, match{addr: a, rng: blockedRange{
			prefix: netip.PrefixFrom(a, 128),
			name:   "not global unicast (outside 2000::/3)",
		}})
	}
	for _, e := range embedded4(a) {
		out = match4(e.addr, e.via, out)
	}
	// Report a metadata endpoint before the plainer reasons, whichever view found it.
	slices.SortStableFunc(out, func(x, y match) int {
		return boolInt(y.metadata) - boolInt(x.metadata)
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func match4(a netip.Addr, via string, out []match) []match {
	for _, m := range metadataRanges {
		if m.prefix.Contains(a) {
			out = append(out, match{addr: a, metadata: true, rng: m, via: via})
		}
	}
	for _, br := range blocked4 {
		if br.prefix.Contains(a) {
			return append(out, match{addr: a, rng: br, via: via})
		}
	}
	return out
}

// blockedError builds the error for match m of address a.
func (m match) blockedError(a netip.Addr) *BlockedError {
	e := &BlockedError{Addr: a, Metadata: m.metadata, Range: m.rng.prefix, Reason: m.rng.name}
	if m.via != "" {
		e.via = fmt.Sprintf("IPv4 %s decoded via %s", m.addr, m.via)
	}
	switch {
	case !m.rng.prefix.IsValid():
	case m.metadata:
		e.hint = fmt.Sprintf("metadata endpoints stay blocked even inside AllowCIDRs; "+
			"only an exact %s entry in DangerouslyAllowMetadataPrefixes permits it", m.rng.prefix)
	default:
		e.hint = fmt.Sprintf("add %s to AllowCIDRs to permit it", m.rng.prefix)
	}
	return e
}

// Classify reports whether addr is blocked by the default policy: no allow-list,
// every special-purpose range blocked, IPv4 addresses embedded in IPv6 decoded
// (IPv4-mapped and -compatible, NAT64, 6to4, Teredo, ISATAP) and checked by the
// IPv4 rules. It returns nil for a public address and a *BlockedError otherwise.
//
// Classify is pure: it does no I/O. Use [Policy.CheckAddr] to honour an
// allow-list.
func Classify(addr netip.Addr) error {
	if ms := matches(addr); len(ms) > 0 {
		return ms[0].blockedError(addr)
	}
	return nil
}
