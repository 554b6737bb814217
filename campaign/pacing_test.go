package campaign_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func sec(n float64) campaign.Duration { return campaign.Duration(n * float64(time.Second)) }

// send is one send of a simulated runner.
type send struct {
	at     time.Time     // when it started
	waited string        // why the runner waited before it ("" for no wait, "quiet" for quiet hours)
	gap    time.Duration // since the previous send
}

// simulate drives p as a runner would, in simulated time (no sleeps): before
// each of n sends it asks Next, then Quiet (on quietLoc, when not nil), and
// jumps to the later of the two; then it records the send.
func simulate(t testing.TB, p *campaign.Pacing, st campaign.SenderState, start time.Time, loc, quietLoc *time.Location, n int, seed uint64) ([]send, campaign.SenderState) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	now, prev := start, time.Time{}
	sends := make([]send, 0, n)
	for range n {
		waited := ""
		for range 10 {
			next, why := p.Next(st, now, loc)
			if next.After(now) {
				now, waited = next, why
				continue
			}
			if quietLoc != nil {
				if quiet, until := p.Quiet(now, quietLoc); quiet {
					require.True(t, until.After(now), "quiet hours at %s end at %s", now, until)
					now, waited = until, "quiet"
					continue
				}
			}
			break
		}
		next, _ := p.Next(st, now, loc)
		require.Equal(t, now, next, "the runner settled on a time it may send")
		var gap time.Duration
		if !prev.IsZero() {
			gap = now.Sub(prev)
		}
		sends = append(sends, send{at: now, waited: waited, gap: gap})
		st = p.Record(st, now, loc, rnd)
		prev = now
	}
	return sends, st
}

// perDay counts sends by calendar day in loc.
func perDay(sends []send, loc *time.Location) map[string]int {
	days := map[string]int{}
	for _, s := range sends {
		days[s.at.In(loc).Format(time.DateOnly)]++
	}
	return days
}

func TestPacingWithDefaults(t *testing.T) {
	t.Parallel()

	t.Run("zero and nil", func(t *testing.T) {
		t.Parallel()
		want := &campaign.Pacing{
			BatchPause:     campaign.BatchPauseDefault,
			BatchSize:      campaign.BatchSizeDefault,
			DailyCap:       campaign.DailyCapDefault,
			FailureWindow:  campaign.FailureWindowDefault,
			MaxFailureRate: campaign.MaxFailureRateDefault,
			MaxInterval:    campaign.MaxIntervalDefault,
			MinInterval:    campaign.MinIntervalDefault,
			QuietHours:     campaign.QuietHours{Zone: campaign.QuietZoneCampaign},
			TypingMax:      campaign.TypingMaxDefault,
			TypingMin:      campaign.TypingMinDefault,
		}
		require.Equal(t, want, (&campaign.Pacing{}).WithDefaults())
		require.Equal(t, want, (*campaign.Pacing)(nil).WithDefaults())
		require.NoError(t, want.Validate())
		require.NoError(t, (*campaign.Pacing)(nil).Validate())
		require.Equal(t, 4*time.Second, want.MinInterval.Std())
		require.Equal(t, 9*time.Second, want.MaxInterval.Std())
		require.Equal(t, 5*time.Minute, want.BatchPause.Std())
	})

	t.Run("never mutates", func(t *testing.T) {
		t.Parallel()
		in := &campaign.Pacing{DailyCap: 40, WarmUp: campaign.WarmUp{Days: 7}}
		out := in.WithDefaults()
		require.Equal(t, &campaign.Pacing{DailyCap: 40, WarmUp: campaign.WarmUp{Days: 7}}, in)
		require.Equal(t, 40, out.DailyCap)
		require.Equal(t, campaign.WarmUpStartCapDefault, out.WarmUp.StartCap)
		out.DailyCap = 1
		require.Equal(t, 40, in.DailyCap)
	})

	tests := map[string]struct {
		in               campaign.Pacing
		min, max         campaign.Duration
		typeMin, typeMax campaign.Duration
		startCap         int
	}{
		"min above max default": {in: campaign.Pacing{MinInterval: sec(20)}, min: sec(20), max: sec(20), typeMin: sec(1), typeMax: sec(3)},
		"max below min default": {in: campaign.Pacing{MaxInterval: sec(2)}, min: sec(2), max: sec(2), typeMin: sec(1), typeMax: sec(3)},
		"min within defaults":   {in: campaign.Pacing{MinInterval: sec(6)}, min: sec(6), max: sec(9), typeMin: sec(1), typeMax: sec(3)},
		"typing min only":       {in: campaign.Pacing{TypingMin: sec(5)}, min: sec(4), max: sec(9), typeMin: sec(5), typeMax: sec(5)},
		"typing max only":       {in: campaign.Pacing{TypingMax: sec(0.5)}, min: sec(4), max: sec(9), typeMin: sec(0.5), typeMax: sec(0.5)},
		"small cap, warm-up": {in: campaign.Pacing{DailyCap: 10, WarmUp: campaign.WarmUp{Days: 3}},
			min: sec(4), max: sec(9), typeMin: sec(1), typeMax: sec(3), startCap: 10},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := tt.in.WithDefaults()
			require.Equal(t, tt.min, out.MinInterval)
			require.Equal(t, tt.max, out.MaxInterval)
			require.Equal(t, tt.typeMin, out.TypingMin)
			require.Equal(t, tt.typeMax, out.TypingMax)
			require.Equal(t, tt.startCap, out.WarmUp.StartCap)
			require.NoError(t, tt.in.Validate())
		})
	}
}

