package smartbot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/template"
)

func shopRules() []Rule {
	return []Rule{
		{
			ID:       "hours",
			Name:     "Opening hours",
			Exact:    []string{"hours"},
			Keywords: []string{"opening hours", "مواعيد العمل"},
			Examples: []string{"when do you open", "what time do you close today", "are you open on friday", "متى تفتحون", "ما هي مواعيد الفتح"},
			Replies:  []string{"We are open 9:00–21:00, {{name|friend}}."},
		},
		{
			ID:       "order_status",
			Regexes:  []string{`order\s*#?\d{4,}`},
			Examples: []string{"where is my order", "my package has not arrived", "track my delivery", "وين طلبي", "الطلب ما وصل"},
			Replies:  []string{"Let me check your order."},
			Priority: 1,
		},
		{
			ID:       "refund",
			Keywords: []string{"refund"},
			Examples: []string{"i want my money back", "how do i return an item", "can i get a refund for a damaged product", "ابي استرجع فلوسي", "كيف ارجع المنتج"},
			Replies:  []string{"Refunds take 5 days.", "You will get your money back within 5 days."},
		},
		{
			ID:       "price",
			Keywords: []string{"price", "cost"},
			Examples: []string{"how much is it", "what is the price of the blue shirt", "بكم هذا", "كم السعر"},
			Replies:  []string{"Prices are on our website."},
			Priority: 2,
		},
		{
			ID:       "greeting_ar",
			Exact:    []string{"السلام عليكم"},
			Language: LangArabic,
			Replies:  []string{"وعليكم السلام {{name}}!"},
		},
		{
			ID:       "old",
			Exact:    []string{"legacy"},
			Disabled: true,
		},
	}
}

func newShopMatcher(t *testing.T, cfg *MatcherConfig) *Matcher {
	t.Helper()
	m, err := NewMatcher(context.Background(), shopRules(), cfg)
	require.NoError(t, err)
	return m
}

func TestMatcherStages(t *testing.T) {
	t.Parallel()
	m := newShopMatcher(t, nil)
	tests := map[string]struct {
		text     string
		rule     string
		stage    Stage
		evidence string
		decision Decision
	}{
		"exact phrase":             {text: "Hours!", rule: "hours", stage: StageExact, evidence: "hours", decision: DecisionAnswer},
		"exact example":            {text: "Where is my ORDER?", rule: "order_status", stage: StageExact, evidence: "where is my order", decision: DecisionAnswer},
		"exact arabic variants":    {text: "السَّلامُ عليكُم", rule: "greeting_ar", stage: StageExact, decision: DecisionAnswer},
		"keyword":                  {text: "what are your opening hours please", rule: "hours", stage: StageKeyword, evidence: "opening hours", decision: DecisionAnswer},
		"keyword arabic":           {text: "ممكن اعرف مواعيد العمل؟", rule: "hours", stage: StageKeyword, evidence: "مواعيد العمل", decision: DecisionAnswer},
		"keyword needs whole word": {text: "refunded yesterday, where is my order", rule: "order_status", stage: StageSemantic},
		"keyword priority":         {text: "refund price", rule: "price", stage: StageKeyword, evidence: "price"},
		"regex":                    {text: "Status of ORDER #123456?", rule: "order_status", stage: StageRegex, evidence: `order\s*#?\d{4,}`},
		"regex arabic digits":      {text: "order ١٢٣٤٥", rule: "order_status", stage: StageRegex},
		"semantic english":         {text: "when are you open on saturday", rule: "hours", stage: StageSemantic},
		"semantic arabic":          {text: "طلبي ما وصل لحد الحين", rule: "order_status", stage: StageSemantic},
		"semantic typo":            {text: "i want my mony bak", rule: "refund", stage: StageSemantic},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := m.Match(context.Background(), tt.text)
			require.NoError(t, err)
			require.Equal(t, tt.rule, res.RuleID, "result: %+v", res)
			require.Equal(t, tt.stage, res.Stage)
			require.NotNil(t, res.Rule)
			require.Equal(t, tt.rule, res.Rule.ID)
			if tt.evidence != "" {
				require.Equal(t, tt.evidence, res.Evidence)
			}
			if tt.decision != "" {
				require.Equal(t, tt.decision, res.Decision)
			}
			require.GreaterOrEqual(t, res.Confidence, 0.0)
			require.LessOrEqual(t, res.Confidence, 1.0)
			for _, alt := range res.Alternatives {
				require.NotEqual(t, res.RuleID, alt.RuleID, "alternatives exclude the match")
			}
		})
	}
}

