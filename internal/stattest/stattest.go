// Package stattest holds the small statistics that timing tests need: Welch's
// t-test and medians. Timing tests use them to show that two populations of
// response times are indistinguishable without flaking on a loaded machine
// (see docs/reliability.md T23/T24).
package stattest

import (
	"math"
	"slices"
)

// WelchResult is the outcome of Welch's unequal-variances t-test.
type WelchResult struct {
	// DF is the Welch–Satterthwaite degrees of freedom.
	DF float64
	// MeanA and MeanB are the samples' means.
	MeanA, MeanB float64
	// P is the two-sided p-value: the probability of a t at least this extreme
	// when both samples come from populations with equal means.
	P float64
	// T is the t statistic.
	T float64
}

// Welch runs Welch's t-test on two samples of at least two values each.
func Welch(a, b []float64) WelchResult {
	ma, va := meanVar(a)
	mb, vb := meanVar(b)
	na, nb := float64(len(a)), float64(len(b))
	sa, sb := va/na, vb/nb
	r := WelchResult{MeanA: ma, MeanB: mb}
	se := math.Sqrt(sa + sb)
	if se == 0 {
		if ma == mb {
			r.P = 1
		}
		r.DF = na + nb - 2
		return r
	}
	r.T = (ma - mb) / se
	r.DF = (sa + sb) * (sa + sb) / (sa*sa/(na-1) + sb*sb/(nb-1))
	r.P = StudentTwoSided(r.T, r.DF)
	return r
}

func meanVar(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(x)-1)
}

// StudentTwoSided returns P(|T| >= |t|) for Student's t with df degrees of
// freedom: I_{df/(df+t²)}(df/2, 1/2).
func StudentTwoSided(t, df float64) float64 {
	return RegIncBeta(df/2, 0.5, df/(df+t*t))
}

// RegIncBeta is the regularized incomplete beta function I_x(a, b), by the
// continued fraction of Numerical Recipes (betacf).
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	lga, _ := math.Lgamma(a)
	lgb, _ := math.Lgamma(b)
	lgab, _ := math.Lgamma(a + b)
	front := math.Exp(lgab - lga - lgb + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betacf(a, b, x) / a
	}
	return 1 - front*betacf(b, a, 1-x)/b
}

func betacf(a, b, x float64) float64 {
	const (
		maxIter = 300
		eps     = 3e-14
		tiny    = 1e-300
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// Median returns the median of x (x is not modified).
func Median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Trim returns x without its highest frac share of values (scheduler pauses,
// GC), keeping order. Trim both samples of a test alike.
func Trim(x []float64, frac float64) []float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	cut := s[len(s)-1-int(float64(len(s))*frac)]
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if v <= cut {
			out = append(out, v)
		}
	}
	return out
}
