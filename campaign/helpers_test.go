package campaign_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m,
		// database/sql's connection opener outlives a closed *sql.DB briefly.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

type testBundle struct {
	core    *waqtor.Core
	dsn     string
	network *sandbox.Network
	svc     *campaign.Service
}

type setupOpts struct {
	sandbox  *sandbox.Config
	core     func(*waqtor.Config)
	campaign func(*campaign.Config)
	sessions []string
}

// setup builds a started Core on the sandbox with ready sessions ("main" by
// default) of tenant "default", and a started campaign Service.
func setup(t testing.TB, kind dbtest.Kind, o *setupOpts) *testBundle {
	t.Helper()
	if o == nil {
		o = &setupOpts{}
	}
	if o.sandbox == nil {
		o.sandbox = &sandbox.Config{}
	}
	o.sandbox.AutoPair = true
	if len(o.sessions) == 0 {
		o.sessions = []string{"main"}
	}
	b := &testBundle{dsn: dbtest.DSN(t, kind)}
	b.network = sandbox.NewTestNetwork(t, o.sandbox)
	ctx := context.Background()
	ccfg := &waqtor.Config{Database: b.dsn, Engine: b.network.Factory(), Logger: slogtest.New(t)}
	if o.core != nil {
		o.core(ccfg)
	}
	core, err := waqtor.NewCore(ctx, ccfg)
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	b.core = core
	cfg := &campaign.Config{Logger: slogtest.New(t), PollInterval: 20 * time.Millisecond, ProgressInterval: 50 * time.Millisecond}
	if o.campaign != nil {
		o.campaign(cfg)
	}
	b.svc, err = campaign.New(ctx, core, cfg)
	require.NoError(t, err)
	require.NoError(t, b.svc.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, b.svc.Stop(ctx))
		require.NoError(t, core.Stop(ctx))
	})
	for _, id := range o.sessions {
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: id})
		require.NoError(t, err)
		require.NoError(t, b.network.WaitForState(ctx, id, waqtor.StateReady))
		waitFor(t, func() bool {
			s, err := core.Session(ctx, id)
			return err == nil && s.State == waqtor.StateReady
		})
	}
	return b
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitState waits until a campaign reaches a state and returns it.
func (b *testBundle) waitState(t testing.TB, id string, want campaign.State) *campaign.Campaign {
	t.Helper()
	var c *campaign.Campaign
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		c, err = b.svc.Get(context.Background(), id)
		require.NoError(t, err)
		if c.State == want {
			return c
		}
		if time.Now().After(deadline) {
			for _, st := range []campaign.RecipientState{campaign.RecipientSending, campaign.RecipientPending} {
				l, _ := b.svc.Recipients(context.Background(), id, &campaign.RecipientListParams{State: st, Limit: 5})
				for _, r := range l.Recipients {
					t.Logf("%s recipient %+v", st, *r)
				}
			}
			t.Fatalf("campaign %s is %s (%s), not %s; counts %+v", id, c.State, c.StateReason, want, c.Counts)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// unpaced sends as fast as the engine takes them: for tests, never for
// real accounts.
var unpaced = &campaign.Pacing{Unpaced: true}

// phones returns n distinct phone numbers.
func phones(n int) []campaign.RecipientInput {
	out := make([]campaign.RecipientInput, n)
	for i := range out {
		out[i] = campaign.RecipientInput{Phone: "+1555" + pad7(i)}
	}
	return out
}

func pad7(i int) string {
	s := "0000000" + itoa(i)
	return s[len(s)-7:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
