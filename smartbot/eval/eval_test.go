package eval

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/smartbot"
)

func loadFixture(t *testing.T, rulesPath, queriesPath string) ([]smartbot.Rule, []Query) {
	t.Helper()
	rf, err := os.Open(rulesPath)
	require.NoError(t, err)
	defer rf.Close()
	rules, err := smartbot.LoadRulesJSONL(rf)
	require.NoError(t, err)
	qf, err := os.Open(queriesPath)
	require.NoError(t, err)
	defer qf.Close()
	queries, err := LoadQueries(qf)
	require.NoError(t, err)
	return rules, queries
}

func TestLoadQueries(t *testing.T) {
	t.Parallel()
	qs, err := LoadQueries(strings.NewReader(`{"id": 1, "text": "hi", "intent": "greet"}

{"id": 2, "text": "bye", "intent": "x", "expect_match": false, "dialect": "gulf"}
{"id": 3, "text": "yo", "intent": "y", "intent_has_rule": false}
`))
	require.NoError(t, err)
	require.Len(t, qs, 3)
	require.True(t, qs[0].ExpectMatch)
	require.True(t, qs[0].IntentHasRule)
	require.False(t, qs[1].ExpectMatch)
	require.Equal(t, "gulf", qs[1].Fields["dialect"])
	require.False(t, qs[2].IntentHasRule)

	_, err = LoadQueries(strings.NewReader(`{"intent": "no text"}`))
	require.ErrorContains(t, err, "text")
	_, err = LoadQueries(strings.NewReader(`{oops`))
	require.ErrorContains(t, err, "line 1")
	for name, tt := range map[string]struct{ in, want string }{
		"expect_match as a string": {`{"text": "a", "intent": "x", "expect_match": "false"}`, `"expect_match" must be true or false`},
		"intent_has_rule number":   {`{"text": "a", "intent": "x", "intent_has_rule": 0}`, `"intent_has_rule" must be true or false`},
		"intent not a string":      {`{"text": "a", "intent": 7}`, `"intent" must be a string`},
		"in scope without intent":  {`{"text": "a"}`, `needs its "intent"`},
		"array line":               {`[1, 2]`, "line 1"},
		"null line":                {`null`, "not a JSON object"},
		"error names the line":     {"{\"text\": \"a\", \"intent\": \"x\"}\n  \n{\"text\": 1}", "line 3"},
	} {
		_, err := LoadQueries(strings.NewReader(tt.in))
		require.ErrorContains(t, err, tt.want, name)
	}
	// An out-of-scope query needs no intent; whitespace-only lines are blank.
	qs, err = LoadQueries(strings.NewReader("{\"text\": \"weather?\", \"expect_match\": false}\n \t \n"))
	require.NoError(t, err)
	require.Len(t, qs, 1)
}

