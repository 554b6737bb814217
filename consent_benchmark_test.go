package waqtor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// BenchmarkOptedOut measures the per-recipient check campaigns make, on a
// registry of 10,000 records.
func BenchmarkOptedOut(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, kind := range dbtest.AllKinds() {
		b.Run(string(kind), func(b *testing.B) {
			bundle := setupB(b, kind, func(c *waqtor.Config) { c.Logger = discardLogger() })
			ctx := context.Background()
			for i := range 10000 {
				status := waqtor.ConsentOptedIn
				if i%3 == 0 {
					status = waqtor.ConsentOptedOut
				}
				if _, err := bundle.core.SetConsent(ctx, &waqtor.ConsentChange{Contact: fmt.Sprintf("+2010%07d", i),
					Scope: waqtor.ConsentMarketing, Status: status}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := bundle.core.OptedOut(ctx, fmt.Sprintf("+2010%07d", i%20000), waqtor.ConsentMarketing); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}
