package ws_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/ws"
)

type testBundle struct {
	core       *waqtor.Core
	net        *sandbox.Network
	keys       *auth.KeyStore
	hub        *ws.Hub
	srv        *httptest.Server
	keyA, keyB string
	dsn        string
}

func fastSandbox() *sandbox.Config {
	return &sandbox.Config{ConnectLatency: time.Millisecond, DeliverLatency: time.Millisecond, QRInterval: time.Minute,
		ReadLatency: time.Millisecond, ReconnectDelay: 2 * time.Millisecond, RedeliverDelay: 2 * time.Millisecond, Seed: 1}
}

// setup starts a Core on the sandbox with session "s1" of tenant "default"
// paired, keys for tenants "default" (keyA) and "other" (keyB), and the hub at /ws.
func setup(t testing.TB, mutate func(*ws.HubOpts)) *testBundle {
	t.Helper()
	b := &testBundle{net: sandbox.NewTestNetwork(t, fastSandbox()), dsn: dbtest.DSN(t, dbtest.SQLite)}
	b.startCore(t)
	ctx := context.Background()
	var err error
	_, b.keyA, err = b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
	require.NoError(t, err)
	_, b.keyB, err = b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "other"})
	require.NoError(t, err)
	_, err = b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "s1"})
	require.NoError(t, err)
	require.NoError(t, b.net.WaitForState(ctx, "s1", waqtor.StateQR))
	require.NoError(t, b.net.Pair(ctx, "s1", "+15550001111"))
	require.Eventually(t, func() bool {
		s, err := b.core.Session(ctx, "s1")
		return err == nil && s.State == waqtor.StateReady
	}, 5*time.Second, 2*time.Millisecond)
	b.startHub(t, mutate)
	return b
}

func (b *testBundle) startCore(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: b.dsn, Engine: b.net.Factory(), Logger: slogtest.New(t)})
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	t.Cleanup(func() { _ = core.Stop(context.Background()) })
	b.core = core
	b.keys, err = auth.NewKeyStore(ctx, core, nil)
	require.NoError(t, err)
}

func (b *testBundle) startHub(t testing.TB, mutate func(*ws.HubOpts)) {
	t.Helper()
	o := &ws.HubOpts{Keys: b.keys, Logger: slogtest.New(t), PingInterval: time.Hour}
	if mutate != nil {
		mutate(o)
	}
	hub, err := ws.NewHub(b.core, o)
	require.NoError(t, err)
	require.NoError(t, hub.Start(context.Background()))
	b.hub = hub
	b.srv = httptest.NewServer(hub)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Stop(ctx)
		b.srv.Close()
	})
}

func (b *testBundle) url() string { return "ws" + strings.TrimPrefix(b.srv.URL, "http") }

// dial connects with key (when not empty) and extra headers.
func (b *testBundle) dial(t *testing.T, key string, hdr ...string) *client {
	t.Helper()
	c, res, err := b.tryDial(key, "", hdr...)
	require.NoError(t, err, "dial: %v", res)
	return c
}

func (b *testBundle) tryDial(key, query string, hdr ...string) (*client, *http.Response, error) {
	h := http.Header{}
	if key != "" {
		h.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, b.url()+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(1 << 24)
	return &client{conn: conn}, res, nil
}

type client struct {
	conn *websocket.Conn
}

type frame map[string]any

func (f frame) typ() string { s, _ := f["type"].(string); return s }

func (c *client) send(t *testing.T, v any) {
	t.Helper()
	var data []byte
	switch x := v.(type) {
	case string:
		data = []byte(x)
	default:
		var err error
		data, err = json.Marshal(v)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.conn.Write(ctx, websocket.MessageText, data))
}

func (c *client) read(t *testing.T) frame {
	t.Helper()
	f, err := c.tryRead(5 * time.Second)
	require.NoError(t, err)
	return f
}

func (c *client) tryRead(d time.Duration) (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	return f, nil
}

// until reads frames until one of type typ (and matching, when match is set).
func (c *client) until(t *testing.T, typ string, match func(frame) bool) frame {
	t.Helper()
	for {
		f := c.read(t)
		if f.typ() == typ && (match == nil || match(f)) {
			return f
		}
	}
}

// handshake reads welcome and state.
func (c *client) handshake(t *testing.T) {
	t.Helper()
	require.Equal(t, ws.TypeWelcome, c.read(t).typ())
	require.Equal(t, ws.TypeState, c.read(t).typ())
}

func (c *client) subscribe(t *testing.T, topics ...string) {
	t.Helper()
	c.send(t, map[string]any{"type": "subscribe", "topics": topics})
	c.until(t, ws.TypeSubscribed, nil)
}

// barrier sends a ping and reads until its pong: every frame queued before it
// has been read.
func (c *client) barrier(t *testing.T) []frame {
	t.Helper()
	c.send(t, map[string]any{"type": "ping"})
	var got []frame
	for {
		f := c.read(t)
		if f.typ() == ws.TypePong {
			return got
		}
		got = append(got, f)
	}
}

func (c *client) close() { _ = c.conn.CloseNow() }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
