package stattest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Critical values from Student's t table (two-sided).
func TestStudentTwoSided(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ t, df, p float64 }{
		"df10p05":     {2.228, 10, 0.05},
		"df10p01":     {3.169, 10, 0.01},
		"df1p05":      {12.706, 1, 0.05},
		"df30p05":     {2.042, 30, 0.05},
		"normal1.96":  {1.95996, 1e7, 0.05},
		"normal2.576": {2.5758, 1e7, 0.01},
		"zero":        {0, 5, 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			require.InDelta(t, tt.p, StudentTwoSided(tt.t, tt.df), 0.0005)
			require.InDelta(t, tt.p, StudentTwoSided(-tt.t, tt.df), 0.0005)
		})
	}
}

func TestWelch(t *testing.T) {
	t.Parallel()
	r := Welch([]float64{1, 2, 3, 4, 5}, []float64{2, 4, 6, 8, 10})
	require.InDelta(t, -1.8974, r.T, 1e-4)
	require.InDelta(t, 5.882, r.DF, 1e-3)
	require.Greater(t, r.P, 0.05)

	// Same population: rarely significant. Shifted by half a standard
	// deviation with 2,000 values each: always significant.
	rng := rand.New(rand.NewPCG(1, 2))
	sample := func(n int, shift float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = rng.NormFloat64() + shift
		}
		return out
	}
	require.Greater(t, Welch(sample(2000, 0), sample(2000, 0)).P, 0.01)
	require.Less(t, Welch(sample(2000, 0), sample(2000, 0.5)).P, 1e-6)
	require.Equal(t, 1.0, Welch([]float64{1, 1}, []float64{1, 1}).P)
}

func TestMedianTrim(t *testing.T) {
	t.Parallel()
	require.Equal(t, 2.0, Median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	require.True(t, math.IsNaN(Median(nil)))
	x := []float64{5, 1, 100, 2, 3, 4, 6, 7, 8, 9}
	require.Equal(t, []float64{5, 1, 2, 3, 4, 6, 7, 8, 9}, Trim(x, 0.1))
	require.Equal(t, x, Trim(x, 0))
}
