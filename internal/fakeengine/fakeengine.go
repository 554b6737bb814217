// Package fakeengine is a minimal waqtor.Engine for the Core's own tests: every
// session connects at once as a fixed account, sends succeed unless a failure is
// queued, and every send attempt can be appended to a file outside the process
// under test (the crash tests read it after killing the process). Users' tests
// should use package sandbox, which simulates the network far more fully.
package fakeengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/waqtor/waqtor"
)

// SendRecord is one send attempt.
type SendRecord struct {
	Chat    string `json:"chat"`
	ID      string `json:"id"`
	Session string `json:"session"`
	Type    string `json:"type"`
	Body    string `json:"body,omitempty"`
}

// Engine is the fake engine. All methods are safe for concurrent use.
type Engine struct {
	// SendLog, when set, receives one JSON line per successful send, written with
	// O_APPEND before Send returns.
	SendLog string

	mu       sync.Mutex
	conns    map[string]*Conn
	sends    []SendRecord
	failures []error
	block    chan struct{}
}

// New returns an engine.
func New() *Engine { return &Engine{conns: map[string]*Conn{}} }

// Factory returns a factory that hands out e.
func (e *Engine) Factory() waqtor.EngineFactory {
	return func(context.Context, *waqtor.EngineEnv) (waqtor.Engine, error) { return e, nil }
}

// Open implements waqtor.Engine.
func (e *Engine) Open(_ context.Context, s *waqtor.EngineSession, h waqtor.ConnHandler) (waqtor.Conn, error) {
	c := &Conn{e: e, id: s.ID, jid: s.JID, h: h}
	e.mu.Lock()
	e.conns[s.ID] = c
	e.mu.Unlock()
	return c, nil
}

// Conn returns the latest conn opened for a session.
func (e *Engine) Conn(session string) *Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns[session]
}

// FailNext makes the next sends fail with errs, in order.
func (e *Engine) FailNext(errs ...error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures = append(e.failures, errs...)
}

// Block makes sends wait until the returned function is called (or their
// context ends).
func (e *Engine) Block() (release func()) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.block = ch
	e.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			if e.block == ch {
				e.block = nil
			}
			e.mu.Unlock()
			close(ch)
		})
	}
}

// Sends returns every successful send so far.
func (e *Engine) Sends() []SendRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]SendRecord(nil), e.sends...)
}

// Conn is one session's fake connection.
type Conn struct {
	e   *Engine
	id  string
	jid string
	h   waqtor.ConnHandler

	mu        sync.Mutex
	connected bool
	reads     [][]string
	presence  []waqtor.ChatPresence
}

// Handler returns the Core's handler, so tests can inject inbound messages,
// receipts and state changes.
func (c *Conn) Handler() waqtor.ConnHandler { return c.h }

// Connect implements waqtor.Conn: unpaired sessions get a QR code; paired ones
// are ready at once.
func (c *Conn) Connect(ctx context.Context) error {
	c.h.HandleStatus(ctx, &waqtor.ConnStatus{State: waqtor.StateConnecting})
	c.mu.Lock()
	c.connected = true
	jid := c.jid
	c.mu.Unlock()
	if jid == "" {
		c.h.HandleQR(ctx, "fake-qr-"+c.id, time.Now().Add(time.Minute))
		return nil
	}
	c.h.HandleStatus(ctx, &waqtor.ConnStatus{State: waqtor.StateReady, JID: jid, PushName: "Fake " + c.id})
	return nil
}

// Pair completes pairing as jid.
func (c *Conn) Pair(ctx context.Context, jid string) {
	c.mu.Lock()
	c.jid = jid
	c.mu.Unlock()
	c.h.HandleStatus(ctx, &waqtor.ConnStatus{State: waqtor.StateReady, JID: jid, PushName: "Fake " + c.id})
}

// Disconnect implements waqtor.Conn.
func (c *Conn) Disconnect(context.Context) error {
	c.mu.Lock()
	c.connected = false
	c.mu.Unlock()
	return nil
}

// Close implements waqtor.Conn.
func (c *Conn) Close(context.Context) error { return nil }

// Logout implements waqtor.Conn.
func (c *Conn) Logout(context.Context) error {
	c.mu.Lock()
	c.jid, c.connected = "", false
	c.mu.Unlock()
	return nil
}

// PairPhone implements waqtor.Conn.
func (c *Conn) PairPhone(_ context.Context, phone string) (string, error) {
	return "FAKE-" + phone[len(phone)-4:], nil
}

// Send implements waqtor.Conn.
func (c *Conn) Send(ctx context.Context, msg *waqtor.OutboundMessage) (*waqtor.SendResult, error) {
	c.mu.Lock()
	connected := c.connected
	c.mu.Unlock()
	if !connected {
		return nil, fmt.Errorf("fakeengine: %w", waqtor.ErrNotReady)
	}
	e := c.e
	e.mu.Lock()
	block := e.block
	var fail error
	if len(e.failures) > 0 {
		fail, e.failures = e.failures[0], e.failures[1:]
	}
	e.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	rec := SendRecord{Chat: msg.Chat, ID: msg.ID, Session: c.id, Type: string(msg.Content.ContentType())}
	if t, ok := msg.Content.(*waqtor.Text); ok {
		rec.Body = t.Body
	}
	if e.SendLog != "" {
		if err := appendLine(e.SendLog, rec); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	e.sends = append(e.sends, rec)
	e.mu.Unlock()
	return &waqtor.SendResult{Time: time.Now()}, nil
}

func appendLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	return errors.Join(werr, f.Close())
}

// MarkRead implements waqtor.Conn.
func (c *Conn) MarkRead(_ context.Context, chat, _ string, ids []string, _ time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, append([]string{chat}, ids...))
	return nil
}

// Reads returns the MarkRead calls: chat followed by IDs.
func (c *Conn) Reads() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.reads...)
}

// SetPresence implements waqtor.Conn.
func (c *Conn) SetPresence(_ context.Context, _ string, p waqtor.ChatPresence) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.presence = append(c.presence, p)
	return nil
}

// Presences returns the SetPresence calls.
func (c *Conn) Presences() []waqtor.ChatPresence {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]waqtor.ChatPresence(nil), c.presence...)
}

// CheckNumbers implements waqtor.Conn: numbers ending in an even digit exist.
func (c *Conn) CheckNumbers(_ context.Context, phones []string) ([]waqtor.NumberCheck, error) {
	out := make([]waqtor.NumberCheck, len(phones))
	for i, p := range phones {
		on := (p[len(p)-1]-'0')%2 == 0
		out[i] = waqtor.NumberCheck{Phone: p, OnWhatsApp: on}
		if on {
			out[i].JID = p[1:] + "@s.whatsapp.net"
		}
	}
	return out, nil
}
