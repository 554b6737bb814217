package rest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/auththrottle"
	"github.com/waqtor/waqtor/internal/clientip"
	"github.com/waqtor/waqtor/internal/httpmetrics"
)

// Defaults of HandlerOpts.
const (
	// AuthFailureLimitDefault is how many failed authentications one client
	// address may make per RateLimitWindow before it is refused with 429.
	AuthFailureLimitDefault = 30
	// KeyFailureLimitDefault is how many failed authentications may present
	// one key ID per RateLimitWindow, from any address, before that key ID is
	// refused with 429.
	KeyFailureLimitDefault = 20
	// DefaultSessionDefault is the session the flat seed routes
	// (POST /messages/send-text, GET /session/state, ...) act on: the
	// caller's tenant's session of that ID (session IDs are per tenant).
	DefaultSessionDefault = "default"
	// MaxBodyBytesDefault caps JSON request bodies.
	MaxBodyBytesDefault = 1 << 20
	// MaxMediaBodyBytesDefault caps send-media bodies (16 MiB of media,
	// base64-encoded in JSON, or as a multipart file).
	MaxMediaBodyBytesDefault = 24 << 20
	// MediaMemoryBudgetDefaultFactor sets the default MediaMemoryBudget:
	// this many times MaxMediaBodyBytes (96 MiB with the default limit), so
	// that four largest uploads run at once.
	MediaMemoryBudgetDefaultFactor = 4
	// MediaMemoryWaitDefault is how long a media request waits for budget
	// before it is refused with 503.
	MediaMemoryWaitDefault = 5 * time.Second
	// RateLimitDefault is how many requests one principal may make per
	// RateLimitWindow.
	RateLimitDefault = 600
	// RateLimitWindowDefault is the rate limit's window.
	RateLimitWindowDefault = time.Minute
)

// HandlerOpts configures NewHandler. At least one of Keys and AuthenticateFunc
// is required: the handler is secure by default and never serves an
// unauthenticated route besides the OpenAPI document.
type HandlerOpts struct {
	// AuthFailureLimit is how many failed authentications one client address
	// (see TrustedProxies) may make per RateLimitWindow; a negative value
	// disables the throttle. Checking and counting are atomic: parallel
	// guesses get exactly this many verified. Defaults to
	// AuthFailureLimitDefault (30).
	AuthFailureLimit int
	// AuthenticateFunc maps requests to principals, for hosts with their own
	// users or tokens. With Keys also set, it is tried first and API keys after
	// it. Defaults to Keys.AuthenticateRequest.
	AuthenticateFunc auth.AuthenticateFunc
	// DefaultSession is the session the flat seed routes act on, within the
	// caller's tenant. Defaults to DefaultSessionDefault ("default").
	DefaultSession string
	// Groups are the route groups of features (webhooks, plugins, ...).
	Groups []RouteGroup
	// KeyFailureLimit is how many failed authentications may present one key
	// ID (the public part of a well-formed API key, "wqt_" and 10 characters)
	// per RateLimitWindow, from any number of addresses. Beyond it, requests
	// presenting that key ID are refused with 429 before the key is verified,
	// until the window has passed: a brute force spread over many addresses
	// gets nowhere. The price is that whoever knows a key's ID can hold that
	// key off for a window by failing on purpose; a negative value disables
	// the throttle. Defaults to KeyFailureLimitDefault (20).
	KeyFailureLimit int
	// Keys enables API keys: authentication by X-API-Key or Authorization:
	// Bearer, and the /keys admin routes. Defaults to none.
	Keys *auth.KeyStore
	// Logger receives the handler's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies of routes without their own limit.
	// Defaults to MaxBodyBytesDefault (1 MiB).
	MaxBodyBytes int64
	// MaxMediaBodyBytes caps send-media request bodies. Defaults to
	// MaxMediaBodyBytesDefault (24 MiB).
	MaxMediaBodyBytes int64
	// MediaMemoryBudget bounds the bytes of send-media bodies in flight, over
	// all clients: whatsmeow encrypts and uploads media from memory, so each
	// body is held (decoded, then encrypted) until WhatsApp has it, and 16
	// parallel 16 MiB uploads would otherwise take about 1 GB. A request
	// reserves its Content-Length (MaxMediaBodyBytes when unknown) once it is
	// authenticated and before its body is read; one that cannot get it
	// within MediaMemoryWait is refused with 503 and Retry-After (the
	// process stays up and the client retries), never queued without bound.
	// Spooling bodies to temporary files would not help: the upload needs
	// the whole media in memory anyway. Peak memory is a small multiple of
	// the budget (the body, the decoded media and its encrypted copy). It
	// must be at least MaxMediaBodyBytes; a negative value disables it.
	// Defaults to MediaMemoryBudgetDefaultFactor × MaxMediaBodyBytes (96 MiB).
	MediaMemoryBudget int64
	// MediaMemoryWait is how long a send-media request waits for
	// MediaMemoryBudget before it is refused with 503. Defaults to
	// MediaMemoryWaitDefault (5 s).
	MediaMemoryWait time.Duration
	// RateLimit is how many requests one principal may make per
	// RateLimitWindow; beyond it requests get 429 with Retry-After. A negative
	// value disables the limit. Defaults to RateLimitDefault (600).
	RateLimit int
	// RateLimitWindow is the window of RateLimit and AuthFailureLimit. Defaults
	// to RateLimitWindowDefault (1 min).
	RateLimitWindow time.Duration
	// Registerer receives the handler's Prometheus collectors
	// (waqtor_http_requests_total, waqtor_http_request_duration_seconds,
	// waqtor_security_events_total). Defaults to none: no metrics.
	Registerer prometheus.Registerer
	// Title is the OpenAPI document's title. Defaults to "waqtor API".
	Title string
	// TrustedProxies are the reverse proxies whose forwarding header
	// (TrustedProxyHeader) names the client. Only when a request's TCP peer
	// is in one of these ranges is the header read, from right to left: the
	// client is the right-most address that is not a trusted proxy, so what a
	// client writes into the header itself is never believed. The client
	// address keys the failed-authentication throttle (AuthFailureLimit) and
	// the logs. Defaults to none: the client is always the TCP peer and every
	// forwarding header is ignored.
	TrustedProxies []netip.Prefix
	// TrustedProxyHeader is the header the TrustedProxies append the client's
	// address to: "X-Forwarded-For" or "Forwarded" (RFC 7239). Name the one
	// your proxy writes: a header it passes through untouched is the client's
	// own text. Defaults to "X-Forwarded-For".
	TrustedProxyHeader string
}

