package rest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIProblemResponses: every operation declares the problems its
// metadata implies, each as problem+json, and the document stays valid
// (validatorFor validates it). The validating transport then fails any test
// that sees an operation answer a 4xx it does not declare.
func TestOpenAPIProblemResponses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, "", "GET", "/openapi.json", nil)
	require.Equal(t, 200, res.status)
	validatorFor(t, res.body)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string                     `json:"operationId"`
			Scope       string                     `json:"x-waqtor-scope"`
			RequestBody json.RawMessage            `json:"requestBody"`
			Owner       string                     `json:"x-waqtor-owner"`
			Session     bool                       `json:"x-waqtor-session"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	n := 0
	for path, item := range doc.Paths {
		for method, op := range item {
			want := []string{}
			if op.Scope != "-" {
				want = append(want, "401", "403", "429")
			}
			if op.RequestBody != nil {
				want = append(want, "400", "413", "415", "422")
			}
			if op.Session || op.Owner != "" {
				want = append(want, "404")
			}
			if op.Session && method == "post" {
				want = append(want, "409")
			}
			for _, st := range want {
				r, ok := op.Responses[st]
				require.True(t, ok, "%s %s declares no %s", method, path, st)
				require.Contains(t, string(r), `"application/problem+json"`)
				require.Contains(t, string(r), `#/components/schemas/Problem`)
			}
			n++
		}
	}
	require.Greater(t, n, 30)
	require.Contains(t, doc.Paths["/sessions"]["post"].Responses, "409", "Route.Problems is declared")
	require.Contains(t, doc.Components.Schemas, "SendMediaForm")
	for name := range doc.Components.Schemas {
		require.False(t, strings.HasSuffix(name, "FormForm"), name)
	}
}
