package auththrottle_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/auththrottle"
)

// fail records one failed attempt, which must not be refused yet.
func fail(t *testing.T, th *auththrottle.Throttle, ip, key string) {
	t.Helper()
	a, reason := th.Begin(context.Background(), ip, key)
	require.Equal(t, auththrottle.None, reason, "refused too early")
	a.Failed()
}

func refused(th *auththrottle.Throttle, ip, key string) auththrottle.Reason {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a, reason := th.Begin(ctx, ip, key)
	a.Succeeded()
	return reason
}

func TestPerAddress(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(3, -1, time.Minute)
	for range 3 {
		fail(t, th, "192.0.2.1", "wqt_nonsense")
	}
	require.Equal(t, auththrottle.Address, refused(th, "192.0.2.1", auth.NewKeySecret()), "the 4th attempt, with a valid-looking key")
	require.Equal(t, auththrottle.None, refused(th, "192.0.2.2", ""), "another address")
	// IPv6 clients are counted per /64.
	for range 3 {
		fail(t, th, "2001:db8::1", "")
	}
	require.Equal(t, auththrottle.Address, refused(th, "2001:db8::ffff", ""), "same /64")
}

func TestPerKeyID(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(-1, 2, time.Minute)
	key := auth.NewKeySecret()
	fail(t, th, "192.0.2.1", key)
	fail(t, th, "192.0.2.2", key) // from anywhere
	require.Equal(t, auththrottle.Key, refused(th, "192.0.2.3", key), "the key ID past its limit")
	require.Equal(t, auththrottle.None, refused(th, "192.0.2.3", auth.NewKeySecret()), "another key")
	for range 5 { // malformed keys have no ID to count
		fail(t, th, "192.0.2.4", "wqt_nonsense")
	}
}

// TestAtomic: parallel bad attempts from one address get exactly the limit
// checked (with a read-then-count throttle, 400 parallel attempts got 145).
func TestAtomic(t *testing.T) {
	t.Parallel()
	const limit, attempts = 30, 400
	th := auththrottle.New(limit, limit, time.Hour)
	key := auth.NewKeySecret()
	for name, ip := range map[string]func(i int) string{
		"one address": func(int) string { return "192.0.2.1" },
		"one key ID":  func(i int) string { return "198.51.100." + string(rune('0'+i%10)) },
	} {
		t.Run(name, func(t *testing.T) {
			var checked atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range attempts {
				wg.Go(func() {
					<-start
					a, reason := th.Begin(context.Background(), ip(i), key)
					if reason != auththrottle.None {
						return
					}
					checked.Add(1)
					time.Sleep(time.Millisecond) // verifying the key
					a.Failed()
				})
			}
			close(start)
			wg.Wait()
			require.EqualValues(t, limit, checked.Load())
		})
		key = auth.NewKeySecret()
	}
}

// TestSuccessIsNotCounted: a burst of valid requests above the limit from one
// address is not refused: each waits for a slot an attempt gives back.
func TestSuccessIsNotCounted(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(3, -1, time.Hour)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 50 {
		wg.Go(func() {
			a, reason := th.Begin(context.Background(), "192.0.2.1", "")
			if reason == auththrottle.None {
				ok.Add(1)
				time.Sleep(time.Millisecond)
				a.Succeeded()
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 50, ok.Load())
	fail(t, th, "192.0.2.1", "")
	fail(t, th, "192.0.2.1", "")
	fail(t, th, "192.0.2.1", "")
	require.Equal(t, auththrottle.Address, refused(th, "192.0.2.1", ""))
}

// TestWaitEndsWithContext: an attempt waiting for a pending slot gives up
// when its context ends.
func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(1, -1, time.Hour)
	a, reason := th.Begin(context.Background(), "192.0.2.1", "")
	require.Equal(t, auththrottle.None, reason)
	require.Equal(t, auththrottle.Address, refused(th, "192.0.2.1", ""), "the only slot is pending")
	a.Succeeded()
	a.Failed() // ends once: not counted
	require.Equal(t, auththrottle.None, refused(th, "192.0.2.1", ""))
}

func TestOff(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(0, -1, time.Minute)
	require.Nil(t, th, "both limits off: nil")
	for range 100 {
		fail(t, th, "192.0.2.1", auth.NewKeySecret())
	}
	require.Zero(t, th.Window())
}

// TestSuccessesLeaveNothing: attempts that succeed, and checks that find
// nothing, keep no state, whatever the number of addresses and keys.
func TestSuccessesLeaveNothing(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(3, 3, time.Hour)
	for i := range 1000 {
		a, reason := th.Begin(context.Background(), fmt.Sprintf("10.0.%d.%d", i>>8, i&0xff), auth.NewKeySecret())
		require.Equal(t, auththrottle.None, reason)
		a.Succeeded()
	}
	require.Zero(t, auththrottle.Entries(th))
	fail(t, th, "192.0.2.1", "")
	require.Equal(t, 1, auththrottle.Entries(th))
}

// TestWindowBoundary: failures are counted over the last window exactly,
// whatever the wall clock: a burst just before a minute boundary still fills
// the limit just after it (an estimate from fixed windows weighed the
// previous minute's count down and let one more through), and each failure
// is forgotten a full window after it happened.
func TestWindowBoundary(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 59, 900_000_000, time.UTC) // 0.1 s before a minute boundary
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(tm time.Time) { mu.Lock(); defer mu.Unlock(); now = tm }
	th := auththrottle.New(3, -1, time.Minute)
	auththrottle.SetNow(th, clock)
	start := clock()
	for range 3 {
		fail(t, th, "192.0.2.1", "")
	}
	set(start.Add(200 * time.Millisecond)) // across the boundary
	require.Equal(t, auththrottle.Address, refused(th, "192.0.2.1", ""))
	set(start.Add(time.Minute - time.Millisecond))
	require.Equal(t, auththrottle.Address, refused(th, "192.0.2.1", ""), "within a window of the failures")
	set(start.Add(time.Minute))
	require.Equal(t, auththrottle.None, refused(th, "192.0.2.1", ""), "a window after them")
	require.Zero(t, auththrottle.Entries(th), "nothing left to remember")
}
