package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/waqtor/waqtor/internal/netguard"
)

// refusal describes a destination the SSRF guard refused, or a host it could
// not resolve, for the API caller: the class of the address ("loopback (RFC
// 1122)"), never the addresses a name resolved to nor the resolver's address,
// which would let a caller map the internal network. ok is false when err is
// neither (the caller describes it itself). The details go to the log, see
// logRefusal.
func refusal(err error) (msg string, ok bool) {
	var be *netguard.BlockedError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &be):
		switch {
		case be.Metadata:
			return "the URL's host is not allowed: it is or resolves to a cloud metadata endpoint", true
		case strings.HasPrefix(be.Reason, "port "): // a port rule, not an address range
			return fmt.Sprintf("the URL's port %d is not allowed", be.Port), true
		case be.Reason != "" && be.Addr.IsValid():
			return fmt.Sprintf("the URL's host is not allowed: it is or resolves to a %s address", be.Reason), true
		}
		return "the URL's destination is not allowed", true
	case errors.Is(err, netguard.ErrBlocked):
		return "the URL's destination is not allowed", true
	case errors.Is(err, netguard.ErrInvalidURL), errors.Is(err, netguard.ErrScheme):
		return "", false // about the URL as written: nothing was resolved
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return "the URL's host cannot be resolved: no such host", true
		case dnsErr.IsTimeout:
			return "the URL's host cannot be resolved: the lookup timed out", true
		}
		return "the URL's host cannot be resolved", true
	case strings.HasPrefix(err.Error(), "netguard: resolve "), strings.HasPrefix(err.Error(), "netguard: dial "):
		return "the URL's host cannot be resolved", true
	}
	return "", false
}

// logRefusal logs the detail of a refusal that the API caller is told only
// the class of: what the host resolved to, the range it fell in, the
// resolver's answer, and how to permit it.
func (s *Service) logRefusal(ctx context.Context, msg, endpointID, rawURL string, err error) {
	s.logger.WarnContext(ctx, msg, slog.String("endpoint_id", endpointID), slog.String("url", rawURL),
		slog.String("detail", strings.TrimPrefix(err.Error(), "netguard: ")))
}
