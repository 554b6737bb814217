package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	// HeaderDelivery carries the delivery's ID ("dlv_…"): one per event and
	// endpoint, the same on every retry. Use it to find the delivery in the log.
	HeaderDelivery = "X-Waqtor-Delivery"
	// HeaderEvent carries the event kind, such as "message.received".
	HeaderEvent = "X-Waqtor-Event"
	// HeaderSignature carries the original plan's signature: "sha256=" and the
	// hex HMAC-SHA256 of the raw body keyed with the secret string exactly as
	// shown ("whsec_…"). During a secret rotation it lists one signature per
	// valid secret, newest first, separated by ", ".
	HeaderSignature = "X-Waqtor-Signature"
	// HeaderHubSignature is the optional GitHub/Meta-style signature
	// (EndpointParams.HubSignature): "sha256=" and the hex HMAC-SHA256 of the
	// raw body keyed with the secret string as shown ("whsec_…"), the same
	// value as the first X-Waqtor-Signature entry. It carries one signature,
	// made with the current secret, also during a rotation's grace period:
	// GitHub-style verifiers compare the whole header.
	HeaderHubSignature = "X-Hub-Signature-256"
	// HeaderWebhookID is the Standard Webhooks message ID: the event's ID
	// ("evt_…"), the same on every retry and replay. Receivers dedupe on it.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookSignature is the Standard Webhooks signature list: space
	// separated "v1,<base64>" entries, one per valid secret.
	HeaderWebhookSignature = "webhook-signature"
	// HeaderWebhookTimestamp is the Standard Webhooks timestamp: Unix seconds
	// at the time of the attempt, fresh on every retry.
	HeaderWebhookTimestamp = "webhook-timestamp"
)

// ToleranceDefault is how far a webhook-timestamp may be from the receiver's
// clock before [Verify] refuses it.
const ToleranceDefault = 5 * time.Minute

// SignSeed returns the X-Waqtor-Signature value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with the secret string as is, so that
//
//	openssl dgst -sha256 -hmac "$SECRET" < body
//
// prints the same hex.
func SignSeed(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// Sign returns the Standard Webhooks signature ("v1,<base64>") of body for
// message msgID sent at ts: the base64 HMAC-SHA256 of "msgID.unix(ts).body",
// keyed with the base64-decoded part of the secret after "whsec_".
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	if msgID == "" || strings.Contains(msgID, ".") {
		return "", fmt.Errorf("webhook: message ID %q must be non-empty and contain no \".\"", msgID)
	}
	return "v1," + signKey(key, msgID, ts.Unix(), body), nil
}

func signKey(key []byte, msgID string, unix int64, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// VerifyOpts tunes Verify.
type VerifyOpts struct {
	// Now is the receiver's clock. Defaults to time.Now.
	Now func() time.Time
	// Tolerance is how far webhook-timestamp may be from Now. Defaults to
	// ToleranceDefault (5 minutes).
	Tolerance time.Duration
}

// Verify checks the Standard Webhooks headers of a request against its raw
// body: webhook-timestamp within the tolerance, and at least one "v1," entry
// of webhook-signature equal (in constant time) to the signature made with
// secret. Entries of other versions, and malformed ones, are skipped. It is
// what a receiver written in Go calls before trusting a delivery; opts may be
// nil.
func Verify(secret string, header http.Header, body []byte, opts *VerifyOpts) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id := header.Get(HeaderWebhookID)
	sigs := header.Get(HeaderWebhookSignature)
	tsRaw := header.Get(HeaderWebhookTimestamp)
	if id == "" || sigs == "" || tsRaw == "" {
		return fmt.Errorf("%w: need %s, %s and %s", ErrMissingHeaders, HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	if strings.Contains(id, ".") {
		return fmt.Errorf("%w: %s contains \".\"", ErrMissingHeaders, HeaderWebhookID)
	}
	unix, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrTimestamp, HeaderWebhookTimestamp, tsRaw)
	}
	now, tol := time.Now, ToleranceDefault
	if opts != nil {
		if opts.Now != nil {
			now = opts.Now
		}
		if opts.Tolerance > 0 {
			tol = opts.Tolerance
		}
	}
	if d := now().Sub(time.Unix(unix, 0)); d >= tol || d < -tol {
		return fmt.Errorf("%w: %s is %s away from now", ErrTimestamp, HeaderWebhookTimestamp, d.Round(time.Second))
	}
	want := []byte(signKey(key, id, unix, body))
	for entry := range strings.FieldsSeq(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" || sig == "" {
			continue
		}
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

// VerifySeed checks an X-Waqtor-Signature header value against the raw body:
// one of its comma-separated "sha256=<hex>" entries must equal (in constant
// time) SignSeed(secret, body).
func VerifySeed(secret, header string, body []byte) error {
	if strings.TrimSpace(header) == "" {
		return fmt.Errorf("%w: need %s", ErrMissingHeaders, HeaderSignature)
	}
	want := []byte(SignSeed(secret, body))
	for entry := range strings.SplitSeq(header, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(entry)), want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

// signHub sets the X-Hub-Signature-256 header of an attempt signed by sign:
// the newest secret's X-Waqtor-Signature entry, without a second HMAC.
func signHub(h http.Header) {
	first, _, _ := strings.Cut(h.Get(HeaderSignature), ",")
	h.Set(HeaderHubSignature, first)
}

// signer holds the valid secrets of an endpoint, newest first.
type signer struct {
	secrets []string
	keys    [][]byte
}

func newSigner(secrets ...string) (*signer, error) {
	s := &signer{}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		k, err := ParseSecret(sec)
		if err != nil {
			return nil, err
		}
		s.secrets = append(s.secrets, sec)
		s.keys = append(s.keys, k)
	}
	if len(s.secrets) == 0 {
		return nil, errNoSecret
	}
	return s, nil
}

// sign sets the signature headers of one attempt.
func (s *signer) sign(h http.Header, msgID string, ts time.Time, body []byte) {
	unix := ts.Unix()
	seed := make([]string, len(s.secrets))
	std := make([]string, len(s.secrets))
	for i, sec := range s.secrets {
		seed[i] = SignSeed(sec, body)
		std[i] = "v1," + signKey(s.keys[i], msgID, unix, body)
	}
	h.Set(HeaderSignature, strings.Join(seed, ", "))
	h.Set(HeaderWebhookID, msgID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(unix, 10))
	h.Set(HeaderWebhookSignature, strings.Join(std, " "))
}
