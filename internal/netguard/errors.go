package netguard

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors. Every refusal this package makes matches one of them, so
// callers branch with errors.Is and never on message text. Other failures (an
// invalid Config, DNS errors, refused connections) are returned as they come,
// with context.
var (
	// ErrBlocked means the destination address or port is not permitted by the
	// Policy. The concrete error is a *BlockedError unless the address could not be
	// parsed at all.
	ErrBlocked = errors.New("netguard: destination blocked")

	// ErrInvalidURL means the URL cannot be checked safely: it does not parse, has
	// no host, carries userinfo, or writes its host in a form that different
	// parsers read differently (for example "0x7f.1" or "2130706433").
	ErrInvalidURL = errors.New("netguard: invalid URL")

	// ErrRedirect means the server answered with a redirect. The guarded client
	// never follows redirects, because the Location could point anywhere; the
	// concrete error from [Fetch] is a *RedirectError.
	ErrRedirect = errors.New("netguard: redirect not followed")

	// ErrScheme means the URL scheme is not in Config.AllowedSchemes.
	ErrScheme = errors.New("netguard: scheme not allowed")

	// ErrTooLarge means a body was larger than the caller's limit. When the body
	// was gzip-encoded the limit applies to the decoded bytes. The concrete error
	// is a *TooLargeError.
	ErrTooLarge = errors.New("netguard: body too large")
)

// BlockedError reports a destination the Policy refused, with the range that
// matched and how to permit it. It matches [ErrBlocked] with errors.Is.
type BlockedError struct {
	// Addr is the refused address as dialled or resolved. When the range that
	// matched is an IPv4 range and Addr is IPv6, the IPv4 address was decoded from
	// Addr (IPv4-mapped, NAT64, 6to4, Teredo, ISATAP).
	Addr netip.Addr

	// Host is the name that resolved to Addr, or the URL host as written when it
	// was a non-canonical IPv4 form. Empty when the caller supplied an address.
	Host string

	// Metadata reports that Addr is a cloud metadata or credentials endpoint.
	// Those stay blocked even inside Config.AllowCIDRs.
	Metadata bool

	// Port is the refused port when the refusal is about the port (see
	// Config.AllowedPorts), otherwise 0.
	Port uint16

	// Range is the blocked range that matched. It is the zero Prefix for port
	// refusals and for addresses that are not valid.
	Range netip.Prefix

	// Reason names the range or rule, e.g. "private network (RFC 1918)".
	Reason string

	hint string // how to permit it, without the trailing period
	via  string // how the IPv4 address was decoded from Addr, if it was
}

// Error implements error. The message names the fix.
func (e *BlockedError) Error() string {
	msg := "netguard: blocked " + e.Addr.String()
	if !e.Addr.IsValid() {
		msg = "netguard: blocked invalid address"
	}
	if e.Port != 0 {
		msg += fmt.Sprintf(" port %d", e.Port)
	}
	if e.Host != "" {
		msg += fmt.Sprintf(" (host %q)", e.Host)
	}
	msg += ": " + e.Reason
	if e.Range.IsValid() {
		msg += " in " + e.Range.String()
	}
	if e.via != "" {
		msg += " (" + e.via + ")"
	}
	if e.hint != "" {
		msg += "; " + e.hint
	}
	return msg
}

// Is reports whether target is [ErrBlocked], so errors.Is(err, ErrBlocked) matches.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// RedirectError reports a 3xx response that was not followed. It matches
// [ErrRedirect] with errors.Is.
type RedirectError struct {
	// Location is the redirect target exactly as the server sent it. Do not fetch
	// it without validating it like any other untrusted URL.
	Location string

	// StatusCode is the 3xx status.
	StatusCode int
}

// Error implements error.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("netguard: server answered %d redirect to %q, which is not followed; "+
		"use the final URL directly (it will be checked like any other)", e.StatusCode, e.Location)
}

// Is reports whether target is [ErrRedirect].
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// TooLargeError reports a body that exceeded its limit. It matches [ErrTooLarge]
// with errors.Is.
type TooLargeError struct {
	// Limit is the maximum number of (decoded) bytes the caller allowed.
	Limit int64
}

// Error implements error.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("netguard: body exceeds the %d-byte limit (counted after any gzip decoding); "+
		"raise the limit only for trusted sources", e.Limit)
}

// Is reports whether target is [ErrTooLarge].
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }
