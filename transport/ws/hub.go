package ws

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/auththrottle"
	"github.com/waqtor/waqtor/internal/clientip"
	"github.com/waqtor/waqtor/internal/httpmetrics"
)

// Defaults of HubOpts.
const (
	AuthFailureLimitDefault   = 30
	AuthFailureWindowDefault  = time.Minute
	KeyFailureLimitDefault    = 20
	KeyRecheckIntervalDefault = 30 * time.Second
	MaxConnectionsDefault     = 10000
	// MaxConnectionsPerKeyDefault leaves room for a service's workers and
	// reconnect overlaps, far below a tenant's share.
	MaxConnectionsPerKeyDefault = 100
	// MaxConnectionsPerTenantDefault is a tenth of MaxConnectionsDefault:
	// one tenant cannot take more than a tenth of the hub.
	MaxConnectionsPerTenantDefault = 1000
	MaxFrameBytesDefault           = 10 << 10
	MaxStringLengthDefault         = 1000
	PingIntervalDefault            = 25 * time.Second
	PongTimeoutDefault             = 10 * time.Second
	RateLimitBurstDefault          = 60
	RateLimitRefillDefault         = time.Second
	RateLimitViolationsDefault     = 5
	ResumeMaxDefault               = 10000
	SendQueueBytesDefault          = 1 << 20
	ServerNameDefault              = "waqtor"
	WriteTimeoutDefault            = 5 * time.Second
)

// securityConnectionCap is the security event kind of a connection refused
// for its tenant's or key's cap.
const securityConnectionCap = "connection_cap"

// closeGrace bounds the close handshake with a peer.
const closeGrace = time.Second

// Close codes the hub uses besides the standard ones.
const (
	// StatusSlowConsumer is websocket.StatusPolicyViolation (1008): the
	// client's send queue exceeded HubOpts.SendQueueBytes, or it kept sending
	// too fast.
	StatusSlowConsumer = websocket.StatusPolicyViolation
)

// HubOpts configures NewHub. At least one of Keys, AuthenticateFunc and
// Tokens is required: every connection is authenticated.
type HubOpts struct {
	// AllowedIPs, when set, refuses connections from addresses outside these
	// prefixes (403). Defaults to every address.
	AllowedIPs []netip.Prefix
	// AllowedOrigins are the host patterns (path.Match syntax, for example
	// "app.example.com" or "*.example.com") of browser pages allowed to
	// connect, besides same-origin pages. Token connections (browsers) must
	// send an allowed Origin; API-key connections may send none (non-browser
	// clients). Defaults to none.
	AllowedOrigins []string
	// AuthFailureLimit is how many failed authentications one client address
	// (an IPv6 /64) may make per AuthFailureWindow; further upgrades from it
	// get 429 with Retry-After, without their credentials being checked.
	// Negative disables it. Defaults to AuthFailureLimitDefault (30), like
	// rest's.
	AuthFailureLimit int
	// AuthFailureWindow is the window of AuthFailureLimit and
	// KeyFailureLimit. Defaults to AuthFailureWindowDefault (1 min).
	AuthFailureWindow time.Duration
	// AuthenticateFunc maps upgrade requests to principals, like rest's.
	// Defaults to Keys.AuthenticateRequest.
	AuthenticateFunc auth.AuthenticateFunc
	// CompressionThreshold enables permessage-deflate (no context takeover)
	// for messages of at least this many bytes. Defaults to 0: compression off.
	CompressionThreshold int
	// InsecureAllowQueryAPIKey accepts the API key in the apiKey query
	// parameter (/ws?apiKey=wqt_…), as the seed protocol did, when no
	// X-API-Key or Authorization header carries one; it is then handled as
	// if sent in X-API-Key. For migrating the seed's clients only: a key in a
	// URL leaks into access logs, proxy logs, browser history and Referer
	// headers, and unlike a browser token it does not expire. Prefer the
	// headers, or browser tokens (Tokens). Defaults to false.
	InsecureAllowQueryAPIKey bool
	// InsecureSkipOriginCheck accepts every Origin. For development only: it
	// opens the door to cross-site WebSocket hijacking. Defaults to false.
	InsecureSkipOriginCheck bool
	// KeyFailureLimit is how many failed authentications may present one API
	// key ID, from any address, per AuthFailureWindow (429 beyond). Negative
	// disables it. Defaults to KeyFailureLimitDefault (20), like rest's.
	KeyFailureLimit int
	// KeyRecheckInterval is how often the hub rereads, from Keys's database,
	// the keys of its open connections, and closes (1008) those of keys
	// revoked or expired since. Revocations through Keys itself (the REST
	// route DELETE /keys/{id} of this process) close them at once; this
	// catches those made by other processes sharing the database, and
	// expiries. Negative disables it. Defaults to KeyRecheckIntervalDefault
	// (30 s).
	KeyRecheckInterval time.Duration
	// Keys authenticates API keys (X-API-Key or Authorization: Bearer on the
	// upgrade request). Revoking a key through it closes the key's open
	// connections (1008, "key revoked"), those of tokens it minted included,
	// and voids the tokens it minted. Defaults to none.
	Keys *auth.KeyStore
	// Logger receives the hub's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// MaxConnections caps concurrent connections (503 beyond). Defaults to
	// MaxConnectionsDefault (10,000).
	MaxConnections int
	// MaxConnectionsPerKey caps the concurrent connections opened with one
	// API key (a principal's KeyID) on the upgrade request, so that one
	// service or leaked key cannot take its tenant's share; beyond it the
	// upgrade gets 429 with the reason in the body. Browser connections
	// (tokens) count against their tenant only, not against the key that
	// minted them: one backend key typically mints the tokens of all of a
	// product's browsers. Negative disables it. Defaults to
	// MaxConnectionsPerKeyDefault (100).
	MaxConnectionsPerKey int
	// MaxConnectionsPerTenant caps the concurrent connections of one tenant
	// (keys and tokens alike), so that one tenant cannot take every slot of
	// MaxConnections; beyond it the upgrade gets 429 with the reason in the
	// body. It is checked before a token is spent. Negative disables it.
	// Defaults to MaxConnectionsPerTenantDefault (1,000).
	MaxConnectionsPerTenant int
	// MaxFrameBytes caps a client frame (after decompression); a larger one
	// closes the connection with 1009. Defaults to MaxFrameBytesDefault (10 KiB).
	MaxFrameBytes int64
	// MaxStringLength caps every string field of client frames, in
	// characters. Defaults to MaxStringLengthDefault (1,000).
	MaxStringLength int
	// PingInterval is how often the server pings each client. Defaults to
	// PingIntervalDefault (25 s).
	PingInterval time.Duration
	// PongTimeout is how long a ping waits for its pong before the peer is
	// considered dead and dropped. Defaults to PongTimeoutDefault (10 s).
	PongTimeout time.Duration
	// RateLimitBurst is the token bucket's capacity of client frames.
	// Defaults to RateLimitBurstDefault (60).
	RateLimitBurst int
	// RateLimitRefill is how long one token takes to come back. Defaults to
	// RateLimitRefillDefault (1 s).
	RateLimitRefill time.Duration
	// RateLimitViolations is how many frames over the limit close the
	// connection (1008). Defaults to RateLimitViolationsDefault (5).
	RateLimitViolations int
	// Registerer receives the hub's Prometheus collectors. Defaults to none.
	Registerer prometheus.Registerer
	// ResumeMax caps the events one resume replays from the log; a client
	// further behind gets an error frame and continues live. Defaults to
	// ResumeMaxDefault (10,000).
	ResumeMax int
	// SendQueueBytes caps each connection's queue of unsent frames; a client
	// that falls further behind is closed with StatusSlowConsumer, never
	// slowing others. Defaults to SendQueueBytesDefault (1 MiB).
	SendQueueBytes int
	// ServerName is sent in the welcome frame. Defaults to "waqtor".
	ServerName string
	// Test holds knobs for tests.
	Test TestConfig
	// Tokens accepts short-lived browser tokens (query parameter "token"),
	// issued by the REST route of TokenRoutes. Defaults to none.
	Tokens *auth.Tokens
	// TrustedProxies are the reverse proxies whose forwarding header
	// (TrustedProxyHeader) names the client, as in rest.HandlerOpts: only when
	// a connection's TCP peer is one of them is the header read, right to
	// left, and the client is the right-most address that is not a trusted
	// proxy. The client address keys the failed-authentication throttle,
	// AllowedIPs and the logs. Defaults to none: the client is the TCP peer.
	TrustedProxies []netip.Prefix
	// TrustedProxyHeader is the header the TrustedProxies append the client's
	// address to: "X-Forwarded-For" or "Forwarded". Defaults to
	// "X-Forwarded-For".
	TrustedProxyHeader string
	// WriteTimeout bounds each write to a client. Defaults to
	// WriteTimeoutDefault (5 s).
	WriteTimeout time.Duration
}

