package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{
		"-rules", "../../testdata/banking77_rules.jsonl",
		"-queries", "../../testdata/banking77_queries.jsonl",
		"-holdout-intents", "0.25", "-seed", "13", "-by", "intent", "-suggest-threshold", "0.4",
	}, &out)
	require.NoError(t, err)
	var rep map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	for _, k := range []string{"accuracy", "oos_recall", "p50_ms", "p99_ms", "confused", "by"} {
		require.Contains(t, rep, k)
	}
	require.Len(t, rep["held_out_intents"], 3)
	for _, k := range []string{"baseline_accuracy", "accuracy_change", "frontier"} {
		require.Contains(t, rep, k, "with -holdout-intents")
	}

	// -confused 0 prints none; -confused 1 at most one.
	for n, want := range map[string]int{"0": 0, "1": 1} {
		out.Reset()
		require.NoError(t, run(context.Background(), []string{
			"-rules", "../../testdata/banking77_rules.jsonl", "-queries", "../../testdata/banking77_queries.jsonl", "-confused", n,
		}, &out))
		var r struct{ Confused []any }
		require.NoError(t, json.Unmarshal(out.Bytes(), &r))
		require.LessOrEqual(t, len(r.Confused), want, "-confused %s", n)
		if want == 0 {
			require.Contains(t, out.String(), `"confused": []`)
		}
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.Error(t, run(context.Background(), nil, &out))
	require.Error(t, run(context.Background(), []string{"-rules", "nope.jsonl", "-queries", "nope.jsonl"}, &out))
	require.Error(t, run(context.Background(), []string{
		"-rules", "../../testdata/banking77_rules.jsonl", "-queries", "../../testdata/banking77_queries.jsonl", "-embedder", "magic",
	}, &out))
}

func TestRunOllama(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Prompt string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		v := make([]float32, 16)
		for i, c := range req.Prompt {
			v[(i+int(c))%16]++
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"embedding": v})
	}))
	defer srv.Close()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{
		"-rules", "../../testdata/banking77_rules.jsonl", "-queries", "../../testdata/banking77_queries.jsonl",
		"-embedder", "ollama", "-base-url", srv.URL, "-model", "fake",
	}, &out))
	require.Contains(t, out.String(), `"accuracy"`)
}
