package eval

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/waqtor/waqtor/smartbot"
)

// Frontier describes how well the matcher's confidence separates right
// answers from out-of-scope messages whatever the thresholds. It is a
// diagnostic computed with the queries' labels, which the matcher never
// sees: it bounds what any choice of SuggestThreshold could reach with this
// confidence, and tells a weak signal from a badly placed threshold.
type Frontier struct {
	// AUC is the probability that a correctly matched in-scope query has a
	// higher confidence than an out-of-scope one (ties count half).
	AUC float64 `json:"auc"`
	// OOSRecallAtLoss maps a share of the correct answers lost to a
	// fallback ("3%", "5%", "8%") to the out-of-scope recall of the
	// threshold that loses at most that share.
	OOSRecallAtLoss map[string]float64 `json:"oos_recall_at_loss"`
	// BestOOSRecall is the highest out-of-scope recall of any threshold
	// whose gated accuracy stays within [TargetDrop] of the baseline
	// accuracy, and BestThreshold that threshold. Both are nil without a
	// baseline.
	BestOOSRecall *float64 `json:"best_oos_recall_within_target,omitempty"`
	BestThreshold *float64 `json:"best_threshold,omitempty"`
}

// TargetDrop is the largest drop of in-scope accuracy, against the
// baseline without held-out intents, that the fallback target allows.
const TargetDrop = 0.03

// scored is one matched query for the frontier.
type scored struct {
	conf    float64
	oos     bool
	correct bool // in scope and the top rule is right
}

// lossLevels are the shares of lost correct answers in
// Frontier.OOSRecallAtLoss.
var lossLevels = []struct {
	key  string
	loss float64
}{{"3%", 0.03}, {"5%", 0.05}, {"8%", 0.08}}

// frontier sweeps every threshold over the samples' confidences. A sample
// is rejected when its confidence is below the threshold. baseline < 0
// means none.
func frontier(samples []scored, baseline float64) *Frontier {
	var nIn, nCorrect, nOOS int
	for _, s := range samples {
		switch {
		case s.oos:
			nOOS++
		case s.correct:
			nIn++
			nCorrect++
		default:
			nIn++
		}
	}
	if nOOS == 0 || nIn == 0 {
		return nil
	}
	sorted := slices.Clone(samples)
	slices.SortStableFunc(sorted, func(a, b scored) int { return cmp.Compare(a.conf, b.conf) })
	f := &Frontier{OOSRecallAtLoss: map[string]float64{}}
	var auc float64
	lostCorrect, rejOOS := 0, 0
	check := func(threshold float64) {
		recall := float64(rejOOS) / float64(nOOS)
		if nCorrect > 0 {
			for _, l := range lossLevels {
				if float64(lostCorrect) <= l.loss*float64(nCorrect) {
					f.OOSRecallAtLoss[l.key] = max(f.OOSRecallAtLoss[l.key], recall)
				}
			}
		}
		if baseline >= 0 && float64(nCorrect-lostCorrect)/float64(nIn) >= baseline-TargetDrop-1e-12 {
			if f.BestOOSRecall == nil || recall > *f.BestOOSRecall {
				r, t := recall, threshold
				f.BestOOSRecall, f.BestThreshold = &r, &t
			}
		}
	}
	check(0)
	for i := 0; i < len(sorted); {
		j := i
		var gOOS, gCorrect int
		for ; j < len(sorted) && sorted[j].conf == sorted[i].conf; j++ {
			switch {
			case sorted[j].oos:
				gOOS++
			case sorted[j].correct:
				gCorrect++
			}
		}
		// Correct answers above every out-of-scope sample rejected so
		// far; ties count half.
		auc += float64(gCorrect) * (float64(rejOOS) + 0.5*float64(gOOS))
		lostCorrect += gCorrect
		rejOOS += gOOS
		next := 1.0
		if j < len(sorted) {
			next = sorted[j].conf
		}
		// Any threshold in (conf, next] rejects exactly this much; report
		// the midpoint.
		check((sorted[i].conf + next) / 2)
		i = j
	}
	if nCorrect > 0 {
		f.AUC = auc / (float64(nCorrect) * float64(nOOS))
	}
	return f
}

// baselineAccuracy is the top-1 accuracy of a matcher on all the rules,
// over the queries in scope of at least one of them.
func baselineAccuracy(ctx context.Context, rules []smartbot.Rule, queries []Query, cfg *smartbot.MatcherConfig) (float64, error) {
	hasRule := map[string]bool{}
	for _, r := range rules {
		hasRule[r.ID] = !r.Disabled
	}
	m, err := smartbot.NewMatcher(ctx, rules, cfg)
	if err != nil {
		return 0, fmt.Errorf("eval: build baseline matcher: %w", err)
	}
	in, top1 := 0, 0
	for _, q := range queries {
		if !q.ExpectMatch || !q.IntentHasRule || !hasRule[q.Intent] {
			continue
		}
		res, err := m.Match(ctx, q.Text)
		if err != nil {
			return 0, fmt.Errorf("eval: match %q: %w", q.Text, err)
		}
		in++
		if res.RuleID == q.Intent {
			top1++
		}
	}
	if in == 0 {
		return 0, nil
	}
	return float64(top1) / float64(in), nil
}
