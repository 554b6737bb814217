package eval

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrontier(t *testing.T) {
	t.Parallel()
	// Sorted: 0.2 oos, 0.3 wrong, 0.4 ok, 0.5 oos, 0.6 ok, 0.7 oos, 0.8 ok, 0.9 ok.
	samples := []scored{
		{conf: 0.9, correct: true}, {conf: 0.8, correct: true}, {conf: 0.6, correct: true}, {conf: 0.4, correct: true},
		{conf: 0.3},
		{conf: 0.5, oos: true}, {conf: 0.2, oos: true}, {conf: 0.7, oos: true},
	}
	f := frontier(samples, -1)
	require.InDelta(t, 9.0/12, f.AUC, 1e-9)
	for _, k := range []string{"3%", "5%", "8%"} {
		require.InDelta(t, 1.0/3, f.OOSRecallAtLoss[k], 1e-9, k) // 0.4 is the lowest correct answer
	}
	require.Nil(t, f.BestOOSRecall, "no baseline")

	// Gated accuracy is at most 4/5: a baseline of 0.9 leaves no threshold
	// within 3 points.
	require.Nil(t, frontier(samples, 0.9).BestOOSRecall)
	// 0.83: no correct answer may be lost; the first threshold that
	// rejects the 0.2 message wins.
	f = frontier(samples, 0.83)
	require.InDelta(t, 1.0/3, *f.BestOOSRecall, 1e-9)
	require.InDelta(t, 0.25, *f.BestThreshold, 1e-9)
	// 0.63: one correct answer may be lost, which also rejects 0.5.
	f = frontier(samples, 0.63)
	require.InDelta(t, 2.0/3, *f.BestOOSRecall, 1e-9)
	require.InDelta(t, 0.55, *f.BestThreshold, 1e-9)
}

func TestFrontierTiesAndEmpty(t *testing.T) {
	t.Parallel()
	f := frontier([]scored{{conf: 0.5, correct: true}, {conf: 0.5, oos: true}}, -1)
	require.InDelta(t, 0.5, f.AUC, 1e-9)
	// Rejecting the tie loses the only correct answer: beyond every level.
	require.Zero(t, f.OOSRecallAtLoss["3%"])
	require.Nil(t, frontier([]scored{{conf: 0.5, correct: true}}, -1), "no out-of-scope queries")
	require.Nil(t, frontier([]scored{{conf: 0.5, oos: true}}, -1), "no in-scope queries")
}
