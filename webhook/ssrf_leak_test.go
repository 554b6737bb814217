package webhook_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// logCapture is a slog handler that keeps every record, rendered as text.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	attrs []slog.Attr
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range c.attrs {
		sb.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool { sb.WriteString(" " + a.String()); return true })
	c.mu.Lock()
	c.lines = append(c.lines, sb.String())
	c.mu.Unlock()
	return nil
}

func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCapture{attrs: append(append([]slog.Attr{}, c.attrs...), as...)}
}

func (c *logCapture) WithGroup(string) slog.Handler { return c }

// find returns the first captured line that contains every one of subs.
func (c *logCapture) find(subs ...string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return l
		}
	}
	return ""
}

// TestSSRFRefusalsDoNotLeakAddresses: what a name resolved to and the
// resolver's address never reach the API caller, neither in the 422 of an
// endpoint creation or update nor in the attempt log of a refused delivery;
// the caller is told the class of address, and the detail is logged at warn
// with the endpoint ID.
func TestSSRFRefusalsDoNotLeakAddresses(t *testing.T) {
	t.Parallel()
	res := &fakeResolver{}
	logs := &logCapture{}
	b := setupREST(t, dbtest.SQLite, func(c *webhook.Config) {
		c.AllowCIDRs = nil // loopback is blocked like everything private
		c.Resolver = res
		c.Logger = slog.New(logs)
	})
	ctx := context.Background()
	leaks := []string{"192.168.1.10", "172.16.5.5", "127.0.0.1", resolverAddr, "10.53.0.2"}
	requireNoLeak := func(t *testing.T, s string) {
		t.Helper()
		for _, l := range leaks {
			require.NotContains(t, s, l)
		}
	}

	// Creation, through the service and through REST.
	for host, want := range map[string]string{
		"private.test":  "the URL's host is not allowed: it is or resolves to a private network (RFC 1918) address",
		"mixed.test":    "the URL's host is not allowed: it is or resolves to a private network (RFC 1918) address",
		"nxdomain.test": "the URL's host cannot be resolved: no such host",
	} {
		_, err := res.create(t, b.svc, &webhook.EndpointParams{URL: "http://" + host + "/hook"})
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
		require.Contains(t, err.Error(), want)
		requireNoLeak(t, err.Error())

		res.validating.Store(true)
		code, body := b.callRaw(t, b.keyA, "POST", "/webhooks", map[string]any{"url": "http://" + host + "/hook"})
		res.validating.Store(false)
		require.Equal(t, http.StatusUnprocessableEntity, code, "%s", body)
		require.Contains(t, string(body), `"field":"url"`)
		require.Contains(t, string(body), want)
		requireNoLeak(t, string(body))
	}
	require.NotEmpty(t, logs.find("WARN", "Webhook endpoint URL refused", "private.test", "192.168.1.10"))
	require.NotEmpty(t, logs.find("WARN", "Webhook endpoint URL refused", "nxdomain.test", resolverAddr))

	// An update names the endpoint in the log.
	ep, err := res.create(t, b.svc, &webhook.EndpointParams{URL: "http://rebind.test/hook", Events: []string{quietKind}})
	require.NoError(t, err)
	_, err = b.svc.UpdateEndpoint(ctx, "default", ep.ID, &webhook.EndpointUpdate{URL: ptr("http://private.test/")})
	require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
	requireNoLeak(t, err.Error())
	require.NotEmpty(t, logs.find("WARN", "Webhook endpoint URL refused", ep.ID, "192.168.1.10"))

	// Delivery: rebind.test resolves to loopback at dial time, dnsfail.test
	// does not resolve; neither the attempt nor the delivery says more than
	// the class.
	bad, err := res.create(t, b.svc, &webhook.EndpointParams{URL: "http://dnsfail.test/hook", Events: []string{quietKind}})
	require.NoError(t, err)
	for id, want := range map[string]string{
		ep.ID:  "blocked by the SSRF guard: the URL's host is not allowed: it is or resolves to a loopback (RFC 1122) address",
		bad.ID: "the URL's host cannot be resolved",
	} {
		d, err := b.svc.Test(ctx, "default", id)
		require.NoError(t, err)
		var atts []*webhook.Attempt
		require.NoError(t, waitFor(ctx, func() bool {
			atts, _ = b.svc.Attempts(ctx, "default", d.ID)
			return len(atts) > 0
		}))
		require.Equal(t, want, atts[0].Error)
		for _, path := range []string{"/webhooks/deliveries/" + d.ID + "/attempts", "/webhooks/deliveries/" + d.ID,
			"/webhooks/" + id, "/webhooks/" + id + "/stats"} {
			code, body := b.callRaw(t, b.keyA, "GET", path, nil)
			require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
			requireNoLeak(t, string(body))
		}
	}
	require.NotEmpty(t, logs.find("WARN", "Webhook delivery refused", ep.ID, "127.0.0.1"))
	require.NotEmpty(t, logs.find("WARN", "Webhook delivery refused", bad.ID, resolverAddr))
}