func TestMatcherSemanticEvidenceAndAlternatives(t *testing.T) {
	t.Parallel()
	m := newShopMatcher(t, &MatcherConfig{TopK: 2})
	res, err := m.Match(context.Background(), "can you tell me when you open tomorrow")
	require.NoError(t, err)
	require.Equal(t, "hours", res.RuleID)
	require.Equal(t, StageSemantic, res.Stage)
	require.Contains(t, shopRules()[0].Examples, res.Evidence, "evidence is the nearest example")
	require.Len(t, res.Alternatives, 2)
	require.Equal(t, LangEnglish, res.Language.Lang)
	require.Equal(t, "can you tell me when you open tomorrow", res.Normalized)
}

func TestMatcherArabizi(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{ID: "book", Examples: []string{"عايز احجز طاولة", "ممكن حجز لشخصين", "احجز لي ترابيزة الليلة"}},
		{ID: "menu", Examples: []string{"ممكن اشوف المنيو", "ايه الاكل اللي عندكم", "عايز قائمة الطعام"}},
		{ID: "hours", Examples: []string{"بتفتحوا امتى", "مواعيد الشغل ايه", "انتو فاتحين النهارده"}},
	}
	m, err := NewMatcher(context.Background(), rules, nil)
	require.NoError(t, err)
	tests := map[string]struct {
		text, rule string
		answered   bool
	}{
		"book a table": {"ana 3ayez a7gez tarabeeza", "book", true},
		"short":        {"3ayez a7gez", "book", true},
		"opening time": {"bteftaho emta", "hours", true},
		"menu":         {"momken ashoof el menu", "menu", false}, // right rule, low confidence
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := m.Match(context.Background(), tt.text)
			require.NoError(t, err)
			require.Equal(t, tt.rule, res.RuleID)
			require.True(t, res.Language.Arabizi)
			if tt.answered {
				require.NotEqual(t, DecisionNoMatch, res.Decision, "confidence %v", res.Confidence)
			}
		})
	}
	res, err := m.Match(context.Background(), "xyz 3abc q7q")
	require.NoError(t, err)
	require.Equal(t, DecisionNoMatch, res.Decision, "Arabizi-looking noise still falls back")
}

func TestMatcherDisabledAndLanguage(t *testing.T) {
	t.Parallel()
	m := newShopMatcher(t, nil)
	res, err := m.Match(context.Background(), "legacy")
	require.NoError(t, err)
	require.NotEqual(t, "old", res.RuleID, "disabled rules never match")

	// The Arabic-only greeting does not answer an English message, even if
	// it is spelled the same after normalization (here: not at all).
	res, err = m.Match(context.Background(), "السلام عليكم")
	require.NoError(t, err)
	require.Equal(t, "greeting_ar", res.RuleID)

	only := []Rule{{ID: "en", Exact: []string{"ok"}, Language: LangEnglish}, {ID: "ar", Exact: []string{"ok"}, Language: LangArabic}}
	m2, err := NewMatcher(context.Background(), only, nil)
	require.NoError(t, err)
	res, err = m2.Match(context.Background(), "ok")
	require.NoError(t, err)
	require.Equal(t, "en", res.RuleID)
	require.Empty(t, res.Alternatives)
}

func TestMatcherAmbiguousExact(t *testing.T) {
	t.Parallel()
	rules := []Rule{{ID: "a", Exact: []string{"help"}}, {ID: "b", Exact: []string{"help"}, Priority: 5}}
	m, err := NewMatcher(context.Background(), rules, nil)
	require.NoError(t, err)
	res, err := m.Match(context.Background(), "HELP")
	require.NoError(t, err)
	require.Equal(t, "b", res.RuleID, "priority breaks the tie")
	require.InDelta(t, 0.5, res.Confidence, 1e-9, "a phrase shared by two rules is not certain")
	require.Equal(t, DecisionSuggest, res.Decision)
	require.Len(t, res.Alternatives, 1)
}