// WithDefaults returns a copy of o with every unset field set to its default.
func (o *HandlerOpts) WithDefaults() *HandlerOpts {
	out := *o
	out.AuthFailureLimit = cmp.Or(o.AuthFailureLimit, AuthFailureLimitDefault)
	out.DefaultSession = cmp.Or(o.DefaultSession, DefaultSessionDefault)
	out.KeyFailureLimit = cmp.Or(o.KeyFailureLimit, KeyFailureLimitDefault)
	out.MaxBodyBytes = cmp.Or(o.MaxBodyBytes, MaxBodyBytesDefault)
	out.MaxMediaBodyBytes = cmp.Or(o.MaxMediaBodyBytes, MaxMediaBodyBytesDefault)
	out.MediaMemoryBudget = cmp.Or(o.MediaMemoryBudget, MediaMemoryBudgetDefaultFactor*out.MaxMediaBodyBytes)
	out.MediaMemoryWait = cmp.Or(o.MediaMemoryWait, MediaMemoryWaitDefault)
	out.RateLimit = cmp.Or(o.RateLimit, RateLimitDefault)
	out.RateLimitWindow = cmp.Or(o.RateLimitWindow, RateLimitWindowDefault)
	out.Title = cmp.Or(o.Title, "waqtor API")
	out.Groups = append([]RouteGroup(nil), o.Groups...)
	out.TrustedProxies = slices.Clone(o.TrustedProxies)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return &out
}

func (o *HandlerOpts) validate() error {
	if o.Keys == nil && o.AuthenticateFunc == nil {
		return errors.New("rest: HandlerOpts needs Keys (try auth.NewKeyStore(ctx, core, nil)) or an AuthenticateFunc")
	}
	if err := waqtor.ValidateSessionID(o.DefaultSession); err != nil {
		return fmt.Errorf("rest: DefaultSession: %w", err)
	}
	if o.MaxBodyBytes < 0 || o.MaxMediaBodyBytes < 0 || o.RateLimitWindow < 0 || o.MediaMemoryWait < 0 {
		return errors.New("rest: MaxBodyBytes, MaxMediaBodyBytes, MediaMemoryWait and RateLimitWindow must not be negative")
	}
	if o.MediaMemoryBudget >= 0 && o.MediaMemoryBudget < o.MaxMediaBodyBytes {
		return fmt.Errorf("rest: MediaMemoryBudget (%d bytes) is below MaxMediaBodyBytes (%d): raise it, or set -1 to disable it", o.MediaMemoryBudget, o.MaxMediaBodyBytes)
	}
	return nil
}

