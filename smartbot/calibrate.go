package smartbot

import (
	"math"
	"math/rand/v2"
	"slices"
)

// calibrationSamples caps the number of examples used to calibrate, which
// bounds index build time on large rule sets.
const calibrationSamples = 400

// calibration maps the features of a semantic candidate to a confidence
// with a logistic model fitted on the rules' own examples.
type calibration struct {
	// w are the weights of the calibFeatures, then the bias:
	// confidence = σ(w·x + bias).
	w      [numCalibFeatures + 1]float64
	fitted bool
}

// fallbackQuantile is the share of correctly matched calibration samples
// that fall below SuggestThresholdDefault.
const fallbackQuantile = 0.05

// holdoutRate is the share of the other rules removed in each simulated
// rule set during calibration, and holdoutRounds the number of random rule
// sets per calibration example.
const (
	holdoutRate   = 0.2
	holdoutRounds = 4
)

func logOdds(p float64) float64 { return math.Log(p / (1 - p)) }

// numCalibFeatures is the number of inputs of the confidence model.
const numCalibFeatures = 1

// calibFeatures are the inputs of the confidence model for one candidate
// rule of one message: the rule's probability under the linear scorer (1
// without one).
//
// Other signals were measured on held-out intents of public English and
// Arabic intent data and left out because they did not separate
// out-of-scope messages better and shifted between the rules' examples
// (where calibration happens) and real messages: nearest-example and
// centroid similarity, its margin, the logit and the log-sum-exp of the
// logits (energy), the share of unknown words, the share of the message's
// words used by the rule, and agreement between the nearest-example and
// linear scorers. Real messages carry names, places and titles the
// examples never saw, which moves the word-based signals the wrong way.
type calibFeatures [numCalibFeatures]float64

// confidence maps a candidate's features to a confidence in [0, 1].
func (c calibration) confidence(x calibFeatures) float64 {
	if !c.fitted {
		// Uncalibrated fallback: the probability itself.
		return clamp01(x[0])
	}
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

// calibrate fits the confidence model without any query data, by
// simulating the situation it must recognize: a message whose rule does not
// exist. Each round is a rule set that lacks a holdoutRate share of the
// rules; it scores examples as if they were incoming messages, leaving the
// example itself out of the nearest-example and centroid scores
// (leave-one-out), with linear-scorer logits from a model that saw neither
// the example nor the removed rules (see [index.fitLinearAndRounds]):
//
//   - an example of a present rule is positive when its rule comes out on
//     top and negative otherwise (answering it wrongly is no better than
//     falling back);
//   - an example of a removed rule is out of scope: negative.
//
// Rounds marked simulate (large rule sets, one cross-fitted model) instead
// score each sample in holdoutRounds random rule sets, with and without its
// own rule. The model's bias is then shifted so that fallbackQuantile of
// the positives fall below SuggestThresholdDefault.
func calibrate(vecs [][]float32, exRule []int, centroids [][]float32, nRules int, rounds []calibRound) calibration {
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
	if withTwo < 3 {
		return calibration{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var xs []calibFeatures
	var ys, ws []float64
	best := make([]float32, nRules)
	second := make([]float32, nRules)
	loo := make([]float32, len(vecs[0]))
	full := make([]float32, nRules) // similarity of every rule, own rule left out
	sims := make([]float32, nRules)
	p := make([]float32, nRules)
	lg := make([]float32, nRules)
	kept := make([]bool, nRules)
	logits := make(map[int]float32)
	sc := semScratch{scores: make([]float32, nRules)}
	for _, rd := range rounds {
		logit := rd.logit
		for _, e := range rd.samples {
			q, own := vecs[e], exRule[e]
			if counts[own] < 2 && (rd.simulate || rd.kept[own]) {
				continue // no leave-one-out for a rule with one example
			}
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
			for r := range full {
				if centroids[r] == nil {
					full[r] = float32(math.Inf(-1))
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
				full[r] = combine(b, s2, cs)
			}
			clear(logits)
			var lf func(r int) float32
			if logit != nil {
				lf = func(r int) float32 {
					v, ok := logits[r]
					if !ok {
						v = logit(e, r)
						logits[r] = v
					}
					return v
				}
			}
			addSample := func(inScope bool) {
				for r := range sims {
					sims[r] = float32(math.Inf(-1))
					if kept[r] {
						sims[r] = full[r]
					}
				}
				top, x := sc.topFeatures(sims, p, lg, lf)
				if top < 0 {
					return
				}
				xs = append(xs, x)
				ws = append(ws, 1)
				if inScope && top == own {
					ys = append(ys, 1)
				} else {
					ys = append(ys, 0)
				}
			}
			if !rd.simulate {
				copy(kept, rd.kept)
				for r := range kept {
					kept[r] = kept[r] && full[r] > float32(math.Inf(-1))
				}
				addSample(kept[own])
				continue
			}
			for range holdoutRounds {
				nKept := 0
				for r := range kept {
					kept[r] = full[r] > float32(math.Inf(-1)) && (r == own || rng.Float64() >= holdoutRate)
					if kept[r] && r != own {
						nKept++
					}
				}
				if nKept < 2 {
					continue
				}
				addSample(true)
				kept[own] = false
				addSample(false)
			}
		}
	}
	if len(xs) < 20 {
		return calibration{}
	}
	c := calibration{w: fitLogistic(xs, ys, ws), fitted: true}
	// Anchor the scale: shift the bias so that the fallbackQuantile of the
	// correctly matched samples sits exactly at SuggestThresholdDefault.
	var pos []float64
	for i, x := range xs {
		if ys[i] == 1 {
			pos = append(pos, c.confidence(x))
		}
	}
	if len(pos) >= 10 {
		slices.Sort(pos)
		t := min(max(pos[int(fallbackQuantile*float64(len(pos)))], 1e-6), 1-1e-6)
		c.w[numCalibFeatures] += logOdds(SuggestThresholdDefault) - logOdds(t)
	}
	return c
}

// calibRound is one simulated rule set for [calibrate]: the examples to
// score, the linear scorer's logits for them from a model that did not see
// them, and which rules exist. With simulate, each sample is scored in
// holdoutRounds random rule sets instead, with and without its own rule.
type calibRound struct {
	kept     []bool
	logit    func(e, r int) float32
	samples  []int
	simulate bool
}

// semScratch holds buffers for scoring one message.
type semScratch struct {
	scores []float32
}

// topFeatures ranks the rules of one message and returns the best one with
// its features. sims holds every
// rule's similarity (-Inf for rules that cannot match); p and lg receive
// the linear scorer's probabilities and logits when logit is not nil.
func (sc *semScratch) topFeatures(sims, p, lg []float32, logit func(r int) float32) (int, calibFeatures) {
	if logit != nil {
		candidateProbs(logit, sims, p, lg)
	} else {
		for r := range p {
			p[r], lg[r] = 1, 0
		}
	}
	for r, s := range sims {
		sc.scores[r] = s
		if logit != nil {
			sc.scores[r] += linearWeight * p[r]
		}
	}
	top, _, _ := top2(sc.scores, -1)
	if top < 0 || math.IsInf(float64(sims[top]), -1) {
		return -1, calibFeatures{}
	}
	return top, candidateFeatures(top, p)
}

// candidateFeatures returns the features of rule r given the rule
// probabilities p.
func candidateFeatures(r int, p []float32) calibFeatures {
	return calibFeatures{float64(p[r])}
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
func fitLogistic(xs []calibFeatures, ys, ws []float64) [numCalibFeatures + 1]float64 {
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
