package ws_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/transport/ws"
)

// TestHandshakeRefusals: every credential failure (unknown or malformed
// key, a token with a wrong or truncated signature, expired, replayed, or
// a key in the query string) gets the same 401 answer; a bad Origin gets 403
// and no upgrade; the hub's logs (at debug level, where it logs every
// connection and refusal with its URL) hold no token or key.
func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	tokens, err := auth.NewTokens(&auth.TokensConfig{Test: auth.TestConfig{Now: func() time.Time { return time.Unix(0, clock.Load()) }}})
	require.NoError(t, err)
	logs := &slogtest.Buffer{}
	b := setup(t, func(o *ws.HubOpts) {
		o.Tokens = tokens
		o.AllowedOrigins = []string{"app.example.com"}
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	issue := func() string {
		tok, _, err := tokens.Issue(&auth.Principal{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
		require.NoError(t, err)
		return tok
	}
	origin := []string{"Origin", "https://app.example.com"}
	var secrets []string
	good := issue()
	secrets = append(secrets, good, b.keyA)
	c, _, err := b.tryDial("", "?token="+url.QueryEscape(good), origin...)
	require.NoError(t, err)
	c.handshake(t)
	c.close()

	wrongSig := issue()
	wrongSig = wrongSig[:len(wrongSig)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(wrongSig, "AA")]
	truncated := issue()
	truncated = truncated[:len(truncated)-10]
	clock.Add(int64(-2 * auth.TokenTTLDefault))
	expired := issue()
	clock.Add(int64(2 * auth.TokenTTLDefault))
	unknownKey := auth.NewKeySecret()
	secrets = append(secrets, wrongSig, truncated, expired, unknownKey)

	type answer struct {
		status       int
		body, wwwAut string
	}
	refusals := map[string]struct {
		key, query string
	}{
		"unknown key":         {unknownKey, ""},
		"malformed key":       {"wqt_not-a-key", ""},
		"wrong token MAC":     {"", "?token=" + wrongSig},
		"truncated token MAC": {"", "?token=" + truncated},
		"expired token":       {"", "?token=" + expired},
		"replayed token":      {"", "?token=" + good},
		"key in query string": {"", "?apiKey=" + b.keyA},
	}
	var want *answer
	for name, tt := range refusals {
		_, res, err := b.tryDial(tt.key, tt.query, origin...)
		require.Error(t, err, name)
		require.NotNil(t, res, name)
		body, _ := io.ReadAll(res.Body)
		got := &answer{res.StatusCode, string(body), res.Header.Get("WWW-Authenticate")}
		if want == nil {
			want = got
		}
		require.Equal(t, http.StatusUnauthorized, got.status, name)
		require.Equal(t, *want, *got, "%s answers like the others", name)
	}

	// A bad Origin with a valid token: 403, never 101.
	evil := issue()
	secrets = append(secrets, evil)
	_, res, err := b.tryDial("", "?token="+evil, "Origin", "https://evil.example")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, res.Header.Get("Upgrade"))
	require.EqualValues(t, 1, b.hub.Stats("").Connections.Total, "only the good token connected")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.hub.Stop(ctx)) // logs the closes
	out := logs.String()
	require.Contains(t, out, "WebSocket connected")
	require.Contains(t, out, "WebSocket refused")
	require.Contains(t, out, "token=REDACTED")
	for _, s := range secrets {
		for _, part := range strings.Split(strings.TrimPrefix(s, auth.TokenPrefix), ".") {
			require.NotContains(t, out, part[:min(len(part), 16)], "a secret reached the logs")
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"/ws":                                    "/ws",
		"/ws?token=wqtt_abc.def":                 "/ws?token=REDACTED",
		"/ws?apiKey=wqt_x&after=3":               "/ws?after=3&apiKey=REDACTED",
		"/ws?TOKEN=a&token=b":                    "/ws?TOKEN=REDACTED&token=REDACTED",
		"/ws?access_token=a&sig=b&key=c&x=token": "/ws?access_token=REDACTED&key=REDACTED&sig=REDACTED&x=token",
		"/ws?token=a;b":                          "/ws?REDACTED",
	}
	for in, want := range tests {
		u, err := url.Parse(in)
		require.NoError(t, err)
		require.Equal(t, want, ws.RedactURL(u), in)
	}
	require.Empty(t, ws.RedactURL(nil))
}

// TestHandshakeThrottle (docs/reliability.md T24): failed upgrades are counted per
// address like REST's; past the limit the address gets 429 with Retry-After,
// even with a valid key, and its credentials are not checked.
func TestHandshakeThrottle(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *ws.HubOpts) { o.AuthFailureLimit = 3; o.AuthFailureWindow = time.Hour })
	for range 3 {
		_, res, err := b.tryDial(auth.NewKeySecret(), "")
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
	_, res, err := b.tryDial(b.keyA, "")
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Equal(t, "3600", res.Header.Get("Retry-After"))
}

// TestHandshakeThrottleBehindProxy: with TrustedProxies, the throttle counts
// the client X-Forwarded-For names, so one client's wrong guesses do not
// lock out another behind the same proxy; without them the header is the
// client's own text and ignored.
func TestHandshakeThrottleBehindProxy(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		b := setup(t, func(o *ws.HubOpts) {
			o.AuthFailureLimit, o.AuthFailureWindow = 3, time.Hour
			if trusted {
				o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
			}
		})
		for range 3 {
			_, res, err := b.tryDial(auth.NewKeySecret(), "", "X-Forwarded-For", "203.0.113.1")
			require.Error(t, err)
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		}
		_, res, err := b.tryDial(auth.NewKeySecret(), "", "X-Forwarded-For", "203.0.113.1")
		require.Error(t, err)
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		c, res, err := b.tryDial(b.keyA, "", "X-Forwarded-For", "203.0.113.2")
		if trusted {
			require.NoError(t, err, "another client behind the proxy connects")
			c.close()
		} else {
			require.Error(t, err)
			require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "one address: the proxy's")
		}
	}
}
