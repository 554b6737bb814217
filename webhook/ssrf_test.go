package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/webhook"
)

// fakeResolver answers from a table. It answers public addresses only while
// validating is set (around CreateEndpoint, which never connects), and
// 127.0.0.1 otherwise, so that no test can ever connect beyond loopback:
// "rebind.test" is public when the endpoint is saved and loopback when it is
// dialled (DNS rebinding).
type fakeResolver struct {
	validating atomic.Bool
}

var publicAddr = netip.MustParseAddr("93.184.216.34")

// resolverAddr is the DNS server the fake resolver's errors name, as the
// system resolver's do ("lookup x on 10.53.0.2:53: no such host").
const resolverAddr = "10.53.0.2:53"

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	loop := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	switch host {
	case "private.test":
		return []netip.Addr{netip.MustParseAddr("192.168.1.10")}, nil
	case "mixed.test":
		if !r.validating.Load() {
			return loop, nil
		}
		return []netip.Addr{publicAddr, netip.MustParseAddr("172.16.5.5")}, nil
	case "public.test", "rebind.test":
		if !r.validating.Load() {
			return loop, nil
		}
		return []netip.Addr{publicAddr}, nil
	case "loop.test":
		return loop, nil
	case "nxdomain.test":
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: resolverAddr, IsNotFound: true}
	case "dnsfail.test":
		if !r.validating.Load() {
			return nil, &net.DNSError{Err: "server misbehaving", Name: host, Server: resolverAddr, IsTemporary: true}
		}
		return []netip.Addr{publicAddr}, nil
	}
	return nil, errors.New("no such host (fake resolver)")
}

// create saves an endpoint with public answers enabled.
func (r *fakeResolver) create(t *testing.T, svc *webhook.Service, p *webhook.EndpointParams) (*webhook.Endpoint, error) {
	t.Helper()
	r.validating.Store(true)
	defer r.validating.Store(false)
	return svc.CreateEndpoint(context.Background(), p)
}

// TestSSRFAtCreation is docs/reliability.md T11 at creation time: no connection
// is made for any of these.
func TestSSRFAtCreation(t *testing.T) {
	t.Parallel()
	res := &fakeResolver{}
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		c.Resolver = res
	})
	ctx := context.Background()
	blocked := []string{
		"http://127.0.0.1/", "http://[::1]/", "http://172.16.0.1/", "http://192.168.1.10/",
		"http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/", "http://[fe80::1]/",
		"http://100.64.0.1/", "http://0.0.0.0/", "http://198.18.0.1/", "http://240.0.0.1/",
		"http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
		"http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/",
		"http://private.test/", "http://mixed.test/", "http://[::]/", "http://10.0.0.1.nip.io.invalid/",
		"file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://public.test/",
	}
	for _, u := range blocked {
		t.Run(url.PathEscape(u), func(t *testing.T) {
			t.Parallel()
			_, err := res.create(t, b.svc, &webhook.EndpointParams{URL: u, Disabled: true})
			require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
			require.Contains(t, err.Error(), "url")
		})
	}
	// The allow-listed LAN passes validation. (The endpoint is created
	// disabled: tests never send traffic beyond loopback.)
	_, err := res.create(t, b.svc, &webhook.EndpointParams{URL: "http://10.0.0.5/hook", Disabled: true})
	require.NoError(t, err)
	// Metadata stays blocked even inside an allow-listed range.
	_, err = webhook.New(ctx, b.core, &webhook.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")}})
	require.NoError(t, err)
	_, err = res.create(t, b.svc, &webhook.EndpointParams{URL: "http://public.test/hook", Disabled: true})
	require.NoError(t, err)
}

// TestSSRFAtDial is docs/reliability.md T11 at dial time: URLs that got into the
// database without validation (a direct insert) or whose DNS changed
// (rebinding) are refused when connecting, and the attempt is logged.
func TestSSRFAtDial(t *testing.T) {
	t.Parallel()
	res := &fakeResolver{}
	b := setup(t, dbtest.SQLite, func(c *webhook.Config) {
		c.AllowCIDRs = nil // loopback is blocked like everything private
		c.Resolver = res
	})
	ctx := context.Background()
	rc := newReceiver(t, nil)
	port := rc.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndexByte(port, ':'):]

	ep, err := res.create(t, b.svc, &webhook.EndpointParams{URL: "http://rebind.test" + port + "/hook", Events: []string{quietKind}})
	require.NoError(t, err)
	// Destinations written straight into the database, bypassing validation.
	// Only loopback forms: if the guard failed, the request would reach rc.
	direct := []string{rc.URL, "http://[::ffff:127.0.0.1]" + port, "http://[::1]" + port, "http://loop.test" + port,
		"http://2130706433" + port}
	db := rawDB(t, b)
	var ids []string
	for _, u := range direct {
		e, err := res.create(t, b.svc, &webhook.EndpointParams{URL: "http://public.test/", Events: []string{quietKind}, Disabled: true})
		require.NoError(t, err)
		_, err = db.Exec(`UPDATE waqtor_webhook_endpoints SET url = ?, enabled = 1, disabled_reason = '',
			updated_at = updated_at + 1 WHERE id = ?`, u, e.ID)
		require.NoError(t, err)
		ids = append(ids, e.ID)
	}
	for i, id := range append(ids, ep.ID) {
		var d *webhook.Delivery
		require.NoError(t, waitFor(ctx, func() bool { // until the sync has seen the row enabled
			d, err = b.svc.Test(ctx, "default", id)
			return err == nil
		}))
		require.NoError(t, err)
		var atts []*webhook.Attempt
		require.NoError(t, waitFor(ctx, func() bool {
			atts, _ = b.svc.Attempts(ctx, "default", d.ID)
			return len(atts) > 0
		}))
		require.Equal(t, 0, atts[0].StatusCode, "endpoint %d: %+v", i, atts[0])
		msg := atts[0].Error
		require.Contains(t, msg, "blocked by the SSRF guard", "endpoint %d", i)
	}
	require.Empty(t, rc.requests(), "no blocked destination was reached")
}

// TestRedirectToMetadataIsNotFollowed: a receiver redirects to the metadata
// address; the attempt fails and nothing follows the Location.
func TestRedirectToMetadataIsNotFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.SQLite)
	ctx := context.Background()
	var target atomic.Int32
	meta := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { target.Add(1) })
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n%2 == 1 {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam", http.StatusFound)
		} else {
			http.Redirect(w, r, meta.URL, http.StatusTemporaryRedirect) // loop back to an allowed host
		}
	})
	ep := createEndpoint(t, b.svc, &webhook.EndpointParams{URL: rc.URL, Events: []string{quietKind},
		Retry: webhook.ExponentialRetry(2, time.Millisecond, 1, 0)})
	d, err := b.svc.Test(ctx, "default", ep.ID)
	require.NoError(t, err)
	got := waitDelivery(t, b.svc, "default", d.ID, webhook.StateFailed)
	require.Equal(t, 2, got.Attempts)
	atts, err := b.svc.Attempts(ctx, "default", d.ID)
	require.NoError(t, err)
	require.Contains(t, atts[0].Error, "169.254.169.254")
	require.Contains(t, atts[0].Error, "not followed")
	require.Zero(t, target.Load())
}
