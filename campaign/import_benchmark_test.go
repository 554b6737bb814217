package campaign_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// csvUpload generates a CSV upload of rows recipients as it is read, never
// holding it in memory: phone, an Arabic name and a city.
type csvUpload struct {
	rows, next int64
	buf        []byte
}

func (u *csvUpload) Read(p []byte) (int, error) {
	for len(u.buf) < len(p) && u.next <= u.rows {
		if u.next == 0 {
			u.buf = append(u.buf, "phone,الاسم,city\r\n"...)
		} else {
			u.buf = append(u.buf, "+1555"...)
			u.buf = append(u.buf, fmt.Sprintf("%07d", u.next)...)
			u.buf = append(u.buf, ",محمد "...)
			u.buf = strconv.AppendInt(u.buf, u.next, 10)
			u.buf = append(u.buf, ",\"Riyadh, KSA\"\r\n"...)
		}
		u.next++
	}
	if len(u.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

// vmRSS returns the process's resident set size in bytes (Linux).
func vmRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// BenchmarkAddRecipients streams a generated CSV into a campaign on SQLite:
// recipients accepted per second (the goal: 100,000 in under 2 s), and the
// growth of the process's RSS and Go heap while importing (the goal: flat,
// under +50 MB for 1,000,000 recipients).
func BenchmarkAddRecipients(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	for _, rows := range []int64{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			tb := setup(b, dbtest.SQLite, &setupOpts{campaign: func(c *campaign.Config) { c.MaxRecipients = 10_000_000 }})
			var elapsed time.Duration
			var added int64
			runtime.GC()
			rss0 := vmRSS(b)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap0, peakHeap := ms.HeapInuse, ms.HeapInuse
			peakRSS := rss0
			for b.Loop() {
				c, _, err := tb.svc.Create(ctx, &campaign.CreateParams{Name: "import", Sessions: []string{"main"},
					Content: campaign.Content{Text: "مرحبا {{الاسم}} من {{city}}"}})
				require.NoError(b, err)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for {
						select {
						case <-done:
							return
						case <-time.After(50 * time.Millisecond):
						}
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						peakHeap = max(peakHeap, ms.HeapInuse)
						peakRSS = max(peakRSS, vmRSS(b))
					}
				}()
				start := time.Now()
				res, err := tb.svc.AddRecipients(ctx, c.ID, campaign.ReadRecipients(&csvUpload{rows: rows}, campaign.FormatCSV,
					&campaign.SourceOpts{MaxRecipients: rows}))
				elapsed += time.Since(start)
				done <- struct{}{}
				<-done
				require.NoError(b, err)
				require.Equal(b, rows, res.Added)
				require.Empty(b, res.MissingVariables)
				added += res.Added
			}
			b.ReportMetric(float64(added)/elapsed.Seconds(), "recipients/s")
			b.ReportMetric(float64(peakRSS-rss0)/(1<<20), "RSS-growth-MB")
			b.ReportMetric(float64(peakHeap-heap0)/(1<<20), "heap-growth-MB")
		})
	}
}
