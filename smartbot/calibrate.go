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
	// w are the weights of (similarity, similarity margin, rule
	// probability, rule logit, bias): confidence = σ(w·x).
	w      [numCalibFeatures + 1]float64
	fitted bool
}

// fallbackQuantile is the share of correctly matched calibration samples
// that fall below SuggestThresholdDefault.
const fallbackQuantile = 0.10

func logOdds(p float64) float64 { return math.Log(p / (1 - p)) }

// numCalibFeatures is the number of inputs of the confidence model.
const numCalibFeatures = 4

// confidence maps a candidate's similarity score, its margin over the best
// other rule's similarity, and its probability under the linear scorer
// and logit (1 and 0 when there is none) to a confidence in [0, 1].
func (c calibration) confidence(sim, margin, prob, logit float32) float64 {
	if !c.fitted {
		// Uncalibrated fallback: cosine-like scores map linearly.
		return clamp01(float64(sim))
	}
	x := [numCalibFeatures]float64{float64(sim), float64(margin), float64(prob), float64(logit)}
	z := c.w[numCalibFeatures]
	for i, v := range x {
		z += c.w[i] * v
	}
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
//
// samples lists the candidate examples; logit, when not nil, is the linear
// scorer's logit of rule r for example e, from a model that did not see e
// (cross-fitting).
func calibrate(vecs [][]float32, exRule []int, centroids [][]float32, nRules int, samples []int, logit func(e, r int) float32) calibration {
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
	order := make([]int, 0, len(samples))
	for _, i := range samples {
		if counts[exRule[i]] >= 2 {
			order = append(order, i)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	if len(order) > calibrationSamples {
		order = order[:calibrationSamples]
	}
	var xs [][numCalibFeatures]float64
	var ys, ws []float64
	best := make([]float32, nRules)
	second := make([]float32, nRules)
	scores := make([]float32, nRules)
	loo := make([]float32, len(vecs[0]))
	p := make([]float32, nRules)
	lg := make([]float32, nRules)
	oosP := make([]float32, nRules)
	sims := make([]float32, nRules)
	oosScores := make([]float32, nRules)
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
				sims[r] = float32(math.Inf(-1))
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
			sims[r] = combine(b, s2, cs)
		}
		if logit != nil {
			candidateProbs(func(r int) float32 { return logit(e, r) }, sims, p, lg)
		}
		for r := range scores {
			scores[r] = sims[r]
			oosScores[r] = sims[r]
			if logit != nil {
				scores[r] += linearWeight * p[r]
				// Without the example's own rule the softmax renormalizes.
				oosP[r] = p[r] / max(1-p[own], 1e-6)
				oosScores[r] += linearWeight * oosP[r]
			} else {
				p[r], oosP[r], lg[r] = 1, 1, 0
			}
		}
		top, _, _ := top2(scores, -1)
		xs = append(xs, [numCalibFeatures]float64{float64(sims[top]), float64(sims[top] - maxExcept(sims, top, -1)), float64(p[top]), float64(lg[top])})
		if top == own {
			ys = append(ys, 1)
		} else {
			ys = append(ys, 0)
		}
		ws = append(ws, 1)
		otop, _, _ := top2(oosScores, own)
		xs = append(xs, [numCalibFeatures]float64{float64(sims[otop]), float64(sims[otop] - maxExcept(sims, otop, own)), float64(oosP[otop]), float64(lg[otop])})
		ys = append(ys, 0)
		ws = append(ws, 1)
	}
	c := calibration{w: fitLogistic(xs, ys, ws), fitted: true}
	// Anchor the scale: shift the bias so that the fallbackQuantile of the
	// correctly matched samples sits exactly at SuggestThresholdDefault.
	var pos []float64
	for i, x := range xs {
		if ys[i] == 1 {
			pos = append(pos, c.confidence(float32(x[0]), float32(x[1]), float32(x[2]), float32(x[3])))
		}
	}
	if len(pos) >= 10 {
		slices.Sort(pos)
		t := min(max(pos[int(fallbackQuantile*float64(len(pos)))], 1e-6), 1-1e-6)
		c.w[numCalibFeatures] += logOdds(SuggestThresholdDefault) - logOdds(t)
	}
	return c
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

// maxExcept returns the largest value of xs other than at indexes a and b
// (0 when there is none).
func maxExcept(xs []float32, a, b int) float32 {
	m := float32(math.Inf(-1))
	for i, x := range xs {
		if i != a && i != b && x > m {
			m = x
		}
	}
	if math.IsInf(float64(m), -1) {
		return 0
	}
	return m
}

// fitLogistic fits y ~ σ(w·x + bias) by Newton's method with a small ridge
// penalty, so that it is stable on separable data.
func fitLogistic(xs [][numCalibFeatures]float64, ys, ws []float64) [numCalibFeatures + 1]float64 {
	const n = numCalibFeatures + 1
	var w [n]float64
	const ridge = 1e-2
	for range 50 {
		var g [n]float64
		var h [n][n]float64
		for i, x := range xs {
			var f [n]float64
			copy(f[:], x[:])
			f[n-1] = 1
			z := 0.0
			for j := range n {
				z += w[j] * f[j]
			}
			p := 1 / (1 + math.Exp(-z))
			d := (p - ys[i]) * ws[i]
			s := p * (1 - p) * ws[i]
			for j := range n {
				g[j] += d * f[j]
				for k := range n {
					h[j][k] += s * f[j] * f[k]
				}
			}
		}
		for j := range n {
			g[j] += ridge * w[j]
			h[j][j] += ridge
		}
		step, ok := solve(h, g)
		if !ok {
			break
		}
		sum := 0.0
		for j := range n {
			w[j] -= step[j]
			sum += math.Abs(step[j])
		}
		if sum < 1e-9 {
			break
		}
	}
	for _, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return [n]float64{}
		}
	}
	return w
}

// solve solves h·x = g by Gaussian elimination with partial pivoting.
func solve(h [numCalibFeatures + 1][numCalibFeatures + 1]float64, g [numCalibFeatures + 1]float64) ([numCalibFeatures + 1]float64, bool) {
	const n = numCalibFeatures + 1
	var m [n][n + 1]float64
	for i := range n {
		copy(m[i][:n], h[i][:])
		m[i][n] = g[i]
	}
	for col := range n {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[piv][col]) {
				piv = r
			}
		}
		if math.Abs(m[piv][col]) < 1e-12 {
			return [n]float64{}, false
		}
		m[col], m[piv] = m[piv], m[col]
		for r := range n {
			if r == col {
				continue
			}
			f := m[r][col] / m[col][col]
			for k := col; k <= n; k++ {
				m[r][k] -= f * m[col][k]
			}
		}
	}
	var x [n]float64
	for i := range n {
		x[i] = m[i][n] / m[i][i]
	}
	return x, true
}
