package campaign_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/webhook"
)

// TestCampaignEventsReachWebhooks: campaign.* events are ordinary events of
// the Core's log, so a webhook endpoint subscribed to "campaign.*" receives
// a campaign's progress and its completion with no code of the campaign's
// own.
func TestCampaignEventsReachWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	var mu sync.Mutex
	var kinds []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env waqtor.Envelope
		if json.Unmarshal(body, &env) == nil {
			mu.Lock()
			kinds = append(kinds, string(env.Type))
			mu.Unlock()
		}
	}))
	defer srv.Close()
	hooks, err := webhook.New(ctx, b.core, &webhook.Config{Logger: slogtest.New(t),
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	require.NoError(t, err)
	require.NoError(t, hooks.Start(ctx))
	defer func() { require.NoError(t, hooks.Stop(ctx)) }()
	_, err = hooks.CreateEndpoint(ctx, &webhook.EndpointParams{URL: srv.URL, Events: []string{"campaign.*"}})
	require.NoError(t, err)

	b.run(t, &campaign.CreateParams{Name: "hooked", Content: campaign.Content{Text: "hi"}, Recipients: phones(3)})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(kinds, string(waqtor.KindCampaignCompleted))
	}, 20*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, kinds, string(waqtor.KindCampaignProgress))
	for _, k := range kinds {
		require.Contains(t, []string{string(waqtor.KindCampaignProgress), string(waqtor.KindCampaignCompleted)}, k)
	}
}
