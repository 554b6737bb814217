package smartbot

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/philippgille/chromem-go"

	"github.com/waqtor/waqtor/template"
)

// Defaults of [MatcherConfig].
const (
	// AnswerThresholdDefault is the default confidence needed to answer.
	AnswerThresholdDefault = 0.7
	// SuggestThresholdDefault is the default confidence needed to suggest a
	// rule for human review; below it the result is "no match".
	SuggestThresholdDefault = 0.5
	// EmbedConcurrencyDefault is the default number of concurrent calls to
	// an external EmbeddingFunc while indexing.
	EmbedConcurrencyDefault = 4
	// ExactConfidenceDefault is the default confidence of an exact match.
	ExactConfidenceDefault = 1.0
	// KeywordConfidenceDefault is the default confidence of a keyword match.
	KeywordConfidenceDefault = 0.9
	// MaxInputBytesDefault is the default cap on the message length.
	MaxInputBytesDefault = 4096
	// RegexConfidenceDefault is the default confidence of a regex match.
	RegexConfidenceDefault = 0.9
	// TopKDefault is the default number of alternatives in a [Result].
	TopKDefault = 5
)

// MatcherConfig configures a [Matcher]. The zero value (or nil) gives the
// defaults. Float fields use 0 for "default"; set a negative value to mean 0.
type MatcherConfig struct {
	// AnswerThreshold is the confidence at or above which a match is
	// answered automatically. Defaults to [AnswerThresholdDefault].
	AnswerThreshold float64
	// Builtin configures the built-in embedder; ignored when EmbeddingFunc
	// is set. Defaults to [BuiltinConfig] defaults.
	Builtin *BuiltinConfig
	// EmbedConcurrency bounds concurrent EmbeddingFunc calls while indexing
	// examples. Defaults to [EmbedConcurrencyDefault].
	EmbedConcurrency int
	// EmbeddingFunc embeds examples and messages for the semantic stage, for
	// example [NewOllamaEmbeddingFunc] or [NewOpenAICompatEmbeddingFunc].
	// Defaults to the offline [BuiltinEmbedder], refitted on each rule set.
	EmbeddingFunc chromem.EmbeddingFunc
	// ExactConfidence is the confidence of an exact phrase (or exact
	// example) match. Defaults to [ExactConfidenceDefault].
	ExactConfidence float64
	// KeywordConfidence is the confidence of a keyword match. Defaults to
	// [KeywordConfidenceDefault].
	KeywordConfidence float64
	// Logger receives index build logs. Defaults to [slog.Default].
	Logger *slog.Logger
	// MaxInputBytes caps the message length; longer messages are cut at a
	// character boundary. Defaults to [MaxInputBytesDefault].
	MaxInputBytes int
	// RegexConfidence is the confidence of a regex match. Defaults to
	// [RegexConfidenceDefault].
	RegexConfidence float64
	// SuggestThreshold is the confidence at or above which a match below
	// AnswerThreshold is suggested for human review; lower is "no match".
	// Defaults to [SuggestThresholdDefault].
	SuggestThreshold float64
	// TopK is the number of alternatives reported in a [Result]. Defaults to
	// [TopKDefault].
	TopK int
	// Test holds knobs for tests.
	Test MatcherTestConfig
}

// MatcherTestConfig holds test-only knobs of [MatcherConfig].
type MatcherTestConfig struct {
	// IntN picks a reply variant in [0, n). Defaults to math/rand/v2.IntN.
	IntN func(n int) int
	// Now is the clock for {{date}} and {{time}}, which are given in the
	// time zone of the time it returns. Defaults to time.Now.
	Now func() time.Time
	// Seed picks the alternatives of a reply's {{random:...}} variants (see
	// [template.RenderOpts.Seed]). Defaults to math/rand/v2.Uint64.
	Seed func() uint64
}

func orFloat(v, def float64) float64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

