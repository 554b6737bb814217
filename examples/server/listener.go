package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// readHeaderTimeout bounds reading a request's headers (and so a silent new
// connection).
const readHeaderTimeout = 10 * time.Second

// newServer returns the HTTP server of h with the listener's guards: headers
// within readHeaderTimeout, idle keep-alive connections closed after
// -idle-timeout. Bodies are bounded by bodyDeadline, per request, not by a
// ReadTimeout, which would cut large uploads and every WebSocket.
func newServer(o *options, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       o.idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// bodyChunkAllowance caps the time one Read may be given, whatever its buffer.
const bodyChunkAllowance = 32 << 10

// bodyDeadline cuts request bodies that arrive slower than minRate bytes a
// second once grace has passed: before each read of the body, it sets the
// connection's read deadline to when the bytes read so far plus this read's
// share (up to 32 KiB) are due at that rate. A trickled body gets a read
// error and its connection closes; a WebSocket upgrade, which has no body, is
// never touched. minRate 0 turns it off.
func bodyDeadline(minRate int, grace time.Duration, next http.Handler) http.Handler {
	if minRate <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, ctl: http.NewResponseController(w), start: time.Now(), rate: minRate, grace: grace}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	ctl   *http.ResponseController
	start time.Time
	rate  int
	grace time.Duration
	n     int64
}

// errSlowBody is the read error of a request body that arrived too slowly.
var errSlowBody = errors.New("request body arrived too slowly")

func (b *deadlineBody) Read(p []byte) (int, error) {
	due := b.n + int64(min(len(p), bodyChunkAllowance))
	_ = b.ctl.SetReadDeadline(b.start.Add(b.grace + time.Duration(float64(due)/float64(b.rate)*float64(time.Second))))
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w (slower than %d bytes/s): %w", errSlowBody, b.rate, err)
	}
	return n, err
}

// limitListener accepts at most max connections at once: beyond that,
// Accept waits for one to close, and new connections wait in the kernel's
// backlog without using a file descriptor of the server.
func limitListener(ln net.Listener, max int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, max), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
