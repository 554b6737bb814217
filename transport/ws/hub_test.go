package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/transport/ws"
)

func TestEventsSentThenDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	a := b.dial(t, b.keyA)
	defer a.close()
	a.handshake(t)
	a.subscribe(t, "message.*")
	other := b.dial(t, b.keyB)
	defer other.close()
	other.handshake(t)
	other.subscribe(t, "*")

	m, err := b.core.SendText(context.Background(), "s1", "+15550002222", "hello", nil)
	require.NoError(t, err)
	sent := a.until(t, ws.TypeEvent, func(f frame) bool { return f["topic"] == "message.sent" })
	require.Equal(t, "s1", sent["session"])
	require.Equal(t, m.ID, sent["data"].(map[string]any)["message"].(map[string]any)["id"])
	del := a.until(t, ws.TypeEvent, func(f frame) bool { return f["topic"] == "message.delivered" })
	require.Greater(t, del["id"].(float64), sent["id"].(float64), "ids are event-log sequences")
	require.Empty(t, other.barrier(t), "another tenant sees nothing")
}

func TestSessionFilterAndUnsubscribe(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "sessions": []string{"nope"}})
	e := c.until(t, ws.TypeError, nil)
	require.Contains(t, e["message"], "not found")
	c.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "sessions": []string{"s1"}})
	sub := c.until(t, ws.TypeSubscribed, nil)
	require.Equal(t, []any{"message.sent"}, sub["topics"])
	c.send(t, map[string]any{"type": "unsubscribe", "topics": []string{"message.sent"}})
	c.until(t, ws.TypeUnsubscribed, nil)
	_, err := b.core.SendText(context.Background(), "s1", "+15550002222", "x", nil)
	require.NoError(t, err)
	for _, f := range c.barrier(t) {
		require.NotEqual(t, ws.TypeEvent, f.typ())
	}
	c.send(t, map[string]any{"type": "get_state"})
	st := c.until(t, ws.TypeState, nil)
	require.Len(t, st["sessions"], 1)
}

func TestResumeAcrossRestart(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := b.dial(t, b.keyA)
	c.handshake(t)
	c.subscribe(t, "message.sent")
	_, err := b.core.SendText(ctx, "s1", "+15550002222", "one", nil)
	require.NoError(t, err)
	last := int64(c.until(t, ws.TypeEvent, nil)["id"].(float64))
	c.close()

	// The server stops; messages are sent while the client is away, then the
	// server restarts on the same database.
	require.NoError(t, b.hub.Stop(ctx))
	b.srv.Close()
	var missed []string
	for _, text := range []string{"two", "three"} {
		m, err := b.core.SendText(ctx, "s1", "+15550002222", text, nil)
		require.NoError(t, err)
		missed = append(missed, m.ID)
	}
	require.NoError(t, b.core.Stop(ctx))
	b.startCore(t)
	b.startHub(t, nil)

	c = b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.send(t, map[string]any{"type": "subscribe", "topics": []string{"message.sent"}, "after": last})
	c.until(t, ws.TypeSubscribed, nil)
	var got []string
	for range missed {
		f := c.until(t, ws.TypeEvent, nil)
		got = append(got, f["data"].(map[string]any)["message"].(map[string]any)["id"].(string))
	}
	require.Equal(t, missed, got)
	require.NoError(t, b.net.WaitForState(ctx, "s1", waqtor.StateReady))
	m, err := b.core.SendText(ctx, "s1", "+15550002222", "live", nil)
	require.NoError(t, err)
	f := c.until(t, ws.TypeEvent, nil)
	require.Equal(t, m.ID, f["data"].(map[string]any)["message"].(map[string]any)["id"], "then live, without duplicates")
}

