package webhook_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

func TestInboundMessageIsDeliveredSigned(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		b := setup(t, kind)
		ctx := context.Background()
		rc := newReceiver(t, nil)
		ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL + "/hook", Events: []string{"message.*"},
			Headers: map[string]string{"Authorization": "Bearer abc"}})
		_, err := b.network.Phone("+201001234567").SendText(ctx, b.botJID, "hello webhook")
		require.NoError(t, err)
		reqs := rc.waitN(t, 1, 10*time.Second)
		r := reqs[0]
		env := r.envelope(t)
		require.Equal(t, waqtor.KindMessageReceived, env.Type)
		require.Equal(t, "main", env.Session)
		require.Equal(t, "default", env.Tenant)
		require.Equal(t, string(waqtor.KindMessageReceived), r.Header.Get(webhook.HeaderEvent))
		require.Equal(t, env.ID, r.Header.Get(webhook.HeaderWebhookID))
		require.Contains(t, r.Header.Get("User-Agent"), "WaQtor-Webhook/")
		require.Equal(t, "Bearer abc", r.Header.Get("Authorization"))
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.NoError(t, webhook.VerifySeed(ep.Secret, r.Header.Get(webhook.HeaderSignature), r.Body))
		require.NoError(t, webhook.Verify(ep.Secret, r.Header, r.Body, nil))

		res, err := b.svc.Deliveries(ctx, &webhook.DeliveryListParams{EndpointID: ep.ID})
		require.NoError(t, err)
		require.Len(t, res.Deliveries, 1)
		d := waitDelivery(t, b.svc, "default", res.Deliveries[0].ID, webhook.StateSucceeded)
		require.Equal(t, r.Header.Get(webhook.HeaderDelivery), d.ID)
		atts, err := b.svc.Attempts(ctx, "default", d.ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
		require.Equal(t, http.StatusOK, atts[0].StatusCode)
	})
}

func TestPruneFinishedDeliveries(t *testing.T) {
	t.Parallel()
	clock := webhook.ScaledClock(1) // Prune reads the clock; retention below is tiny
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) {
		c.Test.Clock = clock
		c.Retention = 50 * time.Millisecond
		c.PruneInterval = time.Hour // run by hand below
	})
	ctx := context.Background()
	ok := newReceiver(t, nil)
	down := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(503) })
	epOK := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: ok.URL, Events: []string{quietKind}})
	epDown := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: down.URL, Events: []string{quietKind}})
	d1, err := b.svc.Test(ctx, "default", epOK.ID)
	require.NoError(t, err)
	d2, err := b.svc.Test(ctx, "default", epDown.ID)
	require.NoError(t, err)
	waitDelivery(t, b.svc, "default", d1.ID, webhook.StateSucceeded)
	require.NoError(t, waitFor(ctx, func() bool {
		atts, _ := b.svc.Attempts(ctx, "default", d2.ID)
		return len(atts) > 0
	}))
	time.Sleep(100 * time.Millisecond)
	n, err := b.svc.Prune(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "only the finished delivery")
	_, err = b.svc.Delivery(ctx, "default", d1.ID)
	require.ErrorIs(t, err, webhook.ErrDeliveryNotFound)
	got, err := b.svc.Delivery(ctx, "default", d2.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StatePending, got.State, "pending deliveries are never pruned")
}
