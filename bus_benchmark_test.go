package waqtor

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBusPublish compares publishing through the typed bus (EventBus under
// it, with each subscriber on its own goroutine) with calling a plain slice of
// typed funcs, for 1 and 10 subscribers.
func BenchmarkBusPublish(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	e := sent("bench")
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("bus/subscribers=%d", n), func(b *testing.B) {
			c := &Core{bus: newBus(discard()), cfg: &Config{SubscriptionBuffer: SubscriptionBufferDefault}, lifeCtx: context.Background()}
			for range n {
				On(c, func(context.Context, *MessageSent) error { return nil })
			}
			b.ReportAllocs()
			for b.Loop() {
				c.bus.publish(e)
			}
			b.StopTimer()
			c.bus.closeAll()
			c.handlers.close(context.Background(), ErrStopped)
			b.ReportMetric(float64(c.bus.dropped.Load())/float64(b.N*n), "dropped/delivery")
		})
		b.Run(fmt.Sprintf("funcslice/subscribers=%d", n), func(b *testing.B) {
			var fns []func(context.Context, *MessageSent) error
			for range n {
				fns = append(fns, func(context.Context, *MessageSent) error { return nil })
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for _, fn := range fns {
					_ = fn(ctx, e)
				}
			}
		})
	}
}