// TestSlowConsumer: a client that stops reading is closed with 1008 once its
// queue is full, while a reading client gets every event.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.SendQueueBytes = 128 << 10; o.WriteTimeout = 2 * time.Second })
	smallBuffers(t, b)
	slow := b.dial(t, b.keyA)
	defer slow.close()
	slow.handshake(t)
	slow.subscribe(t, "message.sent")
	fast := b.dial(t, b.keyA)
	defer fast.close()
	fast.handshake(t)
	fast.subscribe(t, "message.sent")

	const n = 600
	body := strings.Repeat("x", 4<<10)
	done := make(chan int)
	var progress atomic.Int64
	go func() {
		got := 0
		defer func() { done <- got }()
		for got < n {
			f, err := fast.tryRead(10 * time.Second)
			if err != nil {
				t.Logf("fast client: %v", err)
				break
			}
			if f.typ() == ws.TypeEvent {
				got++
				progress.Store(int64(got))
			}
		}
	}()
	ctx := context.Background()
	for i := range n {
		ev := &waqtor.MessageSent{Message: waqtor.Message{ID: "M" + strings.Repeat("0", i%5), Content: &waqtor.Text{Body: body},
			Chat: waqtor.Address{JID: "15550002222@s.whatsapp.net"}, Direction: waqtor.DirectionOut, Session: "s1", Tenant: "default",
			Status: waqtor.StatusSent}}
		require.NoError(t, corelink.Emit(ctx, b.core, "s1", "default", ev))
		if i%5 == 4 {
			// A healthy client keeps within 10 events (about 45 KB, well inside
			// its 128 KB queue even with 5 more appended before the next check)
			// of the stream; the stalled one falls behind without bound.
			require.Eventually(t, func() bool { return progress.Load() >= int64(i-10) || len(done) > 0 }, 10*time.Second, time.Millisecond)
		}
	}
	require.Equal(t, n, <-done, "the reading client got every event")
	// The slow client's connection was closed with the policy code.
	var err error
	for err == nil {
		_, err = slow.tryRead(10 * time.Second)
	}
	// The close frame reaches the client when its buffers had room for it;
	// otherwise the write timeout ends the connection without one.
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		require.ErrorContains(t, err, "EOF")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := b.hub.Stats("")
		if st.Connections.SlowClosed == 1 && st.Subscribers["message.sent"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow closed %d, subscribers %v, connections %+v", st.Connections.SlowClosed, st.Subscribers, st.Connections)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// smallBuffers restarts the test server with tiny socket send buffers, so that
// a client that stops reading blocks the server's writes at once instead of
// after megabytes of kernel buffering.
func smallBuffers(t *testing.T, b *testBundle) {
	t.Helper()
	b.srv.Close()
	b.srv = httptest.NewUnstartedServer(b.hub)
	b.srv.Listener = &smallBufListener{Listener: b.srv.Listener}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
}

type smallBufListener struct{ net.Listener }

func (l *smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

func TestFrameErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.MaxFrameBytes = 2048; o.MaxStringLength = 50 })
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	for name, in := range map[string]string{
		"not JSON":      `hello`,
		"unknown type":  `{"type":"explode"}`,
		"no type":       `{"topics":["*"]}`,
		"unknown field": `{"type":"ping","x":1}`,
		"wrong type":    `{"type":"subscribe","topics":"*"}`,
		"bad topic":     `{"type":"subscribe","topics":["smartbot.*"]}`,
		"long string":   `{"type":"subscribe","topics":["` + strings.Repeat("a", 60) + `"]}`,
		"ping fields":   `{"type":"ping","topics":["*"]}`,
		"bad after":     `{"type":"unsubscribe","topics":["*"],"after":1}`,
		"binary-ish":    "\x00\x01",
		"key case":      `{"TYPE":"ping"}`,
		"duplicate key": `{"type":"ping","type":"subscribe","topics":["*"]}`,
	} {
		c.send(t, in)
		f := c.read(t)
		require.Equal(t, ws.TypeError, f.typ(), name)
		require.NotEmpty(t, f["message"], name)
	}
	c.send(t, map[string]any{"type": "ping"})
	require.Equal(t, ws.TypePong, c.read(t).typ(), "the connection survives bad frames")
	c.send(t, `{"type":"ping","pad":"`+strings.Repeat("x", 3000)+`"}`)
	_, err := c.tryRead(5 * time.Second)
	require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.RateLimitBurst = 3; o.RateLimitRefill = time.Hour; o.RateLimitViolations = 2 })
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	for range 3 {
		c.send(t, map[string]any{"type": "ping"})
		require.Equal(t, ws.TypePong, c.read(t).typ())
	}
	c.send(t, map[string]any{"type": "ping"})
	f := c.read(t)
	require.Equal(t, ws.TypeRateLimitExceeded, f.typ())
	require.Equal(t, float64(3600), f["retryAfter"])
	c.send(t, map[string]any{"type": "ping"})
	_, err := c.tryRead(5 * time.Second)
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)
}

