package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Secret sizes.
const (
	// SecretPrefix starts every endpoint secret.
	SecretPrefix = "whsec_"
	// SecretBytesDefault is the size of a generated secret's key.
	SecretBytesDefault = 32
	// SecretBytesMin and SecretBytesMax bound the key size of a secret given by
	// the user, as the Standard Webhooks specification asks.
	SecretBytesMin = 24
	SecretBytesMax = 64
)

// GenerateSecret returns a new random secret: "whsec_" followed by the
// standard base64 encoding of 32 random bytes.
func GenerateSecret() string {
	var b [SecretBytesDefault]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// ParseSecret checks a secret and returns its key bytes (the base64-decoded
// part after "whsec_"), which sign the Standard Webhooks signature. The seed
// header X-Waqtor-Signature is keyed with the whole secret string instead.
func ParseSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf(`%w: must start with %q (leave it empty to generate one)`, ErrInvalidSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not standard base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < SecretBytesMin || len(key) > SecretBytesMax {
		return nil, fmt.Errorf("%w: %d key bytes; use %d to %d random bytes (leave it empty to generate one)",
			ErrInvalidSecret, len(key), SecretBytesMin, SecretBytesMax)
	}
	return key, nil
}

// sealer encrypts secrets at rest with AES-GCM. A nil *sealer stores them as
// they are.
type sealer struct {
	aead cipher.AEAD   // encrypts; nil when no key
	old  []cipher.AEAD // decrypt only
}

// sealedPrefix marks an encrypted secret: "enc1:" + base64(nonce || ciphertext).
const sealedPrefix = "enc1:"

func newSealer(key []byte, old [][]byte) (*sealer, error) {
	s := &sealer{}
	mk := func(k []byte, field string) (cipher.AEAD, error) {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %s must be 16, 24 or 32 bytes (AES-128/192/256), got %d", ErrConfig, field, len(k))
		}
		return cipher.NewGCM(block)
	}
	if len(key) > 0 {
		a, err := mk(key, "EncryptionKey")
		if err != nil {
			return nil, err
		}
		s.aead = a
	}
	for i, k := range old {
		a, err := mk(k, fmt.Sprintf("OldEncryptionKeys[%d]", i))
		if err != nil {
			return nil, err
		}
		s.old = append(s.old, a)
	}
	return s, nil
}

// Additional data bound into each ciphertext, so that a sealed value cannot
// be passed off as another kind of value.
const (
	aadSecret  = "waqtor-webhook-secret"
	aadHeaders = "waqtor-webhook-headers"
)

// seal returns the form of secret to store.
func (s *sealer) seal(secret string) (string, error) { return s.sealAAD(secret, aadSecret) }

// open returns the secret from its stored form.
func (s *sealer) open(stored string) (string, error) {
	pt, _, err := s.openAAD(stored, aadSecret)
	return pt, err
}

// sealHeaders returns the stored form of an endpoint's custom headers: their
// JSON, encrypted when a key is configured (they often carry the receiver's
// credentials). No headers are stored as "{}" either way.
func (s *sealer) sealHeaders(h map[string]string) (string, error) {
	if len(h) == 0 {
		return "{}", nil
	}
	return s.sealAAD(encodeJSON(h), aadHeaders)
}

// openHeaders returns an endpoint's custom headers from their stored form.
func (s *sealer) openHeaders(stored string) (map[string]string, error) {
	js, _, err := s.openAAD(stored, aadHeaders)
	if err != nil {
		return map[string]string{}, fmt.Errorf("custom headers: %w", err)
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(js), &h); err != nil {
		return map[string]string{}, fmt.Errorf("%w: custom headers are not a JSON object", ErrSecretUnavailable)
	}
	if h == nil {
		h = map[string]string{}
	}
	return h, nil
}

// resealed returns the form stored should take under the current key: the
// value sealed with it if stored is plaintext or sealed with an old key, and
// ok false if stored is already as it should be (or empty, or no key is
// configured). It fails when stored is sealed with a key that is not
// configured.
func (s *sealer) resealed(stored, aad string) (string, bool, error) {
	if s == nil || s.aead == nil || stored == "" || aad == aadHeaders && (stored == "{}" || stored == "null") {
		return "", false, nil
	}
	pt, current, err := s.openAAD(stored, aad)
	if err != nil || current {
		return "", false, err
	}
	out, err := s.sealAAD(pt, aad)
	return out, err == nil, err
}

func (s *sealer) sealAAD(plain, aad string) (string, error) {
	if plain == "" || s == nil || s.aead == nil {
		return plain, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := s.aead.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return sealedPrefix + base64.StdEncoding.EncodeToString(ct), nil
}

// openAAD returns the plaintext of a stored value and whether it was sealed
// with the current key.
func (s *sealer) openAAD(stored, aad string) (plain string, current bool, err error) {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, false, nil // stored before a key was configured
	}
	ct, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", false, fmt.Errorf("%w: corrupt ciphertext", ErrSecretUnavailable)
	}
	var keys []cipher.AEAD
	if s != nil {
		keys = s.old
		if s.aead != nil {
			keys = append([]cipher.AEAD{s.aead}, s.old...)
		}
	}
	if len(keys) == 0 {
		return "", false, fmt.Errorf("%w: it is encrypted and Config.EncryptionKey is not set", ErrSecretUnavailable)
	}
	for i, a := range keys {
		if len(ct) < a.NonceSize() {
			break
		}
		pt, err := a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], []byte(aad))
		if err == nil {
			return string(pt), i == 0 && s.aead != nil, nil
		}
	}
	return "", false, fmt.Errorf("%w: no configured key opens it (add the key it was written with to OldEncryptionKeys)",
		ErrSecretUnavailable)
}

var errNoSecret = errors.New("webhook: endpoint has no secret")