// TestConfig holds settings meant for tests only.
type TestConfig struct {
	// Now replaces the clock of the per-connection rate limiter, so that a
	// test can compress time. It is called on the connection's reader
	// goroutine, once per client frame. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of o with every unset field set to its default.
func (o *HubOpts) WithDefaults() *HubOpts {
	out := *o
	out.AllowedIPs = slices.Clone(o.AllowedIPs)
	out.AllowedOrigins = slices.Clone(o.AllowedOrigins)
	out.TrustedProxies = slices.Clone(o.TrustedProxies)
	out.AuthFailureLimit = cmp.Or(o.AuthFailureLimit, AuthFailureLimitDefault)
	out.AuthFailureWindow = cmp.Or(o.AuthFailureWindow, AuthFailureWindowDefault)
	out.KeyFailureLimit = cmp.Or(o.KeyFailureLimit, KeyFailureLimitDefault)
	out.KeyRecheckInterval = cmp.Or(o.KeyRecheckInterval, KeyRecheckIntervalDefault)
	out.MaxConnections = cmp.Or(o.MaxConnections, MaxConnectionsDefault)
	out.MaxConnectionsPerKey = cmp.Or(o.MaxConnectionsPerKey, MaxConnectionsPerKeyDefault)
	out.MaxConnectionsPerTenant = cmp.Or(o.MaxConnectionsPerTenant, MaxConnectionsPerTenantDefault)
	out.MaxFrameBytes = cmp.Or(o.MaxFrameBytes, MaxFrameBytesDefault)
	out.MaxStringLength = cmp.Or(o.MaxStringLength, MaxStringLengthDefault)
	out.PingInterval = cmp.Or(o.PingInterval, PingIntervalDefault)
	out.PongTimeout = cmp.Or(o.PongTimeout, PongTimeoutDefault)
	out.RateLimitBurst = cmp.Or(o.RateLimitBurst, RateLimitBurstDefault)
	out.RateLimitRefill = cmp.Or(o.RateLimitRefill, RateLimitRefillDefault)
	out.RateLimitViolations = cmp.Or(o.RateLimitViolations, RateLimitViolationsDefault)
	out.ResumeMax = cmp.Or(o.ResumeMax, ResumeMaxDefault)
	out.SendQueueBytes = cmp.Or(o.SendQueueBytes, SendQueueBytesDefault)
	out.ServerName = cmp.Or(o.ServerName, ServerNameDefault)
	out.WriteTimeout = cmp.Or(o.WriteTimeout, WriteTimeoutDefault)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Test.Now == nil {
		out.Test.Now = time.Now
	}
	return &out
}

func (o *HubOpts) validate() error {
	if o.Keys == nil && o.AuthenticateFunc == nil && o.Tokens == nil {
		return errors.New("ws: HubOpts needs Keys (try auth.NewKeyStore), an AuthenticateFunc or Tokens")
	}
	if o.InsecureAllowQueryAPIKey && o.Keys == nil && o.AuthenticateFunc == nil {
		return errors.New("ws: InsecureAllowQueryAPIKey needs Keys (try auth.NewKeyStore) or an AuthenticateFunc that reads X-API-Key")
	}
	for _, p := range o.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("ws: AllowedOrigins: bad pattern %q: %w", p, err)
		}
	}
	if o.MaxFrameBytes < 0 || o.CompressionThreshold < 0 || o.SendQueueBytes < 0 || o.PingInterval < 0 || o.PongTimeout < 0 ||
		o.MaxConnections < 0 || o.MaxStringLength < 0 || o.RateLimitBurst < 0 || o.RateLimitRefill < 0 || o.RateLimitViolations < 0 ||
		o.ResumeMax < 0 || o.WriteTimeout < 0 {
		return errors.New("ws: sizes and durations must not be negative")
	}
	return nil
}

