package campaign_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/clock"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

// clockedSetup runs the Core, the sandbox and the campaign service on one
// compressed clock.
func clockedSetup(t *testing.T, clk clock.Clock) *testBundle {
	return setup(t, dbtest.SQLite, &setupOpts{
		sandbox:  &sandbox.Config{NowFunc: clk.Now},
		core:     func(c *waqtor.Config) { c.Test.Now = clk.Now },
		campaign: func(c *campaign.Config) { c.Test.Clock = clk },
	})
}

// claims returns the recipients' claim times, in order.
func claims(t *testing.T, b *testBundle, id string) []time.Time {
	t.Helper()
	res, err := b.svc.Recipients(context.Background(), id, &campaign.RecipientListParams{Limit: 1000})
	require.NoError(t, err)
	var out []time.Time
	for _, r := range res.Recipients {
		require.False(t, r.ClaimedAt.IsZero(), "recipient %d was claimed", r.Seq)
		out = append(out, r.ClaimedAt)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// TestPacedGaps runs a paced campaign in compressed time (50×): no send
// starts sooner than MinInterval after the one before, no more than
// BatchSize sends go out without a BatchPause rest between them, and the
// gaps are jittered across the policy's range. The range is wide (4–60 s),
// so that the few hundred milliseconds a loaded machine (or the race
// detector) adds to a compressed gap cannot hide its lower half. Late timers
// only lengthen gaps, so the range's upper end is checked on the policy
// itself, in pacing_test.go, not here.
func TestPacedGaps(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	ctx := context.Background()
	b := clockedSetup(t, clock.Scaled(50))
	p := &campaign.Pacing{MinInterval: campaign.Duration(4 * time.Second), MaxInterval: campaign.Duration(60 * time.Second),
		BatchSize: 5, BatchPause: campaign.Duration(2 * time.Minute)}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "paced", Sessions: []string{"main"},
		Content: campaign.Content{Text: "hi"}, Recipients: phones(16), Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	b.waitState(t, c.ID, campaign.StateCompleted)

	at := claims(t, b, c.ID)
	var gaps []float64
	run := 1 // sends since the last rest
	for i := 1; i < len(at); i++ {
		gap := at[i].Sub(at[i-1])
		require.GreaterOrEqual(t, gap, 4*time.Second, "gap %d", i)
		if gap >= 2*time.Minute {
			run = 1
			continue
		}
		run++
		require.LessOrEqual(t, run, 5, "send %d is the %dth without a batch pause", i, run)
		gaps = append(gaps, gap.Seconds())
	}
	low, high := 0, 0
	for _, g := range gaps {
		switch {
		case g < 32:
			low++
		default:
			high++
		}
	}
	require.True(t, low > 0 && high > 0, "gaps fall in both halves of 4–60 s: %v", gaps)
}

// TestDailyCapHoldsAcrossRestart: a sender that reached its daily cap sends
// nothing more until midnight in the campaign's zone, even when the
// service restarts in between.
func TestDailyCapHoldsAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	riyadh, err := time.LoadLocation("Asia/Riyadh")
	require.NoError(t, err)
	start := time.Date(2026, 12, 8, 23, 58, 0, 0, riyadh)
	midnight := time.Date(2026, 12, 9, 0, 0, 0, 0, riyadh)
	clk := clock.ScaledAt(start, 40) // two minutes to midnight take 3 s
	b := clockedSetup(t, clk)
	p := &campaign.Pacing{MinInterval: campaign.Duration(time.Second), MaxInterval: campaign.Duration(time.Second), DailyCap: 3}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "capped", Sessions: []string{"main"}, TimeZone: "Asia/Riyadh",
		Content: campaign.Content{Text: "hi"}, Recipients: phones(5), Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	waitFor(t, func() bool {
		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		return got.Counts.Sent == 3
	})
	require.True(t, clk.Now().Before(midnight), "the test reached the cap before midnight")
	require.NoError(t, b.svc.Stop(ctx))
	again, err := campaign.New(ctx, b.core, &campaign.Config{Test: campaign.TestConfig{Clock: clk}, PollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, again.Start(ctx))
	defer func() { require.NoError(t, again.Stop(ctx)) }()
	b.svc = again
	b.waitState(t, c.ID, campaign.StateCompleted)
	at := claims(t, b, c.ID)
	for i, a := range at {
		if i < 3 {
			require.True(t, a.Before(midnight), "send %d at %s", i, a.In(riyadh))
		} else {
			require.False(t, a.Before(midnight), "send %d at %s waits for midnight", i, a.In(riyadh))
		}
	}
}

// TestQuietHours: no send starts in the quiet hours of the campaign's zone,
// and sends resume when they end; with the recipient's zone, a recipient
// whose evening has not come is sent to while the others wait.
func TestQuietHours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	riyadh, err := time.LoadLocation("Asia/Riyadh")
	require.NoError(t, err)
	start := time.Date(2026, 12, 8, 20, 59, 50, 0, riyadh)
	nine := time.Date(2026, 12, 9, 9, 0, 0, 0, riyadh)
	clk := clock.ScaledAt(start, 10000)
	b := clockedSetup(t, clk)
	p := &campaign.Pacing{MinInterval: campaign.Duration(5 * time.Second), MaxInterval: campaign.Duration(5 * time.Second),
		QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00"}}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "quiet", Sessions: []string{"main"}, TimeZone: "Asia/Riyadh",
		Content: campaign.Content{Text: "hi"}, Recipients: phones(4), Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	b.waitState(t, c.ID, campaign.StateCompleted)
	at := claims(t, b, c.ID)
	evening := time.Date(2026, 12, 8, 21, 0, 0, 0, riyadh)
	for i, a := range at {
		require.False(t, !a.Before(evening) && a.Before(nine), "send %d at %s is in quiet hours", i, a.In(riyadh))
	}
	require.True(t, at[len(at)-1].After(nine), "the rest waited for the morning")

}

// TestQuietHoursRecipientZone: with quiet hours in the recipient's zone, at
// 21:00 in Riyadh (18:00 in London) a London recipient is sent to at once
// while a Saudi one waits for 09:00 in Riyadh.
func TestQuietHoursRecipientZone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	riyadh, err := time.LoadLocation("Asia/Riyadh")
	require.NoError(t, err)
	start := time.Date(2026, 12, 8, 21, 0, 5, 0, riyadh)
	nine := time.Date(2026, 12, 9, 9, 0, 0, 0, riyadh)
	b := clockedSetup(t, clock.ScaledAt(start, 10000))
	p := &campaign.Pacing{MinInterval: campaign.Duration(5 * time.Second), MaxInterval: campaign.Duration(5 * time.Second),
		QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00", Zone: campaign.QuietZoneRecipient}}
	rs := []campaign.RecipientInput{{Phone: "+966501234567"}, {Phone: "+447700900123"}}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "zones", Sessions: []string{"main"}, TimeZone: "Asia/Riyadh",
		Content: campaign.Content{Text: "hi"}, Recipients: rs, Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	b.waitState(t, c.ID, campaign.StateCompleted)
	res, err := b.svc.Recipients(ctx, c.ID, nil)
	require.NoError(t, err)
	require.Len(t, res.Recipients, 2)
	saudi, london := res.Recipients[0], res.Recipients[1]
	require.False(t, saudi.ClaimedAt.Before(nine), "the Saudi recipient waited for 09:00: %s", saudi.ClaimedAt.In(riyadh))
	require.True(t, london.ClaimedAt.Before(nine), "the London recipient did not wait for 09:00 in Riyadh: %s", london.ClaimedAt.In(riyadh))
}
