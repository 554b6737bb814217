package webhook_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/webhook"
)

// The secret of the Standard Webhooks reference tests.
const specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderWebhookID, id)
	h.Set(webhook.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(webhook.HeaderWebhookSignature, sig)
	return h
}

func TestSignatureInteropWithReferenceLibrary(t *testing.T) {
	t.Parallel()
	secret := webhook.GenerateSecret()
	body := []byte(`{"type":"message.received","data":{"text":"héllo"}}`)
	now := time.Now()
	ref, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)

	// Ours verifies with theirs.
	sig, err := webhook.Sign(secret, "evt_ABC", now, body)
	require.NoError(t, err)
	require.NoError(t, ref.Verify(body, headers("evt_ABC", now, sig)))

	// Theirs verifies with ours.
	theirs, err := ref.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", now, body)
	require.NoError(t, err)
	require.Equal(t, theirs, mustSign(t, secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, body))
	require.NoError(t, webhook.Verify(secret, headers("msg_p5jXN8AQM9LWM0D4loKWxJek", now, theirs), body, nil))

	// The specification's published vector.
	specBody := []byte(`{"test": 2432232314}`)
	specTS := time.Unix(1614265330, 0)
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	require.Equal(t, want, mustSign(t, specSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", specTS, specBody))
	require.NoError(t, webhook.Verify(specSecret, headers("msg_p5jXN8AQM9LWM0D4loKWxJek", specTS, want), specBody,
		&webhook.VerifyOpts{Now: func() time.Time { return specTS }}))
}

func mustSign(t *testing.T, secret, id string, ts time.Time, body []byte) string {
	t.Helper()
	s, err := webhook.Sign(secret, id, ts, body)
	require.NoError(t, err)
	return s
}

func TestVerifyVectors(t *testing.T) {
	t.Parallel()
	secret := webhook.GenerateSecret()
	other := webhook.GenerateSecret()
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	opts := &webhook.VerifyOpts{Now: func() time.Time { return now }}
	good := mustSign(t, secret, "evt_1", now, body)
	tests := map[string]struct {
		id   string
		ts   time.Time
		sig  string
		body []byte
		want error
	}{
		"valid":                          {id: "evt_1", ts: now, sig: good, body: body},
		"exactly 5 minutes old":          {id: "evt_1", ts: now.Add(-5 * time.Minute), sig: mustSign(t, secret, "evt_1", now.Add(-5*time.Minute), body), body: body, want: webhook.ErrTimestamp},
		"4m59s old":                      {id: "evt_1", ts: now.Add(-299 * time.Second), sig: mustSign(t, secret, "evt_1", now.Add(-299*time.Second), body), body: body},
		"5m1s in the future":             {id: "evt_1", ts: now.Add(301 * time.Second), sig: mustSign(t, secret, "evt_1", now.Add(301*time.Second), body), body: body, want: webhook.ErrTimestamp},
		"multi-signature with junk":      {id: "evt_1", ts: now, sig: "v2,abc junk v1, v1,AAAA " + good + " v1a,zz", body: body},
		"only v2 entries":                {id: "evt_1", ts: now, sig: "v2," + strings.TrimPrefix(good, "v1,"), body: body, want: webhook.ErrNoMatchingSignature},
		"empty v1 signature":             {id: "evt_1", ts: now, sig: "v1,", body: body, want: webhook.ErrNoMatchingSignature},
		"one byte changed":               {id: "evt_1", ts: now, sig: good, body: []byte(`{"a":2}`), want: webhook.ErrNoMatchingSignature},
		"other secret":                   {id: "evt_1", ts: now, sig: mustSign(t, other, "evt_1", now, body), body: body, want: webhook.ErrNoMatchingSignature},
		"rotation: old and new":          {id: "evt_1", ts: now, sig: mustSign(t, other, "evt_1", now, body) + " " + good, body: body},
		"other id":                       {id: "evt_2", ts: now, sig: good, body: body, want: webhook.ErrNoMatchingSignature},
		"id with a dot":                  {id: "evt.1", ts: now, sig: good, body: body, want: webhook.ErrMissingHeaders},
		"no signature":                   {id: "evt_1", ts: now, sig: "", body: body, want: webhook.ErrMissingHeaders},
		"signature of another timestamp": {id: "evt_1", ts: now.Add(time.Second), sig: good, body: body, want: webhook.ErrNoMatchingSignature},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(secret, headers(tc.id, tc.ts, tc.sig), tc.body, opts)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
	t.Run("malformed timestamp", func(t *testing.T) {
		h := headers("evt_1", now, good)
		h.Set(webhook.HeaderWebhookTimestamp, "12a")
		require.ErrorIs(t, webhook.Verify(secret, h, body, opts), webhook.ErrTimestamp)
	})
	t.Run("id with a dot cannot be signed", func(t *testing.T) {
		_, err := webhook.Sign(secret, "a.b", now, body)
		require.Error(t, err)
	})
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	s := webhook.GenerateSecret()
	key, err := webhook.ParseSecret(s)
	require.NoError(t, err)
	require.Len(t, key, 32)
	require.NotEqual(t, s, webhook.GenerateSecret())
	for name, bad := range map[string]string{
		"no prefix":  strings.TrimPrefix(s, "whsec_"),
		"23 bytes":   "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)),
		"65 bytes":   "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)),
		"not base64": "whsec_!!!!",
		"empty":      "",
	} {
		_, err := webhook.ParseSecret(bad)
		require.ErrorIs(t, err, webhook.ErrInvalidSecret, name)
	}
	for _, n := range []int{24, 64} {
		_, err := webhook.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n)))
		require.NoError(t, err)
	}
}

