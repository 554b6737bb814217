// Package netguard keeps outbound HTTP away from internal networks (SSRF). Every
// fetch of a user-supplied URL in waqtor (media from a URL, webhook deliveries)
// goes through it.
//
// # Two checks
//
// A URL is checked when it is created, with [Policy.ValidateURL], so a user gets
// an early, clear error; and every connection is checked again when it is made,
// by [Policy.DialContext] and the net.Dialer Control hook [Policy.Control]. The
// second check is the one that matters: it sees the IP address actually being
// connected to, so DNS rebinding (a public address at validation, 127.0.0.1 at
// delivery) and URLs stored without validation are still refused.
//
//	client, err := netguard.NewClient(&netguard.Config{
//		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // our LAN
//	})
//	...
//	res, err := netguard.Fetch(ctx, client, mediaURL, 16<<20)
//	if errors.Is(err, netguard.ErrBlocked) { ... }
//
// # What is blocked
//
// By default everything that is not a public unicast address: loopback,
// RFC 1918 and fc00::/7 private space, link-local, CGNAT 100.64.0.0/10,
// 0.0.0.0/8 and ::, multicast, broadcast, benchmarking, reserved and
// documentation ranges, and IPv6 outside 2000::/3. IPv4 addresses embedded in
// IPv6 (IPv4-mapped and -compatible, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
// 6to4 2002::/16, Teredo 2001::/32, ISATAP) are decoded and must pass the IPv4
// rules too. [Classify] is the pure classifier.
//
// Config.AllowCIDRs opens ranges for embedders on a LAN and for tests on
// loopback. Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, Alibaba's
// 100.100.100.200, Azure's 168.63.129.16, ...) stay blocked even inside an
// allow-listed range; only an exact entry in
// Config.DangerouslyAllowMetadataPrefixes opens one.
//
// # The client
//
// [NewClient] and [Policy.Client] return an *http.Client that dials only through
// the guard, ignores proxy environment variables, never follows redirects
// (the 3xx response is returned as is; [Fetch] reports a *RedirectError), has
// dial, TLS, response-header and overall timeouts, caps response header bytes,
// and does not decode gzip transparently. [LimitBody] and [Fetch] read bodies
// with a cap that applies after gzip decoding.
//
// # Errors
//
// Errors match the sentinels [ErrBlocked], [ErrInvalidURL], [ErrRedirect],
// [ErrScheme] and [ErrTooLarge] with errors.Is; [BlockedError], [RedirectError]
// and [TooLargeError] carry the details. Messages say how to permit a
// destination when that is possible.
//
// This package is internal: its API may change without notice.
package netguard
