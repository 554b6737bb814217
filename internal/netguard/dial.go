package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// minAttemptTimeout is the least time one address gets when a name resolves to
// several and they share DialTimeout, as in the net package.
const minAttemptTimeout = 2 * time.Second

// Control checks the address a socket is about to connect to. Its signature
// matches net.Dialer.Control; the net package calls it after resolving, once per
// address tried, with the literal IP and port, so it sees exactly what is
// connected to whatever DNS said earlier. It refuses networks other than tcp and
// udp, and addresses it cannot parse.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("%w: network %q is not tcp or udp", ErrBlocked, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dial address %q: %w", ErrBlocked, address, err)
	}
	return p.CheckAddrPort(ap)
}

// Dialer returns a new net.Dialer whose Control hook is [Policy.Control] and
// whose Timeout is DialTimeout. It is the last line of defence: whatever
// resolves the name, the connection is refused if the address is blocked. Do not
// replace its Control or ControlContext.
func (p *Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: p.cfg.DialTimeout, Control: p.Control}
}

// DialContext connects to address ("host:port") on network "tcp", "tcp4" or
// "tcp6". It resolves the host through Config.Resolver, refuses if any resolved
// address is blocked (as [Policy.ValidateURL] does), then connects to the
// addresses in order through [Policy.Dialer], whose Control hook checks each
// connection again. Resolution and connecting share DialTimeout.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var lookupNet string
	switch network {
	case "tcp":
		lookupNet = "ip"
	case "tcp4":
		lookupNet = "ip4"
	case "tcp6":
		lookupNet = "ip6"
	default:
		return nil, fmt.Errorf("%w: network %q is not tcp, tcp4 or tcp6", ErrBlocked, network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("netguard: dial %q: %w", address, err)
	}
	port64, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("netguard: dial %q: port must be a number from 1 to 65535", address)
	}
	port := uint16(port64)

	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()

	addr, literal, err := p.literalHost(host)
	if err != nil {
		return nil, err
	}
	addrs := []netip.Addr{addr}
	resolved := ""
	if !literal {
		resolved = host
		addrs, err = p.cfg.Resolver.LookupNetIP(ctx, lookupNet, host)
		if err != nil {
			return nil, fmt.Errorf("netguard: resolve %q: %w", host, err)
		}
	}
	var candidates []netip.AddrPort
	for _, a := range addrs {
		if e := p.checkAddrPort(a, port, resolved); e != nil {
			return nil, e
		}
		a = a.Unmap()
		if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
			continue
		}
		candidates = append(candidates, netip.AddrPortFrom(a, port))
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("netguard: dial %q: no %s addresses", address, lookupNet)
	}

	d := p.Dialer()
	var first error
	for i, ap := range candidates {
		attemptCtx, attemptCancel := ctx, context.CancelFunc(func() {})
		if left := len(candidates) - i; left > 1 {
			if dl, ok := ctx.Deadline(); ok {
				attemptCtx, attemptCancel = context.WithTimeout(ctx, max(time.Until(dl)/time.Duration(left), minAttemptTimeout))
			}
		}
		c, err := d.DialContext(attemptCtx, network, ap.String())
		attemptCancel()
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}
