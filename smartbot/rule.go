package smartbot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/waqtor/waqtor/template"
)

// MaxRuleLineBytes is the longest line [LoadRulesJSONL] accepts.
const MaxRuleLineBytes = 1 << 20

// Rule is one business rule: when an incoming message matches one of its
// triggers, SmartBot answers with one of its replies.
//
// Triggers are tried in this order by [Matcher.Match]: Exact phrases,
// Keywords, Regexes, then the semantic stage over Examples. All text
// triggers are compared after [Normalize], so case, accents, Arabic letter
// variants and punctuation do not matter.
type Rule struct {
	// ID identifies the rule. Required and unique within a rule set.
	ID string `json:"id"`
	// Name is a human-readable label. Optional.
	Name string `json:"name,omitempty"`
	// Exact phrases match when the whole normalized message equals one of them.
	Exact []string `json:"exact,omitempty"`
	// Keywords match when the normalized message contains one of them as
	// whole words (a keyword may have several words).
	Keywords []string `json:"keywords,omitempty"`
	// Regexes are Go regular expressions (RE2 syntax) matched against the
	// message after character normalization (NFKC, case folding, Arabic
	// letter unification, ASCII digits) with punctuation kept.
	Regexes []string `json:"regexes,omitempty"`
	// Examples are typical phrasings of the customer's intent; the semantic
	// stage compares messages with them. A handful (5–20) per rule works well.
	Examples []string `json:"examples,omitempty"`
	// Replies are reply templates in the syntax of package
	// [github.com/waqtor/waqtor/template]; [Matcher.Reply] picks one at
	// random.
	Replies []string `json:"replies,omitempty"`
	// Priority breaks ties between rules matched by the same stage: higher
	// wins. Optional.
	Priority int `json:"priority,omitempty"`
	// Language restricts the rule to messages detected as that language
	// (mixed-script and letterless messages always qualify). Empty means any.
	Language Language `json:"language,omitempty"`
	// Disabled rules are kept but never matched (the rule's enabled flag,
	// inverted so that the zero value is an enabled rule).
	Disabled bool `json:"disabled,omitempty"`
}

// Enabled reports whether the rule takes part in matching.
func (r *Rule) Enabled() bool { return !r.Disabled }

// Validate checks one rule: an ID, at least one non-blank trigger, valid
// regexes, parseable reply templates and a known language. The error is a
// [*RuleError].
func (r *Rule) Validate() error {
	return r.validate(0)
}

func (r *Rule) validate(index int) error {
	fail := func(field string, err error) error {
		return &RuleError{RuleID: r.ID, Index: index, Field: field, Err: err}
	}
	if strings.TrimSpace(r.ID) == "" {
		return fail("ID", errors.New("missing ID"))
	}
	triggers := 0
	for _, list := range []struct {
		name  string
		items []string
	}{{"Exact", r.Exact}, {"Keywords", r.Keywords}, {"Examples", r.Examples}} {
		for i, s := range list.items {
			if Normalize(s) == "" {
				return fail(fmt.Sprintf("%s[%d]", list.name, i), errors.New("blank after normalization (no letters or digits)"))
			}
			triggers++
		}
	}
	for i, s := range r.Regexes {
		if s == "" {
			return fail(fmt.Sprintf("Regexes[%d]", i), errors.New("empty regex"))
		}
		if _, err := regexp.Compile(s); err != nil {
			return fail(fmt.Sprintf("Regexes[%d]", i), err)
		}
		triggers++
	}
	if triggers == 0 {
		return fail("", ErrEmptyRule)
	}
	for i, s := range r.Replies {
		if _, err := template.Parse(s); err != nil {
			return fail(fmt.Sprintf("Replies[%d]", i), err)
		}
	}
	switch r.Language {
	case LangAny, LangArabic, LangEnglish, LangOther:
	default:
		return fail("Language", fmt.Errorf("unknown language %q (want \"\", \"ar\", \"en\" or \"other\")", r.Language))
	}
	return nil
}

// ValidateRules validates every rule and checks that IDs are unique.
func ValidateRules(rules []Rule) error {
	seen := make(map[string]int, len(rules))
	for i := range rules {
		if err := rules[i].validate(i + 1); err != nil {
			return err
		}
		if j, ok := seen[rules[i].ID]; ok {
			return &RuleError{RuleID: rules[i].ID, Index: i + 1, Field: "ID", Err: fmt.Errorf("duplicate ID (also rule #%d)", j)}
		}
		seen[rules[i].ID] = i + 1
	}
	return nil
}

// ruleLine is the JSONL form of a rule: the [Rule] fields plus the short
// form used by intent data sets ({"intent", "examples", "reply"}) and an
// "enabled" flag.
type ruleLine struct {
	Rule
	Intent  string `json:"intent"`
	Reply   string `json:"reply"`
	Enabled *bool  `json:"enabled"`
}

// LoadRulesJSONL reads one JSON rule per line. Each line has the fields of
// [Rule] ("id", "name", "exact", "keywords", "regexes", "examples",
// "replies", "priority", "language", "disabled"), and may instead use the
// intent data set form {"intent": ID, "examples": [...], "reply": "..."} and
// "enabled": false. Blank lines are skipped; unknown fields are ignored.
// Every rule is validated; errors name the line.
func LoadRulesJSONL(r io.Reader) ([]Rule, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var rules []Rule
	seen := make(map[string]int)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("smartbot: read rules line %d: %w", lineNo, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			var rl ruleLine
			if jerr := json.Unmarshal(line, &rl); jerr != nil {
				return nil, &RuleError{Index: lineNo, Err: fmt.Errorf("bad JSON: %w", jerr)}
			}
			rule := rl.Rule
			if rule.ID == "" {
				rule.ID = rl.Intent
			}
			if rule.Name == "" && rl.Intent != "" {
				rule.Name = rl.Intent
			}
			if rl.Reply != "" {
				rule.Replies = append(rule.Replies, rl.Reply)
			}
			if rl.Enabled != nil && !*rl.Enabled {
				rule.Disabled = true
			}
			if verr := rule.validate(lineNo); verr != nil {
				return nil, verr
			}
			if j, ok := seen[rule.ID]; ok {
				return nil, &RuleError{RuleID: rule.ID, Index: lineNo, Field: "ID", Err: fmt.Errorf("duplicate ID (also line %d)", j)}
			}
			seen[rule.ID] = lineNo
			rules = append(rules, rule)
		}
		if errors.Is(err, io.EOF) {
			return rules, nil
		}
	}
}

// readLine reads one line (without the newline) of at most MaxRuleLineBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		line = append(line, chunk...)
		if len(line) > MaxRuleLineBytes {
			return nil, fmt.Errorf("line longer than %d bytes", MaxRuleLineBytes)
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return line, io.EOF
			}
			return line, err
		}
		if !isPrefix {
			return line, nil
		}
	}
}