func TestPacingJSON(t *testing.T) {
	t.Parallel()
	var p campaign.Pacing
	require.NoError(t, json.Unmarshal([]byte(`{
		"min_interval": "5s", "max_interval": 12000, "daily_cap": 80,
		"warm_up": {"days": 10, "start_cap": 15},
		"quiet_hours": {"start": "21:00", "end": "09:00", "zone": "recipient"},
		"typing": true, "typing_min": "2s", "typing_max": "4s",
		"batch_size": 25, "batch_pause": "10m", "failure_window": 30,
		"max_failure_rate": 0.3, "resume_after_ban": true
	}`), &p))
	require.Equal(t, campaign.Pacing{
		BatchPause: campaign.Duration(10 * time.Minute), BatchSize: 25, DailyCap: 80,
		FailureWindow: 30, MaxFailureRate: 0.3, MaxInterval: sec(12), MinInterval: sec(5),
		QuietHours:     campaign.QuietHours{End: "09:00", Start: "21:00", Zone: "recipient"},
		ResumeAfterBan: true, Typing: true, TypingMax: sec(4), TypingMin: sec(2),
		WarmUp: campaign.WarmUp{Days: 10, StartCap: 15},
	}, p)
	require.NoError(t, p.Validate())

	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.Contains(t, string(b), `"max_interval":"12s"`)
	var back campaign.Pacing
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, p, back)

	require.ErrorContains(t, json.Unmarshal([]byte(`{"min_interval":"-4s"}`), &back), "negative")
}

func TestPacingValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in     campaign.Pacing
		field  string
		reason string
	}{
		"batch pause negative":  {in: campaign.Pacing{BatchPause: -1}, field: "pacing.batch_pause", reason: "within 0–24h0m0s"},
		"batch pause too long":  {in: campaign.Pacing{BatchPause: campaign.Duration(25 * time.Hour)}, field: "pacing.batch_pause"},
		"batch size negative":   {in: campaign.Pacing{BatchSize: -1}, field: "pacing.batch_size", reason: "within 1–10000, not -1"},
		"batch size too large":  {in: campaign.Pacing{BatchSize: campaign.BatchSizeLimit + 1}, field: "pacing.batch_size"},
		"daily cap negative":    {in: campaign.Pacing{DailyCap: -5}, field: "pacing.daily_cap", reason: "not -5"},
		"daily cap absurd":      {in: campaign.Pacing{DailyCap: 1_000_000}, field: "pacing.daily_cap"},
		"failure window zero-":  {in: campaign.Pacing{FailureWindow: -1}, field: "pacing.failure_window"},
		"failure window huge":   {in: campaign.Pacing{FailureWindow: campaign.FailureWindowLimit + 1}, field: "pacing.failure_window"},
		"failure rate negative": {in: campaign.Pacing{MaxFailureRate: -0.1}, field: "pacing.max_failure_rate", reason: "within 0–1"},
		"failure rate above 1":  {in: campaign.Pacing{MaxFailureRate: 1.5}, field: "pacing.max_failure_rate"},
		"failure rate NaN":      {in: campaign.Pacing{MaxFailureRate: math.NaN()}, field: "pacing.max_failure_rate"},
		"max interval huge":     {in: campaign.Pacing{MinInterval: sec(5), MaxInterval: campaign.Duration(48 * time.Hour)}, field: "pacing.max_interval"},
		"min above max":         {in: campaign.Pacing{MinInterval: sec(10), MaxInterval: sec(5)}, field: "pacing.min_interval", reason: "must not exceed pacing.max_interval (10s > 5s)"},
		"min below floor":       {in: campaign.Pacing{MinInterval: sec(0.5), MaxInterval: sec(2)}, field: "pacing.min_interval", reason: "at least 1s"},
		"min below floor alone": {in: campaign.Pacing{MaxInterval: sec(0.2)}, field: "pacing.min_interval"},
		"min negative":          {in: campaign.Pacing{MinInterval: -1, MaxInterval: sec(2)}, field: "pacing.min_interval", reason: "negative"},
		"min negative unpaced":  {in: campaign.Pacing{MinInterval: -1, MaxInterval: sec(2), Unpaced: true}, field: "pacing.min_interval"},
		"typing max too long":   {in: campaign.Pacing{TypingMax: campaign.Duration(2 * time.Minute)}, field: "pacing.typing_max"},
		"typing min negative":   {in: campaign.Pacing{TypingMin: -1, TypingMax: sec(2)}, field: "pacing.typing_min"},
		"typing min above max":  {in: campaign.Pacing{TypingMin: sec(3), TypingMax: sec(2)}, field: "pacing.typing_min", reason: "pacing.typing_max"},
		"warm-up days negative": {in: campaign.Pacing{WarmUp: campaign.WarmUp{Days: -1}}, field: "pacing.warm_up.days"},
		"warm-up days absurd":   {in: campaign.Pacing{WarmUp: campaign.WarmUp{Days: 1000}}, field: "pacing.warm_up.days"},
		"start cap negative":    {in: campaign.Pacing{WarmUp: campaign.WarmUp{Days: 3, StartCap: -1}}, field: "pacing.warm_up.start_cap"},
		"start cap above cap":   {in: campaign.Pacing{DailyCap: 50, WarmUp: campaign.WarmUp{Days: 3, StartCap: 60}}, field: "pacing.warm_up.start_cap", reason: "pacing.daily_cap (60 > 50)"},
		"quiet start bad":       {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "9pm", End: "09:00"}}, field: "pacing.quiet_hours.start", reason: `"9pm"`},
		"quiet start 24:00":     {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "24:00", End: "09:00"}}, field: "pacing.quiet_hours.start"},
		"quiet start 21:60":     {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:60", End: "09:00"}}, field: "pacing.quiet_hours.start"},
		"quiet start 1 digit":   {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "9:00", End: "17:00"}}, field: "pacing.quiet_hours.start"},
		"quiet start missing":   {in: campaign.Pacing{QuietHours: campaign.QuietHours{End: "09:00"}}, field: "pacing.quiet_hours.start"},
		"quiet end missing":     {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:00"}}, field: "pacing.quiet_hours.end"},
		"quiet end seconds":     {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00:00"}}, field: "pacing.quiet_hours.end"},
		"quiet empty span":      {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:00", End: "21:00"}}, field: "pacing.quiet_hours.end", reason: "differ"},
		"quiet zone unknown":    {in: campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00", Zone: "Asia/Riyadh"}}, field: "pacing.quiet_hours.zone"},
		"zone without hours":    {in: campaign.Pacing{QuietHours: campaign.QuietHours{Zone: "local"}}, field: "pacing.quiet_hours.zone"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before, _ := json.Marshal(tt.in)
			err := tt.in.Validate()
			require.ErrorIs(t, err, campaign.ErrInvalidPacing)
			var fe *waqtor.FieldError
			require.True(t, errors.As(err, &fe), "%T", err)
			require.Equal(t, tt.field, fe.Field)
			require.Contains(t, fe.Reason, tt.reason)
			require.Contains(t, err.Error(), tt.field)
			after, _ := json.Marshal(tt.in)
			require.Equal(t, string(before), string(after), "Validate changes nothing")
		})
	}

	valid := map[string]campaign.Pacing{
		"unpaced fast":      {Unpaced: true, MinInterval: 1, MaxInterval: 1},
		"floor":             {MinInterval: campaign.MinIntervalFloor, MaxInterval: campaign.MinIntervalFloor},
		"limits":            {MaxInterval: campaign.MaxIntervalLimit, BatchPause: campaign.BatchPauseLimit, BatchSize: campaign.BatchSizeLimit, DailyCap: campaign.DailyCapLimit, FailureWindow: campaign.FailureWindowLimit, TypingMax: campaign.TypingLimit, WarmUp: campaign.WarmUp{Days: campaign.WarmUpDaysLimit}},
		"rate 1":            {MaxFailureRate: 1},
		"start cap = cap":   {DailyCap: 30, WarmUp: campaign.WarmUp{Days: 5, StartCap: 30}},
		"quiet wraps":       {QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00", Zone: campaign.QuietZoneRecipient}},
		"quiet midday":      {QuietHours: campaign.QuietHours{Start: "13:00", End: "14:30"}},
		"quiet edges":       {QuietHours: campaign.QuietHours{Start: "00:00", End: "23:59"}},
		"zone campaign set": {QuietHours: campaign.QuietHours{Zone: campaign.QuietZoneCampaign}},
	}
	for name, p := range valid {
		t.Run("valid "+name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, p.Validate())
		})
	}
}