// Hub is the WebSocket endpoint: it authenticates connections, speaks the
// frame protocol (see the package doc), and fans the Core's events out to
// subscribed clients. Mount it like any http.Handler, outside any middleware
// that sets deadlines on requests (chi's middleware.Timeout kills WebSockets).
// Call Start before serving and Stop to close every client with 1001.
//
// All methods are safe for concurrent use.
type Hub struct {
	core     *waqtor.Core
	opts     *HubOpts
	logger   *slog.Logger
	authn    auth.AuthenticateFunc
	throttle *auththrottle.Throttle // failed authentications; nil when off
	clientIP *clientip.Resolver     // nil: the TCP peer is the client
	start    time.Time

	state   atomic.Int32 // hubNew, hubStarted, hubStopped
	runCtx  context.Context
	cancel  context.CancelFunc
	unsub   func()
	conns   sync.WaitGroup // connection handlers
	bg      sync.WaitGroup // dispatcher
	stopped chan struct{}

	mu      sync.RWMutex
	clients map[*client]struct{}
	slots   int // connections reserved (upgrading) or served: what MaxConnections caps
	// Slots per tenant and per key (connections opened with the key itself).
	tenantSlots, keySlots map[string]int
	// ended holds keys revoked (or expired) while connections may be
	// upgrading, so that one authenticated just before cannot register
	// after the sweep; entries are pruned after endedMemory.
	ended       map[string]time.Time
	unsubRevoke func()
	quit        chan struct{}  // closed by Stop: ends the key recheck
	topics      map[string]int // subscribers per topic

	stats   stats
	metrics *metrics
}

const (
	hubNew int32 = iota
	hubStarted
	hubStopped
)

// NewHub returns a hub for core's events.
func NewHub(core *waqtor.Core, opts *HubOpts) (*Hub, error) {
	if core == nil {
		return nil, errors.New("ws: nil Core (build one with waqtor.NewCore)")
	}
	if opts == nil {
		opts = &HubOpts{}
	}
	o := opts.WithDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	h := &Hub{core: core, opts: o, logger: o.Logger, clients: map[*client]struct{}{}, topics: map[string]int{},
		tenantSlots: map[string]int{}, keySlots: map[string]int{}, ended: map[string]time.Time{}, quit: make(chan struct{}),
		stopped: make(chan struct{}), start: time.Now(),
		throttle: auththrottle.New(o.AuthFailureLimit, o.KeyFailureLimit, o.AuthFailureWindow)}
	if len(o.TrustedProxies) > 0 {
		var err error
		if h.clientIP, err = clientip.New(&clientip.Config{Header: o.TrustedProxyHeader, TrustedProxies: o.TrustedProxies}); err != nil {
			return nil, fmt.Errorf("ws: %w", err)
		}
	}
	h.authn = o.AuthenticateFunc
	if o.Keys != nil {
		h.authn = auth.Chain(o.AuthenticateFunc, o.Keys.AuthenticateRequest)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	return h, nil
}

// Start subscribes to the Core's events and starts fanning them out. ctx
// bounds the hub's lifetime. Calling Start twice is a no-op.
func (h *Hub) Start(ctx context.Context) error {
	if !h.state.CompareAndSwap(hubNew, hubStarted) {
		if h.state.Load() == hubStarted {
			return nil
		}
		return errors.New("ws: hub stopped")
	}
	ch, unsub, err := h.core.Subscribe(waqtor.AllKinds()...)
	if err != nil {
		return err
	}
	h.unsub = unsub
	h.runCtx, h.cancel = context.WithCancel(context.WithoutCancel(ctx))
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		h.dispatch(ch)
	}()
	if h.opts.Keys != nil {
		h.unsubRevoke = h.opts.Keys.OnRevoke(func(id string) { h.endKey(id, "key revoked") })
		if h.opts.KeyRecheckInterval > 0 {
			h.bg.Add(1)
			go func() {
				defer h.bg.Done()
				h.recheckKeys()
			}()
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = h.Stop(sctx)
		case <-h.stopped:
		}
	}()
	return nil
}

// Stop closes every client with 1001 (going away), stops the fan-out and waits
// for the connection goroutines, bounded by ctx. It is safe to call more than
// once.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock() // no connection registers after this
	switch {
	case h.state.CompareAndSwap(hubStarted, hubStopped):
		h.mu.Unlock()
	case h.state.CompareAndSwap(hubNew, hubStopped):
		h.mu.Unlock()
		close(h.stopped)
		return nil
	default:
		h.mu.Unlock()
		return nil
	}
	h.mu.RLock()
	for c := range h.clients {
		c.close(websocket.StatusGoingAway, "server shutting down")
	}
	h.mu.RUnlock()
	h.unsub()
	if h.unsubRevoke != nil {
		h.unsubRevoke()
	}
	close(h.quit)
	done := make(chan struct{})
	go func() {
		h.bg.Wait()
		h.conns.Wait()
		close(done)
	}()
	defer h.cancel()
	defer close(h.stopped)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ws: stop: %w", ctx.Err())
	}
}

// dispatch fans events out until the subscription closes.
func (h *Hub) dispatch(ch <-chan waqtor.Event) {
	for e := range ch {
		m := e.Meta()
		data, err := json.Marshal(e)
		if err != nil {
			h.recordError("dispatch", err)
			continue
		}
		frame, err := json.Marshal(&EventFrame{Data: data, EventID: m.ID, ID: m.Seq, Session: m.Session, Tenant: m.Tenant,
			Timestamp: m.Time, Topic: e.Kind(), Type: TypeEvent})
		if err != nil {
			h.recordError("dispatch", err)
			continue
		}
		h.stats.broadcasts.Add(1)
		h.stats.lastBroadcast.Store(time.Now().UnixNano())
		h.metrics.events.WithLabelValues(string(e.Kind())).Inc()
		var slow []*client
		h.mu.RLock()
		for c := range h.clients {
			switch c.offer(e.Kind(), m.Session, m.Tenant, m.Seq, frame) {
			case offerSent:
				h.metrics.sent.Inc()
			case offerOverflow:
				slow = append(slow, c)
			}
		}
		h.mu.RUnlock()
		for _, c := range slow {
			c.closeSlow("slow consumer: send queue full")
		}
	}
}

