package smartbot

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Defaults of the supervised rule scorer.
const (
	linearEpochs     = 12 // for up to 1,000 examples; fewer above (see epochsFor)
	linearRate       = 4.0
	linearDecay      = 1e-5
	linearCandidates = 48
	linearTableBits  = 20
)

// linearWeight scales the rule probability added to the similarity score.
const linearWeight = 5

// sparseVec is a sparse vector: feature keys (hashes, or dimension indexes
// for dense embeddings) and their values.
type sparseVec struct {
	keys []uint64
	val  []float32
}

// denseToSparse turns a dense vector into a sparse one keyed by dimension.
func denseToSparse(v []float32) sparseVec {
	var s sparseVec
	for i, x := range v {
		if x != 0 {
			s.keys = append(s.keys, uint64(i)+1)
			s.val = append(s.val, x)
		}
	}
	return s
}

// linearModel is a multinomial logistic regression from sparse features to
// rules, fitted on the rules' own examples (the supervised part of the
// semantic stage). Weights live in one hashed table indexed by
// (feature, rule), so memory stays bounded whatever the vocabulary and the
// number of rules. It is immutable after fitting.
type linearModel struct {
	table []float32
	mask  uint64
	rules int
}

// slot returns the table index of (key, rule).
func (m *linearModel) slot(key uint64, r int) uint64 {
	h := key ^ (uint64(r)+1)*0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return h & m.mask
}

// score returns the logit of rule r for x.
func (m *linearModel) score(x sparseVec, r int) float32 {
	var s float32
	for k, key := range x.keys {
		s += m.table[m.slot(key, r)] * x.val[k]
	}
	return s
}

// fitLinear trains with SGD on softmax cross-entropy and L2 weight decay.
// With many rules, each example's softmax runs over its own rule and the
// rules whose centroids are nearest (candidate sampling), which keeps
// training time linear in the number of examples.
//
// With init, training continues from a copy of init's weights, as if
// epochOffset epochs had already run.
func fitLinear(xs []sparseVec, labels []int, nRules int, candidates [][]int, epochs int, init *linearModel, epochOffset int) *linearModel {
	m := &linearModel{table: make([]float32, 1<<linearTableBits), mask: 1<<linearTableBits - 1, rules: nRules}
	if init != nil {
		copy(m.table, init.table)
	}
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(7, 11))
	logits := make([]float32, nRules)
	scale := 1.0 // lazy weight decay: effective weights are scale·table
	for ep := epochOffset; ep < epochOffset+epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		eta := linearRate / (1 + float64(ep)*0.3)
		for _, i := range order {
			x := xs[i]
			cands := candidates[i]
			z := logits[:len(cands)]
			for c, r := range cands {
				z[c] = m.score(x, r) * float32(scale)
			}
			softmaxInPlace(z)
			scale *= 1 - eta*linearDecay
			if scale < 1e-3 {
				for j := range m.table {
					m.table[j] *= float32(scale)
				}
				scale = 1
			}
			for c, r := range cands {
				g := z[c]
				if r == labels[i] {
					g--
				}
				if g > -1e-3 && g < 1e-3 {
					continue
				}
				ws := float32(eta) * g / float32(scale)
				for k, key := range x.keys {
					m.table[m.slot(key, r)] -= ws * x.val[k]
				}
			}
		}
	}
	for j := range m.table {
		m.table[j] *= float32(scale)
	}
	return m
}

// epochsFor returns the number of training epochs for n examples: larger
// sets need fewer passes, which keeps index builds fast.
func epochsFor(n int) int {
	e := int(math.Round(linearEpochs * math.Sqrt(1000/float64(max(n, 1)))))
	return min(max(e, 4), linearEpochs)
}

// linearCandidateSets lists, for each example, the rules its softmax covers
// during training: all rules when there are few; else its own rule and the
// rules with the nearest centroids (nearest to the example itself on small
// sets, to its rule's centroid on large ones).
func linearCandidateSets(vecs [][]float32, labels []int, centroids [][]float32) [][]int {
	all := make([]int, 0, len(centroids))
	for r, c := range centroids {
		if c != nil {
			all = append(all, r)
		}
	}
	out := make([][]int, len(labels))
	if len(all) <= linearCandidates {
		for i := range out {
			out[i] = all
		}
		return out
	}
	type rs struct {
		r int
		s float32
	}
	buf := make([]rs, 0, len(all))
	nearest := func(q []float32, own int) []int {
		buf = buf[:0]
		for _, r := range all {
			if r != own {
				buf = append(buf, rs{r, dot(q, centroids[r][:len(q)])})
			}
		}
		slices.SortFunc(buf, func(a, b rs) int {
			switch {
			case a.s > b.s:
				return -1
			case a.s < b.s:
				return 1
			}
			return a.r - b.r
		})
		set := make([]int, 0, linearCandidates)
		set = append(set, own)
		for _, x := range buf[:linearCandidates-1] {
			set = append(set, x.r)
		}
		return set
	}
	if len(labels)*len(all) <= 4_000_000 {
		for i, v := range vecs {
			out[i] = nearest(v, labels[i])
		}
		return out
	}
	perRule := make([][]int, len(centroids))
	for _, own := range all {
		q := centroids[own]
		if len(all) > 2000 {
			q = q[:min(len(q), 64)] // hashed dimensions: a prefix is a random projection
		}
		perRule[own] = nearest(q, own)
	}
	for i, l := range labels {
		out[i] = perRule[l]
	}
	return out
}

// candidateProbs fills p and lg with the rule probabilities and logits of
// the linear scorer, computed only for the linearCandidates rules with the
// best similarity (sims; -Inf marks rules that cannot match). Other rules
// get probability 0 and the lowest candidate logit. Scoring a few
// candidates instead of every rule keeps queries fast on large rule sets,
// and the softmax over them mirrors training.
func candidateProbs(logit func(r int) float32, sims, p, lg []float32) {
	cands := topIndexes(sims, linearCandidates)
	lo := float32(math.Inf(1))
	for i := range p {
		p[i] = 0
	}
	for _, r := range cands {
		lg[r] = logit(r)
		lo = min(lo, lg[r])
	}
	z := make([]float32, len(cands))
	for i, r := range cands {
		z[i] = lg[r]
	}
	softmaxInPlace(z)
	in := make([]bool, len(sims))
	for i, r := range cands {
		p[r] = z[i]
		in[r] = true
	}
	for r := range lg {
		if !in[r] {
			lg[r] = lo
		}
	}
}

// topIndexes returns the indexes of the k largest finite values, best first.
func topIndexes(xs []float32, k int) []int {
	idx := make([]int, 0, len(xs))
	for i, x := range xs {
		if !math.IsInf(float64(x), -1) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case xs[a] > xs[b]:
			return -1
		case xs[a] < xs[b]:
			return 1
		}
		return a - b
	})
	return idx[:min(k, len(idx))]
}

func softmaxInPlace(z []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range z {
		mx = max(mx, v)
	}
	var sum float32
	for i, v := range z {
		e := float32(math.Exp(float64(v - mx)))
		z[i] = e
		sum += e
	}
	for i := range z {
		z[i] /= sum
	}
}
