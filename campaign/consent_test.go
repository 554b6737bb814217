package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/clock"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestStopMidCampaign: a contact opted out before the campaign, and one who
// sends STOP while it runs, receive nothing from it after their opt-out;
// both end skipped as opted_out, and everyone else gets the message.
func TestStopMidCampaign(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, kind, &setupOpts{campaign: func(c *campaign.Config) { c.Test.Clock = clock.Scaled(20) }})
			rs := phones(12)
			_, err := b.core.SetConsent(ctx, &waqtor.ConsentChange{Contact: rs[2].Phone, Scope: waqtor.ConsentMarketing,
				Status: waqtor.ConsentOptedOut})
			require.NoError(t, err)
			p := &campaign.Pacing{MinInterval: campaign.Duration(2 * time.Second), MaxInterval: campaign.Duration(3 * time.Second)}
			c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "stop", Sessions: []string{"main"},
				Content: campaign.Content{Text: "offer"}, Recipients: rs, Pacing: p})
			require.NoError(t, err)
			_, err = b.svc.Execute(ctx, c.ID)
			require.NoError(t, err)
			waitFor(t, func() bool {
				got, err := b.svc.Get(ctx, c.ID)
				require.NoError(t, err)
				return got.Counts.Sent >= 4
			})
			sess, err := b.core.Session(ctx, "main")
			require.NoError(t, err)
			stopper := b.network.Phone(rs[11].Phone)
			_, err = stopper.SendText(ctx, sess.Info.Phone, "STOP")
			require.NoError(t, err)
			waitFor(t, func() bool {
				out, err := b.core.OptedOut(ctx, rs[11].Phone, waqtor.ConsentMarketing)
				require.NoError(t, err)
				return out
			})
			done := b.waitState(t, c.ID, campaign.StateCompleted)
			require.Equal(t, int64(2), done.Counts.Skipped, "%+v", done.Counts)
			require.Equal(t, int64(10), done.Counts.Sent)
			for i, r := range rs {
				got := b.network.Phone(r.Phone).Received()
				var offers int
				for _, m := range got {
					if m.Text() == "offer" {
						offers++
					}
				}
				if i == 2 || i == 11 {
					require.Zero(t, offers, "opted-out %s got the campaign", r.Phone)
				} else {
					require.Equal(t, 1, offers, r.Phone)
				}
			}
			list, err := b.svc.Recipients(ctx, c.ID, &campaign.RecipientListParams{State: campaign.RecipientSkipped})
			require.NoError(t, err)
			for _, r := range list.Recipients {
				require.Equal(t, campaign.ReasonOptedOut, r.Reason)
			}
		})
	}
}
