package campaign_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestDeleteWhileReceiptsArrive deletes completed campaigns while their
// delivery receipts are still being followed: on PostgreSQL, Delete once
// locked the campaign before its recipients, the follower the other way
// round, and the two deadlocked now and then (Delete failed with SQLSTATE
// 40P01 in about one run of this test in four). A refused Delete keeps the
// campaign whole.
func TestDeleteWhileReceiptsArrive(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, kind, nil)
			for i := range 10 {
				c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "Delete", Sessions: []string{"main"},
					Content: campaign.Content{Text: "hi"}, Pacing: unpaced, Recipients: phones(40)})
				require.NoError(t, err)
				_, err = b.svc.Execute(ctx, c.ID)
				require.NoError(t, err)
				b.waitState(t, c.ID, campaign.StateCompleted)
				require.NoError(t, b.svc.Delete(ctx, c.ID), "round %d", i)
				_, err = b.svc.Get(ctx, c.ID)
				require.ErrorIs(t, err, campaign.ErrNotFound)
			}

			c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "Running", Sessions: []string{"main"},
				Content: campaign.Content{Text: "hi"}, Pacing: &campaign.Pacing{MinInterval: campaign.Duration(3600e9),
					MaxInterval: campaign.Duration(3600e9)}, Recipients: phones(3)})
			require.NoError(t, err)
			_, err = b.svc.Execute(ctx, c.ID)
			require.NoError(t, err)
			require.ErrorIs(t, b.svc.Delete(ctx, c.ID), campaign.ErrState)
			list, err := b.svc.Recipients(ctx, c.ID, nil)
			require.NoError(t, err)
			require.Len(t, list.Recipients, 3, "a refused delete removed nothing")
		})
	}
}