// WithDefaults returns a copy of c with unset fields given their defaults.
// It accepts a nil receiver.
func (c *MatcherConfig) WithDefaults() *MatcherConfig {
	var out MatcherConfig
	if c != nil {
		out = *c
	}
	out.AnswerThreshold = orFloat(out.AnswerThreshold, AnswerThresholdDefault)
	out.Builtin = out.Builtin.WithDefaults()
	out.EmbedConcurrency = cmp.Or(out.EmbedConcurrency, EmbedConcurrencyDefault)
	out.ExactConfidence = orFloat(out.ExactConfidence, ExactConfidenceDefault)
	out.KeywordConfidence = orFloat(out.KeywordConfidence, KeywordConfidenceDefault)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	out.MaxInputBytes = cmp.Or(out.MaxInputBytes, MaxInputBytesDefault)
	out.RegexConfidence = orFloat(out.RegexConfidence, RegexConfidenceDefault)
	out.SuggestThreshold = orFloat(out.SuggestThreshold, SuggestThresholdDefault)
	out.TopK = cmp.Or(out.TopK, TopKDefault)
	if out.Test.IntN == nil {
		out.Test.IntN = rand.IntN
	}
	if out.Test.Now == nil {
		out.Test.Now = time.Now
	}
	if out.Test.Seed == nil {
		out.Test.Seed = rand.Uint64
	}
	return &out
}

func (c *MatcherConfig) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"AnswerThreshold", c.AnswerThreshold}, {"SuggestThreshold", c.SuggestThreshold},
		{"ExactConfidence", c.ExactConfidence}, {"KeywordConfidence", c.KeywordConfidence},
		{"RegexConfidence", c.RegexConfidence}} {
		if f.v < 0 || f.v > 1 {
			return fmt.Errorf("%w: %s %v outside [0, 1]", ErrInvalidConfig, f.name, f.v)
		}
	}
	if c.SuggestThreshold > c.AnswerThreshold {
		return fmt.Errorf("%w: SuggestThreshold %v above AnswerThreshold %v (lower it or raise AnswerThreshold)",
			ErrInvalidConfig, c.SuggestThreshold, c.AnswerThreshold)
	}
	if c.TopK < 0 || c.EmbedConcurrency < 1 || c.MaxInputBytes < 1 {
		return fmt.Errorf("%w: TopK, EmbedConcurrency and MaxInputBytes must be positive", ErrInvalidConfig)
	}
	if c.EmbeddingFunc == nil {
		return c.Builtin.validate()
	}
	return nil
}

// Decision is what to do with a message.
type Decision string

// Decisions, from most to least confident.
const (
	// DecisionAnswer: reply automatically with the rule's reply.
	DecisionAnswer Decision = "answer"
	// DecisionSuggest: a likely rule, to be confirmed by a human.
	DecisionSuggest Decision = "suggest"
	// DecisionNoMatch: no rule fits; use the fallback.
	DecisionNoMatch Decision = "no_match"
)

// Stage is the pipeline stage that produced a candidate.
type Stage string

// Stages in pipeline order.
const (
	StageNone     Stage = ""
	StageExact    Stage = "exact"
	StageKeyword  Stage = "keyword"
	StageRegex    Stage = "regex"
	StageSemantic Stage = "semantic"
)

// Candidate is one rule proposed for a message.
type Candidate struct {
	// Confidence is the calibrated confidence in [0, 1] that this rule is
	// the right answer.
	Confidence float64 `json:"confidence"`
	// Evidence is what matched: the exact phrase, keyword, regex, or the
	// nearest example of the rule.
	Evidence string `json:"evidence,omitempty"`
	// Rule is the matched rule (a copy owned by the matcher; do not modify).
	Rule *Rule `json:"-"`
	// RuleID is Rule.ID.
	RuleID string `json:"rule_id"`
	// Score is the stage's raw score: the semantic similarity score, or 1
	// for lexical stages.
	Score float64 `json:"score"`
	// Stage is the stage that matched.
	Stage Stage `json:"stage"`
}

// Result is the outcome of [Matcher.Match]. For [DecisionNoMatch] the
// embedded Candidate still describes the best (rejected) rule, if any.
type Result struct {
	Candidate
	// Alternatives are the next best rules, best first (at most TopK).
	Alternatives []Candidate `json:"alternatives,omitempty"`
	// Decision is answer, suggest or no_match.
	Decision Decision `json:"decision"`
	// Language is the detected language of the message.
	Language LanguageInfo `json:"language"`
	// Normalized is the message after [Normalize] (and the length cap).
	Normalized string `json:"normalized"`
}

// Matcher matches messages to rules. Build one with [NewMatcher].
//
// All methods are safe for concurrent use. [Matcher.SetRules] builds a new
// index while Match calls keep using the old one, then swaps it atomically.
type Matcher struct {
	cfg *MatcherConfig
	idx atomic.Pointer[index]
	mu  sync.Mutex // serializes SetRules
}

