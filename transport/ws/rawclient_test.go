package ws_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// rawConn is a WebSocket client on a bare TCP connection, for frames a real
// client refuses to send (hand-made deflate bombs, fragments) and for peers
// that misbehave at the protocol level (never answering pings).
type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
}

// WebSocket opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// rawDial upgrades a TCP connection to addr; hdr adds request headers (for
// example Sec-WebSocket-Extensions).
func rawDial(t *testing.T, addr string, hdr http.Header) (*rawConn, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return rawUpgrade(t, conn, addr, hdr)
}

func rawUpgrade(t *testing.T, conn net.Conn, host string, hdr http.Header) (*rawConn, *http.Response) {
	t.Helper()
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n",
		host, base64.StdEncoding.EncodeToString(nonce[:]))
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := io.WriteString(conn, req.String())
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Time{}))
	return &rawConn{conn: conn, br: br}, res
}

// clientFrame encodes one masked client frame.
func clientFrame(fin, rsv1 bool, op byte, payload []byte) []byte {
	out, key := frameHeader(fin, rsv1, op, uint64(len(payload)))
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// frameHeader encodes a client frame's header announcing n payload bytes and
// returns it with its masking key (already in the header).
func frameHeader(fin, rsv1 bool, op byte, n uint64) ([]byte, [4]byte) {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	switch {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, n)
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	return append(out, key[:]...), key
}

func (r *rawConn) write(t *testing.T, b []byte) {
	t.Helper()
	require.NoError(t, r.conn.SetWriteDeadline(time.Now().Add(10*time.Second)))
	_, err := r.conn.Write(b)
	require.NoError(t, err)
}

// readFrame reads one server frame (servers do not mask).
func (r *rawConn) readFrame(d time.Duration) (op byte, payload []byte, err error) {
	if err := r.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return 0, nil, err
	}
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<24 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// closeCode reads frames, answering nothing, until a close frame, and returns
// its status; any other end of the connection is an error.
func (r *rawConn) closeCode(d time.Duration) (websocket.StatusCode, error) {
	deadline := time.Now().Add(d)
	for {
		op, p, err := r.readFrame(time.Until(deadline))
		if err != nil {
			return -1, err
		}
		if op == opClose {
			if len(p) < 2 {
				return websocket.StatusNoStatusRcvd, nil
			}
			return websocket.StatusCode(binary.BigEndian.Uint16(p)), nil
		}
	}
}

// deflateBomb returns a permessage-deflate payload (trailing 00 00 ff ff
// removed, as RFC 7692 sends it) of about inflated/1000 bytes that inflates to
// inflated zero bytes: copies of a sync-flushed deflate stream of 1 MiB of
// zeros, each of which starts with a literal and so stands on its own.
func deflateBomb(t *testing.T, inflated int) []byte {
	t.Helper()
	const chunk = 1 << 20
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(make([]byte, chunk))
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	one := buf.Bytes() // ends with the sync marker 00 00 ff ff
	var out []byte
	for range inflated / chunk {
		out = append(out, one...)
	}
	return bytes.TrimSuffix(out, []byte{0, 0, 0xff, 0xff})
}

// inflatedSize inflates a permessage-deflate payload as a receiver does.
func inflatedSize(t *testing.T, payload []byte) int64 {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")))
	n, err := io.Copy(io.Discard, r)
	require.NoError(t, err)
	return n
}

// deflateMessage compresses a message as permessage-deflate sends it.
func deflateMessage(t testing.TB, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	require.NoError(t, err)
	_, err = w.Write(msg)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// rawDialHub upgrades with b's key A, optionally offering permessage-deflate,
// and reads the welcome and state frames.
func (b *testBundle) rawDialHub(t *testing.T, deflate bool) *rawConn {
	t.Helper()
	hdr := http.Header{"X-Api-Key": {b.keyA}}
	if deflate {
		hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	}
	c, res := rawDial(t, b.srv.Listener.Addr().String(), hdr)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	if deflate {
		require.Contains(t, res.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	}
	for _, want := range []string{`"welcome"`, `"state"`} {
		op, p, err := c.readFrame(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, byte(opText), op)
		require.Contains(t, string(p), want)
	}
	return c
}

// textReply reads frames until a text frame and returns it.
func (r *rawConn) textReply(t *testing.T) string {
	t.Helper()
	for {
		op, p, err := r.readFrame(5 * time.Second)
		require.NoError(t, err)
		require.NotEqual(t, byte(opClose), op, "closed: %x", p)
		if op == opText {
			return string(p)
		}
	}
}
