package webhook_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// TestStatusCodeSemantics is docs/reliability.md T8: each receiver answers its
// first request with a status (or hangs), then 200.
func TestStatusCodeSemantics(t *testing.T) {
	t.Parallel()
	const scale = 100 // 15 s of timeout take 150 ms
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) { c.Test.Clock = webhook.ScaledClock(scale) })
	ctx := context.Background()
	never := newReceiver(t, nil) // redirect targets
	policy := &webhook.RetryPolicy{Schedule: []time.Duration{5 * time.Second, 10 * time.Minute}}
	type tc struct {
		first     func(w http.ResponseWriter, r *http.Request)
		wantState webhook.DeliveryState
		wantDelay time.Duration // 0: no retry
		status    int
		gone      bool
		timeout   bool
	}
	status := func(code int, hdr ...string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(code)
		}
	}
	tests := map[string]tc{
		"200":                    {first: status(200), wantState: webhook.StateSucceeded, status: 200},
		"204":                    {first: status(204), wantState: webhook.StateSucceeded, status: 204},
		"301":                    {first: status(301, "Location", never.URL+"/301"), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 301},
		"302":                    {first: status(302, "Location", never.URL+"/302"), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 302},
		"307":                    {first: status(307, "Location", never.URL+"/307"), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 307},
		"308":                    {first: status(308, "Location", never.URL+"/308"), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 308},
		"410":                    {first: status(410), wantState: webhook.StateFailed, status: 410, gone: true},
		"429 Retry-After 120":    {first: status(429, "Retry-After", "120"), wantState: webhook.StatePending, wantDelay: 120 * time.Second, status: 429},
		"429 no Retry-After":     {first: status(429), wantState: webhook.StatePending, wantDelay: 60 * time.Second, status: 429},
		"503 Retry-After 2 days": {first: status(503, "Retry-After", strconv.Itoa(2*86400)), wantState: webhook.StatePending, wantDelay: time.Hour, status: 503},
		"500":                    {first: status(500), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 500},
		"502":                    {first: status(502), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 502},
		"504":                    {first: status(504), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 504},
		"400":                    {first: status(400), wantState: webhook.StatePending, wantDelay: 5 * time.Second, status: 400},
		// The receiver hangs until the dispatcher gives up (a 31 s hang on
		// the scaled clock is only 310 ms of real time, which a loaded
		// machine can reach before the 150 ms timeout fires).
		"31 s hang": {first: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(31 * time.Second):
			}
		}, wantState: webhook.StatePending, wantDelay: 60 * time.Second, timeout: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					tc.first(w, r)
				}
			})
			timeout := webhook.MaxTimeout // generous in real time (1.2 s) when the machine is loaded
			if tc.timeout {
				timeout = 15 * time.Second
			}
			ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Retry: policy, Timeout: timeout,
				Events: []string{quietKind}})
			d, err := b.svc.Test(ctx, "default", ep.ID)
			require.NoError(t, err)
			var atts []*webhook.Attempt
			require.NoError(t, waitFor(ctx, func() bool {
				atts, err = b.svc.Attempts(ctx, "default", d.ID)
				return err == nil && len(atts) >= 1
			}))
			a := atts[0]
			require.Equal(t, tc.status, a.StatusCode)
			if tc.timeout {
				// It ended at the timeout (no status, a timeout error), not
				// when the receiver stopped hanging.
				require.Contains(t, a.Error, "timeout")
				require.GreaterOrEqual(t, a.Latency, 15*time.Second)
			}
			if tc.wantDelay > 0 {
				require.False(t, a.NextAttemptAt.IsZero())
				got := a.NextAttemptAt.Sub(a.StartedAt.Add(a.Latency))
				require.InDelta(t, float64(tc.wantDelay), float64(got), float64(time.Millisecond), "next delay")
			} else {
				require.True(t, a.NextAttemptAt.IsZero())
				got := waitDelivery(t, b.svc, "default", d.ID, tc.wantState)
				require.Equal(t, 1, got.Attempts)
			}
			if tc.status >= 300 && tc.status < 400 {
				require.Contains(t, a.Error, "not followed")
			}
			if tc.gone {
				e, err := b.svc.Endpoint(ctx, "default", ep.ID)
				require.NoError(t, err)
				require.False(t, e.Enabled)
				require.Equal(t, "gone", e.DisabledReason)
				requireDisabledEvent(t, b.core, ep.ID, "gone")
			}
			if tc.wantState == webhook.StatePending && tc.wantDelay <= time.Minute {
				// The retry comes on time and succeeds.
				waitDelivery(t, b.svc, "default", d.ID, webhook.StateSucceeded)
			}
		})
	}
	t.Cleanup(func() { require.Empty(t, never.requests(), "a redirect target was requested") })
}

// quietKind is a kind nothing emits in these tests (they run no plugin host):
// endpoints that filter on it get only test deliveries.
const quietKind = "plugin.status"

