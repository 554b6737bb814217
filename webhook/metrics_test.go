package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

func TestPrometheusCollector(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(b.svc.Collector()))
	rc := newReceiver(t, nil)
	ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Events: []string{quietKind}})
	d, err := b.svc.Test(context.Background(), "default", ep.ID)
	require.NoError(t, err)
	waitDelivery(t, b.svc, "default", d.ID, webhook.StateSucceeded)
	var names map[string]float64
	require.NoError(t, waitFor(context.Background(), func() bool {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		names = map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch {
				case m.GetCounter() != nil:
					names[mf.GetName()] += m.GetCounter().GetValue()
				case m.GetHistogram() != nil:
					names[mf.GetName()] += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return names["waqtor_webhook_attempts_total"] >= 1
	}))
	require.Equal(t, 1.0, names["waqtor_webhook_attempts_total"])
	require.Equal(t, 1.0, names["waqtor_webhook_attempt_duration_seconds"])
	require.Equal(t, 1.0, names["waqtor_webhook_deliveries_finished_total"])
	_ = time.Second
}

// TestBreakerMetricsExportedAtStart: right after Start, every enabled
// endpoint's breaker series exist at 0 (closed, never opened, nothing held
// back), before anything is delivered; a new endpoint's appear with it.
func TestBreakerMetricsExportedAtStart(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	old := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: "http://127.0.0.1:9/", Events: []string{quietKind}})
	require.NoError(t, b.svc.Stop(ctx))

	svc := startService(t, b, nil)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(svc.Collector()))
	requireBreakerSeries := func(id string) {
		t.Helper()
		for _, name := range []string{"waqtor_webhook_breaker_state", "waqtor_webhook_breaker_opens_total",
			"waqtor_webhook_breaker_held_back_total"} {
			v, ok := endpointMetric(t, reg, name, id)
			require.True(t, ok, "%s{endpoint=%q} not exported", name, id)
			require.Zero(t, v, name)
		}
	}
	requireBreakerSeries(old.ID)
	ep := createEndpoint(t, svc, &webhook.EndpointParams{URL: "http://127.0.0.1:9/", Events: []string{quietKind}})
	requireBreakerSeries(ep.ID)
}
