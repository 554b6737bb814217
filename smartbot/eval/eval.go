// Package eval measures a SmartBot [smartbot.Matcher] on intent data: rules
// in the JSONL form read by [smartbot.LoadRulesJSONL] and queries, one JSON
// object per line, with at least "text" and "intent". It is the library
// behind the smartbot-eval command.
//
// The matcher sees only a query's text. Metrics:
//
//   - accuracy: top-1 accuracy among in-scope queries (expect_match not
//     false, and a rule exists for the intent): the share whose best rule is
//     the query's intent, whatever the decision;
//   - accuracy_gated: the same, but a "no match" decision counts as a miss
//     (what customers see once the fallback threshold applies);
//   - oos_recall: among out-of-scope queries (expect_match false, or an
//     intent held out with HoldoutFraction), the share answered "no match".
//
// Queries whose intent has no rule (intent_has_rule false, or no rule with
// that ID) and that are not marked out-of-scope count in neither metric.
package eval

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/waqtor/waqtor/smartbot"
)

// Query is one labeled message.
type Query struct {
	// ExpectMatch is false for out-of-scope queries. Defaults to true.
	ExpectMatch bool
	// Fields holds every field of the JSON line, for [Config.ByField].
	Fields map[string]any
	// Intent is the expected rule ID.
	Intent string
	// IntentHasRule is false when the data says no rule exists for Intent.
	IntentHasRule bool
	// Text is the message.
	Text string
}

// LoadQueries reads JSONL queries: {"text", "intent", "expect_match",
// "intent_has_rule", ...}. Blank lines are skipped. A line that is not a
// JSON object, lacks a string "text", has fields of the wrong type, or
// expects a match without naming its intent is an error naming the line.
func LoadQueries(r io.Reader) ([]Query, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), smartbot.MaxRuleLineBytes)
	var out []Query
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			if err == nil {
				err = errors.New("not a JSON object")
			}
			return nil, fmt.Errorf("eval: queries line %d: %w", line, err)
		}
		q, err := queryOf(m)
		if err != nil {
			return nil, fmt.Errorf("eval: queries line %d: %w", line, err)
		}
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: read queries: %w", err)
	}
	return out, nil
}

// queryOf reads the known fields of one query line.
func queryOf(m map[string]any) (Query, error) {
	q := Query{Fields: m, ExpectMatch: true, IntentHasRule: true}
	var ok bool
	if q.Text, ok = m["text"].(string); !ok {
		return q, errors.New(`missing string field "text"`)
	}
	if v, present := m["intent"]; present {
		if q.Intent, ok = v.(string); !ok {
			return q, errors.New(`field "intent" must be a string`)
		}
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"expect_match", &q.ExpectMatch}, {"intent_has_rule", &q.IntentHasRule}} {
		if v, present := m[f.name]; present {
			if *f.dst, ok = v.(bool); !ok {
				return q, fmt.Errorf("field %q must be true or false", f.name)
			}
		}
	}
	if q.ExpectMatch && q.Intent == "" {
		return q, errors.New(`a query with expect_match needs its "intent"`)
	}
	return q, nil
}

// Config configures [Run].
type Config struct {
	// ByField, when set, breaks accuracy down by this string field of the
	// queries (for example a dialect).
	ByField string
	// HoldoutFraction drops the rules of this fraction of intents (chosen
	// with Seed), so that their queries become out-of-scope.
	HoldoutFraction float64
	// Matcher configures the matcher under test.
	Matcher *smartbot.MatcherConfig
	// Seed seeds the holdout choice.
	Seed uint64
	// TopConfused is how many confused intent pairs to report. Defaults to
	// 10; a negative value reports none.
	TopConfused int
}

// Group is the accuracy of one group of queries.
type Group struct {
	Accuracy      float64 `json:"accuracy"`
	AccuracyGated float64 `json:"accuracy_gated"`
	InScope       int     `json:"in_scope"`
	OOS           int     `json:"oos,omitempty"`
	// OOSRecall is reported when the group has out-of-scope queries.
	OOSRecall *float64 `json:"oos_recall,omitempty"`
}

// Confusion is an (expected, predicted) pair with its count.
type Confusion struct {
	Count     int    `json:"count"`
	Expected  string `json:"expected"`
	Predicted string `json:"predicted"`
}

// Report is the outcome of [Run]. Accuracy fields are fractions in [0, 1].
type Report struct {
	Accuracy      float64 `json:"accuracy"`
	AccuracyGated float64 `json:"accuracy_gated"`
	// AccuracyChange is AccuracyGated minus BaselineAccuracy, with
	// HoldoutFraction: the in-scope accuracy lost to holding out intents
	// and falling back.
	AccuracyChange *float64 `json:"accuracy_change,omitempty"`
	AnswerRate     float64  `json:"answer_rate"`
	// BaselineAccuracy is the top-1 accuracy of a matcher on every rule,
	// with HoldoutFraction: the accuracy the fallback target is measured
	// against.
	BaselineAccuracy *float64         `json:"baseline_accuracy,omitempty"`
	BuildMs          float64          `json:"build_ms"`
	By               map[string]Group `json:"by,omitempty"`
	ByField          string           `json:"by_field,omitempty"`
	Confused         []Confusion      `json:"confused"`
	Decisions        map[string]int   `json:"decisions"`
	Examples         int              `json:"examples"`
	// Frontier is reported when there are out-of-scope queries.
	Frontier  *Frontier `json:"frontier,omitempty"`
	HeldOut   []string  `json:"held_out_intents,omitempty"`
	InScope   int       `json:"in_scope"`
	OOS       int       `json:"oos"`
	OOSRecall *float64  `json:"oos_recall"`
	P50Ms     float64   `json:"p50_ms"`
	P99Ms     float64   `json:"p99_ms"`
	Queries   int       `json:"queries"`
	Rules     int       `json:"rules"`
	Skipped   int       `json:"skipped"`
}