func TestMatcherThresholds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]struct {
		cfg  *MatcherConfig
		text string
		want Decision
	}{
		"exact answers by default":        {cfg: nil, text: "hours", want: DecisionAnswer},
		"keyword below answer threshold":  {cfg: &MatcherConfig{AnswerThreshold: 0.95, SuggestThreshold: 0.5}, text: "refund now", want: DecisionSuggest},
		"keyword below suggest":           {cfg: &MatcherConfig{AnswerThreshold: 0.99, SuggestThreshold: 0.95}, text: "refund now", want: DecisionNoMatch},
		"zero thresholds answer anything": {cfg: &MatcherConfig{AnswerThreshold: -1, SuggestThreshold: -1}, text: "zzz qqq", want: DecisionAnswer},
		"regex confidence configurable":   {cfg: &MatcherConfig{RegexConfidence: 0.6}, text: "order 12345", want: DecisionSuggest},
		"unknown words fall back":         {cfg: nil, text: "xylophone quantum zebra", want: DecisionNoMatch},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newShopMatcher(t, tt.cfg)
			res, err := m.Match(ctx, tt.text)
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Decision, "confidence %v rule %q", res.Confidence, res.RuleID)
		})
	}
}

func TestMatcherConfigValidation(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ cfg *MatcherConfig }{
		"suggest above answer": {&MatcherConfig{AnswerThreshold: 0.4, SuggestThreshold: 0.6}},
		"threshold above one":  {&MatcherConfig{AnswerThreshold: 1.5}},
		"bad dimensions":       {&MatcherConfig{Builtin: &BuiltinConfig{Dimensions: 3}}},
		"bad n-grams":          {&MatcherConfig{Builtin: &BuiltinConfig{CharNGramMin: 4, CharNGramMax: 2}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := NewMatcher(context.Background(), shopRules(), tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	cfg := &MatcherConfig{TopK: 3}
	_, err := NewMatcher(context.Background(), nil, cfg)
	require.NoError(t, err)
	require.Equal(t, &MatcherConfig{TopK: 3}, cfg, "the caller's config is not modified")
}

func TestMatcherBadInput(t *testing.T) {
	t.Parallel()
	m := newShopMatcher(t, &MatcherConfig{MaxInputBytes: 1000})
	inputs := map[string]string{
		"empty":           "",
		"spaces":          "   \n\t ",
		"binary":          "\x00\x01\xff\xfe\x80garbage\x00",
		"emoji only":      "😀😀🎉👍🏽",
		"punctuation":     "?!?!... ،؛؟",
		"very long":       strings.Repeat("where is my order ", 100_000),
		"long arabic":     strings.Repeat("وين طلبي ", 50_000),
		"rtl controls":    "\u202eredro ym si erehw\u202c",
		"mixed script":    "أريد refund على order رقم ١٢٣",
		"zalgo":           "w̷̡h̸e̵r̶e̷ ̸i̴s̷ ̷m̵y̸ ̷o̶r̷d̶e̵r̷",
		"invalid utf8":    string([]byte{0xe2, 0x28, 0xa1, 'o', 'k'}),
		"digits only":     "1234567890",
		"one letter":      "a",
		"cut inside utf8": strings.Repeat("a", 999) + "é",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := m.Match(context.Background(), in)
			require.NoError(t, err)
			require.Contains(t, []Decision{DecisionAnswer, DecisionSuggest, DecisionNoMatch}, res.Decision)
			require.False(t, math.IsNaN(res.Confidence))
			require.GreaterOrEqual(t, res.Confidence, 0.0)
			require.LessOrEqual(t, res.Confidence, 1.0)
			require.LessOrEqual(t, len(res.Normalized), 1000)
		})
	}
	for _, in := range []string{"", "😀😀", "\x00\x01"} {
		res, err := m.Match(context.Background(), in)
		require.NoError(t, err)
		require.Equal(t, DecisionNoMatch, res.Decision, "%q", in)
		require.Empty(t, res.RuleID)
	}
}

func TestMatcherNoRules(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(context.Background(), nil, nil)
	require.NoError(t, err)
	res, err := m.Match(context.Background(), "hello")
	require.NoError(t, err)
	require.Equal(t, DecisionNoMatch, res.Decision)

	// Lexical-only rules need no embedding at all.
	m, err = NewMatcher(context.Background(), []Rule{{ID: "k", Keywords: []string{"hello"}}}, nil)
	require.NoError(t, err)
	res, err = m.Match(context.Background(), "hello there")
	require.NoError(t, err)
	require.Equal(t, "k", res.RuleID)
}

func TestMatcherReply(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	pick := 1
	m := newShopMatcher(t, &MatcherConfig{Test: MatcherTestConfig{IntN: func(n int) int { return pick % n }, Now: func() time.Time { return now }}})
	res, err := m.Match(context.Background(), "hours")
	require.NoError(t, err)
	reply, ok := m.Reply(res, map[string]string{"name": "Omar"})
	require.True(t, ok)
	require.Equal(t, "We are open 9:00–21:00, Omar.", reply)
	reply, ok = m.Reply(res, nil)
	require.True(t, ok)
	require.Equal(t, "We are open 9:00–21:00, friend.", reply)

	res, err = m.Match(context.Background(), "refund please")
	require.NoError(t, err)
	reply, _ = m.Reply(res, nil)
	require.Equal(t, "You will get your money back within 5 days.", reply, "variant chosen by IntN")

	res, err = m.Match(context.Background(), "السلام عليكم")
	require.NoError(t, err)
	reply, _ = m.Reply(res, nil)
	require.Equal(t, "وعليكم السلام!", reply, "missing name is tidied away")

	_, ok = m.Reply(nil, nil)
	require.False(t, ok)
	_, ok = m.Reply(&Result{Decision: DecisionNoMatch}, nil)
	require.False(t, ok)
}

// TestMatcherReplyTemplate: replies use package template, with {{date}} and
// {{time}} in the zone of MatcherTestConfig.Now's time (the local zone by
// default) and {{random:...}} chosen by MatcherTestConfig.Seed.
func TestMatcherReplyTemplate(t *testing.T) {
	t.Parallel()
	cairo := time.FixedZone("Cairo", 2*60*60)
	now := time.Date(2026, 1, 2, 23, 30, 0, 0, time.UTC).In(cairo)
	var seed uint64
	rules := []Rule{{ID: "greet", Exact: []string{"hi"}, Replies: []string{"{{random:Hi|Hello|Salam}} {{Name|friend}}, it is {{date}} {{time}}."}}}
	m, err := NewMatcher(context.Background(), rules, &MatcherConfig{Test: MatcherTestConfig{Now: func() time.Time { return now }, Seed: func() uint64 { return seed }}})
	require.NoError(t, err)
	res, err := m.Match(context.Background(), "hi")
	require.NoError(t, err)
	seen := map[string]bool{}
	for seed = range uint64(30) {
		reply, ok := m.Reply(res, map[string]string{"name": "Omar"})
		require.True(t, ok)
		seen[reply] = true
		again, _ := m.Reply(res, map[string]string{"name": "Omar"})
		require.Equal(t, reply, again, "same seed, same reply")
	}
	require.Equal(t, map[string]bool{
		"Hi Omar, it is 2026-01-03 01:30.":    true,
		"Hello Omar, it is 2026-01-03 01:30.": true,
		"Salam Omar, it is 2026-01-03 01:30.": true,
	}, seen)

	bad := Rule{ID: "bad", Exact: []string{"x"}, Replies: []string{"{{random:a|{{b}}}}"}}
	err = bad.Validate()
	require.ErrorIs(t, err, ErrInvalidTemplate)
	require.ErrorIs(t, err, template.ErrInvalid)
	require.ErrorContains(t, err, `Replies[0]: template: invalid template at byte 11: nested {{`)
}

func TestMatcherSetRulesConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newShopMatcher(t, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := m.Match(ctx, "where is my order")
				if err != nil {
					t.Error(err)
					return
				}
				if res.RuleID != "order_status" && res.RuleID != "track" {
					t.Errorf("unexpected rule %q", res.RuleID)
					return
				}
			}
		}()
	}
	for i := range 6 {
		rules := shopRules()
		if i%2 == 1 {
			rules = []Rule{{ID: "track", Examples: []string{"where is my order", "track my parcel"}}}
		}
		require.NoError(t, m.SetRules(ctx, rules))
	}
	close(stop)
	wg.Wait()

	// A failed update keeps the previous rules.
	require.Error(t, m.SetRules(ctx, []Rule{{ID: "bad", Regexes: []string{"("}}}))
	require.NotEmpty(t, m.Rules())
	rules := m.Rules()
	rules[0].Examples[0] = "mutated"
	require.NotEqual(t, "mutated", m.Rules()[0].Examples[0], "Rules returns a copy")
}

