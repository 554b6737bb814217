//go:build unix

package smartbot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// syntheticRules makes nRules rules of perExample examples each, from a
// made-up vocabulary shared between rules (so that rules overlap the way
// real intents do).
func syntheticRules(nRules, perRule int, seed uint64) []Rule {
	rng := rand.New(rand.NewPCG(seed, 1))
	syl := []string{"ka", "lo", "mi", "ra", "tu", "sen", "dor", "pel", "qui", "vas", "zen", "bro", "fa", "ni", "ost"}
	vocab := make([]string, 4000)
	for i := range vocab {
		var b strings.Builder
		for range 2 + rng.IntN(2) {
			b.WriteString(syl[rng.IntN(len(syl))])
		}
		vocab[i] = b.String()
	}
	common := vocab[:60]
	rules := make([]Rule, nRules)
	for r := range rules {
		topic := make([]string, 8)
		for i := range topic {
			topic[i] = vocab[60+rng.IntN(len(vocab)-60)]
		}
		ex := make([]string, perRule)
		for e := range ex {
			n := 4 + rng.IntN(10)
			words := make([]string, n)
			for w := range words {
				if rng.IntN(2) == 0 {
					words[w] = topic[rng.IntN(len(topic))]
				} else {
					words[w] = common[rng.IntN(len(common))]
				}
			}
			ex[e] = strings.Join(words, " ")
		}
		rules[r] = Rule{ID: fmt.Sprintf("r%d", r), Examples: ex, Replies: []string{"ok"}}
	}
	return rules
}

// syntheticQueries draws messages in the style of the rules' examples.
func syntheticQueries(rules []Rule, n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]string, n)
	for i := range out {
		r := rules[rng.IntN(len(rules))]
		a := strings.Fields(r.Examples[rng.IntN(len(r.Examples))])
		b := strings.Fields(r.Examples[rng.IntN(len(r.Examples))])
		out[i] = strings.Join(append(a[:len(a)/2], b[len(b)/2:]...), " ")
	}
	return out
}

// cpuTime is the process's user+system CPU time. On a shared machine it is a
// steadier measure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchmarkSizes() []int { return []int{1_000, 10_000, 50_000} }

// BenchmarkMatch measures Match latency at 1k, 10k and 50k examples (10 per
// rule) and reports the p50 and p99 of single calls.
func BenchmarkMatch(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark skipped in -short mode")
	}
	ctx := context.Background()
	for _, n := range benchmarkSizes() {
		b.Run(fmt.Sprintf("examples=%d", n), func(b *testing.B) {
			rules := syntheticRules(n/10, 10, 1)
			m, err := NewMatcher(ctx, rules, nil)
			if err != nil {
				b.Fatal(err)
			}
			qs := syntheticQueries(rules, 512, 3)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			c0 := cpuTime()
			for i := range b.N {
				t0 := time.Now()
				if _, err := m.Match(ctx, qs[i%len(qs)]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu_ms/op")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99_ms")
		})
	}
}

// BenchmarkBuildIndex measures NewMatcher (fitting the built-in embedder,
// the linear scorer and the calibration, and indexing into chromem-go) and
// the heap it retains.
func BenchmarkBuildIndex(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark skipped in -short mode")
	}
	ctx := context.Background()
	for _, n := range benchmarkSizes() {
		b.Run(fmt.Sprintf("examples=%d", n), func(b *testing.B) {
			rules := syntheticRules(n/10, 10, 1)
			var m *Matcher
			var before, after runtime.MemStats
			c0 := cpuTime()
			for range b.N {
				runtime.GC()
				runtime.ReadMemStats(&before)
				var err error
				if m, err = NewMatcher(ctx, rules, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-c0).Milliseconds())/float64(b.N), "cpu_ms/op")
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap_MB")
			runtime.KeepAlive(m)
		})
	}
}

// BenchmarkNormalize measures the normalizer on a mixed-script message.
func BenchmarkNormalize(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark skipped in -short mode")
	}
	s := "Hello! أُرِيدُ أنْ أحجز طاولة لـ٤ أشخاص tomorrow 😀 please"
	for range b.N {
		Normalize(s)
	}
}