func TestHandshakeSecurity(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) {
		o.Tokens = tokens
		o.AllowedOrigins = []string{"app.example.com"}
		o.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	_, readOnlyNoRead, err := b.keys.Create(context.Background(), &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeMessagesSend}, Tenant: "default"})
	require.NoError(t, err)
	token := func() string {
		tok, _, err := tokens.Issue(&auth.Principal{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
		require.NoError(t, err)
		return tok
	}
	tests := map[string]struct {
		key, query string
		hdr        []string
		status     int
	}{
		"no credentials":         {"", "", nil, 401},
		"unknown key":            {auth.NewKeySecret(), "", nil, 401},
		"key without read":       {readOnlyNoRead, "", nil, 403},
		"key, evil origin":       {b.keyA, "", []string{"Origin", "https://evil.example"}, 403},
		"key, no origin":         {b.keyA, "", nil, 101},
		"key, allowed origin":    {b.keyA, "", []string{"Origin", "https://app.example.com"}, 101},
		"token, no origin":       {"", "?token=" + token(), nil, 403},
		"token, evil origin":     {"", "?token=" + token(), []string{"Origin", "https://evil.example"}, 403},
		"token, allowed origin":  {"", "?token=" + token(), []string{"Origin", "https://app.example.com"}, 101},
		"bad token":              {"", "?token=wqtt_abc.def", []string{"Origin", "https://app.example.com"}, 401},
		"key in query is unused": {"", "?apiKey=" + b.keyA, nil, 401},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, res, err := b.tryDial(tt.key, tt.query, tt.hdr...)
			if tt.status == 101 {
				require.NoError(t, err)
				c.close()
				return
			}
			require.Error(t, err)
			require.NotNil(t, res)
			require.Equal(t, tt.status, res.StatusCode)
		})
	}
	// Tokens are single use.
	tok := token()
	c, _, err := b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
	require.NoError(t, err)
	c.close()
	_, res, err := b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	// A token refused for its Origin is not spent: the page may retry.
	tok = token()
	_, res, err = b.tryDial("", "?token="+tok, "Origin", "https://evil.example")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	c, _, err = b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
	require.NoError(t, err, "the token survived the refused upgrade")
	c.close()
	st := b.hub.Stats("")
	require.Positive(t, st.Security["unauthorized"])
	require.Positive(t, st.Security["bad_origin"])
}