func TestPacingGaps(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		p := &campaign.Pacing{DailyCap: 2000}
		e := p.WithDefaults()
		start := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
		sends, st := simulate(t, p, campaign.SenderState{}, start, time.UTC, nil, 1000, seed)
		require.Len(t, sends, 1000)
		require.Equal(t, 1000, st.SentToday, "all on one day")

		lo, hi := e.MinInterval.Std(), e.MaxInterval.Std()
		mid := lo + (hi-lo)/2
		var n, below, above int
		var sum, sumSq float64
		for i, s := range sends[1:] {
			// sends[i] is the (i+1)th send; the gap after every 50th is the pause.
			if (i+1)%e.BatchSize == 0 {
				require.Equal(t, e.BatchPause.Std(), s.gap, "send %d", i+2)
				require.Equal(t, campaign.WaitBatchPause, s.waited)
				continue
			}
			require.Equal(t, campaign.WaitInterval, s.waited)
			require.GreaterOrEqual(t, s.gap, lo, "send %d", i+2)
			require.LessOrEqual(t, s.gap, hi, "send %d", i+2)
			if s.gap < mid {
				below++
			} else {
				above++
			}
			g := s.gap.Seconds()
			n++
			sum += g
			sumSq += g * g
		}
		require.Equal(t, 999-999/e.BatchSize, n)
		mean := sum / float64(n)
		std := math.Sqrt(sumSq/float64(n) - mean*mean)
		rng := (hi - lo).Seconds()
		require.Greater(t, std, 0.2*rng, "gaps are spread (uniform: ≈0.29 of the range)")
		require.InDelta(t, (lo+hi).Seconds()/2, mean, 0.05*rng)
		require.Greater(t, below, n/3, "the lower half of the range is used")
		require.Greater(t, above, n/3, "the upper half of the range is used")
	}
}

