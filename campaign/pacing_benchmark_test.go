package campaign_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/waqtor/waqtor/campaign"
)

// BenchmarkPacingNextRecord measures one scheduling step of a sender: Next,
// then Record of a send at the time Next gave.
func BenchmarkPacingNextRecord(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	riyadh, err := time.LoadLocation("Asia/Riyadh")
	if err != nil {
		b.Fatal(err)
	}
	for name, p := range map[string]*campaign.Pacing{
		"defaults": {},
		"warm-up":  {DailyCap: 1000, WarmUp: campaign.WarmUp{Days: 14}},
	} {
		b.Run(name, func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, 2))
			now := time.Date(2026, 3, 1, 9, 0, 0, 0, riyadh)
			var st campaign.SenderState
			b.ReportAllocs()
			for b.Loop() {
				now, _ = p.Next(st, now, riyadh)
				st = p.Record(st, now, riyadh, rnd)
			}
		})
	}
}

// BenchmarkRecipientZone measures resolving a recipient's zone from the phone
// number (the zone is cached after its first load).
func BenchmarkRecipientZone(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	b.ReportAllocs()
	for b.Loop() {
		campaign.RecipientZone("+966501234567", nil, time.UTC)
	}
}
