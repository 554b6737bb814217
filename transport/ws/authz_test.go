package ws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/transport/ws"
)

// emitText publishes a message.sent event of session/tenant through the log.
func emitText(t *testing.T, core *waqtor.Core, session, tenant, id string) {
	t.Helper()
	ev := &waqtor.MessageSent{Message: waqtor.Message{ID: id, Content: &waqtor.Text{Body: id},
		Chat: waqtor.Address{JID: "15550002222@s.whatsapp.net"}, Direction: waqtor.DirectionOut, Session: session, Tenant: tenant,
		Status: waqtor.StatusSent}}
	require.NoError(t, corelink.Emit(context.Background(), core, session, tenant, ev))
}

// messageIDs returns the message IDs of the event frames among fs.
func messageIDs(fs []frame) []string {
	var out []string
	for _, f := range fs {
		if f.typ() == ws.TypeEvent {
			out = append(out, f["data"].(map[string]any)["message"].(map[string]any)["id"].(string))
		}
	}
	return out
}

// eventsUntil reads frames until the event of message id and returns the
// message IDs of the events read, that one included. The hub offers events
// to each connection in the order of the bus, so every event published
// before id that the connection may see has arrived by then.
func (c *client) eventsUntil(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	for {
		f := c.read(t)
		if ids := messageIDs([]frame{f}); len(ids) > 0 {
			out = append(out, ids[0])
			if ids[0] == id {
				return out
			}
		}
	}
}

// TestPerMessageAuthorization: after a successful handshake, a subscription
// naming another tenant's session, or a session outside the key's list, is
// refused exactly like an unknown session and changes nothing; subscriptions
// to every session, live or resumed from the log, carry only the key's own.
func TestPerMessageAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	for _, p := range []*waqtor.CreateSessionParams{{ID: "t2", Tenant: "other"}, {ID: "s3", Tenant: "default"}} {
		_, err := b.core.CreateSession(ctx, p)
		require.NoError(t, err)
	}
	_, scoped, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Sessions: []string{"s1"}, Tenant: "default"})
	require.NoError(t, err)

	refusal := func(c *client, session string) string {
		c.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "sessions": []string{session}})
		f := c.read(t)
		require.Equal(t, ws.TypeError, f.typ(), session)
		return strings.ReplaceAll(fmt.Sprint(f["message"], f["errors"]), session, "ID")
	}
	a := b.dial(t, b.keyA)
	defer a.close()
	a.handshake(t)
	unknown := refusal(a, "nope")
	require.Equal(t, unknown, refusal(a, "t2"), "another tenant's session looks unknown")
	s := b.dial(t, scoped)
	defer s.close()
	s.handshake(t)
	require.Equal(t, unknown, refusal(s, "s3"), "a session outside the key's list looks unknown")
	require.Empty(t, b.hub.Stats("").Subscribers, "refused subscriptions changed nothing")

	a.subscribe(t, "*")
	s.subscribe(t, "*")
	other := b.dial(t, b.keyB)
	defer other.close()
	other.handshake(t)
	other.subscribe(t, "message.sent")
	emitText(t, b.core, "t2", "other", "M-t2")
	emitText(t, b.core, "s3", "default", "M-s3")
	emitText(t, b.core, "s1", "default", "M-s1")
	emitText(t, b.core, "s1", "default", "END-default")
	emitText(t, b.core, "t2", "other", "END-other")
	require.Equal(t, []string{"M-s1", "END-default"}, s.eventsUntil(t, "END-default"), "the scoped key sees its session only")
	require.Equal(t, []string{"M-s3", "M-s1", "END-default"}, a.eventsUntil(t, "END-default"), "key A sees its tenant only")
	require.Equal(t, []string{"M-t2", "END-other"}, other.eventsUntil(t, "END-other"), "key B sees its tenant only")

	// Resume from the start of the log: the same filters apply.
	r := b.dial(t, scoped)
	defer r.close()
	r.handshake(t)
	r.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "after": 0})
	r.until(t, ws.TypeSubscribed, nil)
	require.Equal(t, []string{"M-s1", "END-default"}, messageIDs(r.barrier(t)))
}

// stepClock advances by step at every reading: the rate limiter reads it once
// per frame, so frames arrive step apart in its time, however fast the test
// sends them.
type stepClock struct {
	base time.Time
	step time.Duration
	n    atomic.Int64
}

func (c *stepClock) now() time.Time { return c.base.Add(time.Duration(c.n.Add(1)-1) * c.step) }

// bucketModel is a plain token bucket, independent of the hub's limiter (a
// GCRA): credit in nanoseconds of refill, full at burst*refill when the
// connection opens at start, one refill's worth spent per accepted frame.
// It says exactly which frames the hub owes a reply, refills during the
// test included.
type bucketModel struct {
	burst  int
	refill time.Duration
	credit time.Duration
	last   time.Time
}

func newBucketModel(start time.Time, burst int, refill time.Duration) *bucketModel {
	return &bucketModel{burst: burst, refill: refill, credit: time.Duration(burst) * refill, last: start}
}