func TestIPAllowList(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	_, res, err := b.tryDial(b.keyA, "")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

// TestHeartbeat: a peer that never answers pings (it never reads) is dropped;
// a reading one stays.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.PingInterval = 50 * time.Millisecond; o.PongTimeout = 300 * time.Millisecond })
	alive := b.dial(t, b.keyA)
	defer alive.close()
	go func() {
		for {
			if _, _, err := alive.conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	dead := b.dial(t, b.keyA)
	defer dead.close()
	require.Eventually(t, func() bool {
		st := b.hub.Stats("")
		return st.Connections.Current == 1 && st.Connections.Dead >= 1
	}, 5*time.Second, 5*time.Millisecond)
	time.Sleep(400 * time.Millisecond) // several ping intervals: the reading client stays
	require.Equal(t, 1, b.hub.Stats("").Connections.Alive)
}

func TestCompression(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.CompressionThreshold = 256 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, b.url(), &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {b.keyA}},
		CompressionMode: websocket.CompressionNoContextTakeover})
	require.NoError(t, err)
	require.Contains(t, res.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	c := &client{conn: conn}
	defer c.close()
	c.handshake(t)
	c.subscribe(t, "message.sent")
	long := strings.Repeat("compress me ", 200)
	_, err = b.core.SendText(context.Background(), "s1", "+15550002222", long, nil)
	require.NoError(t, err)
	f := c.until(t, ws.TypeEvent, nil)
	require.Contains(t, f["data"].(map[string]any)["message"].(map[string]any)["content"].(map[string]any)["body"], "compress me")
}

func TestShutdownGoingAway(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _ = b.hub.Stop(ctx) }()
	_, err := c.tryRead(5 * time.Second)
	require.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "%v", err)
}

func TestMonitorAndTokenRoutes(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) { o.Tokens = tokens })
	c := b.dial(t, b.keyA)
	defer c.close()
	c.handshake(t)
	c.subscribe(t, "message.*", "session.status")
	st := b.hub.Stats("default")
	require.Len(t, st.Clients, 1)
	require.Equal(t, []string{"message.*", "session.status"}, st.Clients[0].Subscriptions)
	require.Equal(t, 1, st.Subscribers["message.*"])
	require.Empty(t, b.hub.Stats("other").Clients)
	g, err := b.hub.TokenRoutes()
	require.NoError(t, err)
	require.Equal(t, "/ws-token", g.Routes[0].Pattern)
}

func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{`{"type":"ping"}`, `{"type":"subscribe","topics":["*"],"after":3}`, `{"type":"subscribe","topics":["message.*"],"sessions":["s1"]}`,
		`{"type":"x"}`, `[]`, `{"type":"get_state","after":-1}`, "\xff", `{"type":"unsubscribe","topics":["session.status"]} `,
		`{"type":"subscribe","topics":["message.sent"],"sessions":["a","b"],"after":0}`, `{"type":"ping"}{"type":"ping"}`,
		`{"type":"subscribe","topics":["` + "\u00e9" + `"]}`, `{"type":"subscribe","topics":null}`, `{"TYPE":"ping"}`} {
		f.Add([]byte(s))
	}
	const maxString = 20
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ws.DecodeClientFrame(data, maxString)
		if err != nil {
			var fe *ws.FrameError
			if !errors.As(err, &fe) || fe.Message == "" {
				t.Fatalf("error %v is not a FrameError with a message", err)
			}
			for _, e := range fe.Errors {
				if e.Field == "" || e.Reason == "" {
					t.Fatalf("field error without field or reason: %+v", fe)
				}
			}
			return
		}
		if fr == nil {
			t.Fatal("nil frame without error")
		}
		// An accepted frame is one JSON object with exact, distinct member
		// names, and one the protocol allows.
		dec := json.NewDecoder(bytes.NewReader(data))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("accepted %q, not an object", data)
		}
		var names []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("accepted %q: %v", data, err)
			}
			name := tok.(string)
			if !slices.Contains([]string{"after", "sessions", "topics", "type"}, name) || slices.Contains(names, name) {
				t.Fatalf("accepted member %q in %q", name, data)
			}
			names = append(names, name)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("accepted %q: %v", data, err)
			}
		}
		switch fr.Type {
		case ws.TypeSubscribe, ws.TypeUnsubscribe:
			if len(fr.Topics) == 0 || len(fr.Topics) > ws.MaxTopics || len(fr.Sessions) > ws.MaxTopics {
				t.Fatalf("accepted %d topics, %d sessions", len(fr.Topics), len(fr.Sessions))
			}
			for _, tp := range fr.Topics {
				if !ws.ValidTopic(tp) || utf8.RuneCountInString(tp) > maxString {
					t.Fatalf("accepted topic %q", tp)
				}
			}
			for _, s := range fr.Sessions {
				if waqtor.ValidateSessionID(s) != nil {
					t.Fatalf("accepted session %q", s)
				}
			}
			if fr.After != nil && (fr.Type != ws.TypeSubscribe || *fr.After < 0) {
				t.Fatalf("accepted after %d on %s", *fr.After, fr.Type)
			}
		case ws.TypePing, ws.TypeGetState:
			if fr.Topics != nil || fr.Sessions != nil || fr.After != nil {
				t.Fatalf("accepted fields on %s", fr.Type)
			}
		default:
			t.Fatalf("accepted type %q", fr.Type)
		}
		// It survives a round trip unchanged.
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		fr2, err := ws.DecodeClientFrame(again, maxString)
		if err != nil {
			t.Fatalf("re-encoded frame %s refused: %v", again, err)
		}
		if !reflect.DeepEqual(fr, fr2) {
			t.Fatalf("round trip changed %+v into %+v", fr, fr2)
		}
	})
}

