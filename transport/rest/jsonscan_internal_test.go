package rest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ in, want string }{
		"none":               {`{"chat": "a", "text": "b"}`, "-"},
		"top level":          {`{"chat": "a", "text": "b", "chat": "c"}`, "chat"},
		"escaped":            {`{"chat": "a", "ch\u0061t": "c"}`, "chat"},
		"case differs":       {`{"chat": "a", "Chat": "c"}`, "-"},
		"nested":             {`{"sections": [{"rows": [{"id": "1"}, {"id": "2", "id": "3"}]}]}`, "sections[0].rows[1].id"},
		"same name, sibling": {`{"a": {"x": 1}, "b": {"x": 2}}`, "-"},
		"in strings":         {`{"a": "\"a\": 1", "b": "}{,"}`, "-"},
		"not an object":      {`[1, 2, {"k": 1, "k": 2}]`, "[2].k"},
		"empty name twice":   {`{"": 1, "": 2}`, ""},
		"scalar":             {`"x"`, "-"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.True(t, json.Valid([]byte(tt.in)))
			got, found := duplicateKey([]byte(tt.in))
			require.Equal(t, hasDuplicate([]byte(tt.in)), found, "agrees with the reference")
			if tt.want == "-" {
				require.False(t, found)
				return
			}
			require.Equal(t, tt.want != "" || name == "empty name twice", found)
			require.Equal(t, tt.want, got)
		})
	}
}

// hasDuplicate is the reference: json.Decoder's tokens, each object's names in
// a set.
func hasDuplicate(data []byte) bool {
	type frame struct {
		seen map[string]bool // nil for arrays
		key  bool            // the next token is a member name
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.seen != nil {
				if top.key {
					if name, ok := tok.(string); ok {
						if top.seen[name] {
							return true
						}
						top.seen[name] = true
						top.key = false
						continue
					}
				} else {
					top.key = true // tok is the member's value (or opens it)
				}
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{seen: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// FuzzDuplicateKey checks the byte scanner against the token reference on
// every valid JSON input.
func FuzzDuplicateKey(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":1},{"c":1,"c":2}]}}`, `{"a\"":1,"a\u0022":2}`, `[{"":1,"":1}]`, `{"x":"}","x ":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		got, found := duplicateKey(data)
		if found != hasDuplicate(data) {
			t.Fatalf("scanner %q (found %v), reference %v for %s", got, found, hasDuplicate(data), data)
		}
	})
}