func (m *bucketModel) allow(now time.Time) bool {
	m.credit = min(m.credit+now.Sub(m.last), time.Duration(m.burst)*m.refill)
	m.last = now
	if m.credit < m.refill {
		return false
	}
	m.credit -= m.refill
	return true
}

// TestRateLimitFlood: a flood at 10x the allowed rate for 60 s (time
// compressed by the limiter's clock): exactly the frames a token bucket
// allows (the burst plus one per refill since the first frame) are answered,
// within rate*60 + burst, and every other one gets rate_limit_exceeded; with
// the default violation count the flood is closed with 1008 after the
// replies owed for the frames within the limit (refills included) and the
// warnings.
func TestRateLimitFlood(t *testing.T) {
	t.Parallel()
	const (
		burst    = 10
		refill   = time.Second // rate: 1 frame/s
		duration = 60 * time.Second
		flood    = 10 // times the rate
		frames   = int(duration / refill * flood)
		step     = refill / flood
	)
	base := time.Unix(1e9, 0)
	clock := &stepClock{base: base, step: step}
	b := setup(t, func(o *ws.HubOpts) {
		o.RateLimitBurst, o.RateLimitRefill, o.RateLimitViolations = burst, refill, frames+1
		o.Test.Now = clock.now
	})
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t) // the limiter was created with the clock's first reading
	go func() {
		for range frames {
			if c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	// Frame i (from 1) is read at base + i*step.
	model := newBucketModel(base, burst, refill)
	want := 0
	for i := 1; i <= frames; i++ {
		if model.allow(base.Add(time.Duration(i) * step)) {
			want++
		}
	}
	var accepted, rejected int
	for range frames {
		switch f := c.read(t); f.typ() {
		case ws.TypePong:
			accepted++
		case ws.TypeRateLimitExceeded:
			rejected++
			require.Equal(t, float64(1), f["retry_after"])
			require.Equal(t, float64(1), f["retryAfter"], "the seed's name, kept as an alias")
		default:
			t.Fatalf("unexpected frame %v", f)
		}
	}
	bound := int(duration/refill) + burst
	t.Logf("%d frames at %dx the rate over %s: %d accepted (model %d, bound %d), %d rejected", frames, flood, duration, accepted, want,
		bound, rejected)
	// The bucket is full until the first frame, one step in: it refills for
	// 59.9 s of the 60, so 69.
	require.Equal(t, burst+int((duration-step)/refill), want, "the model")
	require.Equal(t, want, accepted, "the limiter lets exactly the allowed rate through")
	require.LessOrEqual(t, accepted, bound)
	require.Equal(t, frames, accepted+rejected)
	require.EqualValues(t, rejected, b.hub.Stats("").Security["rate_limited"])

	// With the default of 5 violations, the same flood is cut off with 1008
	// at its fifth frame over the limit, after every reply owed: the burst,
	// plus the token refilled one refill after the first frame (frame 11,
	// at 1.1 s), and the 4 warnings.
	clock2 := &stepClock{base: base, step: step}
	b2 := setup(t, func(o *ws.HubOpts) { o.RateLimitBurst, o.RateLimitRefill = burst, refill; o.Test.Now = clock2.now })
	c2 := b2.dial(t, b2.keyA)
	defer c2.close()
	c2.handshake(t)
	go func() {
		for range frames {
			if c2.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	model = newBucketModel(base, burst, refill)
	var wantFrames []string
	for i, violations := 1, 0; violations < ws.RateLimitViolationsDefault; i++ {
		switch {
		case model.allow(base.Add(time.Duration(i) * step)):
			wantFrames = append(wantFrames, ws.TypePong)
		case violations+1 < ws.RateLimitViolationsDefault:
			wantFrames = append(wantFrames, ws.TypeRateLimitExceeded)
			violations++
		default:
			violations++
		}
	}
	var got []string
	for {
		f, err := c2.tryRead(5 * time.Second)
		if err != nil {
			require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)
			break
		}
		got = append(got, f.typ())
	}
	require.Len(t, wantFrames, burst+1+ws.RateLimitViolationsDefault-1, "the model")
	require.Equal(t, wantFrames, got)
	require.EqualValues(t, ws.RateLimitViolationsDefault, b2.hub.Stats("").Security["rate_limited"])
}

// TestRateLimitFlushBeforeClose: 65 pings at once against a burst of 60 (and
// 5 violations) get exactly 60 pongs, then 4 rate_limit_exceeded warnings,
// then the close (1008): the frames owed are written before the close, not
// dropped with the send queue.
func TestRateLimitFlushBeforeClose(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	b := setup(t, func(o *ws.HubOpts) { o.Test.Now = func() time.Time { return now } }) // no refill during the test
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	const pings = ws.RateLimitBurstDefault + ws.RateLimitViolationsDefault
	go func() {
		for range pings {
			if c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	var pongs, warnings int
	for {
		f, err := c.tryRead(5 * time.Second)
		if err != nil {
			require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)
			break
		}
		switch f.typ() {
		case ws.TypePong:
			require.Zero(t, warnings, "the pongs come first")
			pongs++
		case ws.TypeRateLimitExceeded:
			warnings++
			require.Equal(t, float64(1), f["retry_after"])
			require.Equal(t, float64(1), f["retryAfter"])
		default:
			t.Fatalf("unexpected frame %v", f)
		}
	}
	require.Equal(t, ws.RateLimitBurstDefault, pongs)
	require.Equal(t, ws.RateLimitViolationsDefault-1, warnings)
	require.Eventually(t, func() bool { return b.hub.Stats("").Connections.Current == 0 }, 5*time.Second, time.Millisecond)
}

// TestHandshakeMemoryBounded: the hub keeps no limiter or other state keyed
// by address or key: 100k handshakes from distinct addresses with distinct
// keys that fail (no upgrade) leave the heap where it was. (Rate limiters
// live in connections, bounded by MaxConnections and freed with them.) Not
// parallel: it measures the heap.
func TestHandshakeMemoryBounded(t *testing.T) {
	b := setup(t, func(o *ws.HubOpts) {
		o.Keys = nil
		o.Logger = discardLogger()
		o.AuthenticateFunc = func(r *http.Request) (*auth.Principal, error) {
			return &auth.Principal{KeyID: r.Header.Get("X-Api-Key"), Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"}, nil
		}
	})
	const n = 100_000
	handshake := func(i int) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&0xff, i>>8&0xff, i&0xff)
		r.Header.Set("X-Api-Key", fmt.Sprintf("key-%d", i))
		w := httptest.NewRecorder()
		b.hub.ServeHTTP(w, r)
		if w.Code != http.StatusUpgradeRequired {
			t.Fatalf("handshake %d: status %d", i, w.Code)
		}
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for i := range 1000 { // warm up
		handshake(n + i)
	}
	before := heap()
	for i := range n {
		handshake(i)
	}
	after := heap()
	growth := int64(after) - int64(before)
	t.Logf("heap after %d failed handshakes with distinct keys and addresses: %+d bytes (%.1f bytes each)", n, growth, float64(growth)/n)
	require.Less(t, growth, int64(1<<20))
	require.Zero(t, b.hub.Stats("").Connections.Current)
}

// TestSessionFilterCleared: on subscribe, an empty sessions list clears the
// connection's session filter; an absent one keeps it.
func TestSessionFilterCleared(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.core.CreateSession(context.Background(), &waqtor.CreateSessionParams{ID: "s3"})
	require.NoError(t, err)
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.send(t, &ws.ClientFrame{Type: ws.TypeSubscribe, Topics: []string{"message.sent"}, Sessions: []string{"s1"}})
	require.Equal(t, []any{"s1"}, c.until(t, ws.TypeSubscribed, nil)["sessions"])
	c.send(t, &ws.ClientFrame{Type: ws.TypeSubscribe, Topics: []string{"message.sent"}})
	require.Equal(t, []any{"s1"}, c.until(t, ws.TypeSubscribed, nil)["sessions"], "absent: kept")
	emitText(t, b.core, "s3", "default", "M-s3")
	emitText(t, b.core, "s1", "default", "M-s1")
	require.Equal(t, []string{"M-s1"}, c.eventsUntil(t, "M-s1"))
	c.send(t, &ws.ClientFrame{Type: ws.TypeSubscribe, Topics: []string{"message.sent"}, Sessions: []string{}})
	require.Nil(t, c.until(t, ws.TypeSubscribed, nil)["sessions"], "empty: cleared")
	emitText(t, b.core, "s3", "default", "M-s3b")
	require.Equal(t, []string{"M-s3b"}, c.eventsUntil(t, "M-s3b"))
}

// TestSessionIDsPerTenant: tenant "other" has a session "s1" of its own, like
// tenant "default". Its key subscribes to its "s1" (the hub resolves the ID
// within the key's tenant) and sees only its events, live and resumed; key A
// subscribed to its "s1" sees only its own.
func TestSessionIDsPerTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.core.CreateSession(waqtor.WithTenant(context.Background(), "other"), &waqtor.CreateSessionParams{ID: "s1"})
	require.NoError(t, err)
	sub := func(key string) *client {
		c := b.dial(t, key)
		c.handshake(t)
		c.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "sessions": []string{"s1"}})
		f := c.read(t)
		require.Equal(t, ws.TypeSubscribed, f.typ(), "%v", f)
		return c
	}
	a, o := sub(b.keyA), sub(b.keyB)
	defer a.close()
	defer o.close()
	emitText(t, b.core, "s1", "other", "M-other")
	emitText(t, b.core, "s1", "default", "M-default")
	emitText(t, b.core, "s1", "default", "END-default")
	emitText(t, b.core, "s1", "other", "END-other")
	require.Equal(t, []string{"M-default", "END-default"}, a.eventsUntil(t, "END-default"))
	require.Equal(t, []string{"M-other", "END-other"}, o.eventsUntil(t, "END-other"))

	r := b.dial(t, b.keyB)
	defer r.close()
	r.handshake(t)
	r.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "sessions": []string{"s1"}, "after": 0})
	r.until(t, ws.TypeSubscribed, nil)
	require.Equal(t, []string{"M-other", "END-other"}, messageIDs(r.barrier(t)))
}
