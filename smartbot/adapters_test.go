package smartbot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeVector is a deterministic bag-of-words "embedding" for the fakes.
func fakeVector(text string) []float32 {
	v := make([]float32, 32)
	for _, w := range strings.Fields(Normalize(text)) {
		v[hashString(9, w)%32]++
	}
	v[31] += 0.01 // never a zero vector
	return v
}

func TestOllamaEmbeddingFunc(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/api/embeddings" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var req struct{ Model, Prompt string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "bge-m3" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"embedding": fakeVector(req.Prompt)})
	}))
	t.Cleanup(srv.Close)

	ctx := context.Background()
	m, err := NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: NewOllamaEmbeddingFunc("bge-m3", srv.URL+"/api")})
	require.NoError(t, err)
	before := requests.Load()
	require.Positive(t, before, "examples were embedded through the server")
	res, err := m.Match(ctx, "when do you open on friday")
	require.NoError(t, err)
	require.Equal(t, "hours", res.RuleID)
	require.Equal(t, StageSemantic, res.Stage)
	require.Equal(t, before+1, requests.Load(), "one request per message")

	// Lexical stages still answer, and the message is embedded once.
	res, err = m.Match(ctx, "hours")
	require.NoError(t, err)
	require.Equal(t, StageExact, res.Stage)

	// A wrong model is a clean error, not a panic or a silent fallback.
	_, err = NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: NewOllamaEmbeddingFunc("other", srv.URL+"/api")})
	require.ErrorIs(t, err, ErrEmbedding)
	require.ErrorContains(t, err, "400")
}

func TestOpenAICompatEmbeddingFunc(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/embeddings" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sk-test" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var req struct{ Input, Model string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "text-embedding-3-small" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": []map[string]any{{"embedding": fakeVector(req.Input)}}})
	}))
	t.Cleanup(srv.Close)

	ctx := context.Background()
	m, err := NewMatcher(ctx, shopRules(), &MatcherConfig{
		EmbeddingFunc: NewOpenAICompatEmbeddingFunc(srv.URL+"/v1", "sk-test", "text-embedding-3-small"),
	})
	require.NoError(t, err)
	res, err := m.Match(ctx, "my package has still not arrived")
	require.NoError(t, err)
	require.Equal(t, "order_status", res.RuleID)

	_, err = NewMatcher(ctx, shopRules(), &MatcherConfig{
		EmbeddingFunc: NewOpenAICompatEmbeddingFunc(srv.URL+"/v1", "wrong", "text-embedding-3-small"),
	})
	require.ErrorIs(t, err, ErrEmbedding)
	require.ErrorContains(t, err, "401")
}

func TestEmbeddingServerDownAtQueryTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Prompt string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		_ = json.NewEncoder(w).Encode(map[string]any{"embedding": fakeVector(req.Prompt)})
	}))
	ctx := context.Background()
	m, err := NewMatcher(ctx, shopRules(), &MatcherConfig{EmbeddingFunc: NewOllamaEmbeddingFunc("m", srv.URL)})
	require.NoError(t, err)
	srv.Close()
	_, err = m.Match(ctx, "when do you open")
	require.ErrorIs(t, err, ErrEmbedding)
}