func requireDisabledEvent(t *testing.T, core *waqtor.Core, endpointID, reason string) *waqtor.WebhookEndpointDisabled {
	t.Helper()
	var found *waqtor.WebhookEndpointDisabled
	require.NoError(t, waitFor(context.Background(), func() bool {
		evs, err := core.ReadLog(context.Background(), &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindWebhookEndpointDisabled}, Limit: 1000})
		require.NoError(t, err)
		for _, e := range evs {
			if d := e.(*waqtor.WebhookEndpointDisabled); d.EndpointID == endpointID {
				found = d
				return true
			}
		}
		return false
	}), "no webhook.endpoint_disabled event for %s", endpointID)
	require.Equal(t, reason, found.Reason)
	return found
}

// TestAutoDisable is docs/reliability.md T9 (without the circuit breaker).
func TestAutoDisable(t *testing.T) {
	t.Parallel()
	// A real stall of the (loaded, -race) machine longer than the window
	// would look like an outage on the scaled clock: keep the window at
	// several real seconds.
	const scale = 500
	window := 30 * time.Minute
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) {
		c.Test.Clock = webhook.ScaledClock(scale)
		c.AutoDisableAfter = window
	})
	ctx := context.Background()
	everyMin := webhook.ExponentialRetry(50, time.Minute, 1, 0)
	everyMin.Jitter = 0

	t.Run("only failures", func(t *testing.T) {
		t.Parallel()
		failing := true
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			<-mu
			f := failing
			mu <- struct{}{}
			if f {
				w.WriteHeader(500)
			}
		})
		watcher := newReceiver(t, nil) // another endpoint of the tenant hears about it
		createEndpoint(t, b.svc, &webhook.EndpointParams{URL: watcher.URL, Events: []string{"webhook.endpoint_disabled"}})
		ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Retry: everyMin, Timeout: webhook.MaxTimeout,
			Events: []string{quietKind}})
		d, err := b.svc.Test(ctx, "default", ep.ID)
		require.NoError(t, err)
		e := requireDisabledEvent(t, b.core, ep.ID, "failing")
		got, err := b.svc.Endpoint(ctx, "default", ep.ID)
		require.NoError(t, err)
		require.False(t, got.Enabled)
		require.Equal(t, "failing", got.DisabledReason)
		atts, err := b.svc.Attempts(ctx, "default", d.ID)
		require.NoError(t, err)
		last := atts[len(atts)-1]
		require.GreaterOrEqual(t, last.StartedAt.Sub(e.FailingSince), window, "disabled only after the window")
		require.Less(t, atts[len(atts)-2].StartedAt.Sub(e.FailingSince), window, "and not before")
		w := watcher.waitN(t, 1, 10*time.Second)
		require.Equal(t, waqtor.KindWebhookEndpointDisabled, w[0].envelope(t).Type)

		// Nothing is lost: the delivery waits, and goes out once re-enabled.
		n := len(rc.requests())
		require.Equal(t, webhook.StatePending, waitDelivery(t, b.svc, "default", d.ID, webhook.StatePending).State)
		<-mu
		failing = false
		mu <- struct{}{}
		_, err = b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Enabled: ptr(true)})
		require.NoError(t, err)
		waitDelivery(t, b.svc, "default", d.ID, webhook.StateSucceeded)
		require.Greater(t, len(rc.requests()), n)
	})
	t.Run("re-enabled by hand", func(t *testing.T) {
		t.Parallel()
		// An endpoint disabled and re-enabled by hand while failing starts a
		// new window: its failures before that do not count.
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
		ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Retry: everyMin, Timeout: webhook.MaxTimeout,
			Events: []string{quietKind}})
		_, err := b.svc.Test(ctx, "default", ep.ID)
		require.NoError(t, err)
		rc.waitN(t, 5, 30*time.Second) // five simulated minutes of failures, well inside the window
		_, err = b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Enabled: ptr(false)})
		require.NoError(t, err)
		reenabled, err := b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Enabled: ptr(true)})
		require.NoError(t, err)
		require.True(t, reenabled.FailingSince.IsZero())
		e := requireDisabledEvent(t, b.core, ep.ID, "failing")
		require.False(t, e.FailingSince.Before(reenabled.UpdatedAt.Add(-time.Minute)),
			"the window starts after the re-enable (%s), not at the first failure (%s)", reenabled.UpdatedAt, e.FailingSince)
	})
	t.Run("sporadic success", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n%4 != 0 {
				w.WriteHeader(503)
			}
		})
		ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Retry: everyMin, Timeout: webhook.MaxTimeout,
			Events: []string{quietKind}})
		// 36 deliveries over 72 minutes of simulated time, more than twice the window.
		for range 36 {
			_, err := b.svc.Test(ctx, "default", ep.ID)
			require.NoError(t, err)
			time.Sleep(2 * time.Minute / scale)
		}
		got, err := b.svc.Endpoint(ctx, "default", ep.ID)
		require.NoError(t, err)
		require.True(t, got.Enabled, "one success inside the window keeps the endpoint enabled")
		require.Greater(t, len(rc.requests()), 36)
		evs, err := b.core.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindWebhookEndpointDisabled}, Limit: 1000})
		require.NoError(t, err)
		for _, e := range evs {
			require.NotEqual(t, ep.ID, e.(*waqtor.WebhookEndpointDisabled).EndpointID, "no webhook.endpoint_disabled event")
		}
	})
}