// FuzzLoadQueries: any input loads or fails with an error naming a line;
// loaded queries have their text, and an intent when they expect a match.
func FuzzLoadQueries(f *testing.F) {
	for _, s := range []string{
		`{"text": "hi", "intent": "greet"}`, `{"text": "x", "expect_match": false}`, "\n\n", `{"text": 1}`,
		`{"text": "a", "intent": "b", "expect_match": null}`, "{\"text\": \"\xff\", \"intent\": \"i\"}", `[]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		qs, err := LoadQueries(strings.NewReader(in))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "read queries") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, q := range qs {
			if q.ExpectMatch && q.Intent == "" {
				t.Fatalf("in-scope query without intent: %+v", q)
			}
			if q.Fields == nil {
				t.Fatalf("query without fields: %+v", q)
			}
		}
	})
}

func TestRunFixture(t *testing.T) {
	t.Parallel()
	rules, queries := loadFixture(t, "../testdata/banking77_rules.jsonl", "../testdata/banking77_queries.jsonl")
	rep, err := Run(context.Background(), rules, queries, nil)
	require.NoError(t, err)
	require.Equal(t, 120, rep.InScope)
	require.Zero(t, rep.OOS)
	require.Nil(t, rep.OOSRecall, "no out-of-scope queries, no recall")
	require.Nil(t, rep.Frontier)
	require.Nil(t, rep.BaselineAccuracy, "no holdout, no baseline")
	require.GreaterOrEqual(t, rep.Accuracy, 0.85)
	require.LessOrEqual(t, rep.AccuracyGated, rep.Accuracy)
	require.Positive(t, rep.P50Ms)
	require.GreaterOrEqual(t, rep.P99Ms, rep.P50Ms)
	require.Equal(t, 12, rep.Rules)
	require.Equal(t, 120, rep.Examples)
	for _, c := range rep.Confused {
		require.NotEqual(t, c.Expected, c.Predicted)
	}
}

func TestRunHoldoutAndBy(t *testing.T) {
	t.Parallel()
	rules, queries := loadFixture(t, "../testdata/xsid_ar_rules.jsonl", "../testdata/xsid_ar_queries.jsonl")
	// Give every query a group to break down by.
	for i := range queries {
		queries[i].Fields["half"] = []string{"a", "b"}[i%2]
	}
	rep, err := Run(context.Background(), rules, queries, &Config{HoldoutFraction: 0.2, Seed: 13, ByField: "half"})
	require.NoError(t, err)
	require.Len(t, rep.HeldOut, 3, "20%% of 15 intents")
	require.Equal(t, 12, rep.Rules)
	require.Positive(t, rep.OOS)
	require.NotNil(t, rep.OOSRecall)
	require.Equal(t, rep.Queries, rep.InScope+rep.OOS+rep.Skipped)
	require.Len(t, rep.By, 2)
	require.Equal(t, rep.InScope, rep.By["a"].InScope+rep.By["b"].InScope)
	// The baseline is the same rules without holdout.
	full, err := Run(context.Background(), rules, queries, nil)
	require.NoError(t, err)
	require.Equal(t, full.Accuracy, *rep.BaselineAccuracy)
	require.InDelta(t, rep.AccuracyGated-full.Accuracy, *rep.AccuracyChange, 1e-12)
	require.NotNil(t, rep.Frontier)
	require.Greater(t, rep.Frontier.AUC, 0.5, "confidence separates better than chance")
	if *rep.AccuracyChange >= -TargetDrop {
		// The default threshold is one of the thresholds the bound sweeps.
		require.GreaterOrEqual(t, *rep.Frontier.BestOOSRecall, *rep.OOSRecall-1e-12)
	}

	again, err := Run(context.Background(), rules, queries, &Config{HoldoutFraction: 0.2, Seed: 13})
	require.NoError(t, err)
	require.Equal(t, rep.HeldOut, again.HeldOut, "the holdout is seeded")
	require.Equal(t, rep.Accuracy, again.Accuracy, "matching is deterministic")
}

func TestRunSkipsIntentsWithoutRules(t *testing.T) {
	t.Parallel()
	rules := []smartbot.Rule{{ID: "a", Examples: []string{"hello there", "hi"}}, {ID: "b", Examples: []string{"bye now", "see you"}}}
	queries := []Query{
		{Text: "hello", Intent: "a", ExpectMatch: true, IntentHasRule: true},
		{Text: "bye", Intent: "b", ExpectMatch: true, IntentHasRule: false},
		{Text: "what", Intent: "c", ExpectMatch: true, IntentHasRule: true},
		{Text: "weather", Intent: "", ExpectMatch: false, IntentHasRule: true},
	}
	rep, err := Run(context.Background(), rules, queries, nil)
	require.NoError(t, err)
	require.Equal(t, 1, rep.InScope)
	require.Equal(t, 1, rep.OOS)
	require.Equal(t, 2, rep.Skipped)
	require.Equal(t, 1.0, rep.Accuracy)

	_, err = Run(context.Background(), rules, queries, &Config{HoldoutFraction: 1})
	require.Error(t, err)
}

func TestHoldout(t *testing.T) {
	t.Parallel()
	rules := make([]smartbot.Rule, 10)
	for i := range rules {
		rules[i] = smartbot.Rule{ID: string(rune('a' + i))}
	}
	a := Holdout(rules, 0.2, 1)
	require.Len(t, a, 2)
	require.Equal(t, a, Holdout(rules, 0.2, 1))
	require.Empty(t, Holdout(rules, 0, 1))
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3}
	require.Equal(t, 3.0, percentile(xs, 0.5))
	require.Equal(t, 5.0, percentile(xs, 0.99))
	require.Equal(t, 0.0, percentile(nil, 0.5))
}
