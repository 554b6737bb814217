package campaign_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestCampaignRunsToCompletion: a campaign sends one message to each
// recipient, renders each recipient's variables, follows sent and delivered
// receipts into its counts, skips invalid and duplicate phones with their
// reasons, and completes with campaign.* events on the log.
func TestCampaignRunsToCompletion(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, kind, nil)
			events, unsub, err := b.core.Subscribe(waqtor.KindCampaignProgress, waqtor.KindCampaignCompleted)
			require.NoError(t, err)
			defer unsub()
			rs := phones(20)
			for i := range rs {
				rs[i].Variables = map[string]string{"name": "N" + itoa(i)}
			}
			rs = append(rs, campaign.RecipientInput{Phone: "not a phone"}, campaign.RecipientInput{Phone: rs[3].Phone})
			c, res, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "Launch", Sessions: []string{"main"},
				Content: campaign.Content{Text: "Hi {{name}}, we launched."}, Pacing: unpaced, Recipients: rs})
			require.NoError(t, err)
			require.Equal(t, campaign.StateDraft, c.State)
			require.Equal(t, &campaign.AddResult{Added: 20, Duplicates: 1, Invalid: 1, MissingVariables: map[string]int64{}, Total: 22}, res)

			_, err = b.svc.Execute(ctx, c.ID)
			require.NoError(t, err)
			done := b.waitState(t, c.ID, campaign.StateCompleted)
			require.Equal(t, int64(20), done.Counts.Sent)
			require.Equal(t, int64(2), done.Counts.Skipped)
			require.Equal(t, int64(0), done.Counts.Pending)

			for i := range 20 {
				p := b.network.Phone(rs[i].Phone)
				got := p.Received()
				require.Len(t, got, 1, "phone %s", rs[i].Phone)
				require.Equal(t, "Hi N"+itoa(i)+", we launched.", got[0].Text())
			}
			list, err := b.svc.Recipients(ctx, c.ID, &campaign.RecipientListParams{State: campaign.RecipientSkipped})
			require.NoError(t, err)
			require.Len(t, list.Recipients, 2)
			require.Equal(t, campaign.ReasonInvalidPhone, list.Recipients[0].Reason)
			require.Equal(t, campaign.ReasonDuplicate, list.Recipients[1].Reason)

			var sawCompleted bool
			for !sawCompleted {
				e := <-events
				if cc, ok := e.(*waqtor.CampaignCompleted); ok {
					require.Equal(t, c.ID, cc.CampaignID)
					sawCompleted = true
				}
			}
			waitFor(t, func() bool {
				c, err := b.svc.Get(ctx, c.ID)
				require.NoError(t, err)
				return c.Counts.Delivered == 20
			})
		})
	}
}
