package auth_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
)

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	k := auth.NewKeySecret()
	require.Len(t, k, auth.KeyLength)
	require.True(t, strings.HasPrefix(k, auth.KeyPrefix))
	id, err := auth.ParseKey(k)
	require.NoError(t, err)
	require.Equal(t, k[4:14], id)

	tests := map[string]string{
		"empty":        "",
		"wrong prefix": "xyz_" + k[4:],
		"truncated":    k[:len(k)-1],
		"bad char":     k[:10] + "!" + k[11:],
		"bad checksum": k[:len(k)-1] + string(rune('A'+(k[len(k)-1]+1)%26)),
		"typo in body": k[:20] + flip(k[20]) + k[21:],
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := auth.ParseKey(in)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
		})
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func FuzzParseKey(f *testing.F) {
	f.Add(auth.NewKeySecret())
	f.Add("wqt_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := auth.ParseKey(s)
		if err == nil && len(id) != 10 {
			t.Fatalf("ParseKey(%q) = %q", s, id)
		}
	})
}

type bundle struct {
	core *waqtor.Core
	ks   *auth.KeyStore
	dsn  string
	now  *time.Time
}

func setup(t *testing.T, kind dbtest.Kind) *bundle {
	t.Helper()
	ctx := context.Background()
	dsn := dbtest.DSN(t, kind)
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: sandbox.NewTestNetwork(t, nil).Factory(), Logger: slogtest.New(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, core.Stop(context.Background())) })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &bundle{core: core, dsn: dsn, now: &now}
	b.ks, err = auth.NewKeyStore(ctx, core, &auth.KeyStoreConfig{Logger: slogtest.New(t), CacheTTL: -1,
		Test: auth.TestConfig{Now: func() time.Time { return *b.now }}})
	require.NoError(t, err)
	return b
}

func TestKeyStore(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, kind)
			ctx := context.Background()
			k, secret, err := b.ks.Create(ctx, &auth.KeyCreateParams{Name: "ci", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeRead, "messages:send"},
				Sessions: []string{"b", "a"}, Tenant: "acme", ExpiresAt: b.now.Add(time.Hour)})
			require.NoError(t, err)
			require.Equal(t, []auth.Scope{"messages:send", "read"}, k.Scopes)
			require.Equal(t, []string{"a", "b"}, k.Sessions)

			p, err := b.ks.Authenticate(ctx, secret)
			require.NoError(t, err)
			require.Equal(t, "acme", p.Tenant)
			require.Equal(t, k.ID, p.KeyID)
			require.True(t, p.Allows(auth.ScopeRead))
			require.False(t, p.Allows(auth.ScopeAdmin))
			require.True(t, p.Owns("acme", "a"))
			require.False(t, p.Owns("acme", "c"))
			require.False(t, p.Owns("other", "a"))

			// Wrong secret with the right ID, unknown ID, malformed.
			other := auth.NewKeySecret()
			for _, bad := range []string{other, "wqt_" + k.ID + other[14:], "nope"} {
				_, err := b.ks.Authenticate(ctx, bad)
				require.ErrorIs(t, err, auth.ErrUnauthenticated, bad)
			}

			// The database holds only the digest.
			db := rawDB(t, b)
			var stored string
			require.NoError(t, db.QueryRowContext(ctx, `SELECT digest FROM auth_api_keys WHERE id = $1`, k.ID).Scan(&stored))
			require.NotContains(t, stored, secret[14:44])
			require.Len(t, stored, 64)

			// Tenant scoping of Get and Revoke.
			_, err = b.ks.Get(ctx, "other", k.ID)
			require.ErrorIs(t, err, auth.ErrKeyNotFound)
			require.ErrorIs(t, b.ks.Revoke(ctx, "other", k.ID), auth.ErrKeyNotFound)
			_, err = b.ks.Authenticate(ctx, secret)
			require.NoError(t, err)

			// Expiry.
			*b.now = b.now.Add(2 * time.Hour)
			_, err = b.ks.Authenticate(ctx, secret)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			*b.now = b.now.Add(-2 * time.Hour)

			// Revocation.
			require.NoError(t, b.ks.Revoke(ctx, "acme", k.ID))
			_, err = b.ks.Authenticate(ctx, secret)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			list, err := b.ks.List(ctx, &auth.KeyListParams{Tenant: "acme"})
			require.NoError(t, err)
			require.Empty(t, list)
			list, err = b.ks.List(ctx, &auth.KeyListParams{Tenant: "acme", IncludeRevoked: true})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.False(t, list[0].RevokedAt.IsZero())

			// Import is idempotent by refusing duplicates.
			boot := auth.NewKeySecret()
			_, err = b.ks.Import(ctx, boot, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
			require.NoError(t, err)
			_, err = b.ks.Import(ctx, boot, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
			require.ErrorIs(t, err, auth.ErrKeyExists)
			n, err := b.ks.CountActive(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
	}
}

func rawDB(t *testing.T, b *bundle) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", b.dsn
	if strings.HasPrefix(dsn, "postgres") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestKeyStoreValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	tests := map[string]*auth.KeyCreateParams{
		"no tenant":     {Scopes: []auth.Scope{auth.ScopeRead}},
		"bad tenant":    {Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "Bad Tenant"},
		"no scopes":     {Tenant: "t"},
		"bad scope":     {Scopes: []auth.Scope{"READ!"}, Tenant: "t"},
		"bad session":   {Scopes: []auth.Scope{auth.ScopeRead}, Sessions: []string{"../x"}, Tenant: "t"},
		"long name":     {Name: strings.Repeat("x", 101), Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"},
		"control chars": {Name: "a\x00b", Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"},
		"expired":       {Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t", ExpiresAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := b.ks.Create(ctx, p)
			require.ErrorIs(t, err, auth.ErrInvalidKey)
		})
	}
}

func TestAuthenticateRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	_, secret, err := b.ks.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"})
	require.NoError(t, err)
	for name, set := range map[string]func(h map[string]string){
		"x-api-key": func(h map[string]string) { h["X-API-Key"] = secret },
		"bearer":    func(h map[string]string) { h["Authorization"] = "Bearer " + secret },
		"bearer lc": func(h map[string]string) { h["Authorization"] = "bearer " + secret },
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			h := map[string]string{}
			set(h)
			for k, v := range h {
				r.Header.Set(k, v)
			}
			p, err := b.ks.AuthenticateRequest(r)
			require.NoError(t, err)
			require.Equal(t, "t", p.Tenant)
		})
	}
	r := httptest.NewRequest("GET", "/?api_key="+secret, nil)
	_, err = b.ks.AuthenticateRequest(r)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "keys in the query string are ignored")
}

func TestKeyCacheRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: sandbox.NewTestNetwork(t, nil).Factory(), Logger: slogtest.New(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, core.Stop(context.Background())) })
	ks, err := auth.NewKeyStore(ctx, core, nil)
	require.NoError(t, err)
	k, secret, err := ks.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"})
	require.NoError(t, err)
	_, err = ks.Authenticate(ctx, secret) // cached now
	require.NoError(t, err)
	require.NoError(t, ks.Revoke(ctx, "t", k.ID))
	_, err = ks.Authenticate(ctx, secret)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "revocation through the store clears the cache")
}

func TestTokens(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk, err := auth.NewTokens(&auth.TokensConfig{Test: auth.TestConfig{Now: func() time.Time { return now }}})
	require.NoError(t, err)
	p := &auth.Principal{KeyID: "abc", Scopes: []auth.Scope{auth.ScopeRead}, Sessions: []string{"s1"}, Tenant: "t"}
	tok, exp, err := tk.Issue(p)
	require.NoError(t, err)
	require.Equal(t, now.Add(auth.TokenTTLDefault), exp)
	for range 2 {
		got, err := tk.Inspect(tok)
		require.NoError(t, err)
		require.Equal(t, p, got, "Inspect does not spend the token")
	}
	got, err := tk.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, p, got)
	_, err = tk.Verify(tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "single use")
	_, err = tk.Inspect(tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "Inspect sees it spent")

	tok2, _, err := tk.Issue(p)
	require.NoError(t, err)
	for name, bad := range map[string]string{
		"tampered": tok2[:20] + flip(tok2[20]) + tok2[21:],
		"no sig":   tok2[:strings.IndexByte(tok2, '.')],
		"empty":    "",
		"api key":  auth.NewKeySecret(),
	} {
		_, err := tk.Verify(bad)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
		_, err = tk.Inspect(bad)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
	}
	other, err := auth.NewTokens(nil)
	require.NoError(t, err)
	_, err = other.Verify(tok2)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "another secret")

	now = now.Add(auth.TokenTTLDefault)
	_, err = tk.Verify(tok2)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "expired")
	_, err = tk.Inspect(tok2)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "expired")

	_, err = auth.NewTokens(&auth.TokensConfig{Secret: []byte("short")})
	require.Error(t, err)
}

