package webhook

import "time"

// Clock is the time source of a Service: due times, retry delays, request
// timeouts, leases and the disable window all run on it. Tests replace it
// (Config.Test.Clock) with one that runs faster than real time, so that a day
// of retries takes seconds. Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires after d of this clock's time.
	NewTimer(d time.Duration) *time.Timer
	// AfterFunc calls f in its own goroutine after d of this clock's time.
	AfterFunc(d time.Duration, f func()) *time.Timer
}

type realClock struct{}

func (realClock) Now() time.Time                                  { return time.Now() }
func (realClock) NewTimer(d time.Duration) *time.Timer            { return time.NewTimer(d) }
func (realClock) AfterFunc(d time.Duration, f func()) *time.Timer { return time.AfterFunc(d, f) }

// ScaledClock returns a Clock that runs scale times faster than real time,
// starting at the current real time: with scale 1000 a simulated minute takes
// 60 ms. It is meant for tests and demos of retry schedules (Config.Test.Clock).
func ScaledClock(scale float64) Clock {
	if scale <= 0 {
		scale = 1
	}
	return &scaledClock{start: time.Now(), scale: scale}
}

type scaledClock struct {
	start time.Time
	scale float64
}

func (c *scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.scale))
}

func (c *scaledClock) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.scale)
}

func (c *scaledClock) NewTimer(d time.Duration) *time.Timer { return time.NewTimer(c.real(d)) }

func (c *scaledClock) AfterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(c.real(d), f)
}