func TestMatcherExternalEmbedder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls sync.Map
	fake := func(ctx context.Context, text string) ([]float32, error) {
		calls.Store(text, true)
		v := make([]float32, 64)
		for _, w := range strings.Fields(Normalize(text)) {
			v[hashString(0, w)%64]++
		}
		return v, nil
	}
	m, err := NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: fake})
	require.NoError(t, err)
	_, seen := calls.Load("when do you open")
	require.True(t, seen, "examples are embedded with the configured func")
	res, err := m.Match(ctx, "do you open on friday")
	require.NoError(t, err)
	require.Equal(t, "hours", res.RuleID)
	require.Equal(t, StageSemantic, res.Stage)
	require.GreaterOrEqual(t, res.Confidence, 0.0)

	failing := func(ctx context.Context, text string) ([]float32, error) { return nil, errors.New("boom") }
	_, err = NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: failing})
	require.ErrorIs(t, err, ErrEmbedding)

	zero := func(ctx context.Context, text string) ([]float32, error) { return make([]float32, 8), nil }
	_, err = NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: zero})
	require.ErrorIs(t, err, ErrEmbedding)

	n := 0
	var mu sync.Mutex
	ragged := func(ctx context.Context, text string) ([]float32, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return make([]float32, 4+n%2), nil
	}
	_, err = NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: ragged})
	require.ErrorIs(t, err, ErrEmbedding)

	ctxC, cancel := context.WithCancel(ctx)
	cancel()
	_, err = NewMatcher(ctxC, shopRules(), &MatcherConfig{EmbeddingFunc: fake})
	require.ErrorIs(t, err, context.Canceled)
}