func FuzzTokenVerify(f *testing.F) {
	tk, _ := auth.NewTokens(nil)
	tok, _, _ := tk.Issue(&auth.Principal{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"})
	f.Add(tok)
	f.Add("wqtt_.")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = tk.Verify(s)
	})
}

// TestKeyLastUsed: a key's last use is recorded, at most once per
// LastUsedGranularity, and a failed authentication records nothing.
func TestKeyLastUsed(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, kind)
			ctx := context.Background()
			k, secret, err := b.ks.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"})
			require.NoError(t, err)
			require.True(t, k.LastUsedAt.IsZero())
			_, err = b.ks.Authenticate(ctx, "wqt_"+k.ID+auth.NewKeySecret()[14:])
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			got, err := b.ks.Get(ctx, "t", k.ID)
			require.NoError(t, err)
			require.True(t, got.LastUsedAt.IsZero(), "a wrong secret is no use")

			first := *b.now
			_, err = b.ks.Authenticate(ctx, secret)
			require.NoError(t, err)
			got, err = b.ks.Get(ctx, "t", k.ID)
			require.NoError(t, err)
			require.Equal(t, first, got.LastUsedAt)

			*b.now = first.Add(auth.LastUsedGranularity / 2)
			_, err = b.ks.Authenticate(ctx, secret)
			require.NoError(t, err)
			got, err = b.ks.Get(ctx, "t", k.ID)
			require.NoError(t, err)
			require.Equal(t, first, got.LastUsedAt, "not rewritten within the granularity")

			*b.now = first.Add(auth.LastUsedGranularity)
			_, err = b.ks.Authenticate(ctx, secret)
			require.NoError(t, err)
			list, err := b.ks.List(ctx, &auth.KeyListParams{Tenant: "t"})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, *b.now, list[0].LastUsedAt)
		})
	}
}

// TestOnRevoke: Revoke notifies every subscriber with the key's ID once the
// revocation is stored (CheckActive sees it), again for an already revoked
// key, never after unsubscribing, and not at all for an unknown or foreign
// key (which changes nothing); a panicking subscriber does not keep the
// others from hearing of it.
func TestOnRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	k, _, err := b.ks.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"})
	require.NoError(t, err)
	var got, gotLate []string
	stop := b.ks.OnRevoke(func(id string) {
		require.ErrorIs(t, b.ks.CheckActive(ctx, id), auth.ErrKeyRevoked, "notified after the revocation is stored")
		got = append(got, id)
	})
	b.ks.OnRevoke(func(string) { panic("boom") })
	defer b.ks.OnRevoke(func(id string) { gotLate = append(gotLate, id) })()

	require.ErrorIs(t, b.ks.Revoke(ctx, "other", k.ID), auth.ErrKeyNotFound)
	require.ErrorIs(t, b.ks.Revoke(ctx, "", "nope"), auth.ErrKeyNotFound)
	require.Empty(t, got, "nothing revoked, nothing notified")
	require.NoError(t, b.ks.CheckActive(ctx, k.ID))

	require.NoError(t, b.ks.Revoke(ctx, "t", k.ID))
	require.Equal(t, []string{k.ID}, got)
	require.Equal(t, []string{k.ID}, gotLate, "after the panicking subscriber")
	require.NoError(t, b.ks.Revoke(ctx, "t", k.ID))
	require.Equal(t, []string{k.ID, k.ID}, got, "again for a revoked key")
	stop()
	require.NoError(t, b.ks.Revoke(ctx, "t", k.ID))
	require.Len(t, got, 2, "unsubscribed")
	require.Len(t, gotLate, 3)
}

// TestCheckActive: CheckActive reads the database, so it sees what another
// KeyStore (another process) revoked, and keys that expired.
func TestCheckActive(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	k, _, err := b.ks.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t", ExpiresAt: b.now.Add(time.Hour)})
	require.NoError(t, err)
	k2, _, err := b.ks.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "t"})
	require.NoError(t, err)
	require.NoError(t, b.ks.CheckActive(ctx, k.ID))
	require.ErrorIs(t, b.ks.CheckActive(ctx, "nope"), auth.ErrKeyNotFound)

	other, err := auth.NewKeyStore(ctx, b.core, nil)
	require.NoError(t, err)
	require.NoError(t, other.Revoke(ctx, "t", k2.ID))
	err = b.ks.CheckActive(ctx, k2.ID)
	require.ErrorIs(t, err, auth.ErrKeyRevoked)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)

	*b.now = b.now.Add(time.Hour)
	err = b.ks.CheckActive(ctx, k.ID)
	require.ErrorIs(t, err, auth.ErrKeyExpired)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}
