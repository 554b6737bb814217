package campaign_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestPreview renders the first recipients with their variables, names the
// variables each one lacks, puts pending recipients first, and refuses a bad
// count or another tenant's campaign.
func TestPreview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	rs := []campaign.RecipientInput{
		{Phone: "+15550000001", Variables: map[string]string{"name": "Amira", "city": "Cairo"}},
		{Phone: "+15550000002", Variables: map[string]string{"name": "أحمد"}},
		{Phone: "bad phone"},
		{Phone: "+15550000003", Variables: map[string]string{"city": "Giza"}},
	}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "Preview", Sessions: []string{"main"},
		Content: campaign.Content{Text: "Hi {{name}} from {{city}}"}, Variables: map[string]string{"city": "Alex"}, Pacing: unpaced,
		Recipients: rs})
	require.NoError(t, err)

	items, err := b.svc.Preview(ctx, c.ID, 0)
	require.NoError(t, err)
	require.Len(t, items, 4, "pending first, then the skipped one")
	require.Equal(t, "Hi Amira from Cairo", items[0].Text)
	require.Empty(t, items[0].MissingVariables)
	require.Equal(t, "Hi أحمد from Alex", items[1].Text, "the campaign's variable fills in")
	require.Contains(t, items[2].Text, "from Giza", "a missing variable renders empty")
	require.NotContains(t, items[2].Text, "{{")
	require.Equal(t, []string{"name"}, items[2].MissingVariables)
	require.Equal(t, int64(4), items[2].Seq)
	require.Equal(t, campaign.RecipientSkipped, items[3].State)
	require.Equal(t, int64(3), items[3].Seq)
	require.False(t, items[0].Stored)

	two, err := b.svc.Preview(ctx, c.ID, 2)
	require.NoError(t, err)
	require.Equal(t, items[:2], two)

	for _, n := range []int{-1, campaign.PreviewMax + 1} {
		_, err = b.svc.Preview(ctx, c.ID, n)
		var fe *campaign.FieldError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "n", fe.Field)
	}
	_, err = b.svc.Preview(waqtor.WithTenant(ctx, "other"), c.ID, 1)
	require.ErrorIs(t, err, campaign.ErrNotFound)
	_, err = b.svc.Preview(ctx, "cmp_nope", 1)
	require.ErrorIs(t, err, campaign.ErrNotFound)
}

// TestReportAndExport runs a campaign to completion, lets one recipient
// reply, and checks the report's counts, rates, skips by reason, replies and
// per-session sends, and the CSV export's rows.
func TestReportAndExport(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, kind, nil)
			rs := phones(4)
			rs[0].Variables = map[string]string{"name": "=HYPERLINK(\"x\")"}
			rs = append(rs, campaign.RecipientInput{Phone: "=1+1"}, campaign.RecipientInput{Phone: rs[1].Phone})
			c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "Report", Sessions: []string{"main"},
				Content: campaign.Content{Text: "Hello {{name|friend}}"}, Pacing: unpaced, Recipients: rs})
			require.NoError(t, err)

			rep, err := b.svc.Report(ctx, c.ID)
			require.NoError(t, err)
			require.Zero(t, rep.DeliveryRate, "no division by zero before any send")
			require.Zero(t, rep.Duration)
			require.Equal(t, map[string]int64{campaign.ReasonInvalidPhone: 1, campaign.ReasonDuplicate: 1}, rep.Skips)

			st, err := b.svc.Status(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, campaign.StateDraft, st.State)
			require.Equal(t, int64(6), st.Counts.Total)

			_, err = b.svc.Execute(ctx, c.ID)
			require.NoError(t, err)
			b.waitState(t, c.ID, campaign.StateCompleted)
			waitFor(t, func() bool {
				c, err := b.svc.Get(ctx, c.ID)
				require.NoError(t, err)
				return c.Counts.Delivered == 4
			})
			sess, err := b.core.Session(ctx, "main")
			require.NoError(t, err)
			_, err = b.network.Phone(rs[2].Phone).SendText(ctx, sess.Info.JID, "thanks!")
			require.NoError(t, err)
			waitFor(t, func() bool {
				rep, err = b.svc.Report(ctx, c.ID)
				require.NoError(t, err)
				return rep.Replies == 1
			})
			require.Equal(t, campaign.StateCompleted, rep.State)
			require.Equal(t, int64(4), rep.Counts.Sent)
			require.InDelta(t, 1.0, rep.DeliveryRate, 1e-9)
			require.InDelta(t, 0.25, rep.ReplyRate, 1e-9)
			require.Equal(t, map[string]int64{"main": 4}, rep.Sessions)
			require.Empty(t, rep.Failures)
			require.False(t, rep.StartedAt.IsZero())
			require.False(t, rep.FinishedAt.IsZero())
			require.Equal(t, rep.FinishedAt.Sub(rep.StartedAt).Truncate(time.Millisecond), rep.Duration.Std())
			require.Equal(t, campaign.ReplyWindowDefault, rep.ReplyWindow.Std())

			items, err := b.svc.Preview(ctx, c.ID, 1)
			require.NoError(t, err)
			require.True(t, items[0].Stored, "a sent recipient shows what was sent")
			require.Equal(t, "Hello =HYPERLINK(\"x\")", items[0].Text)

			var buf bytes.Buffer
			require.NoError(t, b.svc.ExportCSV(ctx, c.ID, &buf))
			rows, err := csv.NewReader(&buf).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 7)
			require.Equal(t, campaign.ExportHeader, rows[0])
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			for _, row := range rows[1:5] {
				require.Contains(t, []string{"delivered", "read"}, row[col["state"]], row)
				require.Equal(t, "main", row[col["session"]])
				require.NotEmpty(t, row[col["message_id"]])
				_, err := time.Parse(time.RFC3339Nano, row[col["sent_at"]])
				require.NoError(t, err)
			}
			require.Equal(t, `{"name":"=HYPERLINK(\"x\")"}`, rows[1][col["variables"]])
			require.NotEmpty(t, rows[3][col["replied_at"]])
			require.Equal(t, "'=1+1", rows[5][col["phone"]], "a formula is defused")
			require.Equal(t, campaign.ReasonInvalidPhone, rows[5][col["reason"]])
			require.Equal(t, "{}", rows[5][col["variables"]])
			require.Equal(t, campaign.ReasonDuplicate, rows[6][col["reason"]])
			require.Empty(t, rows[6][col["sent_at"]])

			require.ErrorIs(t, b.svc.ExportCSV(waqtor.WithTenant(ctx, "other"), c.ID, &buf), campaign.ErrNotFound)
			_, err = b.svc.Report(waqtor.WithTenant(ctx, "other"), c.ID)
			require.ErrorIs(t, err, campaign.ErrNotFound)
			require.Error(t, b.svc.ExportCSV(ctx, c.ID, failWriter{}))
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
