package smartbot

import (
	"math"
	"math/rand/v2"
	"slices"
)

// calibrationSamples caps the number of examples used to calibrate, which
// bounds index build time on large rule sets.
const calibrationSamples = 400

// calibration maps a semantic score and its margin over the runner-up to a
// confidence with a logistic model fitted on the rules' own examples.
type calibration struct {
	a, b, c float64 // confidence = σ(a·score + b·margin + c)
	fitted  bool
}

func (c calibration) confidence(score, margin float32) float64 {
	if !c.fitted {
		// Uncalibrated fallback: cosine-like scores map linearly.
		return clamp01(float64(score))
	}
	z := c.a*float64(score) + c.b*float64(margin) + c.c
	return clamp01(1 / (1 + math.Exp(-z)))
}

func clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// calibrate fits the confidence model without any query data. For a sample
// of examples it scores every rule as if the example were an incoming
// message, leaving the example itself out (leave-one-out):
//
//   - positives are examples whose own rule comes out on top;
//   - negatives are examples whose top rule is wrong, and the same examples
//     scored with their whole rule left out, which is what an out-of-scope
//     message looks like (leave-one-rule-out).
func calibrate(vecs [][]float32, exRule []int, centroids [][]float32, nRules int) calibration {
	counts := make([]int, nRules)
	sums := make([][]float32, nRules)
	for i, v := range vecs {
		r := exRule[i]
		counts[r]++
		if sums[r] == nil {
			sums[r] = make([]float32, len(v))
		}
		for j, x := range v {
			sums[r][j] += x
		}
	}
	withTwo := 0
	for _, n := range counts {
		if n >= 2 {
			withTwo++
		}
	}
	if withTwo < 2 {
		return calibration{}
	}
	order := make([]int, 0, len(vecs))
	for i := range vecs {
		if counts[exRule[i]] >= 2 {
			order = append(order, i)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	if len(order) > calibrationSamples {
		order = order[:calibrationSamples]
	}
	var xs [][2]float64
	var ys, ws []float64
	best := make([]float32, nRules)
	second := make([]float32, nRules)
	scores := make([]float32, nRules)
	loo := make([]float32, len(vecs[0]))
	for _, e := range order {
		q, own := vecs[e], exRule[e]
		for r := range best {
			best[r], second[r] = -1, -1
		}
		for i, v := range vecs {
			if i == e {
				continue
			}
			s := dot(q, v)
			r := exRule[i]
			if s > best[r] {
				best[r], second[r] = s, best[r]
			} else if s > second[r] {
				second[r] = s
			}
		}
		for r := range scores {
			if centroids[r] == nil {
				scores[r] = float32(math.Inf(-1))
				continue
			}
			cs := dot(q, centroids[r])
			if r == own {
				for j := range loo {
					loo[j] = sums[r][j] - q[j]
				}
				normalizeInPlace(loo)
				cs = dot(q, loo)
			}
			b, s2 := best[r], second[r]
			if s2 < 0 {
				s2 = b
			}
			scores[r] = combine(b, s2, cs)
		}
		top, s1, s2 := top2(scores, -1)
		xs = append(xs, [2]float64{float64(s1), float64(s1 - s2)})
		if top == own {
			ys = append(ys, 1)
		} else {
			ys = append(ys, 0)
		}
		ws = append(ws, 1)
		_, o1, o2 := top2(scores, own)
		xs = append(xs, [2]float64{float64(o1), float64(o1 - o2)})
		ys = append(ys, 0)
		ws = append(ws, 1)
	}
	a, b, c := fitLogistic(xs, ys, ws)
	return calibration{a: a, b: b, c: c, fitted: true}
}

// top2 returns the best index and the two best scores, skipping index skip.
func top2(scores []float32, skip int) (int, float32, float32) {
	bi, b1, b2 := -1, float32(math.Inf(-1)), float32(math.Inf(-1))
	for i, s := range scores {
		if i == skip {
			continue
		}
		if s > b1 {
			bi, b1, b2 = i, s, b1
		} else if s > b2 {
			b2 = s
		}
	}
	if math.IsInf(float64(b2), -1) {
		b2 = b1
	}
	return bi, b1, b2
}

// fitLogistic fits y ~ σ(a·x0 + b·x1 + c) by Newton's method with a small
// ridge penalty, so that it is stable on separable data.
func fitLogistic(xs [][2]float64, ys, ws []float64) (a, b, c float64) {
	w := []float64{0, 0, 0}
	const ridge = 1e-2
	for range 50 {
		var g [3]float64
		var h [3][3]float64
		for i, x := range xs {
			f := [3]float64{x[0], x[1], 1}
			z := w[0]*f[0] + w[1]*f[1] + w[2]
			p := 1 / (1 + math.Exp(-z))
			d := (p - ys[i]) * ws[i]
			s := p * (1 - p) * ws[i]
			for j := range 3 {
				g[j] += d * f[j]
				for k := range 3 {
					h[j][k] += s * f[j] * f[k]
				}
			}
		}
		for j := range 2 {
			g[j] += ridge * w[j]
			h[j][j] += ridge
		}
		h[2][2] += 1e-9
		step, ok := solve3(h, g)
		if !ok {
			break
		}
		for j := range 3 {
			w[j] -= step[j]
		}
		if math.Abs(step[0])+math.Abs(step[1])+math.Abs(step[2]) < 1e-9 {
			break
		}
	}
	if slices.ContainsFunc(w, math.IsNaN) {
		return 0, 0, 0
	}
	return w[0], w[1], w[2]
}

// solve3 solves h·x = g for a 3×3 system by Gaussian elimination.
func solve3(h [3][3]float64, g [3]float64) ([3]float64, bool) {
	m := [3][4]float64{}
	for i := range 3 {
		copy(m[i][:3], h[i][:])
		m[i][3] = g[i]
	}
	for col := range 3 {
		piv := col
		for r := col + 1; r < 3; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[piv][col]) {
				piv = r
			}
		}
		if math.Abs(m[piv][col]) < 1e-12 {
			return [3]float64{}, false
		}
		m[col], m[piv] = m[piv], m[col]
		for r := range 3 {
			if r == col {
				continue
			}
			f := m[r][col] / m[col][col]
			for k := col; k < 4; k++ {
				m[r][k] -= f * m[col][k]
			}
		}
	}
	var x [3]float64
	for i := range 3 {
		x[i] = m[i][3] / m[i][i]
	}
	return x, true
}