// TestMatcherFixtures checks top-1 accuracy on the small public fixtures in
// testdata (see testdata/README.md); the full measurement is smartbot-eval.
func TestMatcherFixtures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		rules, queries string
		min            float64
	}{
		"banking77 english": {"testdata/banking77_rules.jsonl", "testdata/banking77_queries.jsonl", 0.85},
		"xsid arabic":       {"testdata/xsid_ar_rules.jsonl", "testdata/xsid_ar_queries.jsonl", 0.80},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(tt.rules)
			require.NoError(t, err)
			defer f.Close()
			rules, err := LoadRulesJSONL(f)
			require.NoError(t, err)
			m, err := NewMatcher(context.Background(), rules, nil)
			require.NoError(t, err)
			raw, err := os.ReadFile(tt.queries)
			require.NoError(t, err)
			right, total := 0, 0
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				var q struct {
					Text, Intent string
				}
				require.NoError(t, jsonUnmarshal(line, &q))
				res, err := m.Match(context.Background(), q.Text)
				require.NoError(t, err)
				total++
				if res.RuleID == q.Intent {
					right++
				}
			}
			acc := float64(right) / float64(total)
			t.Logf("%s: top-1 %d/%d = %.3f", name, right, total, acc)
			require.GreaterOrEqual(t, acc, tt.min, fmt.Sprintf("accuracy %.3f", acc))
		})
	}
}
