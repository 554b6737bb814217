package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/waqtor/waqtor/transport/rest/api"
)

// Frame types of the WebSocket protocol the stream speaks (transport/ws).
const (
	frameError      = "error"
	frameEvent      = "event"
	frameSubscribe  = "subscribe"
	frameSubscribed = "subscribed"
)

// subscribeFrame is the client's subscribe frame.
type subscribeFrame struct {
	After    *int64   `json:"after,omitempty"`
	Sessions []string `json:"sessions,omitempty"`
	Topics   []string `json:"topics,omitempty"`
	Type     string   `json:"type"`
}

// Defaults of StreamOpts: the seed's reconnect policy.
const (
	BackoffMinDefault    = time.Second
	BackoffMaxDefault    = 30 * time.Second
	BackoffJitterDefault = time.Second
)

// StreamOpts configures Events.
type StreamOpts struct {
	// After resumes from this event ID (the last one seen before); the server
	// replays every later event from its log. Defaults to 0: live events only
	// (the stream still resumes from the last event it delivered after a
	// reconnect).
	After int64
	// BackoffJitter is the most random time added to each reconnect delay.
	// Defaults to BackoffJitterDefault (1 s).
	BackoffJitter time.Duration
	// BackoffMax caps the reconnect delay. Defaults to BackoffMaxDefault (30 s).
	BackoffMax time.Duration
	// BackoffMin is the first reconnect delay; it doubles after each failed
	// attempt and resets after a successful connection. Defaults to
	// BackoffMinDefault (1 s).
	BackoffMin time.Duration
	// Buffer is how many events wait for Next. Defaults to 256.
	Buffer int
	// Sessions narrows the stream to these sessions. Defaults to all.
	Sessions []string
	// Topics are event kinds or wildcards ("message.*", "*"). Required.
	Topics []string
}

// Stream is a stream of events over the WebSocket that survives reconnects:
// it redials with capped exponential backoff and jitter, resubscribes, and
// resumes from the last event ID it delivered. It stops on Close, when the
// context given to Events ends, or when the server closes normally (1000).
// Next is meant for one goroutine.
type Stream struct {
	c      *Client
	opts   StreamOpts
	events chan *api.Event
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	err        error
	last       int64
	reconnects int
}

// Events opens an event stream. It returns once the first connection is
// subscribed, or with its error.
func (c *Client) Events(ctx context.Context, opts *StreamOpts) (*Stream, error) {
	if opts == nil || len(opts.Topics) == 0 {
		return nil, errors.New("client: StreamOpts.Topics is required")
	}
	o := *opts
	o.BackoffMin = cmp.Or(o.BackoffMin, BackoffMinDefault)
	o.BackoffMax = cmp.Or(o.BackoffMax, BackoffMaxDefault)
	o.BackoffJitter = cmp.Or(o.BackoffJitter, BackoffJitterDefault)
	o.Buffer = cmp.Or(o.Buffer, 256)
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{c: c, opts: o, events: make(chan *api.Event, o.Buffer), cancel: cancel, done: make(chan struct{}), last: o.After}
	conn, err := s.connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go s.run(ctx, conn)
	return s, nil
}

// Next returns the next event, waiting for it; after the stream ends it
// returns the reason (ErrStreamClosed after Close or a normal close). The
// event's Data is the payload of its Topic; with the waqtor package linked,
// waqtor.Envelope{Type: e.Topic, Data: e.Data, ...}.Event() gives the typed
// event.
func (s *Stream) Next(ctx context.Context) (*api.Event, error) {
	select {
	case e, ok := <-s.events:
		if !ok {
			return nil, s.Err()
		}
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ErrStreamClosed ends a stream closed by Close or by the server normally.
var ErrStreamClosed = errors.New("client: event stream closed")

// Err returns why the stream ended, or nil while it runs.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// LastEventID returns the ID of the last event delivered (pass it as
// StreamOpts.After to resume in a new stream).
func (s *Stream) LastEventID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Reconnects counts the reconnections so far.
func (s *Stream) Reconnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnects
}

// Close ends the stream and waits for its goroutine.
func (s *Stream) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// connect dials, reads the greeting and subscribes from the last event ID.
func (s *Stream) connect(ctx context.Context) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, s.c.wsURL, &websocket.DialOptions{HTTPClient: s.c.http,
		HTTPHeader: http.Header{api.HeaderAPIKey: {s.c.key}}})
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", s.c.wsURL, err)
	}
	conn.SetReadLimit(16 << 20)
	s.mu.Lock()
	after := s.last
	s.mu.Unlock()
	sub := subscribeFrame{Type: frameSubscribe, Topics: s.opts.Topics, Sessions: s.opts.Sessions}
	if after > 0 {
		sub.After = &after
	}
	b, _ := json.Marshal(&sub)
	if err := conn.Write(dctx, websocket.MessageText, b); err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("client: subscribe: %w", err)
	}
	for {
		_, data, err := conn.Read(dctx)
		if err != nil {
			_ = conn.CloseNow()
			return nil, fmt.Errorf("client: subscribe: %w", err)
		}
		var head struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &head)
		switch head.Type {
		case frameSubscribed:
			return conn, nil
		case frameError:
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return nil, fmt.Errorf("client: subscribe refused: %s", head.Message)
		}
	}
}

func (s *Stream) run(ctx context.Context, conn *websocket.Conn) {
	defer close(s.done)
	defer close(s.events)
	delay := s.opts.BackoffMin
	for {
		err := s.read(ctx, conn)
		_ = conn.CloseNow()
		if ctx.Err() != nil || websocket.CloseStatus(err) == websocket.StatusNormalClosure {
			s.finish(ErrStreamClosed)
			return
		}
		for {
			wait := delay + time.Duration(rand.Int64N(int64(s.opts.BackoffJitter)+1))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				s.finish(ErrStreamClosed)
				return
			case <-t.C:
			}
			conn, err = s.connect(ctx)
			if err == nil {
				delay = s.opts.BackoffMin
				s.mu.Lock()
				s.reconnects++
				s.mu.Unlock()
				break
			}
			delay = min(delay*2, s.opts.BackoffMax)
		}
	}
}

func (s *Stream) finish(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// read delivers events until the connection fails.
func (s *Stream) read(ctx context.Context, conn *websocket.Conn) error {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		f := &api.Event{}
		if json.Unmarshal(data, f) != nil || f.Type != frameEvent || f.Topic == "" {
			continue
		}
		s.mu.Lock()
		dup := f.ID <= s.last
		s.mu.Unlock()
		if dup {
			continue
		}
		select {
		case s.events <- f:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		s.last = f.ID
		s.mu.Unlock()
	}
}
