package ws

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waqtor/waqtor/internal/httpmetrics"
)

// metrics are the hub's Prometheus collectors; without a Registerer they are
// created but never exported.
type metrics struct {
	connections      prometheus.Gauge
	connectionsTotal prometheus.Counter
	disconnections   *prometheus.CounterVec
	received         prometheus.Counter
	sent             prometheus.Counter
	events           *prometheus.CounterVec
	dropped          prometheus.Counter
	subscribers      *prometheus.GaugeVec
	security         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	var errs []error
	reg1 := func(c prometheus.Collector) prometheus.Collector {
		out, err := httpmetrics.Register(reg, c)
		if err != nil {
			errs = append(errs, err)
		}
		return out
	}
	m.connections = reg1(prometheus.NewGauge(prometheus.GaugeOpts{Name: "waqtor_ws_connections", Help: "Open WebSocket connections."})).(prometheus.Gauge)
	m.connectionsTotal = reg1(prometheus.NewCounter(prometheus.CounterOpts{Name: "waqtor_ws_connections_total", Help: "WebSocket connections accepted."})).(prometheus.Counter)
	m.disconnections = reg1(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waqtor_ws_disconnections_total",
		Help: "WebSocket connections ended, by reason: closed, dead_peer, oversized, rate_limited, server_stop."}, []string{"reason"})).(*prometheus.CounterVec)
	m.received = reg1(prometheus.NewCounter(prometheus.CounterOpts{Name: "waqtor_ws_frames_received_total", Help: "Client frames received."})).(prometheus.Counter)
	m.sent = reg1(prometheus.NewCounter(prometheus.CounterOpts{Name: "waqtor_ws_event_deliveries_total", Help: "Event frames queued to clients."})).(prometheus.Counter)
	m.events = reg1(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waqtor_ws_events_total", Help: "Events fanned out, by type."}, []string{"type"})).(*prometheus.CounterVec)
	m.dropped = reg1(prometheus.NewCounter(prometheus.CounterOpts{Name: "waqtor_ws_slow_consumers_total",
		Help: "Clients closed because their send queue was full (the event was dropped for them)."})).(prometheus.Counter)
	m.subscribers = reg1(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "waqtor_ws_subscribers", Help: "Subscribed connections per topic."}, []string{"topic"})).(*prometheus.GaugeVec)
	sec, err := httpmetrics.Security(reg)
	if err != nil {
		errs = append(errs, err)
	}
	m.security = sec
	if len(errs) > 0 {
		return nil, fmt.Errorf("ws: register metrics: %v", errs)
	}
	return m, nil
}

func (m *metrics) disconnectReasons(string) {}

// stats are the counters of the monitor.
type stats struct {
	connections    atomic.Int64
	disconnections atomic.Int64
	dead           atomic.Int64
	received       atomic.Int64
	broadcasts     atomic.Int64
	lastBroadcast  atomic.Int64 // unix nanos
	slowClosed     atomic.Int64
	frameErrors    atomic.Int64

	mu        sync.Mutex
	errors    int64
	lastError *ErrorInfo
	sec       map[string]int64
}

func (s *stats) recordError(source string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors++
	s.lastError = &ErrorInfo{Message: err.Error(), Source: source, Time: time.Now().UTC()}
}

func (s *stats) security(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sec == nil {
		s.sec = map[string]int64{}
	}
	s.sec[kind]++
}
