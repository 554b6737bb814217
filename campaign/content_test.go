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

// run creates and executes a campaign and waits for it to complete.
func (b *testBundle) run(t *testing.T, p *campaign.CreateParams) *campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	if p.Pacing == nil {
		p.Pacing = unpaced
	}
	if p.Sessions == nil {
		p.Sessions = []string{"main"}
	}
	c, _, err := b.svc.Create(ctx, p)
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	return b.waitState(t, c.ID, campaign.StateCompleted)
}

// TestRandomVariants: {{random:…}} makes the messages of a campaign differ,
// each recipient's from its own seed.
func TestRandomVariants(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite, nil)
	rs := phones(60)
	b.run(t, &campaign.CreateParams{Name: "variants", Content: campaign.Content{Text: "{{random:Hi|Hello|Salam}}, offer inside"},
		Recipients: rs})
	seen := map[string]int{}
	for _, r := range rs {
		got := b.network.Phone(r.Phone).Received()
		require.Len(t, got, 1)
		seen[got[0].Text()]++
	}
	require.Len(t, seen, 3, "every variant was used: %v", seen)
}

// TestPollAndMediaCampaigns: polls and media with captions are rendered
// per recipient too.
func TestPollAndMediaCampaigns(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite, nil)
	rs := []campaign.RecipientInput{{Phone: "+15550000001", Variables: map[string]string{"name": "Ali"}}}
	b.run(t, &campaign.CreateParams{Name: "poll", Recipients: rs, Content: campaign.Content{Poll: &campaign.Poll{
		Question: "{{name}}, which day?", Options: []string{"Friday", "Saturday"}}}})
	got := b.network.Phone(rs[0].Phone).Received()
	require.Len(t, got, 1)
	poll, ok := got[0].Content.(*waqtor.Poll)
	require.True(t, ok, "%T", got[0].Content)
	require.Equal(t, "Ali, which day?", poll.Question)

	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde")
	rs2 := []campaign.RecipientInput{{Phone: "+15550000002", Variables: map[string]string{"name": "Mona"}}}
	done := b.run(t, &campaign.CreateParams{Name: "media", Recipients: rs2, Content: campaign.Content{Media: &campaign.Media{
		Data: png, Caption: "For {{name}}"}}})
	list, err := b.svc.Recipients(context.Background(), done.ID, nil)
	require.NoError(t, err)
	require.Equal(t, campaign.RecipientSent, list.Recipients[0].State, "%+v", list.Recipients[0])
	got = b.network.Phone(rs2[0].Phone).Received()
	require.Len(t, got, 1)
	m, ok := got[0].Content.(*waqtor.Media)
	require.True(t, ok, "%T", got[0].Content)
	require.Equal(t, waqtor.ContentImage, m.Kind)
	require.Equal(t, "For Mona", m.Caption)
}

// TestCheckNumbersSkipsUnknown: with CheckNumbers, numbers WhatsApp does not
// know are skipped with not_on_whatsapp instead of failing.
func TestCheckNumbersSkipsUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite, &setupOpts{sandbox: &sandbox.Config{RequireRegistered: true}})
	rs := phones(4)
	for _, r := range rs[:2] {
		b.network.Phone(r.Phone) // registered
	}
	done := b.run(t, &campaign.CreateParams{Name: "check", Recipients: rs, CheckNumbers: true, Content: campaign.Content{Text: "hi"}})
	require.Equal(t, int64(2), done.Counts.Sent)
	require.Equal(t, int64(2), done.Counts.Skipped)
	list, err := b.svc.Recipients(context.Background(), done.ID, &campaign.RecipientListParams{State: campaign.RecipientSkipped})
	require.NoError(t, err)
	for _, r := range list.Recipients {
		require.Equal(t, campaign.ReasonNotOnWhatsApp, r.Reason)
	}
}

// TestPacingChangeAppliesToRunningCampaign: a campaign held back by a slow
// pacing speeds up as soon as its pacing is changed.
func TestPacingChangeAppliesToRunningCampaign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	slow := &campaign.Pacing{MinInterval: campaign.Duration(time.Hour), MaxInterval: campaign.Duration(time.Hour)}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "slow", Sessions: []string{"main"}, Pacing: slow,
		Content: campaign.Content{Text: "hi"}, Recipients: phones(5)})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	waitFor(t, func() bool {
		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		return got.Counts.Sent == 1
	})
	_, err = b.svc.Update(ctx, c.ID, &campaign.UpdateParams{Pacing: unpaced})
	require.NoError(t, err)
	b.waitState(t, c.ID, campaign.StateCompleted)
}

// TestRepliesAndProgress: a recipient who writes back after the send is
// recorded as having replied; campaign.progress events carry growing counts
// and end with the completed state.
func TestRepliesAndProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	events, unsub, err := b.core.Subscribe(waqtor.KindCampaignProgress)
	require.NoError(t, err)
	defer unsub()
	rs := phones(3)
	done := b.run(t, &campaign.CreateParams{Name: "replies", Recipients: rs, Content: campaign.Content{Text: "hi"}})
	sess, err := b.core.Session(ctx, "main")
	require.NoError(t, err)
	_, err = b.network.Phone(rs[1].Phone).SendText(ctx, sess.Info.Phone, "thanks!")
	require.NoError(t, err)
	waitFor(t, func() bool {
		list, err := b.svc.Recipients(ctx, done.ID, nil)
		require.NoError(t, err)
		return !list.Recipients[1].RepliedAt.IsZero()
	})
	list, err := b.svc.Recipients(ctx, done.ID, nil)
	require.NoError(t, err)
	require.True(t, list.Recipients[0].RepliedAt.IsZero())

	var states []string
	var last waqtor.CampaignCounts
	for len(states) == 0 || states[len(states)-1] != "completed" {
		e := (<-events).(*waqtor.CampaignProgress)
		require.Equal(t, done.ID, e.CampaignID)
		require.GreaterOrEqual(t, e.Counts.Sent, last.Sent, "counts never go back")
		last = e.Counts
		states = append(states, e.State)
	}
	require.Equal(t, "running", states[0])
	require.Equal(t, int64(3), last.Total)
}
