package auth

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Defaults of TokensConfig.
const (
	// TokenTTLDefault is how long a browser token stays valid.
	TokenTTLDefault = 60 * time.Second
)

// TokenPrefix starts every browser token.
const TokenPrefix = "wqtt_"

// TokensConfig configures NewTokens.
type TokensConfig struct {
	// Secret signs tokens (HMAC-SHA256); at least 32 bytes. Processes that must
	// accept each other's tokens share it. Defaults to 32 random bytes, so tokens
	// are valid only in this process.
	Secret []byte
	// TTL is how long a token stays valid. Defaults to TokenTTLDefault (60 s).
	TTL time.Duration
	// Test holds knobs for tests.
	Test TestConfig
}

// Tokens issues and verifies short-lived, single-use, signed tokens that stand
// for a principal, so that a browser can open a WebSocket without holding an
// API key: the page's server side asks REST for a token (POST /ws-token with
// its key) and hands only the token to the page. All methods are safe for
// concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	mu        sync.Mutex
	used      map[string]time.Time // nonce → expiry, for replay protection
	nextPrune time.Time            // when used is next swept for expired nonces
}

// NewTokens returns a token issuer.
func NewTokens(cfg *TokensConfig) (*Tokens, error) {
	if cfg == nil {
		cfg = &TokensConfig{}
	}
	t := &Tokens{secret: cfg.Secret, ttl: cmp.Or(cfg.TTL, TokenTTLDefault), now: cfg.Test.Now, used: map[string]time.Time{}}
	if t.secret == nil {
		t.secret = make([]byte, 32)
		_, _ = rand.Read(t.secret)
	}
	if len(t.secret) < 32 {
		return nil, fmt.Errorf("auth: TokensConfig.Secret has %d bytes, want at least 32 (or nil for a random one)", len(t.secret))
	}
	if t.ttl < 0 {
		return nil, fmt.Errorf("auth: TokensConfig.TTL must not be negative")
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

type tokenClaims struct {
	Exp   int64     `json:"exp"`
	Nonce string    `json:"n"`
	P     Principal `json:"p"`
}

// Issue returns a token for p and when it expires.
func (t *Tokens) Issue(p *Principal) (string, time.Time, error) {
	if err := p.Validate(); err != nil {
		return "", time.Time{}, err
	}
	var n [12]byte
	_, _ = rand.Read(n[:])
	exp := t.now().Add(t.ttl).Truncate(time.Second)
	payload, err := json.Marshal(tokenClaims{Exp: exp.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(n[:]), P: *p})
	if err != nil {
		return "", time.Time{}, err
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return TokenPrefix + body + "." + t.sign(body), exp, nil
}

func (t *Tokens) sign(body string) string {
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// MaxTokenLength bounds the tokens Verify looks at.
const MaxTokenLength = 8192

// Verify checks a token's signature and expiry, marks it used, and returns its
// principal. Every failure (malformed, bad signature, expired, already used)
// wraps ErrUnauthenticated.
func (t *Tokens) Verify(token string) (*Principal, error) {
	return t.check(token, true)
}

// Inspect is Verify without spending the token: it returns the principal of a
// valid, unused token and leaves it usable, so that a transport can apply
// limits that depend on the principal (a connection cap per tenant) before
// the single use. Failures are Verify's.
func (t *Tokens) Inspect(token string) (*Principal, error) {
	return t.check(token, false)
}

func (t *Tokens) check(token string, spend bool) (*Principal, error) {
	if len(token) > MaxTokenLength || !strings.HasPrefix(token, TokenPrefix) {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	body, sig, ok := strings.Cut(token[len(TokenPrefix):], ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(t.sign(body))) {
		return nil, fmt.Errorf("%w: bad token signature", ErrUnauthenticated)
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	now := t.now()
	exp := time.Unix(c.Exp, 0)
	if !now.Before(exp) {
		return nil, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !now.Before(t.nextPrune) {
		// Sweep at most once per tenth of the lifetime, not on every call:
		// an expired nonce kept a little longer is harmless (its token is
		// refused as expired before the nonce is looked at).
		for n, e := range t.used {
			if !now.Before(e) {
				delete(t.used, n)
			}
		}
		t.nextPrune = now.Add(t.ttl / 10)
	}
	if _, seen := t.used[c.Nonce]; seen {
		return nil, fmt.Errorf("%w: token already used", ErrUnauthenticated)
	}
	if spend {
		t.used[c.Nonce] = exp
	}
	p := c.P
	return &p, nil
}
