package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/store"
)

// Component is the name of this package's schema in the database.
const Component = "auth"

//go:embed migrations
var migrationsFS embed.FS

// Defaults of KeyStoreConfig.
const (
	// CacheTTLDefault is how long a verified key is remembered in memory. A key
	// revoked through another process stops working after at most this long (at
	// once through this KeyStore).
	CacheTTLDefault = 10 * time.Second
)

// LastUsedGranularity is how stale Key.LastUsedAt may be: a successful
// authentication records its time only when the stored one is older, so a busy
// key writes at most once per this period (and per CacheTTL, as cached
// verifications are not recorded).
const LastUsedGranularity = time.Minute

// Limits of key parameters.
const (
	MaxKeyNameLength = 100
	MaxKeySessions   = 100
	MaxKeyScopes     = 32
)

// KeyStoreConfig configures NewKeyStore.
type KeyStoreConfig struct {
	// CacheTTL is how long a verified key is remembered in memory; a negative
	// value disables the cache. Defaults to CacheTTLDefault (10 s).
	CacheTTL time.Duration
	// Logger receives the store's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Test holds knobs for tests.
	Test TestConfig
}

// TestConfig holds settings meant for tests only.
type TestConfig struct {
	// Now replaces the clock. Defaults to the Core's clock.
	Now func() time.Time
}

// KeyStore keeps API keys in the Core's database. All methods are safe for
// concurrent use.
type KeyStore struct {
	st     *store.Store
	logger *slog.Logger
	now    func() time.Time
	ttl    time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached

	subsMu  sync.Mutex
	subs    map[uint64]func(keyID string) // OnRevoke subscribers
	nextSub uint64
}

type cached struct {
	p   *Principal
	exp time.Time // cache expiry
}

const maxCacheEntries = 10000

// NewKeyStore returns the key store of core's database, creating its tables
// when needed.
func NewKeyStore(ctx context.Context, core *waqtor.Core, cfg *KeyStoreConfig) (*KeyStore, error) {
	if core == nil {
		return nil, errors.New("auth: nil Core (build one with waqtor.NewCore)")
	}
	if cfg == nil {
		cfg = &KeyStoreConfig{}
	}
	ks := &KeyStore{st: corelink.Store(core), logger: cfg.Logger, now: cfg.Test.Now, ttl: cmp.Or(cfg.CacheTTL, CacheTTLDefault),
		cache: map[[32]byte]cached{}}
	if ks.logger == nil {
		ks.logger = slog.Default()
	}
	if ks.now == nil {
		ks.now = core.Now
	}
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, err
	}
	if err := ks.st.MigrateComponent(ctx, Component, sub); err != nil {
		return nil, fmt.Errorf("auth: migrate: %w", err)
	}
	return ks, nil
}

// Key describes a stored API key (never its secret).
type Key struct {
	// CreatedAt is when the key was created.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// ID is the key's public ID (the 10 characters after "wqt_").
	ID string `json:"id"`
	// LastUsedAt is when the key last authenticated, to within
	// LastUsedGranularity; zero if it never did. A host can tell from it
	// whether a key it handed out was ever used.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Name describes the key.
	Name string `json:"name"`
	// Prefix is how the key starts ("wqt_" and its ID), to recognise it.
	Prefix string `json:"prefix"`
	// RevokedAt is when the key was revoked; zero while active.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Scopes are the key's permissions.
	Scopes []Scope `json:"scopes"`
	// Sessions narrows the key to these sessions; empty for all of the tenant's.
	Sessions []string `json:"sessions,omitempty"`
	// Tenant owns the key.
	Tenant string `json:"tenant"`
}

// Principal returns the principal the key authenticates as.
func (k *Key) Principal() *Principal {
	return &Principal{KeyID: k.ID, Name: k.Name, Scopes: slices.Clone(k.Scopes), Sessions: slices.Clone(k.Sessions), Tenant: k.Tenant}
}

// KeyCreateParams describes a new key.
type KeyCreateParams struct {
	// ExpiresAt is when the key stops working. Defaults to never.
	ExpiresAt time.Time
	// Name describes the key (up to 100 characters). Defaults to "".
	Name string
	// Scopes are the key's permissions; at least one. Required.
	Scopes []Scope
	// Sessions narrows the key to these sessions of its tenant. Defaults to all.
	Sessions []string
	// Tenant owns the key. Required.
	Tenant string
}

