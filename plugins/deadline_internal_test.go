package plugins

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lateTimerCtx is a context whose deadline has passed but whose timer has not
// run yet, as on a loaded machine: Err is still nil.
type lateTimerCtx struct {
	context.Context
	deadline time.Time
}

func (c lateTimerCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c lateTimerCtx) Err() error                  { return nil }

// TestPastDeadline: a call whose stream the plugin reset at the deadline is
// a timeout even before the context's timer has fired (a hanging plugin was
// once taken for one that answered with an error, and never killed).
func TestPastDeadline(t *testing.T) {
	t.Parallel()
	now := time.Now()
	require.True(t, pastDeadline(lateTimerCtx{context.Background(), now.Add(-time.Millisecond)}, now), "deadline passed, timer late")
	require.True(t, pastDeadline(lateTimerCtx{context.Background(), now}, now), "at the deadline")
	require.False(t, pastDeadline(lateTimerCtx{context.Background(), now.Add(time.Second)}, now), "before the deadline")
	require.False(t, pastDeadline(context.Background(), now), "no deadline")

	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	require.True(t, pastDeadline(expired, now.Add(-time.Hour)), "Err says so, whatever the clock")

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	require.False(t, pastDeadline(canceled, now), "cancelled is not expired")
}
