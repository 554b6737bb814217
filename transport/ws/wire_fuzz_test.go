package ws_test

import (
	"net"
	"testing"
	"time"

	"github.com/waqtor/waqtor/transport/ws"
)

// FuzzWireFrames writes arbitrary bytes to a live connection after the
// upgrade (with or without permessage-deflate), then ends its side: the hub
// must close the connection promptly and keep serving (each iteration's
// upgrade proves it), whatever the bytes are: frames of any opcode, flags,
// announced length, masking, fragmentation or deflate stream.
func FuzzWireFrames(f *testing.F) {
	b := setup(f, func(o *ws.HubOpts) {
		o.MaxFrameBytes, o.CompressionThreshold, o.RateLimitBurst = 2048, 1<<20, 1<<20
		o.Logger = discardLogger()
	})
	ping := []byte(`{"type":"ping"}`)
	bomb := deflateMessage(f, make([]byte, 4096)) // inflates to twice the limit
	seeds := [][]byte{
		clientFrame(true, false, opText, ping),
		append(clientFrame(false, false, opText, ping[:5]), clientFrame(true, false, opContinuation, ping[5:])...),
		clientFrame(true, false, opPing, []byte("hi")),
		clientFrame(true, false, opPong, nil),
		clientFrame(true, false, opClose, []byte{0x03, 0xe8}),
		clientFrame(true, false, 0x2, []byte{0, 1, 2}),
		clientFrame(true, false, 0x3, nil), // reserved opcode
		clientFrame(false, false, opPing, nil),
		clientFrame(true, false, opText, []byte{0xff, 0xfe}),
		clientFrame(true, true, opText, bomb),
		[]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
		[]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, // unmasked
		{},
	}
	for _, s := range seeds {
		f.Add(false, s)
		f.Add(true, s)
	}
	f.Fuzz(func(t *testing.T, deflate bool, data []byte) {
		r := b.rawDialHub(t, deflate)
		if len(data) > 0 {
			_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = r.conn.Write(data)
		}
		_ = r.conn.(*net.TCPConn).CloseWrite()
		for {
			if _, _, err := r.readFrame(10 * time.Second); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("the hub did not close the connection after %x", data)
				}
				return
			}
		}
	})
}