type handler struct {
	core   *waqtor.Core
	opts   *HandlerOpts
	logger *slog.Logger
	authn  auth.AuthenticateFunc
	mux    *chi.Mux

	routes      []*Route
	groups      []RouteGroup
	knownScopes map[auth.Scope]string

	limiter  *httprate.RateLimiter  // per principal; nil when disabled
	clientIP *clientip.Resolver     // nil when no proxy is trusted
	media    *memoryBudget          // send-media bodies in flight; nil when disabled
	throttle *auththrottle.Throttle // failed authentications per address and key ID; nil when disabled

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	security *prometheus.CounterVec

	docOnce sync.Once
	doc     map[string]any
	docErr  error
}

// NewHandler returns the REST API of core as an http.Handler to mount at any
// prefix, behind any middleware:
//
//	r.Mount("/api", h)                              // chi
//	mux.Handle("/api/", http.StripPrefix("/api", h)) // net/http
//
// It serves the routes for sessions, messages and contacts, the /keys admin
// routes when opts.Keys is set, the routes of opts.Groups, and the OpenAPI 3.1
// document of all of them at /openapi.json. Errors are RFC 9457 problem+json.
// NewHandler fails when a route's metadata is incomplete (see Route).
func NewHandler(core *waqtor.Core, opts *HandlerOpts) (http.Handler, error) {
	if core == nil {
		return nil, errors.New("rest: nil Core (build one with waqtor.NewCore)")
	}
	if opts == nil {
		opts = &HandlerOpts{}
	}
	o := opts.WithDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	h := &handler{core: core, opts: o, logger: o.Logger, knownScopes: map[auth.Scope]string{}}
	h.authn = o.AuthenticateFunc
	if o.Keys != nil {
		h.authn = auth.Chain(o.AuthenticateFunc, o.Keys.AuthenticateRequest)
	}
	for s, d := range builtinScopeDocs {
		h.knownScopes[s] = d
	}
	groups := h.builtinGroups()
	groups = append(groups, o.Groups...)
	for _, g := range groups {
		for s, d := range g.Scopes {
			h.knownScopes[s] = d
		}
	}
	if err := h.addGroups(groups); err != nil {
		return nil, err
	}
	err := h.initMetrics()
	if err != nil {
		return nil, err
	}
	if o.RateLimit > 0 {
		h.limiter = httprate.NewRateLimiter(o.RateLimit, o.RateLimitWindow)
	}
	h.media = newMemoryBudget(o.MediaMemoryBudget)
	h.throttle = auththrottle.New(o.AuthFailureLimit, o.KeyFailureLimit, o.RateLimitWindow)
	if len(o.TrustedProxies) > 0 {
		if h.clientIP, err = clientip.New(&clientip.Config{Header: o.TrustedProxyHeader, TrustedProxies: o.TrustedProxies}); err != nil {
			return nil, fmt.Errorf("rest: %w", err)
		}
	}
	h.mux = chi.NewRouter()
	h.mux.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NewProblem(http.StatusNotFound, TypeNotFound, "no route for "+r.Method+" "+r.URL.Path))
	})
	h.mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NewProblem(http.StatusMethodNotAllowed, TypeMethodNotAllowed, r.Method+" is not allowed here"))
	})
	h.mux.Get("/openapi.json", h.serveOpenAPI)
	for _, rt := range h.routes {
		h.mux.Method(rt.Method, rt.Pattern, h.wrap(rt))
	}
	if _, err := h.document("/"); err != nil {
		return nil, err
	}
	return h, nil
}

var builtinScopeDocs = map[auth.Scope]string{
	auth.ScopeAdmin:         "Every scope, within the key's tenant.",
	auth.ScopeKeysAdmin:     "Create, list and revoke the tenant's API keys.",
	auth.ScopeMessagesSend:  "Send messages, reactions, edits, revokes, read receipts and typing indicators.",
	auth.ScopeRead:          "Read sessions, messages, media and events; check numbers.",
	auth.ScopeSessionsAdmin: "Create, pair, connect, restart, log out and delete sessions.",
}

