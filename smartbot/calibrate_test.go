package smartbot

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func loadFixtureRules(t *testing.T, path string) []Rule {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rules, err := LoadRulesJSONL(f)
	require.NoError(t, err)
	return rules
}

// TestCalibrationRounds checks the simulated rule sets of the calibration:
// each round removes a fifth of the rules, scores the removed rules'
// examples as out-of-scope and one fold of the others as in-scope, and the
// folds cover every example.
func TestCalibrationRounds(t *testing.T) {
	t.Parallel()
	rules := loadFixtureRules(t, "testdata/banking77_rules.jsonl")
	m, err := NewMatcher(context.Background(), rules, nil)
	require.NoError(t, err)
	idx := m.idx.Load()
	vecs := make([][]float32, len(idx.exText))
	norms := make([]string, len(idx.exText))
	for i, ex := range idx.exText {
		norms[i] = Normalize(ex)
		vecs[i] = idx.builtin.embedNormalized(norms[i])
	}
	rounds := idx.fitLinearAndRounds(vecs, norms)
	require.GreaterOrEqual(t, len(rounds), crossFitFolds)
	inScope := make(map[int]bool)
	oos := 0
	for _, rd := range rounds {
		require.False(t, rd.simulate)
		dropped := 0
		for _, k := range rd.kept {
			if !k {
				dropped++
			}
		}
		require.Equal(t, 2, dropped, "20%% of 12 rules")
		for _, e := range rd.samples {
			if rd.kept[idx.exRule[e]] {
				inScope[e] = true
			} else {
				oos++
			}
		}
	}
	require.Len(t, inScope, len(idx.exText), "the folds cover every example")
	require.Positive(t, oos)
	require.True(t, idx.calib.fitted)
	require.Positive(t, idx.calib.w[0], "confidence grows with the rule's probability")
}

// TestMatcherFallbackHeldOutIntents removes pairs of intents from the
// fixture rules in turn: at least 45% of their messages must fall back to
// "no match" (51% when written), while at least 83% of the other intents'
// messages are still answered with the right rule (87%).
func TestMatcherFallbackHeldOutIntents(t *testing.T) {
	t.Parallel()
	all := loadFixtureRules(t, "testdata/banking77_rules.jsonl")
	require.Len(t, all, 12, "fixture intents changed")
	raw, err := os.ReadFile("testdata/banking77_queries.jsonl")
	require.NoError(t, err)
	var in, right, out, rejected int
	for pair := range 3 {
		held := map[string]bool{all[2*pair].ID: true, all[2*pair+1].ID: true}
		var kept []Rule
		for _, r := range all {
			if !held[r.ID] {
				kept = append(kept, r)
			}
		}
		m, err := NewMatcher(context.Background(), kept, nil)
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var q struct{ Text, Intent string }
			require.NoError(t, jsonUnmarshal(line, &q))
			res, err := m.Match(context.Background(), q.Text)
			require.NoError(t, err)
			if held[q.Intent] {
				out++
				if res.Decision == DecisionNoMatch {
					rejected++
				}
				continue
			}
			in++
			if res.RuleID == q.Intent && res.Decision != DecisionNoMatch {
				right++
			}
		}
	}
	t.Logf("out-of-scope recall %d/%d, in-scope gated accuracy %d/%d", rejected, out, right, in)
	require.GreaterOrEqual(t, float64(rejected)/float64(out), 0.45)
	require.GreaterOrEqual(t, float64(right)/float64(in), 0.83)
}