// Holdout returns the intents to hold out: a seeded choice of
// round(fraction·n) of the rule IDs.
func Holdout(rules []smartbot.Rule, fraction float64, seed uint64) []string {
	ids := make([]string, 0, len(rules))
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	n := int(math.Round(fraction * float64(len(ids))))
	out := slices.Clone(ids[:min(n, len(ids))])
	slices.Sort(out)
	return out
}

// Run builds a matcher on rules (minus the held-out intents) and matches
// every query.
func Run(ctx context.Context, rules []smartbot.Rule, queries []Query, cfg *Config) (*Report, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.HoldoutFraction < 0 || cfg.HoldoutFraction >= 1 {
		return nil, errors.New("eval: HoldoutFraction must be in [0, 1)")
	}
	rep := &Report{Decisions: map[string]int{}, ByField: cfg.ByField, Queries: len(queries)}
	held := map[string]bool{}
	if cfg.HoldoutFraction > 0 {
		rep.HeldOut = Holdout(rules, cfg.HoldoutFraction, cfg.Seed)
		for _, id := range rep.HeldOut {
			held[id] = true
		}
	}
	var kept []smartbot.Rule
	hasRule := map[string]bool{}
	for _, r := range rules {
		if !held[r.ID] {
			kept = append(kept, r)
			hasRule[r.ID] = !r.Disabled
			rep.Examples += len(r.Examples)
		}
	}
	rep.Rules = len(kept)
	start := time.Now()
	m, err := smartbot.NewMatcher(ctx, kept, cfg.Matcher)
	if err != nil {
		return nil, fmt.Errorf("eval: build matcher: %w", err)
	}
	rep.BuildMs = ms(time.Since(start))

	type tally struct{ in, top1, correct, oos, rejected int }
	var total tally
	groups := map[string]*tally{}
	confused := map[[2]string]int{}
	ungated, answered := 0, 0
	var samples []scored
	lat := make([]float64, 0, len(queries))
	for _, q := range queries {
		oos := !q.ExpectMatch || held[q.Intent]
		in := !oos && q.IntentHasRule && hasRule[q.Intent]
		if !oos && !in {
			rep.Skipped++
			continue
		}
		t0 := time.Now()
		res, err := m.Match(ctx, q.Text)
		if err != nil {
			return nil, fmt.Errorf("eval: match %q: %w", q.Text, err)
		}
		lat = append(lat, ms(time.Since(t0)))
		rep.Decisions[string(res.Decision)]++
		g := &tally{}
		if cfg.ByField != "" {
			key := fmt.Sprint(q.Fields[cfg.ByField])
			if groups[key] == nil {
				groups[key] = &tally{}
			}
			g = groups[key]
		}
		samples = append(samples, scored{conf: res.Confidence, oos: oos, correct: !oos && res.RuleID == q.Intent})
		if oos {
			total.oos++
			g.oos++
			if res.Decision == smartbot.DecisionNoMatch {
				total.rejected++
				g.rejected++
			}
			continue
		}
		total.in++
		g.in++
		if res.Decision == smartbot.DecisionAnswer {
			answered++
		}
		if res.RuleID == q.Intent {
			ungated++
			g.top1++
			if res.Decision != smartbot.DecisionNoMatch {
				total.correct++
				g.correct++
			}
		} else {
			confused[[2]string{q.Intent, cmp.Or(res.RuleID, "(none)")}]++
		}
	}
	rep.InScope, rep.OOS = total.in, total.oos
	if total.in > 0 {
		rep.Accuracy = float64(ungated) / float64(total.in)
		rep.AccuracyGated = float64(total.correct) / float64(total.in)
		rep.AnswerRate = float64(answered) / float64(total.in)
	}
	if total.oos > 0 {
		r := float64(total.rejected) / float64(total.oos)
		rep.OOSRecall = &r
	}
	baseline := -1.0
	if cfg.HoldoutFraction > 0 {
		if baseline, err = baselineAccuracy(ctx, rules, queries, cfg.Matcher); err != nil {
			return nil, err
		}
		change := rep.AccuracyGated - baseline
		rep.BaselineAccuracy, rep.AccuracyChange = &baseline, &change
	}
	rep.Frontier = frontier(samples, baseline)
	if cfg.ByField != "" {
		rep.By = map[string]Group{}
		for k, t := range groups {
			g := Group{InScope: t.in, OOS: t.oos}
			if t.in > 0 {
				g.Accuracy = float64(t.top1) / float64(t.in)
				g.AccuracyGated = float64(t.correct) / float64(t.in)
			}
			if t.oos > 0 {
				r := float64(t.rejected) / float64(t.oos)
				g.OOSRecall = &r
			}
			rep.By[k] = g
		}
	}
	for k, n := range confused {
		rep.Confused = append(rep.Confused, Confusion{Count: n, Expected: k[0], Predicted: k[1]})
	}
	sort.Slice(rep.Confused, func(i, j int) bool {
		a, b := rep.Confused[i], rep.Confused[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Expected+"\x00"+a.Predicted < b.Expected+"\x00"+b.Predicted
	})
	rep.Confused = rep.Confused[:min(len(rep.Confused), max(cmp.Or(cfg.TopConfused, 10), 0))]
	if rep.Confused == nil {
		rep.Confused = []Confusion{}
	}
	rep.P50Ms, rep.P99Ms = percentile(lat, 0.50), percentile(lat, 0.99)
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile returns the p-quantile (nearest rank) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
