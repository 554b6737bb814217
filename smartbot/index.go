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
	norms := make([]string, len(examples))
	for i, ex := range examples {
		norms[i] = Normalize(ex)
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
	var rounds []calibRound
	if idx.buildLinear() {
		rounds = idx.fitLinearAndRounds(vecs, norms)
	} else {
		all := make([]int, len(vecs))
		for i := range all {
			all[i] = i
		}
		rounds = []calibRound{{samples: all, simulate: true}}
	}
	idx.calib = calibrate(vecs, idx.exRule, idx.centroids, len(idx.rules), rounds)
	return idx, nil
}

// crossFitMaxExamples is the largest rule set calibrated with refitted
// models (crossFitRounds linear fits on simulated rule sets); larger sets
// use one held-out fit and simulate missing rules by renormalizing.
const (
	crossFitMaxExamples = 5000
	crossFitFolds       = 5
	crossFitSamples     = 2000 // target number of calibration samples
	crossFitRoundsMax   = 16
)

// fitLinearAndRounds fits the linear rule scorer on all examples and
// prepares the calibration rounds, whose models have not seen the samples
// they score (cross-fitting).
//
// On small and medium sets each round removes a holdoutRate share of the
// rules and one fold of the other rules' examples, and fits a model on the
// rest: the fold's examples are in-scope samples and the removed rules'
// examples are out-of-scope ones, scored by a model that never saw them,
// exactly as a message of an intent without a rule would be. On large sets
// one model is trained on all but a few hundred samples and then finished
// on everything (warm start), which saves fits; calibration then simulates
// missing rules by renormalizing that model's probabilities.
func (idx *index) fitLinearAndRounds(vecs [][]float32, norms []string) []calibRound {
	nRules := len(idx.rules)
	xs := make([]sparseVec, len(vecs))
	for i, v := range vecs {
		xs[i] = idx.sparseInput(norms[i], v)
	}
	cands := linearCandidateSets(vecs, idx.exRule, idx.centroids)
	epochs := epochsFor(len(xs))
	trainSet := func(ids []int) ([]sparseVec, []int, [][]int) {
		x := make([]sparseVec, 0, len(ids))
		l := make([]int, 0, len(ids))
		c := make([][]int, 0, len(ids))
		for _, i := range ids {
			x, l, c = append(x, xs[i]), append(l, idx.exRule[i]), append(c, cands[i])
		}
		return x, l, c
	}
	all := make([]int, len(xs))
	for i := range all {
		all[i] = i
	}
	allX, allL, allC := trainSet(all)
	if len(xs) > crossFitMaxExamples {
		rng := rand.New(rand.NewPCG(3, 5))
		perm := rng.Perm(len(xs))
		held := make([]bool, len(xs))
		var samples, fitIdx []int
		for _, i := range perm[:calibrationSamples] {
			held[i] = true
			samples = append(samples, i)
		}
		for i := range xs {
			if !held[i] {
				fitIdx = append(fitIdx, i)
			}
		}
		subX, subL, subC := trainSet(fitIdx)
		heldOut := fitLinear(subX, subL, nRules, subC, epochs, nil, 0)
		idx.linear = fitLinear(allX, allL, nRules, allC, 1, heldOut, epochs)
		return []calibRound{{samples: samples, simulate: true, logit: func(e, r int) float32 { return heldOut.score(xs[e], r) }}}
	}
	idx.linear = fitLinear(allX, allL, nRules, allC, epochs, nil, 0)
	// Position of each example within its rule, for the folds.
	pos := make([]int, len(xs))
	seen := make([]int, nRules)
	for i, r := range idx.exRule {
		pos[i] = seen[r]
		seen[r]++
	}
	rng := rand.New(rand.NewPCG(3, 5))
	nDrop := max(1, int(math.Round(holdoutRate*float64(nRules))))
	if nRules < 3 {
		nDrop = 0
	}
	// Each round scores about a fifth of the kept rules' examples and all
	// of the removed rules' ones: enough rounds for crossFitSamples samples.
	nRounds := min(max(crossFitFolds, (crossFitSamples*5+2*len(xs)-1)/(2*len(xs))), crossFitRoundsMax)
	perSide := calibrationSamples / crossFitFolds
	rounds := make([]calibRound, 0, nRounds)
	for round := range nRounds {
		kept := make([]bool, nRules)
		for i := range kept {
			kept[i] = true
		}
		for _, r := range rng.Perm(nRules)[:nDrop] {
			kept[r] = false
		}
		var fitIdx, in, out []int
		for i, r := range idx.exRule {
			switch {
			case !kept[r]:
				out = append(out, i)
			case pos[i]%crossFitFolds == round%crossFitFolds && seen[r] >= 2:
				in = append(in, i)
			default:
				fitIdx = append(fitIdx, i)
			}
		}
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		in, out = in[:min(len(in), perSide)], out[:min(len(out), perSide)]
		subX, subL, subC := trainSet(fitIdx)
		for i, c := range subC {
			// The removed rules do not exist for this model, not even as
			// negatives in the softmax.
			subC[i] = slices.DeleteFunc(slices.Clone(c), func(r int) bool { return !kept[r] })
		}
		m := fitLinear(subX, subL, nRules, subC, epochs, nil, 0)
		rounds = append(rounds, calibRound{
			kept:    kept,
			samples: append(in, out...),
			logit:   func(e, r int) float32 { return m.score(xs[e], r) },
		})
	}
	return rounds
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
	sims := make([]float32, len(idx.rules))
	found := false
	for ri, c := range idx.centroids {
		if c == nil || !idx.allowed(ri, lang) {
			sims[ri] = float32(math.Inf(-1))
			continue
		}
		sims[ri] = combine(sc.best[ri], sc.second[ri], dot(q, c))
		found = true
	}
	if !found {
		return nil, nil
	}
	probs, logits := make([]float32, len(idx.rules)), make([]float32, len(idx.rules))
	var logit func(r int) float32
	if idx.linear != nil {
		x := idx.sparseInput(norm, q)
		logit = func(r int) float32 { return idx.linear.score(x, r) }
	}
	scr := semScratch{scores: make([]float32, len(idx.rules))}
	scr.topFeatures(sims, probs, logits, logit)
	order := make([]int, 0, len(idx.rules))
	for ri, sim := range sims {
		if !math.IsInf(float64(sim), -1) {
			order = append(order, ri)
		}
	}
	scores := scr.scores
	slices.SortStableFunc(order, func(a, b int) int {
		if scores[a] != scores[b] {
			if scores[a] > scores[b] {
				return -1
			}
			return 1
		}
		return idx.rules[b].Priority - idx.rules[a].Priority
	})
	k := min(len(order), 16)
	out := make([]Candidate, k)
	for i := range k {
		ri := order[i]
		ev := ""
		if e := sc.bestEx[ri]; e >= 0 {
			ev = idx.exText[e]
		}
		out[i] = Candidate{
			Confidence: idx.calib.confidence(candidateFeatures(ri, probs)),
			Evidence:   ev,
			Rule:       &idx.rules[ri],
			RuleID:     idx.rules[ri].ID,
			Score:      float64(scores[ri]),
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