func TestPacingNextReasons(t *testing.T) {
	t.Parallel()
	p := &campaign.Pacing{BatchSize: 2, DailyCap: 3}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rnd := rand.New(rand.NewPCG(7, 7))

	st := campaign.SenderState{}
	at, why := p.Next(st, now, time.UTC)
	require.Equal(t, now, at)
	require.Empty(t, why)

	st = p.Record(st, now, time.UTC, rnd)
	require.Equal(t, campaign.SenderState{Day: "2026-03-01", FirstDay: "2026-03-01", InBatch: 1, NextAt: st.NextAt, SentToday: 1}, st)
	at, why = p.Next(st, now, time.UTC)
	require.Equal(t, st.NextAt, at)
	require.Equal(t, campaign.WaitInterval, why)

	now = at
	st = p.Record(st, now, time.UTC, rnd)
	require.Equal(t, 0, st.InBatch)
	at, why = p.Next(st, now, time.UTC)
	require.Equal(t, now.Add(5*time.Minute), at)
	require.Equal(t, campaign.WaitBatchPause, why)

	now = at
	st = p.Record(st, now, time.UTC, rnd)
	at, why = p.Next(st, now, time.UTC)
	require.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), at)
	require.Equal(t, campaign.WaitDailyCap, why)

	// A pause that runs past midnight is waited for too.
	late := campaign.SenderState{Day: "2026-03-01", SentToday: 3, NextAt: time.Date(2026, 3, 2, 0, 3, 0, 0, time.UTC)}
	at, why = p.Next(late, time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC), time.UTC)
	require.Equal(t, late.NextAt, at)
	require.Equal(t, campaign.WaitDailyCap, why)

	// A nil location is UTC.
	at, _ = p.Next(st, now, nil)
	require.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), at)

	// The clock went back a day: the count of the later day still holds.
	capped := campaign.SenderState{Day: "2026-03-01", FirstDay: "2026-03-01", SentToday: 3}
	at, why = p.Next(capped, time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), time.UTC)
	require.Equal(t, campaign.WaitDailyCap, why)
	require.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), at)
}

func TestPacingBatchAfterRest(t *testing.T) {
	t.Parallel()
	p := &campaign.Pacing{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := campaign.SenderState{Day: "2026-03-01", FirstDay: "2026-03-01", InBatch: 30, SentToday: 30, NextAt: now}

	// Sending at NextAt, or a little later, goes on with the batch.
	require.Equal(t, 31, p.Record(st, now.Add(time.Minute), time.UTC, nil).InBatch)
	// Idle for a whole batch pause beyond NextAt: a new batch.
	require.Equal(t, 1, p.Record(st, now.Add(5*time.Minute), time.UTC, nil).InBatch)
}

func TestPacingDailyCapRiyadh(t *testing.T) {
	t.Parallel()
	riyadh := mustZone(t, "Asia/Riyadh") // UTC+3, no daylight saving
	p := &campaign.Pacing{DailyCap: 30, BatchSize: 10, BatchPause: campaign.Duration(time.Minute)}
	start := time.Date(2026, 3, 1, 23, 57, 0, 0, riyadh)
	sends, _ := simulate(t, p, campaign.SenderState{}, start, riyadh, nil, 100, 1)

	days := perDay(sends, riyadh)
	// Three minutes before midnight fit a few sends; then 30 a day.
	require.Less(t, days["2026-03-01"], 30)
	require.Equal(t, 30, days["2026-03-02"])
	require.Equal(t, 30, days["2026-03-03"])
	var capWaits int
	for _, s := range sends {
		if s.waited == campaign.WaitDailyCap {
			capWaits++
			local := s.at.In(riyadh)
			require.Equal(t, 0, local.Hour()*60+local.Minute()+local.Second(), "resumes at Riyadh midnight, not %s", local)
			require.Equal(t, 21, s.at.UTC().Hour(), "which is 21:00 UTC")
		}
	}
	require.Equal(t, len(days)-2, capWaits, "every day but the first and the last reached the cap: %v", days)
}

func TestPacingDailyCapDST(t *testing.T) {
	t.Parallel()
	london := mustZone(t, "Europe/London")
	p := &campaign.Pacing{DailyCap: 20}
	for name, start := range map[string]time.Time{
		// Clocks go forward on 29 March 2026 (a 23-hour day) and back on
		// 25 October 2026 (a 25-hour day).
		"spring": time.Date(2026, 3, 27, 22, 0, 0, 0, london),
		"autumn": time.Date(2026, 10, 23, 22, 0, 0, 0, london),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sends, _ := simulate(t, p, campaign.SenderState{}, start, london, nil, 130, 2)
			days := perDay(sends, london)
			require.GreaterOrEqual(t, len(days), 6)
			for day, n := range days {
				require.LessOrEqual(t, n, 20, day)
			}
			var resumes []string
			for _, s := range sends {
				if s.waited == campaign.WaitDailyCap {
					local := s.at.In(london)
					require.Equal(t, "00:00:00", local.Format(time.TimeOnly), "resumes at London midnight")
					resumes = append(resumes, local.Format("2006-01-02 15:04 MST"))
				}
			}
			if name == "spring" {
				require.Contains(t, resumes, "2026-03-29 00:00 GMT")
				require.Contains(t, resumes, "2026-03-30 00:00 BST")
			} else {
				require.Contains(t, resumes, "2026-10-25 00:00 BST")
				require.Contains(t, resumes, "2026-10-26 00:00 GMT")
			}
		})
	}
}

