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
// once, then one per refill. It is the generic cell rate algorithm (a token
// bucket kept as one time, the theoretical arrival time of the next frame),
// exact in integer nanoseconds however long it runs. It is used by the
// connection's reader goroutine only, and lives and dies with the connection
// (no table keyed by address or key to evict).
type tokenBucket struct {
	tat time.Time
}

func newTokenBucket(now time.Time) tokenBucket { return tokenBucket{tat: now} }

// allow takes a token at time now; when there is none, it returns how long
// until there is.
func (b *tokenBucket) allow(now time.Time, burst int, refill time.Duration) (bool, time.Duration) {
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	tolerance := time.Duration(math.MaxInt64)
	if int64(burst-1) < math.MaxInt64/int64(max(refill, 1)) {
		tolerance = time.Duration(burst-1) * refill
	}
	if wait := tat.Sub(now) - tolerance; wait > 0 {
		return false, wait
	}
	b.tat = tat.Add(refill)
	return true, 0
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
