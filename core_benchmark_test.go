package waqtor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/waqtor/waqtor/internal/dbtest"
)

func BenchmarkSendTextFakeEngine(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, kind := range dbtest.AllKinds() {
		b.Run(string(kind), func(b *testing.B) {
			bundle := setupB(b, kind)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := bundle.core.SendText(ctx, "main", peer, fmt.Sprintf("bench %d", i), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
	}
}
