package webhook_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/webhook"
)

// storedEndpoint is an endpoint row's secret columns as the database holds them.
type storedEndpoint struct{ secret, old, headers string }

// openRaw opens a second connection to a test database of either kind, as a
// user with direct database access (or a dump) would see it.
func openRaw(t testing.TB, b *testBundle, kind dbtest.Kind) *sql.DB {
	t.Helper()
	if kind == dbtest.SQLite {
		return rawDB(t, b)
	}
	db, err := sql.Open("pgx", b.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func readStored(t testing.TB, db *sql.DB, id string) storedEndpoint {
	t.Helper()
	var s storedEndpoint
	require.NoError(t, db.QueryRow(`SELECT secret, old_secret, headers FROM waqtor_webhook_endpoints WHERE id = $1`, id).
		Scan(&s.secret, &s.old, &s.headers))
	return s
}

// requireSealed checks that every stored value is sealed and that none
// contains any of the plaintexts in any form a dump would reveal.
func requireSealed(t testing.TB, s storedEndpoint, plain ...string) {
	t.Helper()
	for _, v := range []string{s.secret, s.old, s.headers} {
		require.True(t, strings.HasPrefix(v, "enc1:"), "stored in plaintext: %q", v)
		for _, p := range plain {
			require.NotContains(t, v, p)
			require.NotContains(t, v, strings.TrimPrefix(p, "whsec_"))
		}
	}
}

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// startService attaches another Service to b's Core and starts it; it is
// stopped at cleanup, before the Core.
func startService(t testing.TB, b *testBundle, key []byte, old ...[]byte) *webhook.Service {
	t.Helper()
	ctx := context.Background()
	svc, err := webhook.New(ctx, b.core, &webhook.Config{AllowCIDRs: loopback, Logger: slogtest.New(t),
		PollInterval: 50 * time.Millisecond, EncryptionKey: key, OldEncryptionKeys: old})
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, svc.Stop(ctx))
	})
	return svc
}

// TestSecretsResealedAtStart: secrets, previous secrets and custom headers
// written before an encryption key was configured are stored in plaintext;
// the first Start with a key encrypts them all (and a second changes
// nothing); a Start after a key rotation re-encrypts them with the new key.
// Deliveries are signed with both secrets and carry the headers throughout.
func TestSecretsResealedAtStart(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		b := setup(t, kind)
		ctx := context.Background()
		raw := openRaw(t, b, kind)
		rc := newReceiver(t, nil)
		const token = "Bearer receiver-credential-7f3a"
		ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Events: []string{quietKind},
			Headers: map[string]string{"Authorization": token}})
		rot, err := b.svc.RotateSecret(ctx, "default", ep.ID, &webhook.RotateParams{Grace: time.Hour})
		require.NoError(t, err)
		plain := []string{ep.Secret, rot.Secret, token}
		before := readStored(t, raw, ep.ID)
		require.Equal(t, rot.Secret, before.secret, "no key: stored as it is")
		require.Equal(t, ep.Secret, before.old)
		require.Contains(t, before.headers, token)
		require.NoError(t, b.svc.Stop(ctx))

		// The first start with a key seals all three.
		k1 := newKey(t)
		svc1 := startService(t, b, k1)
		sealed := readStored(t, raw, ep.ID)
		requireSealed(t, sealed, plain...)
		got, err := svc1.EndpointSecret(ctx, "default", ep.ID)
		require.NoError(t, err)
		require.Equal(t, rot.Secret, got.Secret)
		require.Equal(t, map[string]string{"Authorization": token}, got.Headers, "read back transparently")
		deliverAndVerify(t, svc1, rc, ep.ID, 1, token, ep.Secret, rot.Secret)
		require.NoError(t, svc1.Stop(ctx))

		// Idempotent: a second start rewrites nothing.
		svc2 := startService(t, b, k1)
		require.Equal(t, sealed, readStored(t, raw, ep.ID))
		require.NoError(t, svc2.Stop(ctx))

		// Key rotation: the new key seals everything again; the old key alone
		// no longer opens it.
		k2 := newKey(t)
		svc3 := startService(t, b, k2, k1)
		resealed := readStored(t, raw, ep.ID)
		requireSealed(t, resealed, plain...)
		require.NotEqual(t, sealed.secret, resealed.secret)
		require.NotEqual(t, sealed.old, resealed.old)
		require.NotEqual(t, sealed.headers, resealed.headers)
		deliverAndVerify(t, svc3, rc, ep.ID, 2, token, ep.Secret, rot.Secret)
		require.NoError(t, svc3.Stop(ctx))
		oldOnly, err := webhook.New(ctx, b.core, &webhook.Config{EncryptionKey: k1})
		require.NoError(t, err)
		_, err = oldOnly.EndpointSecret(ctx, "default", ep.ID)
		require.ErrorIs(t, err, webhook.ErrSecretUnavailable)
	})
}

