package waqtor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
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

// BenchmarkSendTextSandbox measures send-text end to end through the simulated
// network: validation, the pending row, the engine send, the sent row and its
// event.
func BenchmarkSendTextSandbox(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, kind := range dbtest.AllKinds() {
		b.Run(string(kind), func(b *testing.B) {
			ctx := context.Background()
			network := sandbox.NewNetwork(&sandbox.Config{DeliverLatency: -1, ConnectLatency: -1})
			defer network.Close(ctx)
			core := startCore(b, dbtest.DSN(b, kind), nil, func(c *waqtor.Config) {
				c.Engine = network.Factory()
				c.Logger = discardLogger()
			})
			if _, err := core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"}); err != nil {
				b.Fatal(err)
			}
			if err := network.WaitForState(ctx, "main", waqtor.StateQR); err != nil {
				b.Fatal(err)
			}
			if err := network.Pair(ctx, "main", "+15550001111"); err != nil {
				b.Fatal(err)
			}
			waitState(b, core, "main", waqtor.StateReady)
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := core.SendText(ctx, "main", peer, fmt.Sprintf("bench %d", i), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := core.SendText(ctx, "main", peer, "parallel", nil); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			})
		})
	}
}

// BenchmarkEventLog measures appending events to the log (each in its own
// transaction, as the Core does) and reading them back through a cursor.
func BenchmarkEventLog(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, kind := range dbtest.AllKinds() {
		b.Run(string(kind), func(b *testing.B) {
			ctx := context.Background()
			bundle := setupB(b, kind, func(c *waqtor.Config) { c.Logger = discardLogger() })
			h := bundle.engine.Conn("main").Handler()
			b.Run("append", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					err := h.HandleMessage(ctx, &waqtor.InboundMessage{ID: fmt.Sprintf("B%d-%d", b.N, i),
						Chat: waqtor.Address{JID: peerJID}, Sender: waqtor.Address{JID: peerJID}, Content: &waqtor.Text{Body: "hi"}})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run("cursor", func(b *testing.B) {
				last, err := bundle.core.LastSeq(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				read := 0
				for i := 0; b.Loop(); i++ {
					cur, err := bundle.core.Cursor(ctx, fmt.Sprintf("bench-%d-%d", b.N, i), nil)
					if err != nil {
						b.Fatal(err)
					}
					for cur.Position() < last {
						evs, err := cur.Next(ctx, 500)
						if err != nil {
							b.Fatal(err)
						}
						read += len(evs)
					}
					_ = cur.Delete(ctx)
				}
				b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
}