func TestPacingQuiet(t *testing.T) {
	t.Parallel()
	riyadh := mustZone(t, "Asia/Riyadh")
	at := func(day, h, m int) time.Time { return time.Date(2026, 3, day, h, m, 0, 0, riyadh) }
	wrap := &campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00"}}
	midday := &campaign.Pacing{QuietHours: campaign.QuietHours{Start: "13:00", End: "14:30"}}
	tests := map[string]struct {
		p     *campaign.Pacing
		t     time.Time
		quiet bool
		until time.Time
	}{
		"before start":     {p: wrap, t: at(1, 20, 59)},
		"at start":         {p: wrap, t: at(1, 21, 0), quiet: true, until: at(2, 9, 0)},
		"before midnight":  {p: wrap, t: at(1, 23, 59), quiet: true, until: at(2, 9, 0)},
		"at midnight":      {p: wrap, t: at(2, 0, 0), quiet: true, until: at(2, 9, 0)},
		"early morning":    {p: wrap, t: at(2, 8, 59), quiet: true, until: at(2, 9, 0)},
		"at end":           {p: wrap, t: at(2, 9, 0)},
		"day":              {p: wrap, t: at(2, 12, 0)},
		"midday before":    {p: midday, t: at(1, 12, 59)},
		"midday in":        {p: midday, t: at(1, 13, 30), quiet: true, until: at(1, 14, 30)},
		"midday end":       {p: midday, t: at(1, 14, 30)},
		"midday night":     {p: midday, t: at(1, 23, 0)},
		"none":             {p: &campaign.Pacing{}, t: at(1, 23, 0)},
		"unpaced":          {p: &campaign.Pacing{Unpaced: true, QuietHours: wrap.QuietHours}, t: at(1, 23, 0)},
		"other zone, UTC":  {p: wrap, t: at(1, 23, 30).In(time.UTC), quiet: true, until: at(2, 9, 0)},
		"seconds to spare": {p: wrap, t: at(2, 8, 59).Add(59 * time.Second), quiet: true, until: at(2, 9, 0)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			quiet, until := tt.p.Quiet(tt.t, riyadh)
			require.Equal(t, tt.quiet, quiet)
			require.True(t, tt.until.Equal(until), "until %s, want %s", until, tt.until)
		})
	}

	// A nil location is UTC: 23:30 in Riyadh is 20:30 there.
	quiet, _ := wrap.Quiet(at(1, 23, 30), nil)
	require.False(t, quiet)
}

// TestPacingQuietYear checks a year in London, every 7 minutes in the weeks
// of both daylight-saving changes and every 53 minutes otherwise, that Quiet
// follows the wall clock and that quiet hours end in the future at a time
// that is not quiet.
func TestPacingQuietYear(t *testing.T) {
	t.Parallel()
	london := mustZone(t, "Europe/London")
	dst := func(t time.Time) bool {
		return t.Month() == time.March && t.Day() >= 26 || t.Month() == time.October && t.Day() >= 22 && t.Day() <= 28
	}
	for _, q := range []campaign.QuietHours{
		{Start: "21:00", End: "09:00"},
		{Start: "00:30", End: "01:30"}, // within the repeated hour of October
		{Start: "22:00", End: "01:30"},
		{Start: "01:15", End: "02:30"}, // 02:30 does not exist on the day in March
	} {
		p := &campaign.Pacing{QuietHours: q}
		sh, sm := atoi2(q.Start)
		eh, em := atoi2(q.End)
		start, end := sh*60+sm, eh*60+em
		for now := time.Date(2026, 1, 1, 0, 3, 0, 0, london); now.Year() == 2026; {
			local := now.In(london)
			m := local.Hour()*60 + local.Minute()
			want := m >= start && m < end
			if start > end {
				want = m >= start || m < end
			}
			quiet, until := p.Quiet(now, london)
			if quiet != want {
				t.Fatalf("%v at %s: quiet %v, want %v", q, local, quiet, want)
			}
			if quiet {
				if !until.After(now) || until.Sub(now) > 13*time.Hour {
					t.Fatalf("%v at %s ends at %s", q, local, until.In(london))
				}
				if again, _ := p.Quiet(until, london); again {
					t.Fatalf("%v at %s ends at %s, still quiet", q, local, until.In(london))
				}
			}
			if dst(local) {
				now = now.Add(7 * time.Minute)
			} else {
				now = now.Add(53 * time.Minute)
			}
		}
	}
}

func atoi2(hm string) (int, int) {
	return int(hm[0]-'0')*10 + int(hm[1]-'0'), int(hm[3]-'0')*10 + int(hm[4]-'0')
}

func TestPacingQuietSimulated(t *testing.T) {
	t.Parallel()
	riyadh := mustZone(t, "Asia/Riyadh")
	london := mustZone(t, "Europe/London")
	p := &campaign.Pacing{QuietHours: campaign.QuietHours{Start: "21:00", End: "09:00"}}
	start := time.Date(2026, 3, 1, 20, 59, 0, 0, riyadh)

	t.Run("campaign zone", func(t *testing.T) {
		t.Parallel()
		sends, _ := simulate(t, p, campaign.SenderState{}, start, riyadh, riyadh, 40, 3)
		var resumed bool
		for _, s := range sends {
			local := s.at.In(riyadh)
			require.True(t, local.Hour() >= 9 && local.Hour() < 21, "sent at %s", local)
			if s.waited == "quiet" {
				require.Equal(t, time.Date(2026, 3, 2, 9, 0, 0, 0, riyadh), s.at)
				resumed = true
			}
		}
		require.True(t, resumed)
		require.Equal(t, 40, len(sends))
	})

	t.Run("recipient zone", func(t *testing.T) {
		t.Parallel()
		pr := *p
		pr.QuietHours.Zone = campaign.QuietZoneRecipient
		// 21:00 in Riyadh is 18:00 in London: a London recipient is not
		// asleep yet, a Saudi one is.
		uk := pr.QuietLocation("+44 7700 900123", nil, riyadh)
		require.Equal(t, london, uk)
		sa := pr.QuietLocation("+966501234567", nil, riyadh)
		require.Equal(t, "Asia/Riyadh", sa.String())

		sends, _ := simulate(t, &pr, campaign.SenderState{}, start, riyadh, uk, 40, 4)
		require.Empty(t, waits(sends, "quiet"), "London is awake")
		require.Less(t, sends[39].at.Sub(start), time.Hour)

		sends, _ = simulate(t, &pr, campaign.SenderState{}, start, riyadh, sa, 40, 4)
		require.Len(t, waits(sends, "quiet"), 1)

		// The campaign's zone is used unless the zone is the recipient's.
		require.Equal(t, riyadh, p.QuietLocation("+44 7700 900123", nil, riyadh))
		require.Equal(t, time.UTC, p.QuietLocation("+44 7700 900123", nil, nil))
	})
}

