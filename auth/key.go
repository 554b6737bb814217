package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
)

// Key format constants.
const (
	// KeyPrefix starts every API key, so keys are recognisable in logs, config
	// files and by secret scanners.
	KeyPrefix = "wqt_"
	// keyIDLen is the length of the public key ID part.
	keyIDLen = 10
	// keySecretLen is the length of the secret part (30 base62 characters, about
	// 178 bits).
	keySecretLen = 30
	// keyChecksumLen is the length of the base62 CRC-32 checksum.
	keyChecksumLen = 6
	// KeyLength is the length of a whole key.
	KeyLength = len(KeyPrefix) + keyIDLen + keySecretLen + keyChecksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewKeySecret returns a fresh random API key in waqtor's format. It is not
// stored anywhere: KeyStore.Create generates and stores one, KeyStore.Import
// stores one made here (for a bootstrap key given in configuration).
func NewKeySecret() string {
	body := randomBase62(keyIDLen + keySecretLen)
	return KeyPrefix + body + checksum(body)
}

func randomBase62(n int) string {
	var sb strings.Builder
	max := big.NewInt(int64(len(base62)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		sb.WriteByte(base62[i.Int64()])
	}
	return sb.String()
}

func checksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, keyChecksumLen)
	for i := keyChecksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// ParseKey checks a key's form and checksum without any lookup and returns its
// public ID. Errors wrap ErrUnauthenticated.
func ParseKey(key string) (id string, err error) {
	if len(key) != KeyLength || !strings.HasPrefix(key, KeyPrefix) {
		return "", fmt.Errorf("%w: not a waqtor API key (%s…, %d characters)", ErrUnauthenticated, KeyPrefix, KeyLength)
	}
	rest := key[len(KeyPrefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return "", fmt.Errorf("%w: API key has a character outside [0-9A-Za-z]", ErrUnauthenticated)
		}
	}
	body, sum := rest[:keyIDLen+keySecretLen], rest[keyIDLen+keySecretLen:]
	if checksum(body) != sum {
		return "", fmt.Errorf("%w: API key checksum mismatch (mistyped or truncated key)", ErrUnauthenticated)
	}
	return body[:keyIDLen], nil
}

// digest is the stored form of a key.
func digest(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }
