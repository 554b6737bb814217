package sandbox

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// Generated values come from PCG streams keyed by the seed and by what they
// belong to (a session, a phone), so that they do not depend on how timers of
// different sessions interleave: the same seed and the same calls on one session
// or phone give the same codes and IDs.

// stream returns a generator for the values of kind that belong to key.
func stream(seed int64, kind, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+8)
	for len(b) < n {
		b = binary.LittleEndian.AppendUint64(b, r.Uint64())
	}
	return b[:n]
}

// lidFor returns the LID of a phone number. It is a pure function of the seed
// and the number, so CheckNumbers can answer without creating the phone.
func lidFor(seed int64, e164 string) string {
	r := stream(seed, "lid", e164)
	return fmt.Sprintf("%d@lid", 100_000_000_000_000+r.Int64N(900_000_000_000_000))
}

// autoPairNumber returns the number AutoPair pairs a session as.
func autoPairNumber(seed int64, sessionID string) string {
	r := stream(seed, "autopair", sessionID)
	return fmt.Sprintf("+1555%07d", r.IntN(10_000_000))
}

// newMessageID returns an ID in the shape of WhatsApp Web's ("3EB0" and 16 hex digits).
func newMessageID(r *rand.Rand) string {
	return fmt.Sprintf("3EB0%016X", r.Uint64())
}

// newQRCode returns a code in the shape of whatsmeow's: ref, noise key,
// identity key and ADV secret.
func newQRCode(r *rand.Rand) string {
	enc := base64.StdEncoding.EncodeToString
	return "2@" + enc(randBytes(r, 18)) + "," + enc(randBytes(r, 32)) + "," + enc(randBytes(r, 32)) + "," + enc(randBytes(r, 32))
}

// pairingAlphabet is the alphabet of WhatsApp's linking codes.
const pairingAlphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"

// newPairingCode returns an 8-character linking code.
func newPairingCode(r *rand.Rand) string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = pairingAlphabet[r.IntN(len(pairingAlphabet))]
	}
	return string(b)
}

// formatPairingCode writes a code as WhatsApp shows it ("ABCD-EFGH").
func formatPairingCode(code string) string { return code[:4] + "-" + code[4:] }

// normalizePairingCode undoes what a person may do to a typed code: case,
// spaces and the dash.
func normalizePairingCode(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' || c == ' ':
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// newGroupJID returns a JID in the shape of a modern group's.
func newGroupJID(r *rand.Rand) string {
	return fmt.Sprintf("120363%012d@g.us", r.Int64N(1_000_000_000_000))
}