func (p *KeyCreateParams) validate(now time.Time) (*KeyCreateParams, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil params", ErrInvalidKey)
	}
	out := *p
	if !ValidTenant(out.Tenant) {
		return nil, fmt.Errorf("%w: tenant: %q must match %s", ErrInvalidKey, out.Tenant, tenantRe)
	}
	if utf8.RuneCountInString(out.Name) > MaxKeyNameLength || !utf8.ValidString(out.Name) ||
		strings.ContainsFunc(out.Name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return nil, fmt.Errorf("%w: name: must be at most %d printable characters", ErrInvalidKey, MaxKeyNameLength)
	}
	if len(out.Scopes) == 0 || len(out.Scopes) > MaxKeyScopes {
		return nil, fmt.Errorf("%w: scopes: must have 1 to %d entries", ErrInvalidKey, MaxKeyScopes)
	}
	out.Scopes = slices.Clone(out.Scopes)
	for i, s := range out.Scopes {
		if !s.Valid() {
			return nil, fmt.Errorf("%w: scopes[%d]: %q must match %s", ErrInvalidKey, i, s, scopeRe)
		}
	}
	slices.Sort(out.Scopes)
	out.Scopes = slices.Compact(out.Scopes)
	if len(out.Sessions) > MaxKeySessions {
		return nil, fmt.Errorf("%w: sessions: must have at most %d entries", ErrInvalidKey, MaxKeySessions)
	}
	out.Sessions = slices.Clone(out.Sessions)
	for i, s := range out.Sessions {
		if !tenantRe.MatchString(s) {
			return nil, fmt.Errorf("%w: sessions[%d]: %q is not a session ID", ErrInvalidKey, i, s)
		}
	}
	slices.Sort(out.Sessions)
	out.Sessions = slices.Compact(out.Sessions)
	if !out.ExpiresAt.IsZero() && !out.ExpiresAt.After(now) {
		return nil, fmt.Errorf("%w: expires_at: must be in the future", ErrInvalidKey)
	}
	return &out, nil
}

// Create stores a new key and returns it with its plaintext, which is shown
// once and never stored. Errors wrap ErrInvalidKey.
func (ks *KeyStore) Create(ctx context.Context, p *KeyCreateParams) (*Key, string, error) {
	for range 3 {
		secret := NewKeySecret()
		k, err := ks.Import(ctx, secret, p)
		if errors.Is(err, ErrKeyExists) {
			continue // a 10-character ID collision: astronomically rare
		}
		if err != nil {
			return nil, "", err
		}
		return k, secret, nil
	}
	return nil, "", errors.New("auth: could not pick a unique key ID")
}

// Import stores a key made by NewKeySecret (for example a bootstrap key given in
// configuration). Errors wrap ErrUnauthenticated (a malformed key),
// ErrInvalidKey or ErrKeyExists (its ID is already stored).
func (ks *KeyStore) Import(ctx context.Context, secret string, p *KeyCreateParams) (*Key, error) {
	id, err := ParseKey(secret)
	if err != nil {
		return nil, err
	}
	now := ks.now().UTC()
	p, err = p.validate(now)
	if err != nil {
		return nil, err
	}
	k := &Key{CreatedAt: store.FromMicros(store.Micros(now)), ExpiresAt: store.FromMicros(store.Micros(p.ExpiresAt)), ID: id,
		Name: p.Name, Prefix: KeyPrefix + id, Scopes: p.Scopes, Sessions: p.Sessions, Tenant: p.Tenant}
	d := digest(secret)
	scopes, _ := json.Marshal(k.Scopes)
	sessions, _ := json.Marshal(nonNil(k.Sessions))
	_, err = ks.st.DB.ExecContext(ctx, `INSERT INTO auth_api_keys (id, tenant_id, name, digest, scopes, sessions, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`, k.ID, k.Tenant, k.Name, hex.EncodeToString(d[:]), string(scopes), string(sessions),
		store.Micros(k.CreatedAt), store.Micros(k.ExpiresAt))
	if err != nil {
		if isUnique(err) {
			return nil, fmt.Errorf("%w: %s", ErrKeyExists, k.Prefix)
		}
		return nil, fmt.Errorf("auth: store key: %w", err)
	}
	return k, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func isUnique(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "constraint failed: UNIQUE")
}

const keyColumns = `id, tenant_id, name, digest, scopes, sessions, created_at, expires_at, revoked_at, last_used_at`

