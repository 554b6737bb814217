package clock

import "time"

// TEMPORARY until the clock package lands.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) *time.Timer
	AfterFunc(d time.Duration, f func()) *time.Timer
}

type realClock struct{}

func (realClock) Now() time.Time                                  { return time.Now() }
func (realClock) NewTimer(d time.Duration) *time.Timer            { return time.NewTimer(d) }
func (realClock) AfterFunc(d time.Duration, f func()) *time.Timer { return time.AfterFunc(d, f) }

var Real Clock = realClock{}
