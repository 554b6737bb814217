package webhook

import "github.com/waqtor/waqtor/internal/clock"

// Clock is the time source of a Service: due times, retry delays, request
// timeouts, leases and the disable window all run on it. Tests replace it
// (Config.Test.Clock) with one that runs faster than real time, so that a day
// of retries takes seconds. Implementations must be safe for concurrent use.
type Clock = clock.Clock

// ScaledClock returns a Clock that runs scale times faster than real time,
// starting at the current real time: with scale 1000 a simulated minute takes
// 60 ms. It is meant for tests and demos of retry schedules (Config.Test.Clock).
func ScaledClock(scale float64) Clock { return clock.Scaled(scale) }
