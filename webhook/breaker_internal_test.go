package webhook

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// The breaker's state machine on an explicit clock (docs/reliability.md T9): each
// call gets the time, so a 5 minute window or a 30 s timeout takes no time.

type breakerBundle struct {
	b   *breaker
	cfg *BreakerConfig
	m   *metrics
	now time.Time
	n   int
}

func setupBreaker(t *testing.T, mutate ...func(*BreakerConfig)) *breakerBundle {
	t.Helper()
	cfg := (&Config{}).WithDefaults()
	for _, f := range mutate {
		f(&cfg.Breaker)
	}
	require.NoError(t, cfg.validate())
	m := newMetrics()
	return &breakerBundle{b: newBreaker(&cfg.Breaker, "ep_1", m), cfg: &cfg.Breaker, m: m,
		now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

// attempt starts a delivery and records its outcome; it reports whether the
// breaker let it through and whether the endpoint must be disabled.
func (bb *breakerBundle) attempt(success bool) (started, disable bool) {
	bb.n++
	id := fmt.Sprintf("dlv_%d", bb.n)
	if !bb.b.start(bb.now, id) {
		return false, false
	}
	return true, bb.b.observe(bb.now, id, bb.now, success)
}

func (bb *breakerBundle) run(t *testing.T, ok, failed int) {
	t.Helper()
	for i := range ok + failed {
		started, disable := bb.attempt(i >= failed)
		require.True(t, started)
		require.False(t, disable)
	}
}

func (bb *breakerBundle) clock() time.Time { return bb.now }

func busy(n int) func() int { return func() int { return n } }

func (bb *breakerBundle) state() BreakerState { return bb.b.status(bb.now).State }

// waitOut moves the clock to the end of the open timeout.
func (bb *breakerBundle) waitOut(t *testing.T) {
	t.Helper()
	st := bb.b.status(bb.now)
	require.Equal(t, BreakerOpen, st.State)
	bb.now = st.OpenUntil
}

// openFully trips a fresh breaker and waits out its timeout.
func (bb *breakerBundle) tripAndWait(t *testing.T) {
	t.Helper()
	bb.run(t, 0, bb.cfg.MinRequests)
	require.Equal(t, BreakerOpen, bb.state())
	bb.now = bb.now.Add(bb.cfg.OpenTimeout)
	require.Equal(t, BreakerHalfOpen, bb.state())
}

func TestBreakerOpensAtThreshold(t *testing.T) {
	t.Parallel()
	t.Run("70 % of 10 opens", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.run(t, 3, 6)
		require.Equal(t, BreakerClosed, bb.state())
		started, _ := bb.attempt(false) // 7 failures of 10
		require.True(t, started)
		require.Equal(t, BreakerOpen, bb.state())
		st := bb.b.status(bb.now)
		require.Equal(t, 1, st.Opens)
		require.Equal(t, bb.now.Add(BreakerOpenTimeoutDefault), st.OpenUntil)
		require.Equal(t, 2.0, metricValue(t, bb.m.brState))
		require.Equal(t, 1.0, metricValue(t, bb.m.brOpens))
	})
	t.Run("60 % of 10 stays closed", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.run(t, 4, 6)
		require.Equal(t, BreakerClosed, bb.state())
		st := bb.b.status(bb.now)
		require.Equal(t, 10, st.WindowRequests)
		require.Equal(t, 6, st.WindowFailures)
	})
	t.Run("not below the minimum of requests", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.run(t, 0, 9) // 100 % failures, but only 9
		require.Equal(t, BreakerClosed, bb.state())
		started, _ := bb.attempt(false)
		require.True(t, started)
		require.Equal(t, BreakerOpen, bb.state(), "the 10th failure opens it")
	})
	t.Run("failures older than the window do not count", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.run(t, 0, 9)
		bb.now = bb.now.Add(BreakerWindowDefault + time.Second)
		bb.run(t, 0, 9)
		require.Equal(t, BreakerClosed, bb.state())
		require.Equal(t, 9, bb.b.status(bb.now).WindowRequests)
		// Outcomes that arrive late, of attempts started before the window.
		require.False(t, bb.b.observe(bb.now, "old", bb.now.Add(-2*BreakerWindowDefault), false))
		require.Equal(t, 9, bb.b.status(bb.now).WindowRequests)
		started, _ := bb.attempt(false)
		require.True(t, started)
		require.Equal(t, BreakerOpen, bb.state())
	})
}

