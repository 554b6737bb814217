package ws

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// tokenBucket is a connection's budget of client frames: burst frames at
// once, then one per refill. It is used by the connection's reader goroutine
// only, and lives and dies with the connection (no keyed table to evict).
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newTokenBucket(burst int, now time.Time) tokenBucket {
	return tokenBucket{tokens: float64(burst), last: now}
}

// allow takes a token at time now, refilling first.
func (b *tokenBucket) allow(now time.Time, burst int, refill time.Duration) bool {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(burst), b.tokens+float64(elapsed)/float64(refill))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// smallReadBytes is the size of the pooled buffers that hold client frames;
// a larger frame gets a buffer sized to the read limit.
const smallReadBytes = 4 << 10

var smallReadBufs = sync.Pool{New: func() any { b := make([]byte, smallReadBytes); return &b }}

// errReadLimit is returned by readMessage if the connection's read limit did
// not stop a message that outgrew it (never expected).
var errReadLimit = errors.New("ws: message exceeds the read limit")

// readMessage reads one client message. Unlike Conn.Read (io.ReadAll, whose
// growing buffers peak near twice the message and allocate about five times
// it), it holds at most a pooled 4 KiB buffer plus one buffer of limit+1
// bytes, so a connection's frame memory stays under twice its read limit
// whatever the client sends. The read limit (set on the connection) applies
// after decompression and stops inflating at limit+1 bytes: a small deflated
// frame that would inflate to gigabytes costs at most that. release returns
// the buffer; the message must not be used after it.
func readMessage(ctx context.Context, conn *websocket.Conn, limit int64) (typ websocket.MessageType, msg []byte, release func(), err error) {
	typ, r, err := conn.Reader(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	small := smallReadBufs.Get().(*[]byte)
	release = func() { smallReadBufs.Put(small) }
	buf := (*small)[:0]
	max := int(min(limit, math.MaxInt32)) + 1 // the limit reader reads one byte more to see the end
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= max {
				// Full at limit+1 bytes: the next read reports the overflow
				// (and closes the connection with 1009).
				var one [1]byte
				if _, err = r.Read(one[:]); err == nil || errors.Is(err, io.EOF) {
					err = errReadLimit
				}
				release()
				return 0, nil, nil, err
			}
			big := make([]byte, len(buf), max)
			copy(big, buf)
			buf = big
		}
		var n int
		n, err = r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return typ, buf, release, nil
		}
		if err != nil {
			release()
			return 0, nil, nil, err
		}
	}
}
