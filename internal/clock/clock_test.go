package clock_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/clock"
)

func TestReal(t *testing.T) {
	t.Parallel()
	var c clock.Clock = clock.Real{}
	before := time.Now()
	now := c.Now()
	require.False(t, now.Before(before))

	timer := c.NewTimer(time.Millisecond)
	<-timer.C
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
}

func TestScaled(t *testing.T) {
	t.Parallel()
	const scale = 10000
	c := clock.Scaled(scale)
	start := c.Now()
	require.WithinDuration(t, time.Now(), start, time.Second)

	// A simulated minute is 6 ms of real time: the timer fires, and the
	// clock has moved on by at least that minute.
	timer := c.NewTimer(time.Minute)
	<-timer.C
	require.GreaterOrEqual(t, c.Now().Sub(start), time.Minute)

	done := make(chan time.Time, 1)
	c.AfterFunc(time.Minute, func() { done <- c.Now() })
	require.GreaterOrEqual(t, (<-done).Sub(start), 2*time.Minute)
}

func TestScaledAt(t *testing.T) {
	t.Parallel()
	riyadh, err := time.LoadLocation("Asia/Riyadh")
	require.NoError(t, err)
	start := time.Date(2026, 3, 1, 20, 59, 0, 0, riyadh)
	// A simulated minute takes 100 ms, an hour 6 s: a slow machine cannot
	// skip past 21:00 before the test looks.
	c := clock.ScaledAt(start, 600)

	now := c.Now()
	require.Equal(t, riyadh, now.Location())
	require.False(t, now.Before(start))
	require.Less(t, now.Sub(start), time.Hour, "a fresh clock reads its start")

	<-c.NewTimer(time.Minute).C
	now = c.Now()
	require.GreaterOrEqual(t, now.Sub(start), time.Minute)
	require.Equal(t, 21, now.Hour(), "the wall clock is Riyadh's")
}

func TestScaledBadScale(t *testing.T) {
	t.Parallel()
	for _, scale := range []float64{0, -5, math.NaN()} {
		c := clock.Scaled(scale)
		require.WithinDuration(t, time.Now(), c.Now(), time.Second, "scale %v runs at real speed", scale)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		require.WithinDuration(t, start, clock.ScaledAt(start, scale).Now(), time.Second)
	}
}
