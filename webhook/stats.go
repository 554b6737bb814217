package webhook

import (
	"context"
	"slices"
	"time"
)

// statsSampleMax caps the attempts Stats reads for its percentiles.
const statsSampleMax = 10000

// EndpointStats summarises an endpoint's recent attempts.
type EndpointStats struct {
	// Attempts is how many attempts started in the window.
	Attempts int
	// Breaker is the endpoint's circuit breaker as this process sees it; nil
	// when Config.Breaker.Disabled. An endpoint this process does not deliver
	// to (disabled, or the Service not started) shows a closed breaker.
	Breaker *BreakerStatus
	// Dead is how many of the endpoint's deliveries are dead (state failed).
	Dead int
	// EndpointID is the endpoint.
	EndpointID string
	// Failed is how many attempts in the window failed.
	Failed int
	// LastError describes the most recent failed attempt in the window.
	LastError string
	// LastErrorAt is when it started.
	LastErrorAt time.Time
	// LatencyP50 and LatencyP95 are attempt latency percentiles (over the
	// window's most recent 10,000 attempts).
	LatencyP50 time.Duration
	LatencyP95 time.Duration
	// Pending is how many of the endpoint's deliveries are pending.
	Pending int
	// Since is the start of the window.
	Since time.Time
	// SuccessRate is Succeeded/Attempts (0 when there were no attempts).
	SuccessRate float64
	// Succeeded is how many attempts in the window succeeded.
	Succeeded int
}

// StatsParams selects the window of Stats.
type StatsParams struct {
	// Since starts the window. Defaults to 24 hours ago.
	Since time.Time
}

// Stats returns one of tenant's endpoints' statistics.
func (s *Service) Stats(ctx context.Context, tenant, endpointID string, p *StatsParams) (*EndpointStats, error) {
	if _, _, err := s.db.getEndpoint(ctx, s.db.sql, tenant, endpointID); err != nil {
		return nil, err
	}
	st := &EndpointStats{EndpointID: endpointID, Since: s.now().Add(-24 * time.Hour), Breaker: s.breakers.status(endpointID, s.now())}
	if p != nil && !p.Since.IsZero() {
		st.Since = p.Since
	}
	rows, err := s.db.sql.QueryContext(ctx, `SELECT latency_us, status_code, error, started_at FROM waqtor_webhook_attempts
		WHERE endpoint_id = $1 AND started_at >= $2 ORDER BY started_at DESC`, endpointID, micros(st.Since))
	if err != nil {
		return nil, dbErr(err)
	}
	var lat []int64
	for rows.Next() {
		var l, started int64
		var status int
		var msg string
		if err := rows.Scan(&l, &status, &msg, &started); err != nil {
			rows.Close()
			return nil, dbErr(err)
		}
		st.Attempts++
		if status >= 200 && status < 300 {
			st.Succeeded++
		} else {
			st.Failed++
			if st.LastError == "" {
				st.LastError, st.LastErrorAt = msg, fromMicros(started)
			}
		}
		if len(lat) < statsSampleMax {
			lat = append(lat, l)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if st.Attempts > 0 {
		st.SuccessRate = float64(st.Succeeded) / float64(st.Attempts)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return usDur(lat[min(int(p*float64(len(lat))), len(lat)-1)]) }
		st.LatencyP50, st.LatencyP95 = pct(0.50), pct(0.95)
	}
	rows2, err := s.db.sql.QueryContext(ctx, `SELECT state, COUNT(*) FROM waqtor_webhook_deliveries WHERE endpoint_id = $1
		AND state IN ('pending', 'failed') GROUP BY state`, endpointID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows2.Close()
	for rows2.Next() {
		var state string
		var n int
		if err := rows2.Scan(&state, &n); err != nil {
			return nil, dbErr(err)
		}
		if DeliveryState(state) == StatePending {
			st.Pending = n
		} else {
			st.Dead = n
		}
	}
	return st, rows2.Err()
}
