package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
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

// seal returns the form of secret to store.
func (s *sealer) seal(secret string) (string, error) {
	if secret == "" || s.aead == nil {
		return secret, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := s.aead.Seal(nonce, nonce, []byte(secret), []byte("waqtor-webhook-secret"))
	return sealedPrefix + base64.StdEncoding.EncodeToString(ct), nil
}

// open returns the secret from its stored form.
func (s *sealer) open(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil // stored before a key was configured
	}
	ct, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("%w: corrupt ciphertext", ErrSecretUnavailable)
	}
	keys := s.old
	if s.aead != nil {
		keys = append([]cipher.AEAD{s.aead}, s.old...)
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("%w: it is encrypted and Config.EncryptionKey is not set", ErrSecretUnavailable)
	}
	for _, a := range keys {
		if len(ct) < a.NonceSize() {
			break
		}
		pt, err := a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], []byte("waqtor-webhook-secret"))
		if err == nil {
			return string(pt), nil
		}
	}
	return "", fmt.Errorf("%w: no configured key opens it (add the key it was written with to OldEncryptionKeys)",
		ErrSecretUnavailable)
}

var errNoSecret = errors.New("webhook: endpoint has no secret")