// TestFullHubKeepsToken: a token refused because the hub is full is not
// spent, so the page can retry once a slot frees up.
func TestFullHubKeepsToken(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) {
		o.Tokens = tokens
		o.MaxConnections = 1
		o.AllowedOrigins = []string{"app.example.com"}
	})
	first, _, err := b.tryDial(b.keyA, "")
	require.NoError(t, err)
	tok, _, err := tokens.Issue(&auth.Principal{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	_, res, err := b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	first.close()
	require.Eventually(t, func() bool {
		c, _, err := b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
		if err != nil {
			return false
		}
		c.close()
		return true
	}, 5*time.Second, 20*time.Millisecond, "the token survived the full hub")
}

// TestMaxConnectionsConcurrent: upgrades racing for the last slots never
// exceed MaxConnections: each reserves its slot before the upgrade.
func TestMaxConnectionsConcurrent(t *testing.T) {
	t.Parallel()
	const limit, dials = 3, 30
	b := setup(t, func(o *ws.HubOpts) { o.MaxConnections = limit })
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conns     []*client
		refusedOK int
	)
	for range dials {
		wg.Go(func() {
			c, res, err := b.tryDial(b.keyA, "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				conns = append(conns, c)
				return
			}
			if res != nil && res.StatusCode == http.StatusServiceUnavailable {
				refusedOK++
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		defer c.close()
	}
	require.Len(t, conns, limit)
	require.Equal(t, dials-limit, refusedOK)
	require.Eventually(t, func() bool { return b.hub.Stats("").Connections.Current == limit }, 5*time.Second, time.Millisecond)
}

// TestConnectionCaps: one key and one tenant cannot take every slot: beyond
// MaxConnectionsPerKey (connections opened with the key) and
// MaxConnectionsPerTenant (keys and tokens alike) the upgrade gets 429 with
// the reason, while another tenant still connects; token connections count
// against the tenant, not the key that minted them, and a token refused for
// a cap is not spent.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	b := setup(t, func(o *ws.HubOpts) {
		o.MaxConnectionsPerKey, o.MaxConnectionsPerTenant = 2, 4
		o.Tokens = tokens
		o.AllowedOrigins = []string{"app.example.com"}
	})
	ctx := context.Background()
	_, keyA2, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	pA, err := b.keys.Authenticate(ctx, b.keyA)
	require.NoError(t, err)
	refused := func(key, query, reason string) {
		t.Helper()
		var hdr []string
		if query != "" {
			hdr = []string{"Origin", "https://app.example.com"}
		}
		_, res, err := b.tryDial(key, query, hdr...)
		require.Error(t, err)
		require.NotNil(t, res)
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		body, _ := io.ReadAll(res.Body)
		require.Contains(t, string(body), reason)
	}
	for range 2 {
		defer b.dial(t, b.keyA).close()
	}
	refused(b.keyA, "", "too many connections for this API key (at most 2)")
	defer b.dial(t, keyA2).close()
	defer b.dial(t, b.keyB).close() // another tenant

	tok, _, err := tokens.Issue(pA) // minted by keyA, which is at its cap
	require.NoError(t, err)
	first, _, err := b.tryDial("", "?token="+tok, "Origin", "https://app.example.com")
	require.NoError(t, err, "a token counts against the tenant, not the key")

	tok2, _, err := tokens.Issue(pA)
	require.NoError(t, err)
	refused("", "?token="+tok2, "too many connections for this tenant (at most 4)")
	refused(keyA2, "", "too many connections for this tenant (at most 4)")
	other := b.dial(t, b.keyB)
	other.handshake(t)
	other.close()
	require.EqualValues(t, 3, b.hub.Stats("").Security["connection_cap"])

	first.close()
	require.Eventually(t, func() bool {
		c, _, err := b.tryDial("", "?token="+tok2, "Origin", "https://app.example.com")
		if err != nil {
			return false
		}
		c.close()
		return true
	}, 5*time.Second, 20*time.Millisecond, "the token refused for the cap was not spent")
}

