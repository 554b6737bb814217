package smartbot

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/philippgille/chromem-go"
)

// Semantic scoring weights: a rule's score mixes the similarity of its
// nearest example, of its second nearest, and of its centroid.
const (
	weightMax      = 0.45
	weightSecond   = 0.15
	weightCentroid = 0.40
	// neighborsMax is how many nearest examples the chromem-go query returns
	// (clamped to the collection size, which chromem-go requires).
	neighborsMax = 64
)

// index is an immutable snapshot of a rule set, ready for matching.
type index struct {
	rules []Rule

	exact    map[string][]int // normalized phrase or example → rule indexes
	exactSrc map[string]string
	keywords []keywordTrigger
	regexes  []regexTrigger

	// semantic stage
	coll      *chromem.Collection
	embed     chromem.EmbeddingFunc
	builtin   *BuiltinEmbedder
	exRule    []int    // example index → rule index
	exText    []string // example index → original text
	centroids [][]float32
	dims      int
	calib     calibration
	linear    *linearModel
}

type keywordTrigger struct {
	norm string // " kw words " with surrounding spaces
	src  string
	rule int
}

type regexTrigger struct {
	re   *regexp.Regexp
	rule int
}

func buildIndex(ctx context.Context, rules []Rule, cfg *MatcherConfig) (*index, error) {
	idx := &index{
		exact:    make(map[string][]int),
		exactSrc: make(map[string]string),
	}
	var examples, labels []string
	for _, r := range rules {
		if r.Disabled {
			continue
		}
		ri := len(idx.rules)
		idx.rules = append(idx.rules, cloneRule(r))
		addExact := func(src string) {
			n := Normalize(src)
			if !slices.Contains(idx.exact[n], ri) {
				idx.exact[n] = append(idx.exact[n], ri)
			}
			if _, ok := idx.exactSrc[n]; !ok {
				idx.exactSrc[n] = src
			}
		}
		for _, p := range r.Exact {
			addExact(p)
		}
		for _, k := range r.Keywords {
			idx.keywords = append(idx.keywords, keywordTrigger{norm: " " + Normalize(k) + " ", src: k, rule: ri})
		}
		for _, s := range r.Regexes {
			idx.regexes = append(idx.regexes, regexTrigger{re: regexp.MustCompile(s), rule: ri}) // validated
		}
		for _, ex := range r.Examples {
			addExact(ex)
			examples = append(examples, ex)
			labels = append(labels, r.ID)
			idx.exRule = append(idx.exRule, ri)
		}
	}
	idx.exText = examples
	if len(examples) == 0 {
		return idx, nil
	}
	vecs, err := idx.embedExamples(ctx, examples, labels, cfg)
	if err != nil {
		return nil, err
	}
	db := chromem.NewDB()
	coll, err := db.CreateCollection("examples", nil, idx.embed)
	if err != nil {
		return nil, fmt.Errorf("smartbot: create collection: %w", err)
	}
	docs := make([]chromem.Document, len(vecs))
	for i, v := range vecs {
		docs[i] = chromem.Document{ID: strconv.Itoa(i), Embedding: v, Content: "-"}
	}
	if err := coll.AddDocuments(ctx, docs, runtime.GOMAXPROCS(0)); err != nil {
		return nil, fmt.Errorf("smartbot: index examples: %w", err)
	}
	idx.coll = coll
	idx.centroids = make([][]float32, len(idx.rules))
	for i, v := range vecs {
		r := idx.exRule[i]
		if idx.centroids[r] == nil {
			idx.centroids[r] = make([]float32, idx.dims)
		}
		for j, x := range v {
			idx.centroids[r][j] += x
		}
	}
	for _, c := range idx.centroids {
		if c != nil {
			normalizeInPlace(c)
		}
	}
	samples := make([]int, len(vecs))
	for i := range samples {
		samples[i] = i
	}
	var logit func(e, r int) float32
	if idx.buildLinear() {
		xs := make([]sparseVec, len(vecs))
		for i, v := range vecs {
			xs[i] = idx.sparseInput(Normalize(examples[i]), v)
		}
		cands := linearCandidateSets(vecs, idx.exRule, idx.centroids)
		epochs := epochsFor(len(xs))
		// Cross-fitting for calibration: a model that has not seen the
		// calibration samples scores them. On small sets it is a second
		// model trained on the other half of each rule's examples; on large
		// ones it is trained on all but a few hundred samples and then
		// finished on everything (warm start), which saves a second fit.
		var fitIdx []int
		samples = samples[:0]
		if len(xs) <= 2000 {
			seen := make([]int, len(idx.rules))
			for i, r := range idx.exRule {
				if seen[r]%2 == 0 {
					fitIdx = append(fitIdx, i)
				} else {
					samples = append(samples, i)
				}
				seen[r]++
			}
		} else {
			perm := rand.New(rand.NewPCG(3, 5)).Perm(len(xs))
			held := make([]bool, len(xs))
			for _, i := range perm[:calibrationSamples] {
				held[i] = true
				samples = append(samples, i)
			}
			for i := range xs {
				if !held[i] {
					fitIdx = append(fitIdx, i)
				}
			}
		}
		trainSet := func(ids []int) ([]sparseVec, []int, [][]int) {
			var x []sparseVec
			var l []int
			var c [][]int
			for _, i := range ids {
				x, l, c = append(x, xs[i]), append(l, idx.exRule[i]), append(c, cands[i])
			}
			return x, l, c
		}
		subX, subL, subC := trainSet(fitIdx)
		heldOut := fitLinear(subX, subL, len(idx.rules), subC, epochs, nil, 0)
		all := make([]int, len(xs))
		for i := range all {
			all[i] = i
		}
		allX, allL, allC := trainSet(all)
		if len(xs) <= 2000 {
			idx.linear = fitLinear(allX, allL, len(idx.rules), allC, epochs, nil, 0)
		} else {
			idx.linear = fitLinear(allX, allL, len(idx.rules), allC, 1, heldOut, epochs)
		}
		logit = func(e, r int) float32 { return heldOut.score(xs[e], r) }
	}
	idx.calib = calibrate(vecs, idx.exRule, idx.centroids, len(idx.rules), samples, logit)
	return idx, nil
}