func (h *handler) addGroups(groups []RouteGroup) error {
	seen := map[string]string{}
	ops := map[string]bool{}
	tags := map[string]bool{}
	for gi := range groups {
		g := &groups[gi]
		if err := g.validate(); err != nil {
			return err
		}
		if tags[g.Name] {
			return fmt.Errorf("rest: two groups are named %q", g.Name)
		}
		tags[g.Name] = true
		for ri := range g.Routes {
			rt := g.Routes[ri] // copy: never mutate the caller's group
			if err := rt.validate(g.Name, h.knownScopes); err != nil {
				return err
			}
			if rt.Status == 0 {
				rt.Status = http.StatusOK
				if rt.Response == nil && rt.ResponseType == "" {
					rt.Status = http.StatusNoContent
				}
			}
			key := rt.Method + " " + paramRe.ReplaceAllString(rt.Pattern, "{}")
			if prev, dup := seen[key]; dup {
				return fmt.Errorf("rest: %s %s (group %q) conflicts with a route of group %q", rt.Method, rt.Pattern, g.Name, prev)
			}
			seen[key] = g.Name
			if ops[rt.OperationID] {
				return fmt.Errorf("rest: operationId %q is used twice", rt.OperationID)
			}
			ops[rt.OperationID] = true
			rt.group = g.Name
			rt.hasSession = slices.Contains(pathParams(rt.Pattern), "session") || rt.fixedSession != ""
			h.routes = append(h.routes, &rt)
		}
	}
	h.groups = groups
	return nil
}

func (h *handler) initMetrics() error {
	reg := h.opts.Registerer
	var err error
	if h.requests, err = httpmetrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waqtor_http_requests_total", Help: "REST requests by route pattern, method and status code.",
	}, []string{"route", "method", "code"})); err != nil {
		return fmt.Errorf("rest: register metrics: %w", err)
	}
	if h.duration, err = httpmetrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "waqtor_http_request_duration_seconds", Help: "REST request latency by route pattern and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method"})); err != nil {
		return fmt.Errorf("rest: register metrics: %w", err)
	}
	if h.security, err = httpmetrics.Security(reg); err != nil {
		return fmt.Errorf("rest: register metrics: %w", err)
	}
	return nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap runs a route's checks (see Route) before its handler.
func (h *handler) wrap(rt *Route) http.Handler {
	limit := cmp.Or(rt.MaxBodyBytes, h.opts.MaxBodyBytes)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.logger.ErrorContext(r.Context(), "Handler panicked", slog.String("route", rt.Pattern),
					slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				if w.status == 0 {
					WriteProblem(w, r, NewProblem(http.StatusInternalServerError, TypeInternal, ""))
				}
			}
			if h.requests != nil {
				code := w.status
				if code == 0 {
					code = http.StatusOK
				}
				h.requests.WithLabelValues(rt.Pattern, rt.Method, strconv.Itoa(code)).Inc()
				h.duration.WithLabelValues(rt.Pattern, rt.Method).Observe(time.Since(start).Seconds())
			}
		}()
		ctx := context.WithValue(context.WithValue(r.Context(), handlerCtxKey, h), routeCtxKey, rt)
		r = r.WithContext(ctx)
		if rt.fixedSession != "" {
			r.SetPathValue("session", rt.fixedSession)
		}
		if rt.Scope != ScopeNone {
			p, ok := h.authenticate(w, r)
			if !ok {
				return
			}
			if !p.Allows(rt.Scope) {
				h.security.WithLabelValues(httpmetrics.SecurityForbidden).Inc()
				WriteProblem(w, r, NewProblem(http.StatusForbidden, TypeForbidden, fmt.Sprintf("this key lacks the %q scope", rt.Scope)))
				return
			}
			if h.limiter != nil && h.limiter.OnLimit(w, r, p.Subject()) {
				h.security.WithLabelValues(httpmetrics.SecurityRateLimited).Inc()
				WriteProblem(w, r, NewProblem(http.StatusTooManyRequests, TypeRateLimited,
					fmt.Sprintf("more than %d requests per %s for this key", h.opts.RateLimit, h.opts.RateLimitWindow)))
				return
			}
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			if rt.hasSession {
				if !h.checkSession(w, r, p) {
					return
				}
			}
			if rt.Owner != nil && !h.checkOwner(w, r, p, rt.Owner) {
				return
			}
		}
		if r.ContentLength > limit { // refused before reading; and readers may size buffers by ContentLength
			w.Header().Set("Connection", "close") // never read the body, not even to reuse the connection
			WriteProblem(w, r, NewProblem(http.StatusRequestEntityTooLarge, TypeBodyTooLarge, fmt.Sprintf("the body exceeds %d bytes", limit)))
			h.security.WithLabelValues(httpmetrics.SecurityOversized).Inc()
			return
		}
		if rt.mediaBudget && r.Body != nil && r.Body != http.NoBody {
			n := limit
			if r.ContentLength > 0 {
				n = min(r.ContentLength, limit)
			}
			if !h.acquireMedia(w, r, n) {
				return
			}
			defer h.media.release(n)
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		rt.Handler.ServeHTTP(w, r)
		if w.status == http.StatusRequestEntityTooLarge {
			h.security.WithLabelValues(httpmetrics.SecurityOversized).Inc()
		}
	})
}