func TestBreakerOpenHoldsBackThenProbes(t *testing.T) {
	t.Parallel()
	bb := setupBreaker(t)
	bb.run(t, 0, 10)
	require.Equal(t, BreakerOpen, bb.state())

	// Open: nothing starts, and the worker is told when to ask again.
	for range 5 {
		started, _ := bb.attempt(true)
		require.False(t, started)
	}
	limit, until := bb.b.admit(bb.clock, busy(0))
	require.Equal(t, 0, limit)
	require.Equal(t, bb.now.Add(BreakerOpenTimeoutDefault), until)
	bb.now = bb.now.Add(BreakerOpenTimeoutDefault - time.Millisecond)
	started, _ := bb.attempt(true)
	require.False(t, started, "still open 1 ms before the timeout")
	require.EqualValues(t, 6, bb.b.status(bb.now).HeldBack)
	require.Equal(t, 6.0, metricValue(t, bb.m.brHeld))

	// Half-open: one probe at a time.
	bb.now = bb.now.Add(time.Millisecond)
	limit, _ = bb.b.admit(bb.clock, busy(0))
	require.Equal(t, 1, limit)
	limit, _ = bb.b.admit(bb.clock, busy(1))
	require.Equal(t, 0, limit, "a claimed delivery is already waiting to be the probe")
	require.Equal(t, BreakerHalfOpen, bb.state())
	require.Equal(t, 1.0, metricValue(t, bb.m.brState))
	require.True(t, bb.b.start(bb.now, "probe1"))
	require.False(t, bb.b.start(bb.now, "other"), "a second delivery waits for the probe")
	limit, until = bb.b.admit(bb.clock, busy(0))
	require.Equal(t, 0, limit)
	require.True(t, until.IsZero(), "the probe's outcome wakes the worker")

	// An aborted probe (the Service stopping) frees the slot.
	bb.b.release("probe1")
	require.True(t, bb.b.start(bb.now, "probe2"))
	require.False(t, bb.b.observe(bb.now, "probe2", bb.now, true))
	require.Equal(t, BreakerHalfOpen, bb.state(), "one success of three")
	// A late outcome of an attempt started before the breaker opened is ignored.
	require.False(t, bb.b.observe(bb.now, "straggler", bb.now, false))
	require.Equal(t, BreakerHalfOpen, bb.state())
}

func TestBreakerClosesOnSuccessfulProbes(t *testing.T) {
	t.Parallel()
	bb := setupBreaker(t)
	bb.tripAndWait(t)
	for i := range BreakerProbeSuccessesDefault {
		require.Equal(t, BreakerHalfOpen, bb.state(), "probe %d", i)
		started, _ := bb.attempt(true)
		require.True(t, started)
	}
	require.Equal(t, BreakerClosed, bb.state())
	require.Equal(t, 0.0, metricValue(t, bb.m.brState))
	st := bb.b.status(bb.now)
	require.Equal(t, 0, st.WindowRequests, "the window starts afresh")
	require.Equal(t, 1, st.Opens)
	limit, _ := bb.b.admit(bb.clock, busy(100))
	require.Equal(t, -1, limit)
	// Closed again: it takes a full window's worth of failures to re-open.
	bb.run(t, 0, 9)
	require.Equal(t, BreakerClosed, bb.state())
}

