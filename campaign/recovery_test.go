package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// csvOf returns a CSV upload of n recipients with a name column.
func csvOf(from, n int) string {
	var sb strings.Builder
	sb.WriteString("phone,name\n")
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&sb, "+1555%07d,N%d\n", i, i)
	}
	return sb.String()
}

// TestImportIsAtomic (T2): an upload that is malformed far into the file
// adds nothing, and the error names the line; a later good upload of the
// same file adds everything, and uploading it again adds nothing new but
// reports every row as a duplicate.
func TestImportIsAtomic(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, kind, nil)
			c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "atomic", Sessions: []string{"main"},
				Content: campaign.Content{Text: "hi {{name}}"}})
			require.NoError(t, err)
			good := csvOf(0, 1000)
			broken := good + "+15559999999,\"unclosed\n+15559999998,x\n"
			_, err = b.svc.AddRecipients(ctx, c.ID, campaign.ReadRecipients(strings.NewReader(broken), campaign.FormatCSV, nil))
			var se *campaign.SourceError
			require.ErrorAs(t, err, &se)
			require.Equal(t, int64(1003), se.Line, "where the parser gave up")
			require.Contains(t, se.Reason, "starts on line 1002")
			got, err := b.svc.Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, waqtor.CampaignCounts{}, got.Counts, "nothing was added")
			list, err := b.svc.Recipients(ctx, c.ID, nil)
			require.NoError(t, err)
			require.Empty(t, list.Recipients)

			res, err := b.svc.AddRecipients(ctx, c.ID, campaign.ReadRecipients(strings.NewReader(good), campaign.FormatCSV, nil))
			require.NoError(t, err)
			require.Equal(t, int64(1000), res.Added)
			again, err := b.svc.AddRecipients(ctx, c.ID, campaign.ReadRecipients(strings.NewReader(good), campaign.FormatCSV, nil))
			require.NoError(t, err)
			require.Equal(t, &campaign.AddResult{Duplicates: 1000, MissingVariables: map[string]int64{}, Total: 2000}, again)
			got, err = b.svc.Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, waqtor.CampaignCounts{Total: 2000, Pending: 1000, Skipped: 1000}, got.Counts)

			// A cancelled context mid-import leaves nothing either.
			cctx, cancel := context.WithCancel(ctx)
			seq := func(yield func(campaign.RecipientInput, error) bool) {
				for i := range 5000 {
					if i == 3000 {
						cancel()
					}
					if !yield(campaign.RecipientInput{Phone: fmt.Sprintf("+1444%07d", i)}, nil) {
						return
					}
				}
			}
			_, err = b.svc.AddRecipients(cctx, c.ID, seq)
			require.Error(t, err)
			got, err = b.svc.Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, int64(2000), got.Counts.Total)
		})
	}
}

// TestMissingVariablesReported: an upload reports, per variable the
// content needs, how many added recipients lack it.
func TestMissingVariablesReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "vars", Sessions: []string{"main"},
		Content: campaign.Content{Text: "Hi {{name}}, your code is {{code}} ({{city|Riyadh}})"}, Variables: map[string]string{"code": "X1"}})
	require.NoError(t, err)
	up := "phone,name,code\n+15550000001,Ali,\n+15550000002,,Z9\n+15550000003,,\n"
	res, err := b.svc.AddRecipients(ctx, c.ID, campaign.ReadRecipients(strings.NewReader(up), campaign.FormatCSV, nil))
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"name": 2}, res.MissingVariables, "code falls back to the campaign's; city has a fallback")
	got, err := b.svc.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"name": 1, "code": 1}, got.VariableCounts)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err, "some recipients lacking a variable do not stop a campaign")

	// A variable no recipient has (a typo) does: execute is refused and the
	// campaign stays a draft.
	typo, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "typo", Sessions: []string{"main"},
		Content: campaign.Content{Text: "Hi {{nmae}}"}})
	require.NoError(t, err)
	_, err = b.svc.AddRecipients(ctx, typo.ID, campaign.ReadRecipients(strings.NewReader(up), campaign.FormatCSV, nil))
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, typo.ID)
	var fe *campaign.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "content", fe.Field)
	require.Contains(t, fe.Reason, "{{nmae}}")
	got, err = b.svc.Get(ctx, typo.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StateDraft, got.State)
}

// TestStuckSendRescuedWithSameID (T4a): a send that hangs past its claim's
// lease is taken over by another runner, which sends under the same message
// ID, so the recipient gets one message, not two.
func TestStuckSendRescuedWithSameID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, &setupOpts{campaign: func(c *campaign.Config) { c.ClaimLease = 300 * time.Millisecond }})
	other, err := campaign.New(ctx, b.core, &campaign.Config{NodeID: "node-b", PollInterval: 10 * time.Millisecond,
		ClaimLease: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, other.Start(ctx))
	defer func() { require.NoError(t, other.Stop(ctx)) }()
	b.network.SetSendLatency("main", time.Second)
	rs := phones(3)
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "stuck", Sessions: []string{"main"},
		Content: campaign.Content{Text: "once"}, Recipients: rs, Pacing: unpaced})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	b.waitState(t, c.ID, campaign.StateCompleted)
	list, err := b.svc.Recipients(ctx, c.ID, nil)
	require.NoError(t, err)
	// The first claim takes all three at once (unpaced senders claim 16);
	// a claim after the lease ran out is a rescue.
	first, last := list.Recipients[0].ClaimedAt, list.Recipients[0].ClaimedAt
	for i, r := range list.Recipients {
		first, last = minTime(first, r.ClaimedAt), maxTime(last, r.ClaimedAt)
		got := b.network.Phone(rs[i].Phone).Received()
		require.Len(t, got, 1, r.Phone)
		require.Equal(t, r.MessageID, got[0].ID)
	}
	require.GreaterOrEqual(t, last.Sub(first), 300*time.Millisecond, "a runner took over a stuck claim")
	require.Len(t, b.network.SendLog(), 3, "one engine send per recipient")
}

// TestOutageDoesNotFailRecipients (T4b): while WhatsApp refuses sends for a
// while (a network outage), recipients stay pending in the Core's outbox
// and go out afterwards with their IDs; none is marked failed.
func TestOutageDoesNotFailRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, &setupOpts{core: func(c *waqtor.Config) { c.RetryInterval = 20 * time.Millisecond }})
	b.network.FailSends("main", nil, 6) // transient errors
	rs := phones(5)
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "outage", Sessions: []string{"main"},
		Content: campaign.Content{Text: "later"}, Recipients: rs, Pacing: unpaced})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	done := b.waitState(t, c.ID, campaign.StateCompleted)
	require.Equal(t, int64(5), done.Counts.Sent)
	require.Zero(t, done.Counts.Failed)
	for _, r := range rs {
		require.Len(t, b.network.Phone(r.Phone).Received(), 1)
	}
	var failed int
	for _, rec := range b.network.SendLog() {
		if rec.Err != nil {
			failed++
		}
	}
	require.Equal(t, 6, failed)
	_ = errors.New
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