func scanKey(sc interface{ Scan(...any) error }) (*Key, string, error) {
	var k Key
	var dig, scopes, sessions string
	var created, expires, revoked, lastUsed int64
	if err := sc.Scan(&k.ID, &k.Tenant, &k.Name, &dig, &scopes, &sessions, &created, &expires, &revoked, &lastUsed); err != nil {
		return nil, "", err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, "", fmt.Errorf("auth: key %s scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(sessions), &k.Sessions); err != nil {
		return nil, "", fmt.Errorf("auth: key %s sessions: %w", k.ID, err)
	}
	if len(k.Sessions) == 0 {
		k.Sessions = nil
	}
	k.Prefix = KeyPrefix + k.ID
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = store.FromMicros(created), store.FromMicros(expires), store.FromMicros(revoked)
	k.LastUsedAt = store.FromMicros(lastUsed)
	return &k, dig, nil
}

// Get returns a key by ID. With tenant set, a key of another tenant is reported
// as not found (ErrKeyNotFound), exactly like a missing one.
func (ks *KeyStore) Get(ctx context.Context, tenant, id string) (*Key, error) {
	k, _, err := ks.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if tenant != "" && k.Tenant != tenant {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, id)
	}
	return k, nil
}

func (ks *KeyStore) get(ctx context.Context, id string) (*Key, string, error) {
	k, dig, err := scanKey(ks.st.DB.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM auth_api_keys WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("%w: %q", ErrKeyNotFound, id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: read key: %w", err)
	}
	return k, dig, nil
}

// KeyListParams filters List.
type KeyListParams struct {
	// IncludeRevoked lists revoked keys too. Defaults to false.
	IncludeRevoked bool
	// Tenant keeps only this tenant's keys. Defaults to every tenant.
	Tenant string
}

// List returns keys, oldest first.
func (ks *KeyStore) List(ctx context.Context, p *KeyListParams) ([]*Key, error) {
	if p == nil {
		p = &KeyListParams{}
	}
	q := `SELECT ` + keyColumns + ` FROM auth_api_keys WHERE ($1 = '' OR tenant_id = $1)`
	if !p.IncludeRevoked {
		q += ` AND revoked_at = 0`
	}
	rows, err := ks.st.DB.QueryContext(ctx, q+` ORDER BY created_at, id`, p.Tenant)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	defer rows.Close()
	out := []*Key{}
	for rows.Next() {
		k, _, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Revoke revokes a key at once; revoking a revoked key is a no-op. With tenant
// set, a key of another tenant is reported as not found.
func (ks *KeyStore) Revoke(ctx context.Context, tenant, id string) error {
	if _, err := ks.Get(ctx, tenant, id); err != nil {
		return err
	}
	_, err := ks.st.DB.ExecContext(ctx, `UPDATE auth_api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0`,
		store.Micros(ks.now()), id)
	if err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	ks.mu.Lock()
	for d, c := range ks.cache {
		if c.p.KeyID == id {
			delete(ks.cache, d)
		}
	}
	ks.mu.Unlock()
	ks.notifyRevoked(ctx, id)
	return nil
}

// OnRevoke registers fn to be called with the key's ID each time Revoke
// succeeds (an already revoked key included), so that holders of open
// connections authenticated by the key (the WebSocket hub) can end them.
// fn runs on Revoke's goroutine once the revocation is stored, and must not
// block; a panic in it is logged and recovered. Revocations made by another
// process sharing the database are not seen here: subscribers that must
// honour them recheck their keys with CheckActive. It returns a function
// that unregisters fn.
func (ks *KeyStore) OnRevoke(fn func(keyID string)) (unsubscribe func()) {
	ks.subsMu.Lock()
	defer ks.subsMu.Unlock()
	if ks.subs == nil {
		ks.subs = map[uint64]func(string){}
	}
	id := ks.nextSub
	ks.nextSub++
	ks.subs[id] = fn
	return func() {
		ks.subsMu.Lock()
		defer ks.subsMu.Unlock()
		delete(ks.subs, id)
	}
}

func (ks *KeyStore) notifyRevoked(ctx context.Context, keyID string) {
	ks.subsMu.Lock()
	fns := make([]func(string), 0, len(ks.subs))
	for _, fn := range ks.subs {
		fns = append(fns, fn)
	}
	ks.subsMu.Unlock()
	for _, fn := range fns {
		func() {
			defer func() {
				if r := recover(); r != nil {
					ks.logger.ErrorContext(ctx, "OnRevoke subscriber panicked", slog.String("key_id", keyID), slog.Any("panic", r),
						slog.String("stack", string(debug.Stack())))
				}
			}()
			fn(keyID)
		}()
	}
}

// CheckActive reports whether the key with this ID may still be used: nil
// when it is, an error wrapping ErrUnauthenticated and ErrKeyRevoked or
// ErrKeyExpired when it is not, ErrKeyNotFound for an unknown ID, or a
// database error. It reads the database (no cache), so it sees revocations
// made by every process sharing it.
func (ks *KeyStore) CheckActive(ctx context.Context, id string) error {
	k, _, err := ks.get(ctx, id)
	switch {
	case err != nil:
		return err
	case !k.RevokedAt.IsZero():
		return fmt.Errorf("%w: %w: %s", ErrUnauthenticated, ErrKeyRevoked, k.Prefix)
	case !k.ExpiresAt.IsZero() && !ks.now().Before(k.ExpiresAt):
		return fmt.Errorf("%w: %w: %s", ErrUnauthenticated, ErrKeyExpired, k.Prefix)
	}
	return nil
}

// dummyDigest is compared against when a key ID is unknown, so that unknown
// IDs and wrong secrets cost the same.
var dummyDigest = hex.EncodeToString(make([]byte, 32))

// verifyDigest reports whether a key's digest equals the stored one (hex),
// in time independent of the key: the comparison is over two 32-byte digests
// with subtle.ConstantTimeCompare (which returns at once only on a length
// mismatch, and a stored digest that does not decode to 32 bytes is refused
// the same way), so no prefix shared with a real key shows in the timing.
func verifyDigest(d [sha256.Size]byte, storedHex string) bool {
	var want [sha256.Size]byte
	okLen := len(storedHex) == 2*sha256.Size
	src := storedHex
	if !okLen {
		src = dummyDigest
	}
	_, err := hex.Decode(want[:], []byte(src))
	eq := subtle.ConstantTimeCompare(d[:], want[:]) == 1
	return eq && okLen && err == nil
}

// Authenticate returns the principal of a plaintext key. Every failure (a
// malformed, unknown, revoked or expired key) wraps ErrUnauthenticated.
func (ks *KeyStore) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	id, err := ParseKey(secret)
	if err != nil {
		return nil, err
	}
	d := digest(secret)
	now := ks.now()
	if ks.ttl > 0 {
		ks.mu.Lock()
		c, ok := ks.cache[d]
		ks.mu.Unlock()
		if ok && now.Before(c.exp) {
			return clonePrincipal(c.p), nil
		}
	}
	k, stored, err := ks.get(ctx, id)
	if err != nil && !errors.Is(err, ErrKeyNotFound) {
		return nil, err
	}
	if k == nil {
		stored = dummyDigest
	}
	match := verifyDigest(d, stored)
	switch {
	case k == nil || !match:
		return nil, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	case !k.RevokedAt.IsZero():
		return nil, fmt.Errorf("%w: API key %s was revoked", ErrUnauthenticated, k.Prefix)
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return nil, fmt.Errorf("%w: API key %s expired", ErrUnauthenticated, k.Prefix)
	}
	if now.Sub(k.LastUsedAt) >= LastUsedGranularity {
		ks.recordUse(ctx, k.ID, now)
	}
	p := k.Principal()
	if ks.ttl > 0 {
		exp := now.Add(ks.ttl)
		if !k.ExpiresAt.IsZero() && k.ExpiresAt.Before(exp) {
			exp = k.ExpiresAt
		}
		ks.mu.Lock()
		if len(ks.cache) >= maxCacheEntries {
			clear(ks.cache)
		}
		ks.cache[d] = cached{p: p, exp: exp}
		ks.mu.Unlock()
	}
	return clonePrincipal(p), nil
}

// recordUse stores that key id authenticated at now. A failure is logged, not
// returned: the key is valid, and its last-use time is only informative.
func (ks *KeyStore) recordUse(ctx context.Context, id string, now time.Time) {
	if _, err := ks.st.DB.ExecContext(ctx, `UPDATE auth_api_keys SET last_used_at = $1 WHERE id = $2`, store.Micros(now), id); err != nil {
		ks.logger.WarnContext(ctx, "Recording an API key's use failed", slog.String("key_id", id), slog.Any("error", err))
	}
}

func clonePrincipal(p *Principal) *Principal {
	c := *p
	c.Scopes = slices.Clone(p.Scopes)
	c.Sessions = slices.Clone(p.Sessions)
	return &c
}

// AuthenticateRequest is an AuthenticateFunc over the key in the X-API-Key or
// "Authorization: Bearer" header.
func (ks *KeyStore) AuthenticateRequest(r *http.Request) (*Principal, error) {
	key := KeyFromRequest(r)
	if key == "" {
		return nil, fmt.Errorf("%w: no API key (send X-API-Key or Authorization: Bearer)", ErrUnauthenticated)
	}
	return ks.Authenticate(r.Context(), key)
}

// CountActive returns how many keys are neither revoked nor expired, for
// bootstrapping ("create an admin key on first start").
func (ks *KeyStore) CountActive(ctx context.Context) (int, error) {
	var n int
	err := ks.st.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_api_keys WHERE revoked_at = 0 AND (expires_at = 0 OR expires_at > $1)`,
		store.Micros(ks.now())).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("auth: count keys: %w", err)
	}
	return n, nil
}
