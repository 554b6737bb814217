package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/component"
	"github.com/waqtor/waqtor/plugins"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/ws"
	"github.com/waqtor/waqtor/webhook"
	"github.com/waqtor/waqtor/whatsapp"
)

// routeProvider is a feature that offers REST routes once started.
type routeProvider interface {
	RouteGroups() []rest.RouteGroup
}

// feature is one part of the gateway, started in the order of
// gateway.features and stopped in reverse.
type feature struct {
	name string
	c    component.Component
}

// gateway holds what the features share. Each feature sets its fields in
// Start; later features read them.
type gateway struct {
	o      *options
	s      *seams
	logger *slog.Logger

	features []feature
	reg      *prometheus.Registry
	serveErr chan error

	core    *waqtor.Core
	hub     *ws.Hub
	keys    *auth.KeyStore
	network *sandbox.Network
}

func newGateway(o *options, s *seams, logger *slog.Logger) (*gateway, error) {
	if o.engine != "whatsapp" && o.engine != "sandbox" {
		return nil, fmt.Errorf("-engine %q: want whatsapp or sandbox", o.engine)
	}
	g := &gateway{o: o, s: s, logger: logger, reg: prometheus.NewRegistry(), serveErr: make(chan error, 1)}
	g.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Adding a feature is one line here: it starts after those above it and
	// stops before them; a routeProvider's routes are mounted under /api.
	g.features = []feature{
		{"core", &coreFeature{g: g}},
		{"plugins", &pluginsFeature{g: g}},
		{"session", &sessionFeature{g: g}},
		{"keys", &keysFeature{g: g}},
		{"webhooks", &webhookFeature{g: g}},
		{"campaigns", &campaignFeature{g: g}},
		{"websocket", &hubFeature{g: g}},
		{"http", &httpFeature{g: g}}, // last: it serves the routes of all the others
	}
	return g, nil
}

// coreFeature is the Core with its engine, and the sandbox routes with the
// sandbox engine. It creates the session on first start, before the Core
// starts, so that connecting it is the session feature's job alone.
type coreFeature struct {
	g       *gateway
	logged  <-chan struct{} // closed once every event is logged, after Stop
	sendLog *os.File        // -sandbox-send-log, or nil
}

func (f *coreFeature) Start(ctx context.Context) error {
	g := f.g
	factory := g.s.engine
	var qrOut io.Writer
	switch {
	case factory != nil:
	case g.o.engine == "whatsapp":
		factory = whatsapp.New(&whatsapp.Config{Logger: g.logger})
		qrOut = g.s.stderr // print QR codes in the terminal, to scan with the phone
	default:
		// The simulated network pairs every session by itself with a made-up
		// number (after -sandbox-pair-delay), so the gateway can be tried
		// without a phone.
		cfg := &sandbox.Config{AutoPair: true, AutoPairDelay: g.o.sandboxPairDelay, AutoRead: true, Logger: g.logger}
		if g.o.sandboxSendLog != "" {
			var err error
			if f.sendLog, err = os.OpenFile(g.o.sandboxSendLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
				return fmt.Errorf("-sandbox-send-log: %w", err)
			}
			cfg.SendLogFunc = sendLogWriter(f.sendLog, g.logger)
		}
		g.network = sandbox.NewNetwork(cfg)
		factory = g.network.Factory()
	}
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: g.o.db, Engine: factory, Logger: g.logger, TenantSendLimit: g.o.tenantSendLimit,
		MediaAllowCIDRs: g.o.mediaAllowCIDRs, OptOutKeywords: g.o.optOutKeywords, OptOutReply: g.o.optOutReply})
	if err != nil {
		return errors.Join(err, f.closeNetwork(ctx))
	}
	g.core = core
	f.logged = logEvents(core, g.logger, qrOut)
	err = createSession(ctx, core, g.o.session)
	if err == nil {
		err = core.Start(ctx)
	}
	if err != nil {
		return errors.Join(err, f.Stop(ctx))
	}
	return nil
}

