package ws_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/transport/ws"
)

// paddedPing is a valid ping frame of exactly n bytes (JSON allows trailing
// whitespace).
func paddedPing(n int) []byte {
	const ping = `{"type":"ping"}`
	return []byte(ping + strings.Repeat(" ", n-len(ping)))
}

// TestReadLimitBoundary: a frame of exactly the limit is served; one byte
// more closes the connection with 1009, plain or deflated.
func TestReadLimitBoundary(t *testing.T) {
	t.Parallel()
	const limit = 2048
	b := setup(t, func(o *ws.HubOpts) { o.MaxFrameBytes = limit; o.CompressionThreshold = 1 << 20 })

	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.send(t, string(paddedPing(limit)))
	require.Equal(t, ws.TypePong, c.read(t).typ(), "exactly the limit is accepted")
	c.send(t, string(paddedPing(limit+1)))
	_, err := c.tryRead(5 * time.Second)
	require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)

	// The same through permessage-deflate: the limit applies to the inflated
	// message, not the few bytes on the wire.
	r := b.rawDialHub(t, true)
	r.write(t, clientFrame(true, true, opText, deflateMessage(t, paddedPing(limit))))
	require.Contains(t, r.textReply(t), `"pong"`)
	small := deflateMessage(t, paddedPing(limit+1))
	require.Less(t, len(small), 100)
	r.write(t, clientFrame(true, true, opText, small))
	code, err := r.closeCode(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.StatusMessageTooBig, code)
	require.Eventually(t, func() bool { return b.hub.Stats("").Security["oversized"] == 2 }, 5*time.Second, 5*time.Millisecond)
}

// TestFragmentedOverLimit: fragments are counted together: a message in three
// fragments whose total exceeds the limit is closed with 1009, as is one
// whose header announces 100 MiB (nothing is allocated from the announced
// length); fragments within the limit make one frame.
func TestFragmentedOverLimit(t *testing.T) {
	t.Parallel()
	const limit = 2048
	b := setup(t, func(o *ws.HubOpts) { o.MaxFrameBytes = limit; o.CompressionThreshold = 1 << 20 })

	r := b.rawDialHub(t, false)
	ping := paddedPing(limit)
	r.write(t, clientFrame(false, false, opText, ping[:1000]))
	r.write(t, clientFrame(false, false, opContinuation, ping[1000:2000]))
	r.write(t, clientFrame(true, false, opContinuation, ping[2000:]))
	require.Contains(t, r.textReply(t), `"pong"`, "fragments within the limit")
	pad := bytes.Repeat([]byte(" "), 1000)
	r.write(t, clientFrame(false, false, opText, append([]byte(`{"type":"ping"}`), pad...)))
	r.write(t, clientFrame(false, false, opContinuation, pad))
	r.write(t, clientFrame(true, false, opContinuation, pad))
	code, err := r.closeCode(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.StatusMessageTooBig, code, "three fragments of 1 KB each")

	// Deflated fragments of a bomb.
	r = b.rawDialHub(t, true)
	bomb := deflateBomb(t, 4<<20)
	third := len(bomb) / 3
	r.write(t, clientFrame(false, true, opText, bomb[:third]))
	r.write(t, clientFrame(false, false, opContinuation, bomb[third:2*third]))
	// The last fragment may block until the hub reads it, so it is written
	// on the side; the goroutine gets its own copy of the connection (r is
	// reassigned below) and is waited for before the next step.
	last, wrote := r.conn, make(chan struct{})
	go func() {
		defer close(wrote)
		_, _ = last.Write(clientFrame(true, false, opContinuation, bomb[2*third:]))
	}()
	code, err = r.closeCode(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.StatusMessageTooBig, code, "deflated fragments")
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the last fragment's write never returned")
	}

	// A header that announces 100 MiB, followed by limit+1 bytes.
	r = b.rawDialHub(t, false)
	hdr, key := frameHeader(true, false, opText, 100<<20)
	body := paddedPing(limit + 1)
	for i := range body {
		body[i] ^= key[i%4]
	}
	r.write(t, append(hdr, body...))
	code, err = r.closeCode(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.StatusMessageTooBig, code, "announced 100 MiB")

	// The hub serves on.
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.send(t, map[string]any{"type": "ping"})
	require.Equal(t, ws.TypePong, c.read(t).typ())
}

// TestDeflateBomb: a ~100 KB deflated frame that inflates to 100 MiB is closed
// with 1009 after inflating at most limit+1 bytes: everything the process
// allocates from sending the frame to the connection's end stays under twice
// the read limit (total allocations bound the peak heap from above). Not
// parallel: it measures the process's allocations.
func TestDeflateBomb(t *testing.T) {
	const limit = 256 << 10
	b := setup(t, func(o *ws.HubOpts) {
		o.MaxFrameBytes = limit
		o.CompressionThreshold = 1 << 20
		o.Logger = discardLogger()
	})
	bomb := deflateBomb(t, 100<<20)
	require.Less(t, len(bomb), 110<<10)
	require.Equal(t, int64(100<<20), inflatedSize(t, bomb))
	frame := clientFrame(true, true, opText, bomb)

	r := b.rawDialHub(t, true)
	// Warm up: a small deflated frame, so that pools (flate readers, buffers)
	// are primed as on a running server.
	r.write(t, clientFrame(true, true, opText, deflateMessage(t, paddedPing(1000))))
	require.Contains(t, r.textReply(t), `"pong"`)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go func() { _, _ = r.conn.Write(frame) }() // the server may cut it off mid-write
	code, err := r.closeCode(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.StatusMessageTooBig, code)
	require.Eventually(t, func() bool { return b.hub.Stats("").Connections.Current == 0 }, 5*time.Second, time.Millisecond)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("100 MiB bomb (%d bytes on the wire), read limit %d: %d bytes allocated by the process meanwhile (%.2fx the limit)",
		len(bomb), limit, alloc, float64(alloc)/limit)
	require.Less(t, alloc, uint64(2*limit))
	require.EqualValues(t, 1, b.hub.Stats("").Security["oversized"])

	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.send(t, map[string]any{"type": "ping"})
	require.Equal(t, ws.TypePong, c.read(t).typ(), "no panic: the hub serves on")
}