func waits(sends []send, why string) []send {
	var out []send
	for _, s := range sends {
		if s.waited == why {
			out = append(out, s)
		}
	}
	return out
}

func TestPacingWarmUp(t *testing.T) {
	t.Parallel()
	p := &campaign.Pacing{DailyCap: 200, WarmUp: campaign.WarmUp{Days: 14, StartCap: 20}}
	first := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	st := campaign.SenderState{FirstDay: "2026-03-01"}
	want := []int{20, 32, 45, 58, 71, 84, 97, 110, 122, 135, 148, 161, 174, 187, 200, 200, 200}
	for i, cap := range want {
		day := first.AddDate(0, 0, i).Format(time.DateOnly)
		require.Equal(t, cap, p.CapOn(st, day), "day %d (%s)", i, day)
	}

	require.Equal(t, 20, p.CapOn(campaign.SenderState{}, "2026-05-01"), "a sender that has not sent is on its first day")
	require.Equal(t, 20, p.CapOn(st, "2026-02-27"), "a day before the first")
	require.Equal(t, 20, p.CapOn(st, "yesterday"), "an unreadable day gets the lowest cap")
	require.Equal(t, 20, p.CapOn(campaign.SenderState{FirstDay: "2026-02-30"}, "2026-03-20"), "an unreadable first day")
	require.Equal(t, 200, (&campaign.Pacing{DailyCap: 200}).CapOn(campaign.SenderState{}, "2026-03-01"), "no warm-up")
	require.Equal(t, campaign.WarmUpStartCapDefault, (&campaign.Pacing{WarmUp: campaign.WarmUp{Days: 7}}).CapOn(st, "2026-03-01"))
	require.Equal(t, math.MaxInt, (&campaign.Pacing{Unpaced: true}).CapOn(st, "2026-03-01"))

	t.Run("simulated", func(t *testing.T) {
		t.Parallel()
		p := &campaign.Pacing{DailyCap: 40, BatchSize: 100, WarmUp: campaign.WarmUp{Days: 4, StartCap: 10}}
		sends, st := simulate(t, p, campaign.SenderState{}, first.Add(8*time.Hour), time.UTC, nil, 10+17+25+32+40+40, 5)
		require.Equal(t, "2026-03-01", st.FirstDay)
		days := perDay(sends, time.UTC)
		require.Equal(t, map[string]int{"2026-03-01": 10, "2026-03-02": 17, "2026-03-03": 25, "2026-03-04": 32, "2026-03-05": 40, "2026-03-06": 40}, days)
	})
}

func TestPacingRestart(t *testing.T) {
	t.Parallel()
	riyadh := mustZone(t, "Asia/Riyadh")
	p := &campaign.Pacing{DailyCap: 30}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, riyadh)

	sends, st := simulate(t, p, campaign.SenderState{}, start, riyadh, nil, 12, 6)
	require.Equal(t, 12, st.SentToday)

	// The runner stops, stores the state, and a new process reads it back.
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var back campaign.SenderState
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, st.Day, back.Day)
	require.Equal(t, st.SentToday, back.SentToday)
	require.Equal(t, st.InBatch, back.InBatch)
	require.True(t, st.NextAt.Equal(back.NextAt))
	next1, why1 := p.Next(st, sends[11].at, riyadh)
	next2, why2 := p.Next(back, sends[11].at, riyadh)
	require.True(t, next1.Equal(next2))
	require.Equal(t, why1, why2)

	// It goes on the same day: 18 more, then the cap holds until midnight.
	rest, st := simulate(t, p, back, sends[11].at, riyadh, nil, 30, 7)
	days := perDay(append(sends, rest...), riyadh)
	require.Equal(t, 30, days["2026-03-01"])
	require.Equal(t, 12, days["2026-03-02"])
	require.Equal(t, "2026-03-02", st.Day)

	// A state that never sent marshals without a next time.
	b, err = json.Marshal(campaign.SenderState{})
	require.NoError(t, err)
	require.JSONEq(t, `{"day":"","first_day":"","in_batch":0,"sent_today":0}`, string(b))
}

func TestPacingUnpaced(t *testing.T) {
	t.Parallel()
	p := &campaign.Pacing{Unpaced: true, Typing: true, DailyCap: 5, BatchSize: 2,
		QuietHours: campaign.QuietHours{Start: "00:00", End: "23:59"}}
	require.NoError(t, p.Validate())
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sends, st := simulate(t, p, campaign.SenderState{}, now, time.UTC, time.UTC, 1000, 8)
	for _, s := range sends {
		require.Equal(t, now, s.at, "every send at once")
	}
	require.Equal(t, 1000, st.SentToday, "sends are still counted")
	require.Zero(t, p.TypingFor(nil))
}

func TestPacingTypingFor(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(9, 9))
	require.Zero(t, (&campaign.Pacing{}).TypingFor(rnd), "typing is off by default")
	p := &campaign.Pacing{Typing: true}
	var short, long int
	for range 1000 {
		d := p.TypingFor(rnd)
		require.GreaterOrEqual(t, d, time.Second)
		require.LessOrEqual(t, d, 3*time.Second)
		if d < 2*time.Second {
			short++
		} else {
			long++
		}
	}
	require.Greater(t, short, 300)
	require.Greater(t, long, 300)
	d := p.TypingFor(nil)
	require.True(t, d >= time.Second && d <= 3*time.Second, "the global source: %s", d)
	require.Equal(t, 2*time.Second, (&campaign.Pacing{Typing: true, TypingMin: sec(2), TypingMax: sec(2)}).TypingFor(nil))
}

