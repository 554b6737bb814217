package campaign_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/clock"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

// count returns how many campaign rows the service shows the default tenant.
func countCampaigns(t *testing.T, b *testBundle) int {
	t.Helper()
	res, err := b.svc.List(context.Background(), &campaign.ListParams{Limit: 500})
	require.NoError(t, err)
	return len(res.Campaigns)
}

// TestCreateBadInputChangesNothing: each bad campaign is refused with an
// error naming the field, and nothing is stored.
func TestCreateBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	_, err := b.core.CreateSession(waqtor.WithTenant(ctx, "other"), &waqtor.CreateSessionParams{ID: "theirs"})
	require.NoError(t, err)
	good := func() *campaign.CreateParams {
		return &campaign.CreateParams{Name: "n", Sessions: []string{"main"}, Content: campaign.Content{Text: "hi {{name}}"}}
	}
	long := make([]byte, campaign.MaxTemplateBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	cases := map[string]struct {
		mutate func(p *campaign.CreateParams)
		field  string
	}{
		"no name":            {func(p *campaign.CreateParams) { p.Name = "  " }, "name"},
		"no sessions":        {func(p *campaign.CreateParams) { p.Sessions = nil }, "sessions"},
		"unknown session":    {func(p *campaign.CreateParams) { p.Sessions = []string{"nope"} }, "sessions[0]"},
		"other tenant's":     {func(p *campaign.CreateParams) { p.Sessions = []string{"theirs"} }, "sessions[0]"},
		"repeated session":   {func(p *campaign.CreateParams) { p.Sessions = []string{"main", "main"} }, "sessions[1]"},
		"no content":         {func(p *campaign.CreateParams) { p.Content.Text = "" }, "content"},
		"blank text":         {func(p *campaign.CreateParams) { p.Content = campaign.Content{Text: " \n "} }, "content.text"},
		"oversized template": {func(p *campaign.CreateParams) { p.Content.Text = string(long) }, "content.text"},
		"broken template":    {func(p *campaign.CreateParams) { p.Content.Text = "hi {{name" }, "content.text"},
		"two contents": {func(p *campaign.CreateParams) {
			p.Content.Poll = &campaign.Poll{Question: "q", Options: []string{"a", "b"}}
		}, "content"},
		"one poll option": {func(p *campaign.CreateParams) {
			p.Content = campaign.Content{Poll: &campaign.Poll{Question: "q", Options: []string{"a"}}}
		}, "content.poll.options"},
		"media without source": {func(p *campaign.CreateParams) {
			p.Content = campaign.Content{Media: &campaign.Media{Caption: "c"}}
		}, "content.media"},
		"bad zone":         {func(p *campaign.CreateParams) { p.TimeZone = "Mars/Olympus" }, "time_zone"},
		"schedule in past": {func(p *campaign.CreateParams) { p.ScheduleAt = time.Now().Add(-time.Minute) }, "schedule_at"},
		"too many vars":    {func(p *campaign.CreateParams) { p.Variables = manyVars(campaign.MaxVariables + 1) }, "variables"},
		"recipient vars": {func(p *campaign.CreateParams) {
			p.Recipients = []campaign.RecipientInput{{Phone: "+15550000001", Variables: manyVars(campaign.MaxVariables + 1)}}
		}, "recipients"},
	}
	for name, tc := range cases {
		p := good()
		tc.mutate(p)
		_, _, err := b.svc.Create(ctx, p)
		require.ErrorIs(t, err, campaign.ErrInvalidCampaign, name)
		var fe *campaign.FieldError
		require.ErrorAs(t, err, &fe, name)
		require.Equal(t, tc.field, fe.Field, name)
	}
	require.Zero(t, countCampaigns(t, b), "nothing was stored")
	_, _, err = b.svc.Create(ctx, nil)
	require.ErrorIs(t, err, campaign.ErrInvalidCampaign)
	require.Zero(t, countCampaigns(t, b))
}

func manyVars(n int) map[string]string {
	out := map[string]string{}
	for i := range n {
		out["v"+itoa(i)] = "x"
	}
	return out
}

// TestStateMachine: the moves each state allows, the errors of the others
// (which change nothing), idempotent repeats, and the kept history.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			testStateMachine(t, kind)
		})
	}
}

