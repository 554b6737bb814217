package webhook

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Service's Prometheus metrics, counted in this process.
type metrics struct {
	attempts  *prometheus.CounterVec
	brHeld    *prometheus.CounterVec
	brOpens   *prometheus.CounterVec
	brState   *prometheus.GaugeVec
	disables  *prometheus.CounterVec
	fanout    prometheus.Counter
	latency   *prometheus.HistogramVec
	delivered *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "attempts_total",
			Help: "Delivery attempts by endpoint, outcome (success, failure) and HTTP status class (2xx, 4xx, 5xx, none).",
		}, []string{"endpoint", "outcome", "status"}),
		brHeld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "breaker_held_back_total",
			Help: "Claimed deliveries sent back unattempted because the endpoint's circuit breaker was open or half-open; they stay pending.",
		}, []string{"endpoint"}),
		brOpens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "breaker_opens_total",
			Help: "Times an endpoint's circuit breaker opened, re-opens after a failed probe included.",
		}, []string{"endpoint"}),
		brState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "breaker_state",
			Help: "State of each endpoint's circuit breaker in this process: 0 closed, 1 half-open, 2 open.",
		}, []string{"endpoint"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "deliveries_finished_total",
			Help: "Deliveries that reached a final state, by endpoint and state (succeeded, failed).",
		}, []string{"endpoint", "state"}),
		disables: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "endpoints_disabled_total",
			Help: "Endpoints disabled automatically, by reason (gone, failing, breaker).",
		}, []string{"reason"}),
		fanout: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "deliveries_created_total",
			Help: "Deliveries created by the dispatcher from the event log.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "waqtor", Subsystem: "webhook", Name: "attempt_duration_seconds",
			Help:    "Duration of delivery attempts by endpoint.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
	}
}

func (m *metrics) observe(r *result) {
	ep := r.conf.ep.ID
	outcome := "failure"
	if r.o.success {
		outcome = "success"
	}
	class := "none"
	if r.o.status > 0 {
		class = strconv.Itoa(r.o.status/100) + "xx"
	}
	m.attempts.WithLabelValues(ep, outcome, class).Inc()
	m.latency.WithLabelValues(ep).Observe(r.latency.Seconds())
	if r.o.success {
		m.delivered.WithLabelValues(ep, string(StateSucceeded)).Inc()
	}
}

func (m *metrics) disabled(endpoint, reason string) { m.disables.WithLabelValues(reason).Inc() }

func (m *metrics) fannedOut(n int) { m.fanout.Add(float64(n)) }

func (m *metrics) breakerStateSet(endpoint string, state int32) {
	m.brState.WithLabelValues(endpoint).Set(float64(state))
}

func (m *metrics) breakerOpened(endpoint string) { m.brOpens.WithLabelValues(endpoint).Inc() }

func (m *metrics) breakerHeld(endpoint string) { m.brHeld.WithLabelValues(endpoint).Inc() }

// breakerInit exports an endpoint's breaker series as soon as it has a
// breaker: closed, never opened, nothing held back. A series that appears only
// at its first increment hides that first event from rate() and increase(),
// and an alert on it cannot tell "never opened" from "not exported".
func (m *metrics) breakerInit(endpoint string) {
	m.brState.WithLabelValues(endpoint).Set(float64(brClosed))
	m.brOpens.WithLabelValues(endpoint)
	m.brHeld.WithLabelValues(endpoint)
}

// breakerForget removes the state gauge of an endpoint no longer delivered
// to (it has no breaker then); its counters keep their totals.
func (m *metrics) breakerForget(endpoint string) { m.brState.DeleteLabelValues(endpoint) }

// Collector returns the Service's Prometheus metrics: attempts by endpoint,
// outcome and status class, attempt durations, deliveries created, finished
// and endpoints disabled, and each endpoint's circuit breaker (state, opens,
// deliveries held back). Register it on the host's registry; waqtor does not
// serve /metrics itself.
func (s *Service) Collector() prometheus.Collector { return (*collector)(s.metrics) }

type collector metrics

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	c.attempts.Describe(ch)
	c.brHeld.Describe(ch)
	c.brOpens.Describe(ch)
	c.brState.Describe(ch)
	c.delivered.Describe(ch)
	c.disables.Describe(ch)
	c.fanout.Describe(ch)
	c.latency.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.attempts.Collect(ch)
	c.brHeld.Collect(ch)
	c.brOpens.Collect(ch)
	c.brState.Collect(ch)
	c.delivered.Collect(ch)
	c.disables.Collect(ch)
	c.fanout.Collect(ch)
	c.latency.Collect(ch)
}
