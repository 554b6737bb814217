package auth

import (
	"errors"
	"testing"
	"time"
)

// TestTokenNoncesBounded: the replay table forgets expired nonces (swept at
// most once per tenth of the lifetime, not on every call), so it holds about
// one lifetime of tokens, and a replay inside the lifetime is still refused.
func TestTokenNoncesBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	tok, err := NewTokens(&TokensConfig{TTL: time.Minute, Test: TestConfig{Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	p := &Principal{Tenant: "t1"}
	maxUsed := 0
	for i := range 6000 { // ten minutes, a token every 100 ms
		s, _, err := tok.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tok.Verify(s); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if _, err := tok.Verify(s); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("token %d replayed: %v", i, err)
		}
		tok.mu.Lock()
		maxUsed = max(maxUsed, len(tok.used))
		tok.mu.Unlock()
		now = now.Add(100 * time.Millisecond)
	}
	// One lifetime is 600 tokens; a sweep every 6 s keeps at most 60 more.
	if maxUsed > 660 {
		t.Fatalf("the replay table grew to %d nonces", maxUsed)
	}
}