func testStateMachine(t *testing.T, kind dbtest.Kind) {
	ctx := context.Background()
	b := setup(t, kind, nil)
	slow := &campaign.Pacing{MinInterval: campaign.Duration(time.Hour), MaxInterval: campaign.Duration(time.Hour)}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "s", Sessions: []string{"main"},
		Content: campaign.Content{Text: "hi"}, Pacing: slow})
	require.NoError(t, err)

	// No recipients: execute is refused and the draft stays a draft.
	_, err = b.svc.Execute(ctx, c.ID)
	var fe *campaign.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "recipients", fe.Field)
	for _, f := range []func() (*campaign.Campaign, error){
		func() (*campaign.Campaign, error) { return b.svc.Pause(ctx, c.ID, "") },
		func() (*campaign.Campaign, error) { return b.svc.Resume(ctx, c.ID) },
	} {
		_, err := f()
		require.ErrorIs(t, err, campaign.ErrState)
	}
	_, err = b.svc.AddRecipients(ctx, c.ID, campaign.FromSlice(phones(3)))
	require.NoError(t, err)

	// Concurrent executes: one move, every caller sees a running campaign.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.svc.Execute(ctx, c.ID)
			if assert.NoError(t, err) {
				assert.Equal(t, campaign.StateRunning, got.State)
			}
		}()
	}
	wg.Wait()
	got, err := b.svc.Pause(ctx, c.ID, "lunch")
	require.NoError(t, err)
	require.Equal(t, campaign.StatePaused, got.State)
	got, err = b.svc.Pause(ctx, c.ID, "again")
	require.NoError(t, err)
	require.Equal(t, campaign.StatePaused, got.State)
	_, err = b.svc.Update(ctx, c.ID, &campaign.UpdateParams{Name: ptr("renamed")})
	require.ErrorIs(t, err, campaign.ErrState, "only a draft may be edited")
	got, err = b.svc.Update(ctx, c.ID, &campaign.UpdateParams{Pacing: &campaign.Pacing{MinInterval: campaign.Duration(2 * time.Hour),
		MaxInterval: campaign.Duration(2 * time.Hour)}})
	require.NoError(t, err, "pacing may change until the campaign ends")
	require.Equal(t, campaign.Duration(2*time.Hour), got.Pacing.MinInterval)
	require.Equal(t, "s", got.Name)
	require.ErrorIs(t, b.svc.Delete(ctx, c.ID), campaign.ErrState)
	_, err = b.svc.Resume(ctx, c.ID)
	require.NoError(t, err)
	got, err = b.svc.Cancel(ctx, c.ID, "wrong list")
	require.NoError(t, err)
	require.Equal(t, campaign.StateCancelled, got.State)
	for _, f := range []func() (*campaign.Campaign, error){
		func() (*campaign.Campaign, error) { return b.svc.Pause(ctx, c.ID, "") },
		func() (*campaign.Campaign, error) { return b.svc.Resume(ctx, c.ID) },
		func() (*campaign.Campaign, error) { return b.svc.Execute(ctx, c.ID) },
	} {
		_, err := f()
		require.ErrorIs(t, err, campaign.ErrState)
		var se *campaign.StateError
		require.ErrorAs(t, err, &se)
		require.Equal(t, campaign.StateCancelled, se.State)
	}
	_, err = b.svc.AddRecipients(ctx, c.ID, campaign.FromSlice(phones(1)))
	require.ErrorIs(t, err, campaign.ErrState)

	ts, err := b.svc.Transitions(ctx, c.ID)
	require.NoError(t, err)
	var moves []string
	for _, tr := range ts {
		moves = append(moves, string(tr.From)+">"+string(tr.To)+":"+tr.Reason+":"+tr.Detail)
	}
	require.Equal(t, []string{">draft:created:", "draft>running:requested:", "running>paused:requested:lunch",
		"paused>running:resumed:", "running>cancelled:requested:wrong list"}, moves)
	require.NoError(t, b.svc.Delete(ctx, c.ID))
	_, err = b.svc.Get(ctx, c.ID)
	require.ErrorIs(t, err, campaign.ErrNotFound)
}

func ptr[T any](v T) *T { return &v }

// TestTenantIsolation: another tenant's campaign is not found by any call.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "mine", Sessions: []string{"main"},
		Content: campaign.Content{Text: "hi"}, Recipients: phones(2)})
	require.NoError(t, err)
	other := waqtor.WithTenant(ctx, "other")
	_, err = b.svc.Get(other, c.ID)
	require.ErrorIs(t, err, campaign.ErrNotFound)
	_, err = b.svc.Execute(other, c.ID)
	require.ErrorIs(t, err, campaign.ErrNotFound)
	_, err = b.svc.AddRecipients(other, c.ID, campaign.FromSlice(phones(1)))
	require.ErrorIs(t, err, campaign.ErrNotFound)
	_, err = b.svc.Recipients(other, c.ID, nil)
	require.ErrorIs(t, err, campaign.ErrNotFound)
	require.ErrorIs(t, b.svc.Delete(other, c.ID), campaign.ErrNotFound)
	res, err := b.svc.List(other, nil)
	require.NoError(t, err)
	require.Empty(t, res.Campaigns)
	got, err := b.svc.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StateDraft, got.State)
}