func TestRecipientZone(t *testing.T) {
	t.Parallel()
	cairo := mustZone(t, "Africa/Cairo")
	tests := map[string]struct {
		phone    string
		vars     map[string]string
		fallback *time.Location
		want     string
	}{
		"saudi":               {phone: "+966501234567", want: "Asia/Riyadh"},
		"saudi 00":            {phone: "00966 50 123 4567", want: "Asia/Riyadh"},
		"saudi bare":          {phone: "966501234567", want: "Asia/Riyadh"},
		"saudi JID":           {phone: "966501234567@s.whatsapp.net", want: "Asia/Riyadh"},
		"saudi device JID":    {phone: "966501234567:3@s.whatsapp.net", want: "Asia/Riyadh"},
		"emirates":            {phone: "+971501234567", want: "Asia/Dubai"},
		"egypt":               {phone: "+201001234567", want: "Africa/Cairo"},
		"morocco":             {phone: "+212612345678", want: "Africa/Casablanca"},
		"uk":                  {phone: "+447700900123", want: "Europe/London"},
		"germany":             {phone: "+4915112345678", want: "Europe/Berlin"},
		"india":               {phone: "+919812345678", want: "Asia/Kolkata"},
		"pakistan":            {phone: "+923001234567", want: "Asia/Karachi"},
		"turkey":              {phone: "+905321234567", want: "Europe/Istanbul"},
		"qatar":               {phone: "+97433123456", want: "Asia/Qatar"},
		"us falls back":       {phone: "+12025550123", fallback: cairo, want: "Africa/Cairo"},
		"russia falls back":   {phone: "+79161234567", fallback: cairo, want: "Africa/Cairo"},
		"garbage falls back":  {phone: "call me", fallback: cairo, want: "Africa/Cairo"},
		"group falls back":    {phone: "12036302@g.us", fallback: cairo, want: "Africa/Cairo"},
		"nil fallback is UTC": {phone: "", want: "UTC"},
		"tz variable":         {phone: "+966501234567", vars: map[string]string{"tz": "Europe/Paris"}, want: "Europe/Paris"},
		"timezone variable":   {phone: "+12025550123", vars: map[string]string{"timezone": "America/Chicago"}, want: "America/Chicago"},
		"TZ key":              {phone: "+12025550123", vars: map[string]string{"TZ": " America/Denver "}, want: "America/Denver"},
		"tz before timezone":  {vars: map[string]string{"tz": "Asia/Tokyo", "timezone": "Asia/Seoul"}, want: "Asia/Tokyo"},
		"bad tz, phone":       {phone: "+966501234567", vars: map[string]string{"tz": "Mars/Olympus"}, want: "Asia/Riyadh"},
		"Local refused":       {phone: "+966501234567", vars: map[string]string{"tz": "Local"}, want: "Asia/Riyadh"},
		"path refused":        {phone: "+966501234567", vars: map[string]string{"tz": "../../etc/passwd"}, want: "Asia/Riyadh"},
		"empty tz":            {phone: "+201001234567", vars: map[string]string{"tz": ""}, want: "Africa/Cairo"},
		"UTC by name":         {phone: "+201001234567", vars: map[string]string{"tz": "UTC"}, want: "UTC"},
		"other variables":     {phone: "+201001234567", vars: map[string]string{"name": "Omar"}, want: "Africa/Cairo"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc := campaign.RecipientZone(tt.phone, tt.vars, tt.fallback)
			require.NotNil(t, loc)
			require.Equal(t, tt.want, loc.String())
		})
	}
}

func TestFailureWindow(t *testing.T) {
	t.Parallel()
	p := &campaign.Pacing{}
	w := campaign.NewFailureWindow(20)
	require.Equal(t, 20, w.Size())
	require.Zero(t, w.Rate())
	require.False(t, w.Exceeded(p))

	// Ten failures in a row: half the window, not more.
	for range 10 {
		w.Add(true)
	}
	require.Equal(t, 1.0, w.Rate())
	require.False(t, w.Exceeded(p), "10 of 20 is not above 0.5")
	w.Add(true)
	require.True(t, w.Exceeded(p), "the 11th failure is")
	require.True(t, w.Exceeded(&campaign.Pacing{MaxFailureRate: 0.3}))
	require.False(t, w.Exceeded(&campaign.Pacing{MaxFailureRate: 1}))

	// Successes push the failures out of the window.
	for range 20 {
		w.Add(false)
	}
	require.Equal(t, 20, w.Len())
	require.Zero(t, w.Failures())
	require.False(t, w.Exceeded(p))

	for i := range 30 {
		w.Add(i%3 == 0)
	}
	require.Equal(t, 20, w.Len())
	require.Equal(t, 6, w.Failures(), "of the last 20 (i = 10…29), i%3 == 0 for 12, 15 … 27")
	require.InDelta(t, 0.3, w.Rate(), 1e-9)

	w.Reset()
	require.Zero(t, w.Len())
	require.Zero(t, w.Failures())
	require.Equal(t, 20, w.Size())

	var zero campaign.FailureWindow
	require.Equal(t, campaign.FailureWindowDefault, zero.Size())
	zero.Add(true)
	require.Equal(t, 1, zero.Failures())
	require.Equal(t, campaign.FailureWindowDefault, campaign.NewFailureWindow(0).Size())
}