// ServeHTTP authenticates and upgrades a connection, then serves it until it
// closes.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.state.Load() != hubStarted {
		http.Error(w, "WebSocket hub not running", http.StatusServiceUnavailable)
		return
	}
	ip := h.clientIP.String(r)
	if len(h.opts.AllowedIPs) > 0 && !h.ipAllowed(ip) {
		h.security(httpmetrics.SecurityBadIP)
		h.refuse(w, r, ip, http.StatusForbidden, "address not allowed", nil)
		return
	}
	// The origin and the capacity are checked before the credentials: a
	// single-use token is spent by its verification, and a browser refused
	// for its page or a full hub may retry with the same token.
	if !h.originAllowed(r, r.URL.Query().Get("token") != "") {
		h.security(httpmetrics.SecurityBadOrigin)
		h.refuse(w, r, ip, http.StatusForbidden, "origin not allowed", nil)
		return
	}
	if h.full() {
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	if h.opts.InsecureAllowQueryAPIKey {
		r = withQueryAPIKey(r)
	}
	// The attempt holds a slot of the throttle until the credentials are
	// judged: parallel guesses cannot all pass before any is counted.
	attempt, refused := h.throttle.Begin(r.Context(), ip, auth.KeyFromRequest(r))
	defer attempt.Succeeded() // a no-op once Failed or Succeeded ended it
	if refused != auththrottle.None {
		h.security(httpmetrics.SecurityRateLimited)
		w.Header().Set("Retry-After", strconv.Itoa(int(h.throttle.Window().Seconds())))
		h.refuse(w, r, ip, http.StatusTooManyRequests, string(refused), nil)
		return
	}
	// A token is inspected, not spent, until every check that may refuse
	// the connection has passed: a browser refused for a full hub or a cap
	// may retry with the same token.
	p, tok, err := h.authenticate(r)
	if err != nil {
		h.authFailed(w, r, ip, attempt, err)
		return
	}
	if !p.Allows(auth.ScopeRead) {
		h.security(httpmetrics.SecurityForbidden)
		h.refuse(w, r, ip, http.StatusForbidden, `this key lacks the "read" scope`, nil)
		return
	}
	viaToken := tok != ""
	if viaToken {
		if err := h.checkTokenKey(r.Context(), p); err != nil {
			h.authFailed(w, r, ip, attempt, err)
			return
		}
	} else {
		attempt.Succeeded() // a key is judged; a token is once spent below
	}
	status, msg := h.reserve(p, viaToken)
	if status != 0 {
		h.refuse(w, r, ip, status, msg, nil)
		return
	}
	defer h.conns.Done()
	defer h.release(p, viaToken)
	if viaToken {
		// Spent now; it fails if the token was used meanwhile.
		if p, err = h.opts.Tokens.Verify(tok); err != nil {
			h.authFailed(w, r, ip, attempt, err)
			return
		}
		attempt.Succeeded()
	}
	acc := &websocket.AcceptOptions{OriginPatterns: h.opts.AllowedOrigins, InsecureSkipVerify: h.opts.InsecureSkipOriginCheck || !viaToken}
	if h.opts.CompressionThreshold > 0 {
		acc.CompressionMode = websocket.CompressionNoContextTakeover
		acc.CompressionThreshold = h.opts.CompressionThreshold
	}
	c := newClient(h, p, ip)
	acc.OnPongReceived = func(context.Context, []byte) { c.lastPong.Store(time.Now().UnixNano()) }
	conn, err := websocket.Accept(w, r, acc)
	if err != nil {
		c.cancel() // its context hangs off the hub's until cancelled
		h.recordError("accept", err)
		return
	}
	c.conn = conn
	conn.SetReadLimit(h.opts.MaxFrameBytes)
	h.logger.DebugContext(r.Context(), "WebSocket connected", slog.String("remote", ip), slog.String("url", RedactURL(r.URL)),
		slog.String("tenant", p.Tenant), slog.String("key_id", p.KeyID), slog.Bool("token", viaToken))
	reason := h.serve(c)
	h.logger.DebugContext(r.Context(), "WebSocket closed", slog.String("remote", ip), slog.String("reason", reason),
		slog.Duration("duration", time.Since(c.connectedAt)))
}

// refuse answers a refused upgrade and logs why (the URL redacted).
func (h *Hub) refuse(w http.ResponseWriter, r *http.Request, ip string, status int, msg string, cause error) {
	attrs := []any{slog.Int("status", status), slog.String("message", msg), slog.String("remote", ip), slog.String("url", RedactURL(r.URL))}
	if cause != nil {
		attrs = append(attrs, slog.Any("error", cause))
	}
	h.logger.DebugContext(r.Context(), "WebSocket refused", attrs...)
	http.Error(w, msg, status)
}

// redactedParams are query parameters that carry credentials.
var redactedParams = []string{"access_token", "api_key", "apikey", "key", "sig", "token"}

// RedactURL returns u as a string with the values of credential query
// parameters (token, the browser token of the WebSocket; apiKey, accepted
// with HubOpts.InsecureAllowQueryAPIKey; key, api_key, access_token and sig,
// which some clients send although the hub ignores them) replaced by
// REDACTED. Hosts that log requests should log
// this rather than the URL: tokens in query strings otherwise end up in
// access logs.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.RawQuery == "" {
		return u.String()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// Unparsable: keep the path only.
		out := *u
		out.RawQuery = "REDACTED"
		return out.String()
	}
	for name, vs := range q {
		if slices.Contains(redactedParams, strings.ToLower(name)) {
			for i := range vs {
				vs[i] = "REDACTED"
			}
		}
	}
	out := *u
	out.RawQuery = q.Encode()
	return out.String()
}

// QueryAPIKeyParam is the query parameter of HubOpts.InsecureAllowQueryAPIKey.
const QueryAPIKeyParam = "apiKey"

// withQueryAPIKey returns r with its apiKey query parameter in X-API-Key,
// when no header carries a key.
func withQueryAPIKey(r *http.Request) *http.Request {
	k := r.URL.Query().Get(QueryAPIKeyParam)
	if k == "" || auth.KeyFromRequest(r) != "" {
		return r
	}
	out := *r
	out.Header = r.Header.Clone()
	out.Header.Set(auth.HeaderAPIKey, k)
	return &out
}

