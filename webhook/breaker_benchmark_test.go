package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// BenchmarkBreakerOverhead runs BenchmarkDispatch's load (events appended to
// the log, delivered to a healthy loopback receiver) with the circuit breaker
// off and on, twice each, interleaved, in the same run, to show what its
// hooks on the delivery path cost. On a loaded machine the spread between
// the two runs of one mode is the noise to compare the modes against.
//
//	go test -run '^$' -bench BreakerOverhead -benchtime 3x ./webhook/
func BenchmarkBreakerOverhead(b *testing.B) {
	benchKinds(b, func(b *testing.B, kind dbtest.Kind) {
		for _, mode := range []string{"off", "on", "off_again", "on_again"} {
			b.Run(mode, func(b *testing.B) {
				const n = 2000
				for range b.N {
					tb := setup(b, kind, func(c *webhook.Config) {
						benchConfig(c)
						c.Breaker.Disabled = strings.HasPrefix(mode, "off")
					})
					lr := newLatencyReceiver(b, n)
					createEndpoint(b, tb.svc, &webhook.EndpointParams{URL: lr.URL, Events: []string{"message.received"}})
					start := time.Now()
					go emitMessages(b, tb.core, n, 100)
					lr.wait(b, 5*time.Minute)
					lr.report(b, time.Since(start))
				}
			})
		}
	})
}