// TestAutoPauseOnBan: a ban pauses the campaign with campaign.paused saying
// why; resuming while banned is refused; with ResumeAfterBan it resumes by
// itself once the ban lifts and completes.
func TestAutoPauseOnBan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Campaign time runs 50 times faster: the 1–1.5 s gaps take 20–30 ms.
	b := setup(t, dbtest.SQLite, &setupOpts{campaign: func(c *campaign.Config) { c.Test.Clock = clock.Scaled(50) }})
	events, unsub, err := b.core.Subscribe(waqtor.KindCampaignPaused)
	require.NoError(t, err)
	defer unsub()
	p := &campaign.Pacing{MinInterval: campaign.Duration(time.Second), MaxInterval: campaign.Duration(1500 * time.Millisecond),
		ResumeAfterBan: true}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "b", Sessions: []string{"main"},
		Content: campaign.Content{Text: "hi"}, Recipients: phones(30), Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	waitFor(t, func() bool {
		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		return got.Counts.Sent >= 3
	})
	require.NoError(t, b.network.Ban("main", 1500*time.Millisecond))
	paused := b.waitState(t, c.ID, campaign.StatePaused)
	require.Equal(t, "session_banned", paused.StateReason)
	require.False(t, paused.ResumeAt.IsZero())
	e := (<-events).(*waqtor.CampaignPaused)
	require.Equal(t, "session_banned", e.Reason)
	require.Equal(t, "main", e.Session)
	_, err = b.svc.Resume(ctx, c.ID)
	require.ErrorIs(t, err, campaign.ErrSessionUnavailable)
	b.waitState(t, c.ID, campaign.StateCompleted)
	ts, err := b.svc.Transitions(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "ban_lifted", ts[len(ts)-2].Reason)
}

// TestAutoPauseOnFailureRate: when most sends of the window fail, the
// campaign pauses itself instead of burning through its list.
func TestAutoPauseOnFailureRate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, &setupOpts{sandbox: &sandbox.Config{}})
	b.network.FailSends("main", waqtor.Permanent(errors.New("refused")), 1000)
	p := &campaign.Pacing{Unpaced: true, FailureWindow: 10, MaxFailureRate: 0.5}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "f", Sessions: []string{"main"},
		Content: campaign.Content{Text: "hi"}, Recipients: phones(100), Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	paused := b.waitState(t, c.ID, campaign.StatePaused)
	require.Equal(t, "failure_rate", paused.StateReason)
	require.Less(t, paused.Counts.Failed, int64(30), "it stopped early")
}

// TestAutoPauseOnLogout: a session logged out from the phone pauses its
// campaigns, and they cannot resume until it pairs again.
func TestAutoPauseOnLogout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, nil)
	p := &campaign.Pacing{MinInterval: campaign.Duration(time.Hour), MaxInterval: campaign.Duration(time.Hour)}
	c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "l", Sessions: []string{"main"},
		Content: campaign.Content{Text: "hi"}, Recipients: phones(5), Pacing: p})
	require.NoError(t, err)
	_, err = b.svc.Execute(ctx, c.ID)
	require.NoError(t, err)
	require.NoError(t, b.network.LogoutRemote("main"))
	paused := b.waitState(t, c.ID, campaign.StatePaused)
	require.Equal(t, "session_logged_out", paused.StateReason)
	require.True(t, paused.ResumeAt.IsZero())
	_, err = b.svc.Resume(ctx, c.ID)
	require.ErrorIs(t, err, campaign.ErrSessionUnavailable)
}

// TestTwoRunnersNeverDoubleSend: two campaign services on one database (as
// two nodes would run) claim recipients of the same campaign concurrently;
// each recipient is sent to exactly once, and the counts add up.
func TestTwoRunnersNeverDoubleSend(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, kind, &setupOpts{sessions: []string{"main", "second"}})
			other, err := campaign.New(ctx, b.core, &campaign.Config{NodeID: "node-b", PollInterval: 10 * time.Millisecond})
			require.NoError(t, err)
			require.NoError(t, other.Start(ctx))
			defer func() { require.NoError(t, other.Stop(ctx)) }()
			rs := phones(300)
			c, _, err := b.svc.Create(ctx, &campaign.CreateParams{Name: "twice", Sessions: []string{"main", "second"},
				Content: campaign.Content{Text: "once"}, Recipients: rs, Pacing: unpaced})
			require.NoError(t, err)
			_, err = other.Execute(ctx, c.ID)
			require.NoError(t, err)
			done := b.waitState(t, c.ID, campaign.StateCompleted)
			require.Equal(t, int64(300), done.Counts.Sent)
			bySession := map[string]int{}
			for _, r := range rs {
				got := b.network.Phone(r.Phone).Received()
				require.Len(t, got, 1, r.Phone)
				bySession[got[0].Session]++
			}
			require.Len(t, bySession, 2, "both sessions sent: %v", bySession)
			list, err := b.svc.Recipients(ctx, c.ID, &campaign.RecipientListParams{Limit: 1000})
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, r := range list.Recipients {
				require.NotEmpty(t, r.MessageID)
				require.False(t, seen[r.MessageID])
				seen[r.MessageID] = true
			}
		})
	}
}
