// Package httpmetrics holds the Prometheus collectors shared by the HTTP
// transports, registered once per registry however many transports use it.
package httpmetrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Security event kinds (the "kind" label of waqtor_security_events_total).
const (
	SecurityBadIP        = "bad_ip"
	SecurityBadOrigin    = "bad_origin"
	SecurityForbidden    = "forbidden"
	SecurityOversized    = "oversized"
	SecurityRateLimited  = "rate_limited"
	SecurityUnauthorized = "unauthorized"
)

// Register registers c on reg, or returns the collector of the same
// description already registered there. A nil reg registers nothing.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// Security returns the security event counter of reg.
func Security(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	return Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waqtor_security_events_total",
		Help: "Refused requests and connections by kind: unauthorized, forbidden, rate_limited, bad_origin, bad_ip, oversized.",
	}, []string{"kind"}))
}