func TestBreakerReopensAndDisables(t *testing.T) {
	t.Parallel()
	t.Run("ten re-opens in a row disable", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.tripAndWait(t)
		for i := 1; i <= BreakerMaxReopensDefault; i++ {
			started, disable := bb.attempt(false) // the probe fails
			require.True(t, started)
			require.Equal(t, BreakerOpen, bb.state())
			require.Equal(t, i, bb.b.status(bb.now).Reopens)
			require.Equal(t, i == BreakerMaxReopensDefault, disable, "re-open %d", i)
			// Re-opened: held back for a full timeout again.
			started, _ = bb.attempt(true)
			require.False(t, started)
			bb.waitOut(t)
		}
		require.Equal(t, 1+BreakerMaxReopensDefault, bb.b.status(bb.now).Opens)
	})
	t.Run("the open timeout doubles up to an hour, then closing resets it", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.tripAndWait(t)
		var waits []time.Duration
		total := BreakerOpenTimeoutDefault
		for range BreakerMaxReopensDefault {
			_, disable := bb.attempt(false)
			st := bb.b.status(bb.now)
			waits = append(waits, st.OpenUntil.Sub(st.OpenedAt))
			if !disable {
				total += st.OpenUntil.Sub(st.OpenedAt)
			}
			bb.waitOut(t)
		}
		m := time.Minute
		require.Equal(t, []time.Duration{m, 2 * m, 4 * m, 8 * m, 16 * m, 32 * m, 60 * m, 60 * m, 60 * m, 60 * m}, waits)
		require.Equal(t, 4*time.Hour+3*m+30*time.Second, total, "failed probes for about four hours disable")

		bb = setupBreaker(t)
		bb.tripAndWait(t)
		bb.attempt(false)
		bb.waitOut(t)
		bb.run(t, BreakerProbeSuccessesDefault, 0)
		bb.run(t, 0, BreakerMinRequestsDefault)
		st := bb.b.status(bb.now)
		require.Equal(t, BreakerOpenTimeoutDefault, st.OpenUntil.Sub(st.OpenedAt), "after a close it starts at 30 s again")
	})
	t.Run("a close in between resets the count", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.tripAndWait(t)
		for range BreakerMaxReopensDefault - 1 {
			_, disable := bb.attempt(false)
			require.False(t, disable)
			bb.waitOut(t)
		}
		require.Equal(t, BreakerMaxReopensDefault-1, bb.b.status(bb.now).Reopens)
		bb.run(t, BreakerProbeSuccessesDefault, 0)
		require.Equal(t, BreakerClosed, bb.state())
		require.Equal(t, 0, bb.b.status(bb.now).Reopens)
		bb.tripAndWait(t)
		_, disable := bb.attempt(false)
		require.False(t, disable, "one re-open since the last close")
		require.Equal(t, 1, bb.b.status(bb.now).Reopens)
	})
	t.Run("a successful probe resets the count", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.tripAndWait(t)
		// Three failed probes, one good one, forever: never disabled.
		for i := range 100 {
			started, disable := bb.attempt(i%4 == 3)
			require.True(t, started)
			require.False(t, disable, "probe %d", i)
			require.LessOrEqual(t, bb.b.status(bb.now).Reopens, 3)
			if bb.state() == BreakerOpen {
				bb.waitOut(t)
			}
		}
		require.Equal(t, BreakerHalfOpen, bb.state(), "never three good probes in a row: never closed")
	})
	t.Run("a failed probe after a success re-opens", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t)
		bb.tripAndWait(t)
		bb.run(t, 2, 0)
		_, disable := bb.attempt(false)
		require.False(t, disable)
		require.Equal(t, BreakerOpen, bb.state())
		require.Equal(t, 1, bb.b.status(bb.now).Reopens)
		bb.waitOut(t)
		bb.run(t, 2, 0)
		require.Equal(t, BreakerHalfOpen, bb.state(), "the successes before the re-open do not count towards closing")
	})
	t.Run("negative MaxReopens never disables", func(t *testing.T) {
		t.Parallel()
		bb := setupBreaker(t, func(c *BreakerConfig) { c.MaxReopens = -1 })
		bb.tripAndWait(t)
		for range 50 {
			_, disable := bb.attempt(false)
			require.False(t, disable)
			bb.waitOut(t)
		}
	})
}

func TestBreakerOffAndConfig(t *testing.T) {
	t.Parallel()
	cfg := (&Config{Breaker: BreakerConfig{Disabled: true}}).WithDefaults()
	bs := newBreakerSet(cfg, newMetrics())
	require.Nil(t, bs.get("ep_1"))
	var b *breaker
	require.True(t, b.start(time.Now(), "x"))
	require.True(t, b.closed())
	require.False(t, b.observe(time.Now(), "x", time.Now(), false))
	require.Nil(t, bs.status("ep_1", time.Now()))

	def := (&Config{}).WithDefaults().Breaker
	require.Equal(t, BreakerConfig{FailureRatio: 0.7, MaxOpenTimeout: time.Hour, MaxReopens: 10, MinRequests: 10,
		OpenTimeout: 30 * time.Second, ProbeSuccesses: 3, Window: 5 * time.Minute}, def)
	long := (&Config{Breaker: BreakerConfig{OpenTimeout: 2 * time.Hour}}).WithDefaults()
	require.Equal(t, 2*time.Hour, long.Breaker.MaxOpenTimeout)
	require.NoError(t, long.validate())

	for name, bc := range map[string]BreakerConfig{
		"FailureRatio":       {FailureRatio: 1.5},
		"FailureRatio tiny":  {FailureRatio: 0.001},
		"MinRequests":        {MinRequests: -1},
		"ProbeSuccesses":     {ProbeSuccesses: -2},
		"OpenTimeout":        {OpenTimeout: -time.Second},
		"Window":             {Window: -time.Minute},
		"Window too precise": {Window: 3},
		"MaxOpenTimeout":     {OpenTimeout: time.Minute, MaxOpenTimeout: time.Second},
	} {
		err := (&Config{Breaker: bc}).WithDefaults().validate()
		require.ErrorIs(t, err, ErrConfig, name)
		require.ErrorContains(t, err, "Breaker."+name[:len(name)-len(trimWord(name))], name)
	}
}

// trimWord returns the words after the first of name (" tiny", ...).
func trimWord(name string) string {
	for i, r := range name {
		if r == ' ' {
			return name[i:]
		}
	}
	return ""
}

// metricValue reads the value of a gauge or counter vector's only series.
func metricValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	require.Len(t, mfs[0].GetMetric(), 1)
	m := mfs[0].GetMetric()[0]
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}
