package main

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/auththrottle"
	"github.com/waqtor/waqtor/internal/clientip"
	"github.com/waqtor/waqtor/transport/rest"
)

// keyGuard checks API keys on the routes outside the REST handler (/metrics,
// /ws-monitor) the way REST does: wrong guesses are throttled per address and
// per key ID (429 once over the limit), and refusals are problem+json.
type keyGuard struct {
	keys     *auth.KeyStore
	logger   *slog.Logger
	clientIP *clientip.Resolver // nil: the TCP peer is the client
	throttle *auththrottle.Throttle
}

func newKeyGuard(keys *auth.KeyStore, logger *slog.Logger, trustedProxies []netip.Prefix) (*keyGuard, error) {
	g := &keyGuard{keys: keys, logger: logger,
		throttle: auththrottle.New(rest.AuthFailureLimitDefault, rest.KeyFailureLimitDefault, rest.RateLimitWindowDefault)}
	if len(trustedProxies) > 0 {
		var err error
		if g.clientIP, err = clientip.New(&clientip.Config{TrustedProxies: trustedProxies}); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// require lets through requests whose API key holds scope.
func (g *keyGuard) require(scope auth.Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt, refused := g.throttle.Begin(r.Context(), g.clientIP.String(r), auth.KeyFromRequest(r))
		defer attempt.Succeeded() // a no-op after Failed
		if refused != auththrottle.None {
			w.Header().Set("Retry-After", strconv.Itoa(int(g.throttle.Window().Seconds())))
			rest.WriteProblem(w, r, rest.NewProblem(http.StatusTooManyRequests, rest.TypeRateLimited, string(refused)))
			return
		}
		p, err := g.keys.AuthenticateRequest(r)
		if err != nil {
			attempt.Failed()
			g.logger.DebugContext(r.Context(), "Unauthenticated request", slog.String("path", r.URL.Path),
				slog.String("remote", g.clientIP.String(r)), slog.Any("error", err))
			w.Header().Set("WWW-Authenticate", `Bearer realm="waqtor"`)
			rest.WriteProblem(w, r, rest.NewProblem(http.StatusUnauthorized, rest.TypeUnauthorized,
				"missing or invalid API key (send X-API-Key or Authorization: Bearer)"))
			return
		}
		if !p.Allows(scope) {
			rest.WriteProblem(w, r, rest.NewProblem(http.StatusForbidden, rest.TypeForbidden, "this key lacks the "+string(scope)+" scope"))
			return
		}
		attempt.Succeeded() // before serving: the slot is for judging the key only
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}