// authenticate returns the principal of the upgrade request, and its token
// when it came with one: the token is inspected, not spent (ServeHTTP spends
// it once the connection is admitted).
func (h *Hub) authenticate(r *http.Request) (*auth.Principal, string, error) {
	if tok := r.URL.Query().Get("token"); tok != "" {
		if h.opts.Tokens == nil {
			return nil, tok, fmt.Errorf("%w: tokens are not enabled", auth.ErrUnauthenticated)
		}
		p, err := h.opts.Tokens.Inspect(tok)
		return p, tok, err
	}
	if h.authn == nil {
		return nil, "", fmt.Errorf("%w: no credentials", auth.ErrUnauthenticated)
	}
	p, err := h.authn(r)
	if err == nil {
		err = p.Validate()
		if err != nil {
			err = fmt.Errorf("ws: AuthenticateFunc returned an invalid principal: %w", err)
		}
	}
	return p, "", err
}

// authFailed answers a failed authentication.
func (h *Hub) authFailed(w http.ResponseWriter, r *http.Request, ip string, attempt *auththrottle.Attempt, err error) {
	if !errors.Is(err, auth.ErrUnauthenticated) {
		h.recordError("auth", err)
		h.refuse(w, r, ip, http.StatusInternalServerError, "authentication failed", err)
		return
	}
	// One answer for every failure (unknown key, bad token signature,
	// expired or replayed token): the cause goes to the log only.
	h.security(httpmetrics.SecurityUnauthorized)
	attempt.Failed()
	w.Header().Set("WWW-Authenticate", `Bearer realm="waqtor"`)
	h.refuse(w, r, ip, http.StatusUnauthorized, "missing or invalid credentials", err)
}

// keyCounted reports whether a connection counts against its key's cap:
// connections opened with the key itself. Token connections count against
// the tenant only: one backend key typically mints the tokens of all of a
// product's browsers.
func keyCounted(p *auth.Principal, viaToken bool) bool { return !viaToken && p.KeyID != "" }

// reserve takes a connection slot for p under the lock, before the upgrade
// (and before a token is spent), or returns the status and message that
// refuse it. On success the caller owes h.release and h.conns.Done.
func (h *Hub) reserve(p *auth.Principal, viaToken bool) (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.state.Load() != hubStarted:
		return http.StatusServiceUnavailable, "WebSocket hub not running"
	case h.fullLocked():
		return http.StatusServiceUnavailable, "too many connections"
	case h.opts.MaxConnectionsPerTenant > 0 && h.tenantSlots[p.Tenant] >= h.opts.MaxConnectionsPerTenant:
		h.security(securityConnectionCap)
		return http.StatusTooManyRequests, fmt.Sprintf("too many connections for this tenant (at most %d)", h.opts.MaxConnectionsPerTenant)
	case keyCounted(p, viaToken) && h.opts.MaxConnectionsPerKey > 0 && h.keySlots[p.KeyID] >= h.opts.MaxConnectionsPerKey:
		h.security(securityConnectionCap)
		return http.StatusTooManyRequests, fmt.Sprintf("too many connections for this API key (at most %d)", h.opts.MaxConnectionsPerKey)
	}
	// The slot is reserved before the upgrade, under the lock: counting
	// only registered clients let concurrent upgrades pass the check together.
	h.slots++
	h.tenantSlots[p.Tenant]++
	if keyCounted(p, viaToken) {
		h.keySlots[p.KeyID]++
	}
	h.conns.Add(1) // under h.mu, so Stop's Wait never races an Add
	return 0, ""
}

// release frees a slot taken by reserve.
func (h *Hub) release(p *auth.Principal, viaToken bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.slots--
	if h.tenantSlots[p.Tenant]--; h.tenantSlots[p.Tenant] <= 0 {
		delete(h.tenantSlots, p.Tenant)
	}
	if keyCounted(p, viaToken) {
		if h.keySlots[p.KeyID]--; h.keySlots[p.KeyID] <= 0 {
			delete(h.keySlots, p.KeyID)
		}
	}
}

// full reports whether the hub has MaxConnections clients (served or
// upgrading). ServeHTTP checks again under the lock, where it reserves its
// slot, before it accepts.
func (h *Hub) full() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.fullLocked()
}

// fullLocked is full with h.mu held.
func (h *Hub) fullLocked() bool { return h.slots >= h.opts.MaxConnections }