// embedExamples computes unit vectors for the examples, with the built-in
// embedder (fitted here) or the configured EmbeddingFunc.
func (idx *index) embedExamples(ctx context.Context, examples, labels []string, cfg *MatcherConfig) ([][]float32, error) {
	vecs := make([][]float32, len(examples))
	if cfg.EmbeddingFunc == nil {
		b, err := NewBuiltinEmbedder(examples, labels, cfg.Builtin)
		if err != nil {
			return nil, err
		}
		idx.builtin, idx.embed, idx.dims = b, b.EmbeddingFunc(), b.Dimensions()
		for i, ex := range examples {
			vecs[i] = b.embedNormalized(Normalize(ex))
		}
		return vecs, nil
	}
	idx.embed = cfg.EmbeddingFunc
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.EmbedConcurrency)
	var once sync.Once
	var firstErr error
	for i, ex := range examples {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := embedChecked(ctx, cfg.EmbeddingFunc, ex)
			if err != nil {
				once.Do(func() { firstErr = fmt.Errorf("example %q: %w", ex, err); cancel(firstErr) })
				return
			}
			vecs[i] = v
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("smartbot: index examples: %w", context.Cause(ctx))
	}
	idx.dims = len(vecs[0])
	for i, v := range vecs {
		if len(v) != idx.dims {
			return nil, fmt.Errorf("%w: example %d has %d dimensions, example 0 has %d", ErrEmbedding, i, len(v), idx.dims)
		}
	}
	return vecs, nil
}

