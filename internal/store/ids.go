package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewID returns prefix and 24 characters that sort by creation time: the
// microseconds of now and 7 random bytes, in lower-case base32. The IDs of
// feature tables (webhook endpoints and deliveries, campaigns) are made here.
func NewID(prefix string, now time.Time) string {
	var b [15]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMicro()))
	_, _ = rand.Read(b[8:])
	return prefix + idEncoding.EncodeToString(b[:])
}