// originAllowed applies the origin policy: browsers (token path) must send an
// allowed Origin; API-key clients may send none, or an allowed one.
func (h *Hub) originAllowed(r *http.Request, viaToken bool) bool {
	if h.opts.InsecureSkipOriginCheck {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return !viaToken
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range h.opts.AllowedOrigins {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

func (h *Hub) ipAllowed(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range h.opts.AllowedIPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (h *Hub) security(kind string) {
	h.metrics.security.WithLabelValues(kind).Inc()
	h.stats.security(kind)
}

func (h *Hub) recordError(source string, err error) {
	h.stats.recordError(source, err)
	h.logger.Debug("WebSocket error", slog.String("source", source), slog.Any("error", err))
}

// serve runs one connection: welcome and state, then the read loop on this
// goroutine, the writer and the pinger on their own. It returns why the
// connection ended.
func (h *Hub) serve(c *client) string {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	stopping := h.state.Load() != hubStarted
	_, ended := h.ended[c.p.KeyID]
	h.mu.Unlock()
	switch {
	case stopping: // Stop ran during the handshake
		c.close(websocket.StatusGoingAway, "server shutting down")
	case ended && c.p.KeyID != "": // revoked during the handshake
		c.end("key revoked")
	}
	h.stats.connections.Add(1)
	h.metrics.connections.Inc()
	h.metrics.connectionsTotal.Inc()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writeLoop() }()
	go func() { defer wg.Done(); c.pingLoop() }()

	c.send(&WelcomeFrame{Message: "connected to waqtor", Server: h.opts.ServerName, Tenant: c.p.Tenant, Timestamp: time.Now().UTC(), Type: TypeWelcome})
	c.sendState()
	reason := c.readLoop()

	if reason != reasonRateLimit { // else the writer closes once it has flushed
		c.close(websocket.StatusNormalClosure, "")
	}
	wg.Wait()
	h.mu.Lock()
	delete(h.clients, c)
	for t := range c.topics {
		h.topicDelta(t, -1)
	}
	h.mu.Unlock()
	h.stats.disconnections.Add(1)
	h.metrics.connections.Dec()
	h.metrics.disconnections.WithLabelValues(reason).Inc()
	return reason
}

// checkTokenKey refuses a token minted by a key that has since been revoked
// or has expired: tokens carry their key's ID (in the principal), and the
// key's state is read from the database, so this holds across processes
// sharing it. A key ID Keys does not know (a principal from a host's
// AuthenticateFunc) is not checked.
func (h *Hub) checkTokenKey(ctx context.Context, p *auth.Principal) error {
	if p.KeyID == "" || h.opts.Keys == nil {
		return nil
	}
	h.mu.RLock()
	_, ended := h.ended[p.KeyID]
	h.mu.RUnlock()
	if ended {
		return fmt.Errorf("%w: %w: token of key %s", auth.ErrUnauthenticated, auth.ErrKeyRevoked, p.KeyID)
	}
	if err := h.opts.Keys.CheckActive(ctx, p.KeyID); err != nil && !errors.Is(err, auth.ErrKeyNotFound) {
		return fmt.Errorf("token of key %s: %w", p.KeyID, err)
	}
	return nil
}

// endedMemory is how long a revoked key is remembered for connections that
// were upgrading when it was revoked (a handshake takes far less).
const endedMemory = time.Minute

// endKey closes (1008) every connection authenticated by the key, tokens it
// minted included, and keeps connections upgrading with it from
// registering.
func (h *Hub) endKey(keyID, reason string) {
	if keyID == "" {
		return
	}
	now := time.Now()
	var hit []*client
	h.mu.Lock()
	for id, at := range h.ended {
		if now.Sub(at) > endedMemory {
			delete(h.ended, id)
		}
	}
	h.ended[keyID] = now
	for c := range h.clients {
		if c.p.KeyID == keyID && !c.ended.Load() { // one still closing is not ended twice
			hit = append(hit, c)
		}
	}
	h.mu.Unlock()
	for _, c := range hit {
		c.end(reason)
	}
	if len(hit) > 0 {
		h.logger.Info("WebSocket connections of a key closed", slog.String("key_id", keyID), slog.String("reason", reason),
			slog.Int("connections", len(hit)))
	}
}

// recheckKeys rereads the keys of open connections every
// KeyRecheckInterval and ends those revoked or expired, until Stop.
func (h *Hub) recheckKeys() {
	t := time.NewTicker(h.opts.KeyRecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-t.C:
		}
		ids := map[string]bool{}
		h.mu.RLock()
		for c := range h.clients {
			if c.p.KeyID != "" {
				ids[c.p.KeyID] = true
			}
		}
		h.mu.RUnlock()
		for id := range ids {
			err := h.opts.Keys.CheckActive(h.runCtx, id)
			switch {
			case err == nil, errors.Is(err, auth.ErrKeyNotFound):
			case errors.Is(err, auth.ErrKeyRevoked):
				h.endKey(id, "key revoked")
			case errors.Is(err, auth.ErrKeyExpired):
				h.endKey(id, "key expired")
			default:
				h.recordError("key_recheck", err)
			}
		}
	}
}

// topicDelta updates subscriber counts; call with h.mu held.
func (h *Hub) topicDelta(topic string, d int) {
	h.topics[topic] += d
	if h.topics[topic] <= 0 {
		delete(h.topics, topic)
	}
	h.metrics.subscribers.WithLabelValues(topic).Add(float64(d))
}

// client is one connection.
type client struct {
	hub         *Hub
	conn        *websocket.Conn
	p           *auth.Principal
	ip          string
	connectedAt time.Time
	lastPong    atomic.Int64
	dead        atomic.Bool
	slow        atomic.Bool
	ended       atomic.Bool // its key was revoked or expired
	ctx         context.Context
	cancel      context.CancelFunc
	closeOnce   sync.Once
	quit        chan struct{} // closed by close
	wake        chan struct{} // a frame was queued
	drained     chan struct{} // the writer took frames off the queue

	mu           sync.Mutex
	topics       map[string]bool
	kinds        map[waqtor.EventKind]bool
	sessions     []string // filter; empty for every session the principal sees
	queue        [][]byte
	queued       int
	replaying    bool
	pending      []pendingFrame
	pendingBytes int
	closed       bool
	flush        *flushClose // set by closeAfterFlush: nothing more is queued

	// rate limit (reader goroutine only)
	bucket     tokenBucket
	violations int
}

// end closes a client whose key was revoked or expired, at once (what is
// queued is not owed to it any more).
func (c *client) end(reason string) {
	c.ended.Store(true)
	c.close(websocket.StatusPolicyViolation, reason)
}

// closeSlow closes a client that cannot keep up, once.
func (c *client) closeSlow(reason string) {
	if !c.slow.CompareAndSwap(false, true) {
		return
	}
	c.hub.metrics.dropped.Inc()
	c.hub.stats.slowClosed.Add(1)
	c.close(StatusSlowConsumer, reason)
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// flushClose is the close a client's writer sends once its queue is written.
type flushClose struct {
	code   websocket.StatusCode
	reason string
	timer  *time.Timer // closes anyway after WriteTimeout
}

type pendingFrame struct {
	seq   int64
	frame []byte
}

func newClient(h *Hub, p *auth.Principal, ip string) *client {
	// The principal's context resolves session IDs within its tenant.
	ctx, cancel := context.WithCancel(auth.WithPrincipal(h.runCtx, p))
	now := time.Now()
	c := &client{hub: h, p: p, ip: ip, connectedAt: now, ctx: ctx, cancel: cancel, quit: make(chan struct{}), wake: make(chan struct{}, 1),
		drained: make(chan struct{}, 1), topics: map[string]bool{}, kinds: map[waqtor.EventKind]bool{},
		bucket: newTokenBucket(h.opts.Test.Now())}
	c.lastPong.Store(now.UnixNano())
	return c
}

func (c *client) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.queue, c.queued, c.pending, c.pendingBytes = nil, 0, nil, 0
		if c.flush != nil {
			c.flush.timer.Stop()
		}
		c.mu.Unlock()
		close(c.quit)
		if c.conn == nil {
			c.cancel()
			return
		}
		// Close writes the close frame and waits for the peer's (up to 5 s):
		// never on the caller's goroutine, which may be the dispatcher. The
		// context is cancelled only afterwards: cancelling a context that an
		// in-flight read or write uses kills the connection without a close
		// frame.
		go func() {
			done := make(chan struct{})
			go func() {
				_ = c.conn.Close(code, reason)
				close(done)
			}()
			t := time.NewTimer(closeGrace)
			select {
			case <-done:
			case <-t.C:
				// A peer that does not answer the close handshake (a stalled
				// or dead client) is cut off rather than waited for.
				_ = c.conn.CloseNow()
				<-done
			}
			t.Stop()
			c.cancel()
		}()
	})
}