// embedChecked calls fn and returns a unit-length copy of its vector.
func embedChecked(ctx context.Context, fn chromem.EmbeddingFunc, text string) ([]float32, error) {
	v, err := fn(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbedding, err)
	}
	v = slices.Clone(v)
	var s float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: vector contains NaN or Inf", ErrEmbedding)
		}
		s += float64(x) * float64(x)
	}
	if len(v) == 0 || s == 0 {
		return nil, fmt.Errorf("%w: empty or zero vector", ErrEmbedding)
	}
	normalizeInPlace(v)
	return v, nil
}

// allowed reports whether rule ri may match a message in language lang.
func (idx *index) allowed(ri int, lang LanguageInfo) bool {
	rl := idx.rules[ri].Language
	return rl == LangAny || lang.Lang == LangAny || lang.Mixed || rl == lang.Lang
}

// lexical runs the exact, keyword and regex stages. Candidates come out in
// stage order, by descending priority within a stage.
func (idx *index) lexical(folded, norm string, lang LanguageInfo, cfg *MatcherConfig) []Candidate {
	var out []Candidate
	add := func(stage []Candidate) {
		slices.SortStableFunc(stage, func(a, b Candidate) int { return b.Rule.Priority - a.Rule.Priority })
		out = append(out, stage...)
	}
	var stage []Candidate
	for _, ri := range idx.exact[norm] {
		if idx.allowed(ri, lang) {
			stage = append(stage, idx.candidate(ri, StageExact, cfg.ExactConfidence, idx.exactSrc[norm]))
		}
	}
	if len(stage) > 1 {
		// The same phrase triggers several rules: be honest about it.
		for i := range stage {
			stage[i].Confidence /= float64(len(stage))
		}
	}
	add(stage)
	stage = nil
	padded := " " + norm + " "
	for _, k := range idx.keywords {
		if strings.Contains(padded, k.norm) && idx.allowed(k.rule, lang) {
			stage = append(stage, idx.candidate(k.rule, StageKeyword, cfg.KeywordConfidence, k.src))
		}
	}
	// Longer (more specific) keywords first, then priority.
	slices.SortStableFunc(stage, func(a, b Candidate) int { return len(b.Evidence) - len(a.Evidence) })
	add(stage)
	stage = nil
	for _, r := range idx.regexes {
		if idx.allowed(r.rule, lang) {
			if r.re.MatchString(folded) {
				stage = append(stage, idx.candidate(r.rule, StageRegex, cfg.RegexConfidence, r.re.String()))
			}
		}
	}
	add(stage)
	return out
}

func (idx *index) candidate(ri int, stage Stage, conf float64, evidence string) Candidate {
	return Candidate{Confidence: conf, Evidence: evidence, Rule: &idx.rules[ri], RuleID: idx.rules[ri].ID, Score: 1, Stage: stage}
}

// ruleScores holds the semantic score components of every rule.
type ruleScores struct {
	best, second []float32
	bestEx       []int
}

