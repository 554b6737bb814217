package smartbot

import (
	"errors"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		rule    Rule
		wantErr error
		field   string
	}{
		"valid examples":   {rule: Rule{ID: "a", Examples: []string{"hello"}}},
		"valid keyword":    {rule: Rule{ID: "a", Keywords: []string{"price"}, Replies: []string{"Hi {{name|friend}}"}}},
		"valid regex only": {rule: Rule{ID: "a", Regexes: []string{`order #\d+`}}},
		"valid language":   {rule: Rule{ID: "a", Exact: []string{"مرحبا"}, Language: LangArabic}},
		"missing id":       {rule: Rule{Examples: []string{"x"}}, wantErr: ErrInvalidRule, field: "ID"},
		"empty rule":       {rule: Rule{ID: "a", Replies: []string{"hi"}}, wantErr: ErrEmptyRule},
		"blank example":    {rule: Rule{ID: "a", Examples: []string{"ok", " !! "}}, wantErr: ErrInvalidRule, field: "Examples[1]"},
		"emoji keyword":    {rule: Rule{ID: "a", Keywords: []string{"😀"}}, wantErr: ErrInvalidRule, field: "Keywords[0]"},
		"bad regex":        {rule: Rule{ID: "a", Regexes: []string{"(unclosed"}}, wantErr: ErrInvalidRule, field: "Regexes[0]"},
		"empty regex":      {rule: Rule{ID: "a", Regexes: []string{""}}, wantErr: ErrInvalidRule, field: "Regexes[0]"},
		"bad template":     {rule: Rule{ID: "a", Examples: []string{"x"}, Replies: []string{"Hi {{name"}}, wantErr: ErrInvalidTemplate, field: "Replies[0]"},
		"bad language":     {rule: Rule{ID: "a", Examples: []string{"x"}, Language: "fr"}, wantErr: ErrInvalidRule, field: "Language"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tt.rule.Validate()
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorIs(t, err, ErrInvalidRule)
			var re *RuleError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.field, re.Field)
			require.True(t, strings.HasPrefix(err.Error(), "smartbot: "), err.Error())
		})
	}
}

func TestRuleValidateRegexCause(t *testing.T) {
	t.Parallel()
	err := (&Rule{ID: "a", Regexes: []string{"a**"}}).Validate()
	var se *syntax.Error
	require.True(t, errors.As(err, &se), "the regexp error stays reachable: %v", err)
}

func TestValidateRulesDuplicateID(t *testing.T) {
	t.Parallel()
	err := ValidateRules([]Rule{{ID: "a", Examples: []string{"x"}}, {ID: "a", Examples: []string{"y"}}})
	require.ErrorIs(t, err, ErrInvalidRule)
	require.Contains(t, err.Error(), "duplicate")
}

func TestLoadRulesJSONL(t *testing.T) {
	t.Parallel()
	src := `{"intent": "card_arrival", "examples": ["where is my card", "card not here"], "reply": "[card_arrival]"}

{"id": "hours", "name": "Opening hours", "keywords": ["opening hours", "مواعيد"], "replies": ["We open at 9, {{name|friend}}."], "priority": 2, "language": "", "enabled": false}
{"id": "order", "regexes": ["order #?\\d+"], "exact": ["track order"], "disabled": false}
`
	rules, err := LoadRulesJSONL(strings.NewReader(src))
	require.NoError(t, err)
	require.Len(t, rules, 3)
	require.Equal(t, Rule{ID: "card_arrival", Name: "card_arrival", Examples: []string{"where is my card", "card not here"}, Replies: []string{"[card_arrival]"}}, rules[0])
	require.Equal(t, "hours", rules[1].ID)
	require.True(t, rules[1].Disabled)
	require.False(t, rules[1].Enabled())
	require.Equal(t, 2, rules[1].Priority)
	require.Equal(t, []string{`order #?\d+`}, rules[2].Regexes)
}

func TestLoadRulesJSONLErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		src  string
		line int
	}{
		"bad json":     {`{"id": "a", "examples": ["x"]}` + "\n{oops", 2},
		"empty rule":   {`{"id": "a"}`, 1},
		"bad regex":    {`{"id": "a", "regexes": ["("]}`, 1},
		"duplicate id": {`{"id": "a", "examples": ["x"]}` + "\n" + `{"intent": "a", "examples": ["y"]}`, 2},
		"wrong type":   {`{"id": "a", "examples": "x"}`, 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadRulesJSONL(strings.NewReader(tt.src))
			require.ErrorIs(t, err, ErrInvalidRule)
			var re *RuleError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.line, re.Index)
		})
	}
}

func TestLoadRulesJSONLLongLine(t *testing.T) {
	t.Parallel()
	_, err := LoadRulesJSONL(strings.NewReader(`{"id": "a", "examples": ["` + strings.Repeat("x", MaxRuleLineBytes) + `"]}`))
	require.ErrorContains(t, err, "longer than")
}

func FuzzLoadRulesJSONL(f *testing.F) {
	for _, s := range []string{
		`{"intent": "a", "examples": ["hello"], "reply": "[a]"}`,
		`{"id": "b", "regexes": ["x+"], "replies": ["Hi {{name|friend}}"]}` + "\n" + `{"id": "c", "keywords": ["مرحبا"]}`,
		`{"id": "d", "examples": ["x"], "enabled": false}`,
		"", "\n\n", "{", `{"id": ""}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		rules, err := LoadRulesJSONL(strings.NewReader(src))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidRule)
			return
		}
		require.NoError(t, ValidateRules(rules))
	})
}