func TestFailureWindowJSON(t *testing.T) {
	t.Parallel()
	w := campaign.NewFailureWindow(4)
	for _, failed := range []bool{true, false, false, true, true, false} {
		w.Add(failed)
	}
	b, err := json.Marshal(w)
	require.NoError(t, err)
	require.JSONEq(t, `{"size":4,"recent":"sffs"}`, string(b), "the last four, oldest first")

	var back campaign.FailureWindow
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, w.Failures(), back.Failures())
	require.Equal(t, w.Len(), back.Len())
	require.Equal(t, 4, back.Size())
	// Both forget the same outcome next.
	w.Add(false)
	back.Add(false)
	b1, _ := json.Marshal(w)
	b2, _ := json.Marshal(&back)
	require.Equal(t, string(b1), string(b2))

	// A value in a struct marshals too.
	b, err = json.Marshal(struct{ W campaign.FailureWindow }{W: back})
	require.NoError(t, err)
	require.Contains(t, string(b), `"recent":"ffss"`)

	for name, in := range map[string]string{
		"size zero":     `{"size":0,"recent":""}`,
		"size missing":  `{"recent":"s"}`,
		"size huge":     `{"size":100000,"recent":""}`,
		"too many":      `{"size":2,"recent":"sss"}`,
		"bad outcome":   `{"size":3,"recent":"sx"}`,
		"not an object": `"sss"`,
		"wrong types":   `{"size":"3","recent":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := campaign.NewFailureWindow(3)
			w.Add(true)
			err := json.Unmarshal([]byte(in), w)
			require.ErrorContains(t, err, "failure window")
			require.Equal(t, 1, w.Failures(), "a bad value changes nothing")
			require.Equal(t, 3, w.Size())
		})
	}

	kept := campaign.NewFailureWindow(3)
	kept.Add(true)
	require.NoError(t, json.Unmarshal([]byte(`null`), kept))
	require.Equal(t, 1, kept.Failures())
}

func FuzzFailureWindowUnmarshal(f *testing.F) {
	for _, s := range []string{`{"size":4,"recent":"sffs"}`, `{"size":1,"recent":""}`, `{"size":2,"recent":"sss"}`, `null`, `{}`, `{"size":1000,"recent":"f"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var w campaign.FailureWindow
		if err := json.Unmarshal([]byte(in), &w); err != nil {
			require.Zero(t, w.Len())
			return
		}
		require.LessOrEqual(t, w.Len(), w.Size())
		require.LessOrEqual(t, w.Failures(), w.Len())
		require.GreaterOrEqual(t, w.Failures(), 0)
		b, err := json.Marshal(&w)
		require.NoError(t, err)
		var back campaign.FailureWindow
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, w.Failures(), back.Failures())
		require.Equal(t, w.Len(), back.Len())
		require.Equal(t, w.Size(), back.Size())
	})
}

func FuzzPacingQuietHours(f *testing.F) {
	f.Add("21:00", "09:00", int64(0))
	f.Add("13:00", "14:30", int64(1772390000))
	f.Add("9pm", "09:00", int64(-1))
	f.Add("24:00", "00:00", int64(1e12))
	f.Fuzz(func(t *testing.T, start, end string, unix int64) {
		p := &campaign.Pacing{QuietHours: campaign.QuietHours{Start: start, End: end}}
		now := time.Unix(unix%(1<<40), 0)
		quiet, until := p.Quiet(now, time.UTC)
		if err := p.Validate(); err != nil {
			require.ErrorIs(t, err, campaign.ErrInvalidPacing)
			require.False(t, quiet, "invalid quiet hours are never quiet")
			return
		}
		if quiet {
			require.True(t, until.After(now))
			require.LessOrEqual(t, until.Sub(now), 24*time.Hour)
			again, _ := p.Quiet(until, time.UTC)
			require.False(t, again)
		}
	})
}

// TestRecipientZoneCodes checks every calling code RecipientZone documents.
func TestRecipientZoneCodes(t *testing.T) {
	t.Parallel()
	codes := map[string]string{
		"966": "Asia/Riyadh", "971": "Asia/Dubai", "965": "Asia/Kuwait", "974": "Asia/Qatar",
		"973": "Asia/Bahrain", "968": "Asia/Muscat", "962": "Asia/Amman", "961": "Asia/Beirut",
		"963": "Asia/Damascus", "964": "Asia/Baghdad", "967": "Asia/Aden", "98": "Asia/Tehran",
		"90": "Europe/Istanbul", "20": "Africa/Cairo", "212": "Africa/Casablanca",
		"213": "Africa/Algiers", "216": "Africa/Tunis", "218": "Africa/Tripoli",
		"249": "Africa/Khartoum", "234": "Africa/Lagos", "254": "Africa/Nairobi",
		"27": "Africa/Johannesburg", "44": "Europe/London", "353": "Europe/Dublin",
		"33": "Europe/Paris", "49": "Europe/Berlin", "39": "Europe/Rome", "31": "Europe/Amsterdam",
		"32": "Europe/Brussels", "41": "Europe/Zurich", "43": "Europe/Vienna",
		"45": "Europe/Copenhagen", "46": "Europe/Stockholm", "47": "Europe/Oslo",
		"48": "Europe/Warsaw", "30": "Europe/Athens", "92": "Asia/Karachi", "91": "Asia/Kolkata",
		"880": "Asia/Dhaka", "86": "Asia/Shanghai", "81": "Asia/Tokyo", "82": "Asia/Seoul",
		"60": "Asia/Kuala_Lumpur", "63": "Asia/Manila", "65": "Asia/Singapore", "66": "Asia/Bangkok",
	}
	for code, want := range codes {
		loc := campaign.RecipientZone("+"+code+"12345678", nil, nil)
		require.Equal(t, want, loc.String(), "+%s", code)
	}
	// Multi-zone countries fall back.
	for _, code := range []string{"1", "7", "52", "55", "61", "62", "34", "351"} {
		require.Equal(t, "UTC", campaign.RecipientZone("+"+code+"12345678", nil, nil).String(), "+%s", code)
	}
}