// closeAfterFlush closes the connection once the frames already queued are
// written (the replies and warnings owed to the client), and at the latest
// after WriteTimeout. Nothing queued after it is sent. It returns at once.
func (c *client) closeAfterFlush(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.flush != nil {
		return
	}
	c.flush = &flushClose{code: code, reason: reason, timer: time.AfterFunc(c.hub.opts.WriteTimeout, func() { c.close(code, reason) })}
	c.signal()
}

type offerResult int

const (
	offerSkipped offerResult = iota
	offerSent
	offerOverflow
)

// offer queues an event frame when the client subscribes to it, without
// blocking; offerOverflow means the client is too slow and must be closed.
func (c *client) offer(kind waqtor.EventKind, session, tenant string, seq int64, frame []byte) offerResult {
	if tenant != c.p.Tenant || !c.p.AllowsSession(session) {
		return offerSkipped
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.flush != nil || !c.kinds[kind] || (len(c.sessions) > 0 && !slices.Contains(c.sessions, session)) {
		return offerSkipped
	}
	limit := c.hub.opts.SendQueueBytes
	if c.replaying {
		if c.pendingBytes+len(frame) > limit {
			return offerOverflow
		}
		c.pending = append(c.pending, pendingFrame{seq: seq, frame: frame})
		c.pendingBytes += len(frame)
		return offerSent
	}
	if c.queued+len(frame) > limit {
		return offerOverflow
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.signal()
	return offerSent
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send queues a control frame; it waits for room in the queue rather than
// closing the client (the reader goroutine sends these, one at a time).
func (c *client) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.hub.recordError("encode", err)
		return
	}
	c.enqueueWait(b)
}

func (c *client) enqueueWait(b []byte) bool {
	for {
		c.mu.Lock()
		if c.closed || c.flush != nil {
			c.mu.Unlock()
			return false
		}
		if c.queued == 0 || c.queued+len(b) <= c.hub.opts.SendQueueBytes {
			c.queue = append(c.queue, b)
			c.queued += len(b)
			c.signal()
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		select {
		case <-c.drained:
		case <-c.quit:
			return false
		}
	}
}

func (c *client) writeLoop() {
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			batch := c.queue
			c.queue = nil
			flush := c.flush
			c.mu.Unlock()
			if len(batch) == 0 {
				if flush != nil {
					c.close(flush.code, flush.reason)
					return
				}
				break
			}
			for _, b := range batch {
				ctx, cancel := context.WithTimeout(c.ctx, c.hub.opts.WriteTimeout)
				err := c.conn.Write(ctx, websocket.MessageText, b)
				timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
				cancel()
				c.mu.Lock()
				c.queued -= len(b)
				c.mu.Unlock()
				if err != nil {
					switch {
					case timedOut:
						// The timed-out write already cut the connection
						// (and the reader may have noticed first).
						c.hub.recordError("write", err)
						c.closeSlow("slow consumer: write timed out")
					case !c.isClosed():
						c.hub.recordError("write", err)
						c.close(websocket.StatusInternalError, "write failed")
					}
					return
				}
			}
			select {
			case c.drained <- struct{}{}:
			default:
			}
		}
	}
}

func (c *client) pingLoop() {
	t := time.NewTicker(c.hub.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.hub.opts.PongTimeout)
		err := c.conn.Ping(ctx)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil {
				c.dead.Store(true)
				c.hub.stats.dead.Add(1)
				c.hub.metrics.disconnectReasons(reasonDead)
				c.hub.logger.Debug("WebSocket peer missed its pong", slog.String("remote", c.ip))
				c.cancel()
				_ = c.conn.CloseNow()
			}
			return
		}
	}
}

const (
	reasonClosed     = "closed"
	reasonDead       = "dead_peer"
	reasonKeyEnded   = "key_ended" // revoked or expired
	reasonOversized  = "oversized"
	reasonRateLimit  = "rate_limited"
	reasonServerStop = "server_stop"
)

// readLoop reads and handles client frames until the connection ends, and
// returns why it ended.
func (c *client) readLoop() string {
	for {
		// Not c.ctx: cancelling a read's context kills the connection without
		// a close frame; the read ends when the connection closes.
		typ, data, release, err := readMessage(context.WithoutCancel(c.ctx), c.conn, c.hub.opts.MaxFrameBytes)
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrMessageTooBig), errors.Is(err, errReadLimit):
				c.hub.security(httpmetrics.SecurityOversized)
				return reasonOversized
			case c.dead.Load():
				return reasonDead
			case c.ended.Load():
				return reasonKeyEnded
			case c.hub.state.Load() == hubStopped:
				return reasonServerStop
			}
			return reasonClosed
		}
		c.hub.stats.received.Add(1)
		c.hub.metrics.received.Inc()
		if ok, wait := c.bucket.allow(c.hub.opts.Test.Now(), c.hub.opts.RateLimitBurst, c.hub.opts.RateLimitRefill); !ok {
			release()
			c.violations++
			c.hub.security(httpmetrics.SecurityRateLimited)
			if c.violations >= c.hub.opts.RateLimitViolations {
				// The replies to the frames within the limit and the
				// warnings are owed: written first, then the close.
				c.closeAfterFlush(websocket.StatusPolicyViolation, "rate limit exceeded repeatedly")
				return reasonRateLimit
			}
			retry := max(int(math.Ceil(wait.Seconds())), 1)
			c.send(&RateLimitFrame{Message: fmt.Sprintf("too many frames: at most %d at once, then one per %s", c.hub.opts.RateLimitBurst,
				c.hub.opts.RateLimitRefill), RetryAfter: retry, RetryAfterAlias: retry, Type: TypeRateLimitExceeded})
			continue
		}
		if typ != websocket.MessageText {
			release()
			c.sendError(frameErr("", "frames must be JSON text"))
			continue
		}
		f, err := DecodeClientFrame(data, c.hub.opts.MaxStringLength) // copies what it keeps
		release()
		if err != nil {
			c.sendError(err)
			continue
		}
		c.handle(f)
	}
}

func (c *client) sendError(err error) {
	var fe *FrameError
	if !errors.As(err, &fe) {
		fe = &FrameError{Message: "internal error"}
		c.hub.recordError("frame", err)
	}
	c.hub.stats.frameErrors.Add(1)
	c.send(&ErrorFrame{Errors: fe.Errors, Message: fe.Message, Type: TypeError})
}

func (c *client) handle(f *ClientFrame) {
	switch f.Type {
	case TypePing:
		c.send(&PongFrame{Timestamp: time.Now().UTC(), Type: TypePong})
	case TypeGetState:
		c.sendState()
	case TypeSubscribe:
		c.subscribe(f)
	case TypeUnsubscribe:
		c.unsubscribe(f)
	}
}

// checkSessions verifies a session filter: each session must be visible to
// the principal (unknown and foreign sessions get the same error).
func (c *client) checkSessions(ids []string) error {
	for i, id := range ids {
		s, err := c.hub.core.Session(c.ctx, id)
		if err != nil || !c.p.Owns(s.Tenant, s.ID) {
			return frameErr(fmt.Sprintf("sessions[%d]", i), "session %q not found", id)
		}
	}
	return nil
}

func (c *client) subscribe(f *ClientFrame) {
	if err := c.checkSessions(f.Sessions); err != nil {
		c.sendError(err)
		return
	}
	h := c.hub
	h.mu.Lock()
	c.mu.Lock()
	for _, t := range f.Topics {
		if !c.topics[t] {
			c.topics[t] = true
			h.topicDelta(t, 1)
		}
	}
	c.kinds = kindSet(c.topics)
	if f.Sessions != nil {
		c.sessions = slices.Clone(f.Sessions)
	}
	if f.After != nil {
		c.replaying = true
	}
	frame := c.topicsFrame(TypeSubscribed)
	c.mu.Unlock()
	h.mu.Unlock()
	c.send(frame)
	if f.After != nil {
		c.resume(*f.After)
	}
}

func kindSet(topics map[string]bool) map[waqtor.EventKind]bool {
	list := make([]string, 0, len(topics))
	for t := range topics {
		list = append(list, t)
	}
	out := map[waqtor.EventKind]bool{}
	for _, k := range expandTopics(list) {
		out[k] = true
	}
	return out
}

// topicsFrame describes the subscription; call with c.mu held.
func (c *client) topicsFrame(typ string) *TopicsFrame {
	topics := make([]string, 0, len(c.topics))
	for t := range c.topics {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return &TopicsFrame{Sessions: slices.Clone(c.sessions), Topics: topics, Type: typ}
}

func (c *client) unsubscribe(f *ClientFrame) {
	h := c.hub
	h.mu.Lock()
	c.mu.Lock()
	for _, t := range f.Topics {
		if c.topics[t] {
			delete(c.topics, t)
			h.topicDelta(t, -1)
		}
	}
	c.kinds = kindSet(c.topics)
	if len(c.topics) == 0 {
		c.sessions = nil
	}
	frame := c.topicsFrame(TypeUnsubscribed)
	c.mu.Unlock()
	h.mu.Unlock()
	c.send(frame)
}

// resume sends the events after seq from the log, then the live events that
// arrived meanwhile (skipping those already replayed), then continues live.
func (c *client) resume(after int64) {
	c.mu.Lock()
	kinds := make([]waqtor.EventKind, 0, len(c.kinds))
	for k := range c.kinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	sessions := slices.Clone(c.sessions)
	c.mu.Unlock()
	if len(sessions) == 0 {
		sessions = slices.Clone(c.p.Sessions)
	}
	pos, sent := after, 0
	var truncated bool
	for len(kinds) > 0 {
		evs, err := c.hub.core.ReadLog(c.ctx, &waqtor.LogReadParams{After: pos, Kinds: kinds, Sessions: sessions, Tenant: c.p.Tenant, Limit: 500})
		if err != nil {
			if c.ctx.Err() == nil {
				c.hub.recordError("resume", err)
				c.sendError(frameErr("after", "could not read the event log"))
			}
			break
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			m := e.Meta()
			data, err := json.Marshal(e)
			if err != nil {
				continue
			}
			frame, _ := json.Marshal(&EventFrame{Data: data, EventID: m.ID, ID: m.Seq, Session: m.Session, Tenant: m.Tenant,
				Timestamp: m.Time, Topic: e.Kind(), Type: TypeEvent})
			if !c.enqueueWait(frame) {
				return
			}
			pos = m.Seq
			sent++
		}
		if sent >= c.hub.opts.ResumeMax {
			truncated = true
			break
		}
	}
	c.mu.Lock()
	for _, p := range c.pending {
		if p.seq > pos {
			c.queue = append(c.queue, p.frame)
			c.queued += len(p.frame)
		}
	}
	c.pending, c.pendingBytes, c.replaying = nil, 0, false
	c.signal()
	c.mu.Unlock()
	if truncated {
		c.sendError(frameErr("after", "more than %d events to resume: sent the oldest %d, continuing live (events up to the live stream may be missing)",
			c.hub.opts.ResumeMax, sent))
	}
}

func (c *client) sendState() {
	all, err := c.hub.core.Sessions(c.ctx, &waqtor.SessionListParams{Tenant: c.p.Tenant})
	if err != nil {
		c.sendError(frameErr("", "could not read sessions"))
		return
	}
	out := &StateFrame{Sessions: []SessionState{}, Timestamp: time.Now().UTC(), Type: TypeState}
	for _, s := range all {
		if c.p.AllowsSession(s.ID) {
			out.Sessions = append(out.Sessions, SessionState{ClientInfo: s.Info, ID: s.ID, QR: s.QR, Reason: s.Reason, Status: s.State})
		}
	}
	c.send(out)
}
