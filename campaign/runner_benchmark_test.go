package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

// BenchmarkRunnerVersusSendLoop compares the campaign runner, unpaced, with
// calling Core.SendText in a loop, on the same Core and sandbox: the ratio
// of their send rates is the runner's overhead (the goal is ≥ 0.8). Rounds
// of 1,000 alternate, so that a campaign's start and end weigh little and
// load from elsewhere on the machine weighs on both alike.
func BenchmarkRunnerVersusSendLoop(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, kind := range dbtest.Kinds() {
		b.Run(string(kind), func(b *testing.B) {
			ctx := context.Background()
			tb := setup(b, kind, &setupOpts{sandbox: &sandbox.Config{DeliverLatency: time.Hour}})
			// Completion is awaited through its event, not by polling the
			// database, which would compete with the runner for it.
			done, unsub, err := tb.core.Subscribe(waqtor.KindCampaignCompleted)
			require.NoError(b, err)
			defer unsub()
			// Alternate rounds of each, so that load from elsewhere on the
			// machine weighs on both alike.
			const round = 1000
			rounds := max(b.N/round, 1)
			n := rounds * round
			var loop, runner time.Duration
			b.ResetTimer()
			for r := range rounds {
				start := time.Now()
				for i := range round {
					_, err := tb.core.SendText(ctx, "main", "+1666"+pad7(r*round+i), "loop", nil)
					require.NoError(b, err)
				}
				loop += time.Since(start)
				rs := make([]campaign.RecipientInput, round)
				for i := range rs {
					rs[i].Phone = "+1777" + pad7(r*round+i)
				}
				c, _, err := tb.svc.Create(ctx, &campaign.CreateParams{Name: "bench", Sessions: []string{"main"},
					Content: campaign.Content{Text: "runner"}, Recipients: rs, Pacing: unpaced})
				require.NoError(b, err)
				start = time.Now()
				_, err = tb.svc.Execute(ctx, c.ID)
				require.NoError(b, err)
				for e := range done {
					if e.(*waqtor.CampaignCompleted).CampaignID == c.ID {
						break
					}
				}
				runner += time.Since(start)
			}
			b.StopTimer()
			b.ReportMetric(float64(n)/loop.Seconds(), "loop_sends/s")
			b.ReportMetric(float64(n)/runner.Seconds(), "runner_sends/s")
			b.ReportMetric(loop.Seconds()/runner.Seconds(), "ratio")
		})
	}
}