// semantic runs the semantic stage and returns all scored rules, best first.
func (idx *index) semantic(ctx context.Context, norm string, lang LanguageInfo) ([]Candidate, error) {
	if idx.coll == nil || norm == "" {
		return nil, nil
	}
	var q []float32
	if idx.builtin != nil {
		q = idx.builtin.embedNormalized(norm)
		var s float32
		for _, x := range q {
			s += x * x
		}
		if s == 0 {
			return nil, nil
		}
	} else {
		var err error
		if q, err = embedChecked(ctx, idx.embed, norm); err != nil {
			return nil, err
		}
		if len(q) != idx.dims {
			return nil, fmt.Errorf("%w: query has %d dimensions, examples have %d", ErrEmbedding, len(q), idx.dims)
		}
	}
	n := min(neighborsMax, idx.coll.Count())
	res, err := idx.coll.QueryEmbedding(ctx, q, n, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("smartbot: semantic query: %w", err)
	}
	floor := float32(0)
	if len(res) > 0 {
		floor = res[len(res)-1].Similarity
	}
	sc := ruleScores{best: make([]float32, len(idx.rules)), second: make([]float32, len(idx.rules)), bestEx: make([]int, len(idx.rules))}
	for i := range sc.best {
		sc.best[i], sc.second[i], sc.bestEx[i] = floor, floor, -1
	}
	for _, r := range res {
		ei, _ := strconv.Atoi(r.ID)
		ri := idx.exRule[ei]
		switch {
		case sc.bestEx[ri] < 0:
			sc.best[ri], sc.bestEx[ri] = r.Similarity, ei
		case r.Similarity > sc.second[ri]:
			sc.second[ri] = r.Similarity
		}
	}
	type scored struct {
		ri               int
		sim, prob, logit float32
		score            float32
	}
	all := make([]scored, 0, len(idx.rules))
	sims := make([]float32, len(idx.rules))
	for ri, c := range idx.centroids {
		if c == nil || !idx.allowed(ri, lang) {
			sims[ri] = float32(math.Inf(-1))
			continue
		}
		sims[ri] = combine(sc.best[ri], sc.second[ri], dot(q, c))
	}
	var probs, logits []float32
	if idx.linear != nil {
		probs, logits = make([]float32, len(idx.rules)), make([]float32, len(idx.rules))
		x := idx.sparseInput(norm, q)
		candidateProbs(func(r int) float32 { return idx.linear.score(x, r) }, sims, probs, logits)
	}
	for ri, sim := range sims {
		if math.IsInf(float64(sim), -1) {
			continue
		}
		s := scored{ri: ri, sim: sim, prob: 1}
		s.score = s.sim
		if probs != nil {
			s.prob, s.logit = probs[ri], logits[ri]
			s.score += linearWeight * s.prob
		}
		all = append(all, s)
	}
	if len(all) == 0 {
		return nil, nil
	}
	// Best similarity and runner-up, for the margins.
	bestSim, bestAt, secondSim := float32(math.Inf(-1)), -1, float32(math.Inf(-1))
	for i, s := range all {
		if s.sim > bestSim {
			bestSim, bestAt, secondSim = s.sim, i, bestSim
		} else if s.sim > secondSim {
			secondSim = s.sim
		}
	}
	if math.IsInf(float64(secondSim), -1) {
		secondSim = 0
	}
	margins := make([]float32, len(all))
	for i, s := range all {
		if i == bestAt {
			margins[i] = s.sim - secondSim
		} else {
			margins[i] = s.sim - bestSim
		}
	}
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := all[a], all[b]
		if x.score != y.score {
			if x.score > y.score {
				return -1
			}
			return 1
		}
		return idx.rules[y.ri].Priority - idx.rules[x.ri].Priority
	})
	k := min(len(all), 16)
	out := make([]Candidate, k)
	for i := range k {
		s := all[order[i]]
		ev := ""
		if e := sc.bestEx[s.ri]; e >= 0 {
			ev = idx.exText[e]
		}
		out[i] = Candidate{
			Confidence: idx.calib.confidence(s.sim, margins[order[i]], s.prob, s.logit),
			Evidence:   ev,
			Rule:       &idx.rules[s.ri],
			RuleID:     idx.rules[s.ri].ID,
			Score:      float64(s.score),
			Stage:      StageSemantic,
		}
	}
	return out, nil
}

// buildLinear reports whether to fit the supervised rule scorer: always
// with the built-in embedder, and with external embedders as long as the
// rule set is not trivially small.
func (idx *index) buildLinear() bool {
	return len(idx.rules) >= 2
}

// sparseInput is the input of the linear rule scorer: the exact weighted
// features with the built-in embedder, the vector itself otherwise.
func (idx *index) sparseInput(norm string, vec []float32) sparseVec {
	if idx.builtin != nil {
		sp, _ := idx.builtin.sparse(norm)
		return sp
	}
	return denseToSparse(vec)
}

// combine mixes a rule's similarity components into its score.
func combine(best, second, centroid float32) float32 {
	return weightMax*best + weightSecond*second + weightCentroid*centroid
}