// acquireMedia reserves n bytes of MediaMemoryBudget for r, or answers 503.
func (h *handler) acquireMedia(w http.ResponseWriter, r *http.Request, n int64) bool {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.MediaMemoryWait)
	defer cancel()
	if h.media.acquire(ctx, n) {
		return true
	}
	if clientGone(r) {
		w.WriteHeader(StatusClientClosedRequest)
		return false
	}
	h.logger.WarnContext(r.Context(), "Media memory budget exhausted", slog.String("path", r.URL.Path),
		slog.Int64("bytes", n), slog.Int64("budget", h.opts.MediaMemoryBudget))
	w.Header().Set("Retry-After", "1")
	// The body stays unread: close the connection rather than let net/http
	// wait to discard it from a client that may be slow to send.
	w.Header().Set("Connection", "close")
	WriteProblem(w, r, NewProblem(http.StatusServiceUnavailable, TypeUnavailable,
		"too much media is being received at once; retry shortly"))
	return false
}

func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	remote := h.clientIP.String(r)
	attempt, refused := h.throttle.Begin(r.Context(), remote, auth.KeyFromRequest(r))
	defer attempt.Succeeded() // unless Failed below: only refused credentials count
	if refused != auththrottle.None {
		h.security.WithLabelValues(httpmetrics.SecurityRateLimited).Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(h.throttle.Window().Seconds())))
		WriteProblem(w, r, NewProblem(http.StatusTooManyRequests, TypeRateLimited, string(refused)))
		return nil, false
	}
	p, err := h.authn(r)
	if err == nil {
		if verr := p.Validate(); verr != nil {
			err = fmt.Errorf("AuthenticateFunc returned an invalid principal: %w", verr)
		}
	}
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			WriteError(w, r, err)
			return nil, false
		}
		h.security.WithLabelValues(httpmetrics.SecurityUnauthorized).Inc()
		attempt.Failed()
		h.logger.DebugContext(r.Context(), "Unauthenticated request", slog.String("path", r.URL.Path),
			slog.String("remote", remote), slog.Any("error", err))
		WriteProblem(w, r, NewProblem(http.StatusUnauthorized, TypeUnauthorized, "missing or invalid API key"))
		return nil, false
	}
	return p, true
}

// checkSession answers 404 unless the {session} exists, belongs to p's tenant
// and is one of p's sessions.
func (h *handler) checkSession(w http.ResponseWriter, r *http.Request, p *auth.Principal) bool {
	id := r.PathValue("session")
	s, err := h.core.Session(r.Context(), id)
	switch {
	case err == nil && p.Owns(s.Tenant, s.ID):
		return true
	case err == nil, errors.Is(err, waqtor.ErrSessionNotFound), errors.Is(err, waqtor.ErrInvalidSessionID):
		WriteProblem(w, r, NotFound("session", id))
	default:
		WriteError(w, r, err)
	}
	return false
}

func (h *handler) checkOwner(w http.ResponseWriter, r *http.Request, p *auth.Principal, o *Owner) bool {
	id := r.PathValue(o.Param)
	own, err := o.LookupFunc(r, id)
	switch {
	case err == nil && own != nil && p.Owns(own.Tenant, own.Session):
		return true
	case err == nil, errors.Is(err, ErrNotFound):
		WriteProblem(w, r, NotFound(o.Param, id))
	default:
		WriteError(w, r, err)
	}
	return false
}

// basePath returns the prefix the handler is mounted at, from the original
// request URI and the path the handler saw.
func basePath(r *http.Request, own string) string {
	uri := r.RequestURI
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if strings.HasSuffix(uri, own) {
		return strings.TrimSuffix(uri, own)
	}
	return ""
}
