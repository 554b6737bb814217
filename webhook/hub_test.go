package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// githubVerify is a receiver's check of X-Hub-Signature-256 as GitHub
// documents it, written independently of the webhook package: the HMAC-SHA256
// of the raw body keyed with the secret string, "sha256=" and lowercase hex,
// compared in constant time with the whole header.
func githubVerify(secret, header string, body []byte) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header))
}

// TestHubSignature is the optional compatibility header of docs/reliability.md T10.
func TestHubSignature(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		b := setup(t, kind)
		ctx := context.Background()
		rc := newReceiver(t, nil)
		send := func(id string, n int) received {
			t.Helper()
			_, err := b.svc.Test(ctx, "default", id)
			require.NoError(t, err)
			return rc.waitN(t, n, 10*time.Second)[n-1]
		}

		// Off by default.
		plain := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Events: []string{quietKind}})
		require.False(t, plain.HubSignature)
		r := send(plain.ID, 1)
		require.Empty(t, r.Header.Values(webhook.HeaderHubSignature))

		// On: a GitHub-style receiver accepts it, and nothing else.
		ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Events: []string{quietKind}, HubSignature: true})
		require.True(t, ep.HubSignature)
		got, err := b.svc.Endpoint(ctx, "default", ep.ID)
		require.NoError(t, err)
		require.True(t, got.HubSignature, "stored")
		r = send(ep.ID, 2)
		hub := r.Header.Get(webhook.HeaderHubSignature)
		require.Regexp(t, `^sha256=[0-9a-f]{64}$`, hub)
		require.True(t, githubVerify(ep.Secret, hub, r.Body))
		require.False(t, githubVerify(ep.Secret, hub, append(append([]byte{}, r.Body[:len(r.Body)-1]...), ' ')), "1-byte body change")
		require.False(t, githubVerify(webhook.GenerateSecret(), hub, r.Body), "another secret")
		require.NoError(t, webhook.VerifySeed(ep.Secret, hub, r.Body), "VerifySeed checks it too")
		require.NoError(t, webhook.Verify(ep.Secret, r.Header, r.Body, nil), "the other signatures are still there")

		// During a rotation's grace period it carries the new secret only.
		rot, err := b.svc.RotateSecret(ctx, "default", ep.ID, &webhook.RotateParams{Grace: time.Hour})
		require.NoError(t, err)
		r = send(ep.ID, 3)
		hub = r.Header.Get(webhook.HeaderHubSignature)
		require.True(t, githubVerify(rot.Secret, hub, r.Body))
		require.False(t, githubVerify(ep.Secret, hub, r.Body))
		require.NoError(t, webhook.VerifySeed(ep.Secret, r.Header.Get(webhook.HeaderSignature), r.Body),
			"X-Waqtor-Signature keeps both during the grace period")

		// Turned off again.
		up, err := b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{HubSignature: ptr(false)})
		require.NoError(t, err)
		require.False(t, up.HubSignature)
		r = send(ep.ID, 4)
		require.Empty(t, r.Header.Values(webhook.HeaderHubSignature))

		// A custom header cannot forge it; nothing is stored.
		before, err := b.svc.Endpoints(ctx, nil)
		require.NoError(t, err)
		for _, h := range []string{"X-Hub-Signature-256", "x-hub-signature"} {
			_, err = b.svc.CreateEndpoint(ctx, &webhook.EndpointParams{URL: rc.URL, Headers: map[string]string{h: "sha256=00"}})
			var fe *webhook.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "headers", fe.Field)
			_, err = b.svc.UpdateEndpoint(ctx, "default", plain.ID, &webhook.EndpointUpdate{Headers: &map[string]string{h: "x"}})
			require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
		}
		after, err := b.svc.Endpoints(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, before, after)
	})
}
