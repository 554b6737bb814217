package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

func TestCreateEndpointRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	ok := "http://127.0.0.1:9/hook"
	tests := map[string]struct {
		p     webhook.EndpointParams
		field string
		msg   string
	}{
		"no URL":             {p: webhook.EndpointParams{}, field: "url", msg: "required"},
		"ftp scheme":         {p: webhook.EndpointParams{URL: "ftp://example.com/x"}, field: "url", msg: "scheme"},
		"javascript scheme":  {p: webhook.EndpointParams{URL: "javascript:alert(1)"}, field: "url"},
		"not a URL":          {p: webhook.EndpointParams{URL: "http://[::1"}, field: "url"},
		"userinfo":           {p: webhook.EndpointParams{URL: "http://user:pw@127.0.0.1/"}, field: "url", msg: "userinfo"},
		"metadata address":   {p: webhook.EndpointParams{URL: "http://169.254.169.254/latest"}, field: "url", msg: "not allowed: it is or resolves to a cloud metadata endpoint"},
		"private address":    {p: webhook.EndpointParams{URL: "http://10.0.0.5/"}, field: "url", msg: "not allowed: it is or resolves to a private network (RFC 1918) address"},
		"unknown kind":       {p: webhook.EndpointParams{URL: ok, Events: []string{"message.recieved"}}, field: "events", msg: "unknown event kind"},
		"unknown wildcard":   {p: webhook.EndpointParams{URL: ok, Events: []string{"foo.*"}}, field: "events"},
		"test kind":          {p: webhook.EndpointParams{URL: ok, Events: []string{"webhook.test"}}, field: "events"},
		"short secret":       {p: webhook.EndpointParams{URL: ok, Secret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))}, field: "secret", msg: "16 key bytes"},
		"secret w/o prefix":  {p: webhook.EndpointParams{URL: ok, Secret: "mysecret"}, field: "secret", msg: "whsec_"},
		"reserved header":    {p: webhook.EndpointParams{URL: ok, Headers: map[string]string{"X-Waqtor-Signature": "x"}}, field: "headers"},
		"signature header":   {p: webhook.EndpointParams{URL: ok, Headers: map[string]string{"webhook-id": "x"}}, field: "headers"},
		"host header":        {p: webhook.EndpointParams{URL: ok, Headers: map[string]string{"Host": "x"}}, field: "headers"},
		"header injection":   {p: webhook.EndpointParams{URL: ok, Headers: map[string]string{"X-A": "a\r\nX-B: b"}}, field: "headers"},
		"bad session":        {p: webhook.EndpointParams{URL: ok, Sessions: []string{"Main!"}}, field: "sessions"},
		"timeout too long":   {p: webhook.EndpointParams{URL: ok, Timeout: time.Hour}, field: "timeout"},
		"negative retry":     {p: webhook.EndpointParams{URL: ok, Retry: &webhook.RetryPolicy{Schedule: []time.Duration{-1}}}, field: "retry.schedule"},
		"bad tenant":         {p: webhook.EndpointParams{URL: ok, Tenant: "A B"}, field: "tenant"},
		"description length": {p: webhook.EndpointParams{URL: ok, Description: strings.Repeat("x", 1001)}, field: "description"},
	}
	// A service that allows loopback only: private and metadata stay blocked.
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := b.svc.CreateEndpoint(ctx, &tc.p)
			require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
			var fe *webhook.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field, err.Error())
			require.Contains(t, err.Error(), tc.msg)
		})
	}
	eps, err := b.svc.Endpoints(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, eps, "nothing was stored")
}

func TestEndpointCRUDAndTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	ep := createEndpoint(t, b.svc, &webhook.EndpointParams{Tenant: "acme", URL: "http://127.0.0.1:9/a",
		Events: []string{"message_received", "session.*", "message_received"}, Description: "orders",
		Retry: webhook.ExponentialRetry(3, time.Second, 2, 0)})
	require.True(t, strings.HasPrefix(ep.ID, "ep_"))
	require.True(t, strings.HasPrefix(ep.Secret, "whsec_"), "a secret is generated")
	require.Equal(t, []string{"message_received", "session.*"}, ep.Events)
	require.Equal(t, webhook.TimeoutDefault, ep.Timeout)

	got, err := b.svc.Endpoint(ctx, "acme", ep.ID)
	require.NoError(t, err)
	require.Empty(t, got.Secret, "reads do not return the secret")
	require.Equal(t, ep.Retry, got.Retry)
	withSecret, err := b.svc.EndpointSecret(ctx, "acme", ep.ID)
	require.NoError(t, err)
	require.Equal(t, ep.Secret, withSecret.Secret)

	// Another tenant sees nothing.
	_, err = b.svc.Endpoint(ctx, "default", ep.ID)
	require.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	_, err = b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{Description: ptr("x")})
	require.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	require.ErrorIs(t, b.svc.DeleteEndpoint(ctx, "default", ep.ID), webhook.ErrEndpointNotFound)
	_, err = b.svc.Test(ctx, "default", ep.ID)
	require.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	_, err = b.svc.Stats(ctx, "default", ep.ID, nil)
	require.ErrorIs(t, err, webhook.ErrEndpointNotFound)
	list, err := b.svc.Endpoints(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, list)

	up, err := b.svc.UpdateEndpoint(ctx, "acme", ep.ID, &webhook.EndpointUpdate{Enabled: ptr(false),
		Events: &[]string{"*"}, Headers: &map[string]string{"x-token": "t"}})
	require.NoError(t, err)
	require.False(t, up.Enabled)
	require.Equal(t, "manual", up.DisabledReason)
	require.Equal(t, map[string]string{"X-Token": "t"}, up.Headers)
	_, err = b.svc.Test(ctx, "acme", ep.ID)
	require.ErrorIs(t, err, webhook.ErrEndpointDisabled)
	_, err = b.svc.UpdateEndpoint(ctx, "acme", ep.ID, &webhook.EndpointUpdate{URL: ptr("gopher://x")})
	require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)

	require.NoError(t, b.svc.DeleteEndpoint(ctx, "acme", ep.ID))
	_, err = b.svc.Endpoint(ctx, "acme", ep.ID)
	require.ErrorIs(t, err, webhook.ErrEndpointNotFound)
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) { c.EncryptionKey = key })
	ctx := context.Background()
	rc := newReceiver(t, nil)
	ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL})
	rot, err := b.svc.RotateSecret(ctx, "default", ep.ID, nil)
	require.NoError(t, err)

	// The database holds neither secret in any form a dump would reveal.
	db := rawDB(t, b)
	var secret, old string
	require.NoError(t, db.QueryRow(`SELECT secret, old_secret FROM waqtor_webhook_endpoints WHERE id = ?`, ep.ID).Scan(&secret, &old))
	for _, s := range []string{secret, old} {
		require.True(t, strings.HasPrefix(s, "enc1:"), s)
		for _, plain := range []string{ep.Secret, rot.Secret, strings.TrimPrefix(ep.Secret, "whsec_"), strings.TrimPrefix(rot.Secret, "whsec_")} {
			require.NotContains(t, s, plain)
		}
	}

	// A service without the key cannot read it, and says why.
	other, err := webhook.New(ctx, b.core, &webhook.Config{AllowCIDRs: loopback})
	require.NoError(t, err)
	_, err = other.EndpointSecret(ctx, "default", ep.ID)
	require.ErrorIs(t, err, webhook.ErrSecretUnavailable)
	// A service with the key as an old key still can.
	rotated, err := webhook.New(ctx, b.core, &webhook.Config{AllowCIDRs: loopback, EncryptionKey: make([]byte, 32), OldEncryptionKeys: [][]byte{key}})
	require.NoError(t, err)
	got, err := rotated.EndpointSecret(ctx, "default", ep.ID)
	require.NoError(t, err)
	require.Equal(t, rot.Secret, got.Secret)
	_, err = webhook.New(ctx, b.core, &webhook.Config{EncryptionKey: []byte("short")})
	require.ErrorIs(t, err, webhook.ErrConfig)
}

