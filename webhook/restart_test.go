package webhook_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/webhook"
)

// TestReceiverOffForAnHourWithRestart is the "done when": the
// receiver is off for an hour (simulated, 1000 times faster), the server is
// stopped and started again in the middle, nothing is lost, and the delivery
// log shows every attempt the receiver saw.
func TestReceiverOffForAnHourWithRestart(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		const scale = 1000
		clock := webhook.ScaledClock(scale)
		dsn := dbtest.DSN(t, kind)
		ctx := context.Background()
		var startNanos atomic.Int64 // the outage starts once the events are in the log
		startNanos.Store(clock.Now().Add(1000 * time.Hour).UnixNano())
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if clock.Now().Sub(time.Unix(0, startNanos.Load())) < time.Hour {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		boot := func() (*waqtor.Core, *webhook.Service) {
			core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: sandbox.NewNetwork(nil).Factory(), Logger: slogtest.New(t)})
			require.NoError(t, err)
			require.NoError(t, core.Start(ctx))
			svc, err := webhook.New(ctx, core, &webhook.Config{AllowCIDRs: loopback, Logger: slogtest.New(t),
				Test: webhook.TestConfig{Clock: clock}, PollInterval: 20 * time.Millisecond, LeaseMargin: time.Hour})
			require.NoError(t, err)
			require.NoError(t, svc.Start(ctx))
			return core, svc
		}
		stop := func(core *waqtor.Core, svc *webhook.Service) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, svc.Stop(ctx))
			require.NoError(t, core.Stop(ctx))
		}
		core, svc := boot()
		every10min := webhook.ExponentialRetry(30, 10*time.Minute, 1, 0)
		ep := createEndpoint(t, svc, &webhook.EndpointParams{URL: rc.URL, Events: []string{"message.received"},
			Retry: every10min, Timeout: webhook.MaxTimeout})
		startNanos.Store(clock.Now().UnixNano())
		start := clock.Now()
		ids := emitMessages(t, core, 100, 10)
		time.Sleep(30 * time.Minute / scale) // half an hour in
		stop(core, svc)
		time.Sleep(5 * time.Minute / scale) // the server is off for five minutes
		core, svc = boot()
		defer stop(core, svc)

		ok := map[string]bool{}
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			res, err := svc.Deliveries(ctx, &webhook.DeliveryListParams{EndpointID: ep.ID, Limit: 500, State: webhook.StateSucceeded})
			require.NoError(t, err)
			if len(res.Deliveries) == len(ids) {
				break
			}
			require.True(t, time.Now().Before(deadline), "%d of %d delivered", len(res.Deliveries), len(ids))
		}
		perEvent := map[string]int{}
		retried := 0
		for _, r := range rc.requests() {
			perEvent[r.Header.Get(webhook.HeaderWebhookID)]++
		}
		res, err := svc.Deliveries(ctx, &webhook.DeliveryListParams{EndpointID: ep.ID, Limit: 500})
		require.NoError(t, err)
		for _, d := range res.Deliveries {
			ok[d.EventID] = true
			atts, err := svc.Attempts(ctx, "default", d.ID)
			require.NoError(t, err)
			// Every request the receiver saw is in the log (attempts that
			// never reached it, such as a connect timeout, are logged too).
			answered := 0
			for _, a := range atts {
				if a.StatusCode > 0 {
					answered++
				}
			}
			require.LessOrEqual(t, perEvent[d.EventID], len(atts), "a request is missing from the log")
			require.GreaterOrEqual(t, perEvent[d.EventID], answered)
			if len(atts) > 1 {
				retried++
			}
			require.Equal(t, http.StatusOK, atts[len(atts)-1].StatusCode)
			// (StartedAt is taken before the request is sent; the receiver
			// decides on arrival, a few real milliseconds later.)
			require.GreaterOrEqual(t, atts[len(atts)-1].StartedAt.Sub(start), time.Hour-2*time.Minute)
		}
		for _, id := range ids {
			require.True(t, ok[id], "event %s lost", id)
		}
		require.Positive(t, retried, "an hour of 503s with retries every 10 minutes")
		t.Logf("%d of %d deliveries were retried through the outage and the restart", retried, len(ids))
	})
}