// NewMatcher validates rules and builds the matching index. Indexing calls
// cfg.EmbeddingFunc once per example (not at all with the built-in embedder).
func NewMatcher(ctx context.Context, rules []Rule, cfg *MatcherConfig) (*Matcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Matcher{cfg: cfg}
	if err := m.SetRules(ctx, rules); err != nil {
		return nil, err
	}
	return m, nil
}

// SetRules validates rules and replaces the rule set. Concurrent Match calls
// keep using the previous rules until the new index is ready; on error the
// previous rules stay in place.
func (m *Matcher) SetRules(ctx context.Context, rules []Rule) error {
	if err := ValidateRules(rules); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	idx, err := buildIndex(ctx, rules, m.cfg)
	if err != nil {
		return err
	}
	m.idx.Store(idx)
	m.cfg.Logger.DebugContext(ctx, "SmartBot index built",
		slog.Int("rules", len(idx.rules)), slog.Int("examples", len(idx.exRule)),
		slog.Duration("elapsed", time.Since(start)))
	return nil
}

// Rules returns a copy of the current rules.
func (m *Matcher) Rules() []Rule {
	idx := m.idx.Load()
	out := make([]Rule, len(idx.rules))
	for i := range idx.rules {
		out[i] = cloneRule(idx.rules[i])
	}
	return out
}

// Match runs the pipeline on one message: normalize, detect the language,
// then the exact, keyword, regex and semantic stages. The first lexical
// stage that matches decides; otherwise the semantic stage does. Thresholds
// turn the confidence into a [Decision]. Empty, letterless or binary input
// gives [DecisionNoMatch] without error. Errors come only from ctx or an
// external EmbeddingFunc.
func (m *Matcher) Match(ctx context.Context, text string) (*Result, error) {
	idx := m.idx.Load()
	if len(text) > m.cfg.MaxInputBytes {
		cut := m.cfg.MaxInputBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	folded := fold(text)
	norm := squash(folded, true)
	res := &Result{Decision: DecisionNoMatch, Normalized: norm, Language: detectNormalized(norm)}
	if norm == "" && folded == "" {
		return res, nil
	}
	cands := idx.lexical(folded, norm, res.Language, m.cfg)
	sem, err := idx.semantic(ctx, norm, res.Language)
	if err != nil {
		return nil, err
	}
	cands = append(cands, sem...)
	// Keep the first (best-stage) candidate per rule.
	seen := make(map[string]bool, len(cands))
	uniq := cands[:0]
	for _, c := range cands {
		if !seen[c.RuleID] {
			seen[c.RuleID] = true
			uniq = append(uniq, c)
		}
	}
	if len(uniq) == 0 {
		return res, nil
	}
	res.Candidate = uniq[0]
	if len(uniq) > 1 {
		res.Alternatives = slices.Clone(uniq[1:min(len(uniq), m.cfg.TopK+1)])
	}
	switch c := res.Confidence; {
	case c >= m.cfg.AnswerThreshold:
		res.Decision = DecisionAnswer
	case c >= m.cfg.SuggestThreshold:
		res.Decision = DecisionSuggest
	}
	return res, nil
}

// Reply renders one of the matched rule's replies (chosen at random) with
// vars; see package [github.com/waqtor/waqtor/template] for the syntax.
// {{date}} and {{time}} are the current date and time in the local time
// zone, and {{random:...}} variants are chosen at random. It returns false
// for a nil result, [DecisionNoMatch], or a rule without replies.
func (m *Matcher) Reply(res *Result, vars map[string]string) (string, bool) {
	if res == nil || res.Decision == DecisionNoMatch || res.Rule == nil || len(res.Rule.Replies) == 0 {
		return "", false
	}
	src := res.Rule.Replies[m.cfg.Test.IntN(len(res.Rule.Replies))]
	t, err := template.Parse(src)
	if err != nil { // validated when the rules were set; defensive
		return "", false
	}
	now := m.cfg.Test.Now()
	return t.Render(vars, &template.RenderOpts{Location: now.Location(), Now: now, Seed: m.cfg.Test.Seed()}), true
}

func cloneRule(r Rule) Rule {
	r.Exact = slices.Clone(r.Exact)
	r.Keywords = slices.Clone(r.Keywords)
	r.Regexes = slices.Clone(r.Regexes)
	r.Examples = slices.Clone(r.Examples)
	r.Replies = slices.Clone(r.Replies)
	return r
}
