package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
)

type testBundle struct {
	core *waqtor.Core
	net  *sandbox.Network
	keys *auth.KeyStore
	srv  *httptest.Server
	// client validates every response against the OpenAPI document.
	client *http.Client
	vt     *validatingTransport
	// keyA is an admin key of tenant "default", keyB of tenant "other".
	keyA, keyB string
}

type setupOpts struct {
	core   func(*waqtor.Config)
	kind   dbtest.Kind
	mutate func(*rest.HandlerOpts)
}

func fastSandbox() *sandbox.Config {
	return &sandbox.Config{
		ConnectLatency: time.Millisecond,
		DeliverLatency: time.Millisecond,
		QRInterval:     time.Minute,
		ReadLatency:    time.Millisecond,
		ReconnectDelay: 2 * time.Millisecond,
		RedeliverDelay: 2 * time.Millisecond,
		Seed:           1,
	}
}

// setup builds a started Core on the sandbox, a key store with one admin key per
// tenant, and the REST handler mounted at /api on a loopback server.
func setup(t *testing.T, opts ...setupOpts) *testBundle {
	t.Helper()
	o := setupOpts{kind: dbtest.SQLite}
	if len(opts) > 0 {
		o = opts[0]
		if o.kind == "" {
			o.kind = dbtest.SQLite
		}
	}
	ctx := context.Background()
	b := &testBundle{net: sandbox.NewTestNetwork(t, fastSandbox())}
	cfg := &waqtor.Config{Database: dbtest.DSN(t, o.kind), Engine: b.net.Factory(),
		Logger: slogtest.New(t), RetryInterval: 20 * time.Millisecond}
	if o.core != nil {
		o.core(cfg)
	}
	core, err := waqtor.NewCore(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, core.Stop(ctx))
	})
	b.core = core
	b.keys, err = auth.NewKeyStore(ctx, core, &auth.KeyStoreConfig{Logger: slogtest.New(t)})
	require.NoError(t, err)
	_, b.keyA, err = b.keys.Create(ctx, &auth.KeyCreateParams{Name: "admin A", Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
	require.NoError(t, err)
	_, b.keyB, err = b.keys.Create(ctx, &auth.KeyCreateParams{Name: "admin B", Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "other"})
	require.NoError(t, err)
	ho := &rest.HandlerOpts{Keys: b.keys, Logger: slogtest.New(t)}
	if o.mutate != nil {
		o.mutate(ho)
	}
	h, err := rest.NewHandler(core, ho)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	b.vt = newValidatingTransport(t, b.srv)
	b.client = &http.Client{Transport: b.vt}
	return b
}

func newValidatingTransport(t *testing.T, srv *httptest.Server) *validatingTransport {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + "/api/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	doc, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", doc)
	var parsed struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc, &parsed))
	idx := &docIndex{}
	for path, item := range parsed.Paths {
		for method, op := range item {
			re := regexp.MustCompile("^" + paramPattern.ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
			statuses := map[string]bool{}
			for st := range op.Responses {
				statuses[st] = st != "default"
			}
			idx.ops = append(idx.ops, docOp{method: strings.ToUpper(method), template: path, re: re, statuses: statuses})
		}
	}
	return &validatingTransport{t: t, base: srv.Client().Transport, v: validatorFor(t, doc), doc: idx, covered: map[string]bool{}}
}

var paramPattern = regexp.MustCompile(`\\\{[a-zA-Z_]+\\\}`)

// session creates a session of tenant; paired makes it ready as phone.
func (b *testBundle) session(t *testing.T, id, tenant, phone string) {
	t.Helper()
	ctx := waqtor.WithTenant(context.Background(), tenant)
	_, err := b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: id})
	require.NoError(t, err)
	waitStateIn(t, b.core, ctx, id, waqtor.StateQR)
	if phone != "" {
		// The sandbox knows the session by its engine key, which is its ID
		// as long as no other tenant's session had that ID first.
		require.NoError(t, b.net.Pair(ctx, id, phone))
		waitStateIn(t, b.core, ctx, id, waqtor.StateReady)
	}
}

func waitState(t testing.TB, c *waqtor.Core, id string, want waqtor.SessionState) {
	t.Helper()
	waitStateIn(t, c, context.Background(), id, want)
}

// waitStateIn waits for session id of ctx's tenant (waqtor.WithTenant) to reach want.
func waitStateIn(t testing.TB, c *waqtor.Core, ctx context.Context, id string, want waqtor.SessionState) {
	t.Helper()
	var last *waqtor.Session
	require.Eventually(t, func() bool {
		s, err := c.Session(ctx, id)
		if err != nil {
			return false
		}
		last = s
		return s.State == want
	}, 5*time.Second, 2*time.Millisecond, "session %s never reached %s (last: %+v)", id, want, last)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (r *response) problem(t *testing.T) rest.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p rest.Problem
	r.json(t, &p)
	return p
}

// do sends a request to the API; body is JSON-encoded unless it is []byte or an io.Reader.
func (b *testBundle) do(t *testing.T, key, method, path string, body any, hdr ...string) *response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	case string:
		rd = bytes.NewReader([]byte(v))
	case io.Reader:
		rd = v
	default:
		data, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.srv.URL+"/api"+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &response{status: res.StatusCode, header: res.Header, body: data}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
