package webhook_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/webhook"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m,
		// database/sql's connection opener outlives a closed *sql.DB briefly.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		// httptest servers' idle keep-alive connections close asynchronously.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// loopback lets deliveries reach httptest servers.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

type testBundle struct {
	core    *waqtor.Core
	dsn     string
	network *sandbox.Network
	svc     *webhook.Service
	botJID  string
}

// setup builds a started Core on the sandbox with a ready session "main" of
// tenant "default", and a started webhook Service that may reach loopback.
func setup(t testing.TB, kind dbtest.Kind, mutate ...func(*webhook.Config)) *testBundle {
	t.Helper()
	b := &testBundle{dsn: dbtest.DSN(t, kind)}
	b.network = sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true})
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: b.dsn, Engine: b.network.Factory(), Logger: slogtest.New(t)})
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	b.core = core
	cfg := &webhook.Config{AllowCIDRs: loopback, Logger: slogtest.New(t), PollInterval: 50 * time.Millisecond}
	for _, m := range mutate {
		m(cfg)
	}
	b.svc, err = webhook.New(ctx, core, cfg)
	require.NoError(t, err)
	require.NoError(t, b.svc.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, b.svc.Stop(ctx))
		require.NoError(t, core.Stop(ctx))
	})
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"})
	require.NoError(t, err)
	require.NoError(t, waitFor(ctx, func() bool {
		s, err := core.Session(ctx, "main")
		if err == nil && s.State == waqtor.StateReady {
			b.botJID = s.Info.JID
			return true
		}
		return false
	}))
	return b
}

func waitFor(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// received is one request a receiver got.
type received struct {
	At     time.Time
	Body   []byte
	Header http.Header
}

func (r received) envelope(t testing.TB) waqtor.Envelope {
	var env waqtor.Envelope
	require.NoError(t, json.Unmarshal(r.Body, &env))
	return env
}

// receiver is an httptest server that records every request and answers
// with handle (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []received
	handle func(w http.ResponseWriter, r *http.Request, n int) // n counts requests from 1
	notify chan struct{}
}

func newReceiver(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := newUnstartedReceiver(t, handle)
	rc.Start()
	return rc
}

// newUnstartedReceiver is newReceiver without Start: set Listener first.
func newUnstartedReceiver(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{handle: handle, notify: make(chan struct{}, 1)}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{At: time.Now(), Body: body, Header: r.Header.Clone()})
		n := len(rc.reqs)
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		if rc.handle != nil {
			rc.handle(w, r, n)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// waitN waits until the receiver got at least n requests.
func (rc *receiver) waitN(t testing.TB, n int, timeout time.Duration) []received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if r := rc.requests(); len(r) >= n {
			return r
		}
		select {
		case <-rc.notify:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d", len(rc.requests()), n)
		}
	}
}

func createEndpoint(t testing.TB, svc *webhook.Service, p *webhook.EndpointParams) *webhook.Endpoint {
	t.Helper()
	ep, err := svc.CreateEndpoint(context.Background(), p)
	require.NoError(t, err)
	return ep
}

// waitDelivery waits until a delivery reaches state.
func waitDelivery(t testing.TB, svc *webhook.Service, tenant, id string, state webhook.DeliveryState) *webhook.Delivery {
	t.Helper()
	var d *webhook.Delivery
	require.NoError(t, waitFor(context.Background(), func() bool {
		var err error
		d, err = svc.Delivery(context.Background(), tenant, id)
		return err == nil && d.State == state
	}), "delivery %s never reached %s (last %+v)", id, state, d)
	return d
}

func kinds(t *testing.T, f func(t *testing.T, kind dbtest.Kind)) {
	t.Helper()
	for _, k := range dbtest.AllKinds() {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

// rawDB opens a second connection to an SQLite test database, as a user with
// direct database access would.
func rawDB(t testing.TB, b *testBundle) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+b.dsn+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