// deliverAndVerify sends a test delivery through svc and checks that the
// receiver's n-th request carries the custom Authorization header and is
// signed with every one of secrets.
func deliverAndVerify(t *testing.T, svc *webhook.Service, rc *receiver, endpointID string, n int, token string, secrets ...string) {
	t.Helper()
	d, err := svc.Test(context.Background(), "default", endpointID)
	require.NoError(t, err)
	waitDelivery(t, svc, "default", d.ID, webhook.StateSucceeded)
	r := rc.waitN(t, n, 10*time.Second)[n-1]
	require.Equal(t, token, r.Header.Get("Authorization"))
	for _, s := range secrets {
		require.NoError(t, webhook.Verify(s, r.Header, r.Body, nil))
	}
}

// TestSecretsSealedWhenWritten: with a key, a new endpoint's custom headers
// are stored sealed, an update's too, and a rotation seals the previous
// secret even when it was stored in plaintext before the key was configured
// (on a Service that was never started, so nothing resealed it first).
func TestSecretsSealedWhenWritten(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		b := setup(t, kind)
		ctx := context.Background()
		raw := openRaw(t, b, kind)
		legacy := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: "http://127.0.0.1:9/", Disabled: true})
		require.Equal(t, legacy.Secret, readStored(t, raw, legacy.ID).secret, "no key: stored as it is")

		keyed, err := webhook.New(ctx, b.core, &webhook.Config{AllowCIDRs: loopback, EncryptionKey: newKey(t)})
		require.NoError(t, err)
		rot, err := keyed.RotateSecret(ctx, "default", legacy.ID, &webhook.RotateParams{Grace: time.Hour})
		require.NoError(t, err)
		s := readStored(t, raw, legacy.ID)
		require.True(t, strings.HasPrefix(s.old, "enc1:"), "previous secret stored in plaintext: %q", s.old)
		require.NotContains(t, s.old, strings.TrimPrefix(legacy.Secret, "whsec_"))
		require.NotContains(t, s.secret, strings.TrimPrefix(rot.Secret, "whsec_"))

		const token = "token-4b1d"
		ep, err := keyed.CreateEndpoint(ctx, &webhook.EndpointParams{URL: "http://127.0.0.1:9/", Disabled: true,
			Headers: map[string]string{"X-Api-Token": token}})
		require.NoError(t, err)
		s = readStored(t, raw, ep.ID)
		require.True(t, strings.HasPrefix(s.headers, "enc1:"), s.headers)
		require.NotContains(t, s.headers, token)
		got, err := keyed.Endpoint(ctx, "default", ep.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"X-Api-Token": token}, got.Headers)
		require.Empty(t, got.Secret, "reads without the secret API never carry the secret")

		const token2 = "token-9c2e"
		_, err = keyed.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Headers: &map[string]string{"X-Api-Token": token2}})
		require.NoError(t, err)
		s = readStored(t, raw, ep.ID)
		require.True(t, strings.HasPrefix(s.headers, "enc1:"), s.headers)
		require.NotContains(t, s.headers, token2)

		// A service without the key cannot read the headers: it shows none and
		// an update of other fields keeps them as stored.
		nokey, err := webhook.New(ctx, b.core, &webhook.Config{AllowCIDRs: loopback})
		require.NoError(t, err)
		_, err = nokey.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Description: ptr("renamed")})
		require.NoError(t, err)
		require.Equal(t, s.headers, readStored(t, raw, ep.ID).headers)
		got, err = keyed.Endpoint(ctx, "default", ep.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"X-Api-Token": token2}, got.Headers)
	})
}