// TestSeedSignatureMatchesOpenSSL checks that
// openssl dgst -sha256 -hmac "$SECRET" reproduces X-Waqtor-Signature.
func TestSeedSignatureMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	secret := webhook.GenerateSecret()
	body := []byte(`{"id":"evt_X","type":"message.received","data":{"text":"multi\nline ✓"}}`)
	cmd := exec.Command(path, "dgst", "-sha256", "-hmac", secret)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	require.NoError(t, err)
	// "SHA2-256(stdin)= <hex>" or "(stdin)= <hex>" depending on the version.
	hex := strings.TrimSpace(string(out[bytes.LastIndexByte(out, ' ')+1:]))
	require.Equal(t, "sha256="+hex, webhook.SignSeed(secret, body))
	require.NoError(t, webhook.VerifySeed(secret, "sha256="+hex, body))
	require.ErrorIs(t, webhook.VerifySeed(secret, "sha256="+hex, append(body, ' ')), webhook.ErrNoMatchingSignature)
	require.NoError(t, webhook.VerifySeed(secret, webhook.SignSeed(webhook.GenerateSecret(), body)+", sha256="+hex, body),
		"rotation lists several values")
}

func FuzzVerify(f *testing.F) {
	secret := webhook.GenerateSecret()
	now := time.Unix(1_800_000_000, 0)
	good := mustSignF(secret, "evt_1", now, []byte("{}"))
	f.Add("evt_1", strconv.FormatInt(now.Unix(), 10), good, []byte("{}"))
	f.Add("evt_1", "1800000000", "v1,AAAA v2,BBBB", []byte("x"))
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "-1", "v1,,,, ,", []byte("{}"))
	opts := &webhook.VerifyOpts{Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderWebhookID, id)
		h.Set(webhook.HeaderWebhookTimestamp, ts)
		h.Set(webhook.HeaderWebhookSignature, sig)
		err := webhook.Verify(secret, h, body, opts)
		if err == nil {
			// Only a genuine signature may pass.
			unix, _ := strconv.ParseInt(ts, 10, 64)
			want := mustSignF(secret, id, time.Unix(unix, 0), body)
			if want == "" || !strings.Contains(sig, want) {
				t.Fatalf("accepted %q for id %q ts %q", sig, id, ts)
			}
		} else if !errors.Is(err, webhook.ErrMissingHeaders) && !errors.Is(err, webhook.ErrTimestamp) &&
			!errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Fatalf("unexpected error %v", err)
		}
		_ = webhook.VerifySeed(secret, sig, body)
	})
}

func mustSignF(secret, id string, ts time.Time, body []byte) string {
	s, _ := webhook.Sign(secret, id, ts, body)
	return s
}
