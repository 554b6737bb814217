package ws_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor/transport/ws"
)

// blackholeProxy forwards TCP between a client and addr until blackhole is
// called; from then on it drops every byte both ways while keeping both
// connections open: to each end, the other has vanished without a FIN or a
// RST, as behind a dead link or a crashed host.
type blackholeProxy struct {
	ln      net.Listener
	dropped atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newBlackholeProxy(t *testing.T, addr string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &blackholeProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(out, in)
			go p.pipe(in, out)
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *blackholeProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.dropped.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *blackholeProxy) blackhole() { p.dropped.Store(true) }

func (p *blackholeProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestDeadPeers: a peer that reads but never answers pings, and one whose
// link goes dead (every packet dropped, no FIN, no RST), are each dropped
// within PingInterval + PongTimeout + 1 s, and every goroutine of their
// connections ends. Not parallel: it counts goroutines.
func TestDeadPeers(t *testing.T) {
	const (
		ping = 250 * time.Millisecond
		pong = time.Second // generous: a healthy client on a loaded machine must not miss it
	)
	bound := ping + pong + time.Second
	b := setup(t, func(o *ws.HubOpts) { o.PingInterval = ping; o.PongTimeout = pong })
	baseline := goleak.IgnoreCurrent()

	// (a) Reads everything, answers no ping.
	r := b.rawDialHub(t, false)
	start := time.Now()
	var pings int
	var err error
	for err == nil {
		var op byte
		op, _, err = r.readFrame(10 * time.Second)
		if op == opPing {
			pings++
		}
	}
	elapsed := time.Since(start)
	t.Logf("no-pong peer: cut after %s (%d pings seen): %v", elapsed, pings, err)
	require.ErrorIs(t, err, io.EOF, "the server cut the connection")
	require.Positive(t, pings)
	require.Less(t, elapsed, bound)
	require.Eventually(t, func() bool { return b.hub.Stats("").Connections.Current == 0 }, time.Second, time.Millisecond)
	_ = r.conn.Close()

	// (b) A healthy client (it answers pings while it reads) behind a link
	// that goes dead.
	proxy := newBlackholeProxy(t, b.srv.Listener.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+proxy.ln.Addr().String(), &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {b.keyA}}})
	require.NoError(t, err)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	time.Sleep(3 * ping) // several pings answered: the client is healthy
	require.Equal(t, 1, b.hub.Stats("").Connections.Alive)
	proxy.blackhole()
	start = time.Now()
	require.Eventually(t, func() bool { return b.hub.Stats("").Connections.Current == 0 }, bound, time.Millisecond)
	t.Logf("dead link: cut after %s", time.Since(start))
	require.EqualValues(t, 2, b.hub.Stats("").Connections.Dead)

	_ = conn.CloseNow()
	<-readerDone
	proxy.close()
	goleak.VerifyNone(t, baseline)
}