func TestSecretRotationSignsWithBothDuringGrace(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL})
	rot, err := b.svc.RotateSecret(ctx, "default", ep.ID, &webhook.RotateParams{Grace: time.Hour})
	require.NoError(t, err)
	_, err = b.svc.Test(ctx, "default", ep.ID)
	require.NoError(t, err)
	r := rc.waitN(t, 1, 10*time.Second)[0]
	for _, s := range []string{ep.Secret, rot.Secret} {
		require.NoError(t, webhook.Verify(s, r.Header, r.Body, nil))
		require.NoError(t, webhook.VerifySeed(s, r.Header.Get(webhook.HeaderSignature), r.Body))
	}
	require.Len(t, strings.Fields(r.Header.Get(webhook.HeaderWebhookSignature)), 2)

	// Rotating without grace drops the old secret at once.
	rot2, err := b.svc.RotateSecret(ctx, "default", ep.ID, &webhook.RotateParams{Grace: -1})
	require.NoError(t, err)
	_, err = b.svc.Test(ctx, "default", ep.ID)
	require.NoError(t, err)
	r = rc.waitN(t, 2, 10*time.Second)[1]
	require.NoError(t, webhook.Verify(rot2.Secret, r.Header, r.Body, nil))
	require.ErrorIs(t, webhook.Verify(rot.Secret, r.Header, r.Body, nil), webhook.ErrNoMatchingSignature)
	require.ErrorIs(t, webhook.VerifySeed(rot.Secret, r.Header.Get(webhook.HeaderSignature), r.Body), webhook.ErrNoMatchingSignature)
}

func TestFiltersAliasesAndSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	all := newReceiver(t, nil)
	msgs := newReceiver(t, nil)
	ready := newReceiver(t, nil)
	other := newReceiver(t, nil)
	foreign := newReceiver(t, nil)
	createEndpoint(t, b.svc, &webhook.EndpointParams{URL: all.URL})
	createEndpoint(t, b.svc, &webhook.EndpointParams{URL: msgs.URL, Events: []string{"message_received"}, Sessions: []string{"main"}})
	createEndpoint(t, b.svc, &webhook.EndpointParams{URL: ready.URL, Events: []string{"client_connected"}})
	createEndpoint(t, b.svc, &webhook.EndpointParams{URL: other.URL, Events: []string{"message.*"}, Sessions: []string{"other"}})
	createEndpoint(t, b.svc, &webhook.EndpointParams{URL: foreign.URL, Tenant: "acme"})

	_, err := b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "second"})
	require.NoError(t, err)
	_, err = b.network.Phone("+201001234567").SendText(ctx, b.botJID, "hi")
	require.NoError(t, err)
	msgs.waitN(t, 1, 10*time.Second)
	ready.waitN(t, 1, 10*time.Second) // "second" pairs and becomes ready
	require.NoError(t, waitFor(ctx, func() bool {
		for _, r := range all.requests() {
			if r.envelope(t).Type == waqtor.KindMessageReceived {
				return true
			}
		}
		return false
	}))
	_, err = b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "third"}) // flush: more events after ours
	require.NoError(t, err)
	ready.waitN(t, 2, 10*time.Second)
	for _, r := range msgs.requests() {
		require.Equal(t, waqtor.KindMessageReceived, r.envelope(t).Type)
	}
	for _, r := range ready.requests() {
		require.Equal(t, waqtor.KindSessionStatus, r.envelope(t).Type)
		require.Contains(t, string(r.Body), `"status":"ready"`)
	}
	require.Empty(t, other.requests(), "session filter")
	require.Empty(t, foreign.requests(), "tenant isolation")
	require.Greater(t, len(all.requests()), len(msgs.requests()))
	for _, r := range all.requests() {
		require.NotEqual(t, http.Header{}, r.Header)
	}
}
