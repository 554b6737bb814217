package campaign

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkReadRecipients reads uploads generated on the fly (never held in
// memory), one whole upload per op, and reports recipients/s, bytes and
// allocations per recipient, the peak HeapInuse sampled every 10,000
// recipients, and the live heap (after a GC) halfway through: flat memory
// means neither grows with the number of rows (compare csv/rows=100000 with
// csv/rows=1000000).
func BenchmarkReadRecipients(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, tc := range []struct {
		format Format
		rows   int64
	}{
		{FormatCSV, 100_000},
		{FormatCSV, 1_000_000},
		{FormatNDJSON, 200_000},
		{FormatJSON, 200_000},
	} {
		b.Run(fmt.Sprintf("%s/rows=%d", tc.format, tc.rows), func(b *testing.B) {
			benchmarkRead(b, tc.format, tc.rows)
		})
	}
}

func benchmarkRead(b *testing.B, f Format, rows int64) {
	b.ReportAllocs()
	opts := &SourceOpts{MaxRecipients: MaxRecipientsLimit}
	var before, after, sample runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak, live := before.HeapInuse, uint64(0)
	var elapsed time.Duration
	var read int64
	for b.Loop() {
		start := time.Now()
		for _, err := range ReadRecipients(&rowReader{format: f, rows: rows}, f, opts) {
			if err != nil {
				b.Fatal(err)
			}
			read++
			switch {
			case read%rows == rows/2:
				// The heap that reading holds on to, halfway through.
				runtime.GC()
				runtime.ReadMemStats(&sample)
				live = max(live, sample.HeapAlloc)
			case read%10_000 == 0:
				runtime.ReadMemStats(&sample)
				peak = max(peak, sample.HeapInuse)
			}
		}
		elapsed += time.Since(start)
	}
	runtime.ReadMemStats(&after)
	if read%rows != 0 {
		b.Fatalf("read %d recipients, want a multiple of %d", read, rows)
	}
	b.ReportMetric(float64(read)/elapsed.Seconds(), "recipients/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(read), "B/recipient")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(read), "allocs/recipient")
	b.ReportMetric(float64(peak), "peak-HeapInuse-B")
	b.ReportMetric(float64(live), "mid-live-heap-B")
	b.ReportMetric(float64(before.HeapInuse), "start-HeapInuse-B")
}
