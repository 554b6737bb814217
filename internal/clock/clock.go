// Package clock is the time source of waqtor's background services: the real
// clock, and scaled clocks that run faster than real time so that tests and
// demos can live through hours of retries, pauses and quiet hours in seconds.
package clock

import "time"

// Clock is a time source. Services read the time and start their timers
// through it, so that tests can replace it (with [Scaled] or [ScaledAt]).
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires after d of this clock's time.
	NewTimer(d time.Duration) *time.Timer
	// AfterFunc calls f in its own goroutine after d of this clock's time.
	AfterFunc(d time.Duration, f func()) *time.Timer
}

// Real is the real clock: the time package's functions. Its zero value is
// ready to use.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns time.NewTimer(d).
func (Real) NewTimer(d time.Duration) *time.Timer { return time.NewTimer(d) }

// AfterFunc returns time.AfterFunc(d, f).
func (Real) AfterFunc(d time.Duration, f func()) *time.Timer { return time.AfterFunc(d, f) }

// Scaled returns a clock that runs scale times faster than real time,
// starting at the current real time: with scale 1000 a simulated minute takes
// 60 ms. A scale of zero or less means 1.
func Scaled(scale float64) Clock {
	now := time.Now()
	return &scaled{origin: now, start: now, scale: normScale(scale)}
}

// ScaledAt returns a clock that runs scale times faster than real time and
// reads start when it is created, in start's location: a test can begin a
// minute before quiet hours in Riyadh with
//
//	clock.ScaledAt(time.Date(2026, 3, 1, 20, 59, 0, 0, riyadh), 600)
//
// A scale of zero or less means 1.
func ScaledAt(start time.Time, scale float64) Clock {
	return &scaled{origin: time.Now(), start: start, scale: normScale(scale)}
}

func normScale(scale float64) float64 {
	if !(scale > 0) { // also NaN
		return 1
	}
	return scale
}

// scaled maps real time elapsed since origin (read on the monotonic clock)
// to simulated time elapsed since start.
type scaled struct {
	origin time.Time
	start  time.Time
	scale  float64
}

func (c *scaled) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.origin)) * c.scale))
}

// real converts a duration of simulated time into real time.
func (c *scaled) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.scale)
}

func (c *scaled) NewTimer(d time.Duration) *time.Timer { return time.NewTimer(c.real(d)) }

func (c *scaled) AfterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(c.real(d), f)
}