func (f *coreFeature) Stop(ctx context.Context) error {
	err := errors.Join(f.g.core.Stop(ctx), f.closeNetwork(ctx))
	select { // the last events (plugins stopped, ...) are logged before run returns
	case <-f.logged:
	case <-ctx.Done():
	}
	return err
}

func (f *coreFeature) closeNetwork(ctx context.Context) error {
	if f.g.network == nil {
		return nil
	}
	err := f.g.network.Close(ctx)
	if f.sendLog != nil {
		err = errors.Join(err, f.sendLog.Close())
	}
	return err
}

// sendLogRecord is one line of -sandbox-send-log: a send the simulated
// network was asked to make.
type sendLogRecord struct {
	Chat      string    `json:"chat"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Error     string    `json:"error,omitempty"`
	ID        string    `json:"id"`
	Session   string    `json:"session"`
	Time      time.Time `json:"time"`
}

// sendLogWriter appends each send attempt to w as one JSON line, written
// with one call so that a line survives the process being killed.
func sendLogWriter(w io.Writer, logger *slog.Logger) func(sandbox.SendRecord) {
	var mu sync.Mutex
	return func(r sandbox.SendRecord) {
		rec := sendLogRecord{Chat: r.Chat, Duplicate: r.Duplicate, ID: r.ID, Session: r.Session, Time: r.Time}
		if r.Err != nil {
			rec.Error = r.Err.Error()
		}
		b, _ := json.Marshal(rec)
		mu.Lock()
		defer mu.Unlock()
		if _, err := w.Write(append(b, '\n')); err != nil {
			logger.Warn("Cannot write the sandbox send log", slog.Any("error", err))
		}
	}
}

func (f *coreFeature) RouteGroups() []rest.RouteGroup {
	if f.g.network == nil {
		return nil
	}
	return []rest.RouteGroup{sandboxRoutes(f.g.network)}
}

// pluginsFeature runs the -plugin executables.
type pluginsFeature struct {
	g    *gateway
	host *plugins.Host
}

func (f *pluginsFeature) Start(ctx context.Context) (err error) {
	f.host, err = startPlugins(ctx, f.g.core, *f.g.o.plugins, f.g.logger)
	return err
}

func (f *pluginsFeature) Stop(ctx context.Context) error {
	if f.host == nil {
		return nil
	}
	return f.host.Stop(ctx)
}

func (f *pluginsFeature) RouteGroups() []rest.RouteGroup {
	if f.host == nil {
		return nil
	}
	return []rest.RouteGroup{f.host.Routes(nil)}
}

// sessionFeature connects the -session when it never paired, so that it
// shows a QR code, and keeps trying with backoff while connecting fails (no
// internet, WhatsApp unreachable): the gateway stays up meanwhile.
type sessionFeature struct {
	g      *gateway
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *sessionFeature) Start(ctx context.Context) error {
	s, err := f.g.core.Session(ctx, f.g.o.session)
	if err != nil {
		return err
	}
	if s.Info.JID != "" {
		return nil // paired: the Core connects it, and reconnects it
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, cancel)
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		f.connect(lctx)
	}()
	return nil
}

// connect calls Connect until it succeeds or ctx ends, waiting retryBase,
// then twice as long after each failure, up to retryMax.
func (f *sessionFeature) connect(ctx context.Context) {
	g := f.g
	wait := g.s.retryBase
	if wait <= 0 {
		wait = retryBaseDefault
	}
	for attempt := 1; ; attempt++ {
		err := g.core.Connect(ctx, g.o.session)
		if err == nil || ctx.Err() != nil {
			return
		}
		attrs := []any{slog.String("session", g.o.session), slog.Int("attempt", attempt), slog.Duration("retry_in", wait),
			slog.Any("error", err)}
		if g.o.engine == "whatsapp" {
			attrs = append(attrs, slog.String("hint", "offline? try -engine sandbox"))
		}
		g.logger.WarnContext(ctx, "Session failed to connect; retrying", attrs...)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

func (f *sessionFeature) Stop(ctx context.Context) error {
	if f.cancel == nil {
		return nil
	}
	f.cancel()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// keysFeature opens the API key store and bootstraps the first key.
type keysFeature struct {
	g *gateway
}

func (f *keysFeature) Start(ctx context.Context) (err error) {
	g := f.g
	g.keys, err = auth.NewKeyStore(ctx, g.core, &auth.KeyStoreConfig{Logger: g.logger})
	if err != nil {
		return err
	}
	return bootstrapKey(ctx, g.keys, g.o, g.s.stderr, g.logger)
}

func (f *keysFeature) Stop(context.Context) error { return nil }

// webhookFeature is the webhook dispatcher and its REST routes.
type webhookFeature struct {
	g   *gateway
	svc *webhook.Service
}

func (f *webhookFeature) Start(ctx context.Context) (err error) {
	g := f.g
	f.svc, err = webhook.New(ctx, g.core, &webhook.Config{AllowCIDRs: g.o.webhookAllowCIDRs,
		EncryptionKey: g.o.webhookEncryptionKey, Logger: g.logger})
	if err != nil {
		return err
	}
	if err := g.reg.Register(f.svc.Collector()); err != nil {
		return err
	}
	return f.svc.Start(ctx)
}

func (f *webhookFeature) Stop(ctx context.Context) error { return f.svc.Stop(ctx) }

func (f *webhookFeature) RouteGroups() []rest.RouteGroup {
	return []rest.RouteGroup{f.svc.Routes(nil)}
}

// campaignFeature runs bulk-messaging campaigns and serves their REST routes.
type campaignFeature struct {
	g   *gateway
	svc *campaign.Service
}

func (f *campaignFeature) Start(ctx context.Context) (err error) {
	g := f.g
	f.svc, err = campaign.New(ctx, g.core, &campaign.Config{ClaimLease: g.o.campaignClaimLease, Logger: g.logger,
		NodeID: g.o.nodeID})
	if err != nil {
		return err
	}
	return f.svc.Start(ctx)
}

func (f *campaignFeature) Stop(ctx context.Context) error { return f.svc.Stop(ctx) }

func (f *campaignFeature) RouteGroups() []rest.RouteGroup {
	return []rest.RouteGroup{f.svc.Routes(&campaign.RoutesOpts{DefaultSession: f.g.o.session,
		MaxUploadBytes: f.g.o.campaignMaxUpload})}
}

// hubFeature is the WebSocket hub.
type hubFeature struct {
	g      *gateway
	tokens rest.RouteGroup
}

func (f *hubFeature) Start(ctx context.Context) error {
	g := f.g
	tokens, err := auth.NewTokens(nil)
	if err != nil {
		return err
	}
	g.hub, err = ws.NewHub(g.core, &ws.HubOpts{Keys: g.keys, Tokens: tokens, AllowedOrigins: g.o.allowedOrigins,
		CompressionThreshold: g.o.wsCompression, InsecureAllowQueryAPIKey: g.o.wsQueryAPIKey,
		TrustedProxies: g.o.trustedProxies, Logger: g.logger, Registerer: g.reg})
	if err != nil {
		return err
	}
	if f.tokens, err = g.hub.TokenRoutes(); err != nil {
		return err
	}
	return g.hub.Start(ctx)
}

func (f *hubFeature) Stop(ctx context.Context) error { return f.g.hub.Stop(ctx) }

func (f *hubFeature) RouteGroups() []rest.RouteGroup { return []rest.RouteGroup{f.tokens} }

// httpFeature serves everything on -addr.
type httpFeature struct {
	g   *gateway
	srv *http.Server
}

func (f *httpFeature) Start(ctx context.Context) error {
	g := f.g
	var groups []rest.RouteGroup
	for _, other := range g.features {
		if rp, ok := other.c.(routeProvider); ok {
			groups = append(groups, rp.RouteGroups()...)
		}
	}
	rateLimit := g.o.rateLimit
	if rateLimit == 0 {
		rateLimit = -1 // the flag's 0 is "no limit", rest's is "the default"
	}
	api, err := rest.NewHandler(g.core, &rest.HandlerOpts{Keys: g.keys, Groups: groups, Logger: g.logger, Registerer: g.reg,
		DefaultSession: g.o.session, RateLimit: rateLimit, TrustedProxies: g.o.trustedProxies})
	if err != nil {
		return err
	}
	guard, err := newKeyGuard(g.keys, g.logger, g.o.trustedProxies)
	if err != nil {
		return err
	}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := g.core.Ping(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	r.Mount("/api", api)
	r.Handle("/ws", g.hub) // outside any request-timeout middleware
	r.Handle("/metrics", guard.require(auth.ScopeAdmin, promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{})))
	monitor := g.hub.MonitorHandler(func(r *http.Request) string {
		if p, ok := auth.PrincipalFrom(r.Context()); ok && !p.Allows(auth.ScopeAdmin) {
			return p.Tenant
		}
		return ""
	})
	r.Handle("/ws-monitor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			guard.require(auth.ScopeRead, monitor).ServeHTTP(w, r)
			return
		}
		monitor.ServeHTTP(w, r) // the page itself holds no data; it asks for a key
	}))
	ln, err := net.Listen("tcp", g.o.addr)
	if err != nil {
		return err
	}
	f.srv = newServer(g.o, bodyDeadline(g.o.bodyMinRate, g.o.bodyGrace, r), g.logger)
	g.logger.InfoContext(ctx, "Listening", slog.String("addr", ln.Addr().String()), slog.String("engine", g.o.engine),
		slog.String("db", redactDSN(g.o.db)))
	go func() {
		if err := f.srv.Serve(limitListener(ln, g.o.maxConns)); !errors.Is(err, http.ErrServerClosed) {
			g.serveErr <- err
		}
	}()
	if g.s.ready != nil {
		g.s.ready <- ln.Addr().String()
	}
	return nil
}

func (f *httpFeature) Stop(ctx context.Context) error { return f.srv.Shutdown(ctx) }

// createSession creates the session on first start.
func createSession(ctx context.Context, core *waqtor.Core, id string) error {
	_, err := core.Session(ctx, id)
	if errors.Is(err, waqtor.ErrSessionNotFound) {
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: id})
	}
	return err
}

// logEvents logs every event at info level (QR codes at debug: they are long),
// and draws QR codes on qrOut when it is not nil. The channel it returns is
// closed once the Core stopped and every event was logged.
func logEvents(core *waqtor.Core, logger *slog.Logger, qrOut io.Writer) <-chan struct{} {
	ch, _, err := core.Subscribe(waqtor.AllKinds()...)
	if err != nil {
		panic(err) // AllKinds is never empty
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			m := e.Meta()
			attrs := []any{slog.String("kind", string(e.Kind())), slog.String("session", m.Session), slog.Int64("seq", m.Seq)}
			switch v := e.(type) {
			case *waqtor.SessionStatus:
				attrs = append(attrs, slog.String("status", string(v.State)), slog.String("reason", v.Reason))
			case *waqtor.MessageReceived:
				attrs = append(attrs, slog.String("from", v.Message.Sender.JID), slog.String("type", string(v.Message.Content.ContentType())))
			case *waqtor.MessageSent:
				attrs = append(attrs, slog.String("to", v.Message.Chat.JID), slog.String("message_id", v.Message.ID))
			case *waqtor.PluginStatus:
				attrs = append(attrs, slog.String("plugin", v.Plugin), slog.String("state", string(v.State)), slog.String("error", v.Error))
			case *waqtor.SessionQR:
				logger.Debug("Event", append(attrs, slog.String("qr", v.Code))...)
				if qrOut != nil {
					fmt.Fprintf(qrOut, "\nScan this QR code with WhatsApp (Linked devices) for session %q:\n", m.Session)
					if err := whatsapp.QRTerminal(qrOut, v.Code); err != nil {
						logger.Warn("Drawing the QR code failed", slog.Any("error", err))
					}
				}
				continue
			}
			logger.Info("Event", attrs...)
		}
	}()
	return done
}

// redactDSN hides a password in a postgres:// URL.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}