// TestQueryAPIKey: the seed's /ws?apiKey= is refused by default (401) and
// accepted with InsecureAllowQueryAPIKey, where a wrong key is still refused,
// a header key wins over the query, and the key is redacted from logs.
func TestQueryAPIKey(t *testing.T) {
	t.Parallel()
	off := setup(t, nil)
	_, res, err := off.tryDial("", "?apiKey="+off.keyA)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "off by default")

	on := setup(t, func(o *ws.HubOpts) { o.InsecureAllowQueryAPIKey = true })
	c, _, err := on.tryDial("", "?apiKey="+on.keyA)
	require.NoError(t, err)
	defer c.close()
	require.Equal(t, ws.TypeWelcome, c.read(t).typ())
	_, res, err = on.tryDial("", "?apiKey="+auth.NewKeySecret())
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "an unknown key")
	_, res, err = on.tryDial(auth.NewKeySecret(), "?apiKey="+on.keyA)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the header's key is the one checked")
	b, _, err := on.tryDial("", "?apiKey="+on.keyB)
	require.NoError(t, err)
	defer b.close()
	w := b.read(t)
	require.Equal(t, "other", w["tenant"], "the query key's tenant")
	u, err := url.Parse("/ws?apiKey=" + on.keyA)
	require.NoError(t, err)
	require.NotContains(t, ws.RedactURL(u), on.keyA)
}

// TestNewHubOpts: options that cannot work are refused with an error naming
// the fix; negative caps and recheck interval disable them.
func TestNewHubOpts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tokens, err := auth.NewTokens(nil)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		opts *ws.HubOpts
		want string
	}{
		"no authentication":     {opts: &ws.HubOpts{}, want: "needs Keys"},
		"query key, no keys":    {opts: &ws.HubOpts{Tokens: tokens, InsecureAllowQueryAPIKey: true}, want: "InsecureAllowQueryAPIKey needs Keys"},
		"negative size":         {opts: &ws.HubOpts{Keys: b.keys, MaxConnections: -1}, want: "must not be negative"},
		"caps and recheck off":  {opts: &ws.HubOpts{Keys: b.keys, MaxConnectionsPerKey: -1, MaxConnectionsPerTenant: -1, KeyRecheckInterval: -1}},
		"query key with keys":   {opts: &ws.HubOpts{Keys: b.keys, InsecureAllowQueryAPIKey: true}},
		"tokens only, defaults": {opts: &ws.HubOpts{Tokens: tokens}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ws.NewHub(b.core, tc.opts)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
