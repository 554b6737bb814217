package whatsapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	istore "github.com/waqtor/waqtor/internal/store"
)

func TestMain(m *testing.M) {
	warmLibsignal() // tests create devices concurrently, without NewEngine
	code := m.Run()
	if template.dir != "" {
		_ = os.RemoveAll(template.dir)
	}
	// Every Close must leave no goroutine behind: whatsmeow sockets, reconnect
	// timers, QR emitters and outboxes included.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// template is an SQLite database with every migration applied (waqtor's,
// whatsmeow's and the engine's), copied for each test that does not test the
// migrations themselves: migrating costs far more than copying, above all
// under the race detector.
var template struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func templateDSN(t testing.TB) string {
	t.Helper()
	template.once.Do(func() {
		template.dir, template.err = os.MkdirTemp("", "whatsapp-test-")
		if template.err != nil {
			return
		}
		template.path = filepath.Join(template.dir, "template.db")
		ctx := context.Background()
		st, err := istore.Open(ctx, template.path, &istore.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			template.err = err
			return
		}
		defer func() { _ = st.Close() }()
		e, err := newEngine(ctx, &waqtor.EngineEnv{DSN: st.DSN, Dialect: "sqlite", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, (&fakeFactory{}).newClient)
		if err != nil {
			template.err = err
			return
		}
		template.err = e.Close(ctx)
	})
	require.NoError(t, template.err)
	data, err := os.ReadFile(template.path)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "waqtor.db")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	dsn, err := istore.SQLiteDSN(path)
	require.NoError(t, err)
	return dsn
}

// testNow is the engines' clock in tests: expiries and timestamps are exact.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// Identities used throughout the tests.
var (
	ownJID      = types.NewADJID("201000000001", 0, 7)
	ownLID      = types.NewJID("900000000001", types.HiddenUserServer)
	contactPN   = types.NewJID("201000000002", types.DefaultUserServer)
	contactLID  = types.NewJID("900000000002", types.HiddenUserServer)
	memberPN    = types.NewJID("201000000003", types.DefaultUserServer)
	memberLID   = types.NewJID("900000000003", types.HiddenUserServer)
	strangerLID = types.NewJID("900000000009", types.HiddenUserServer)
	groupJID    = types.NewJID("120363000000000001", types.GroupServer)
)

type testBundle struct {
	ctx  context.Context
	conn *conn
	e    *Engine
	ff   *fakeFactory
	rec  *recorder
}

type setupOpts struct {
	cfg     *Config
	db      dbtest.Kind
	paired  bool // store a paired device for the session
	session *waqtor.EngineSession
	fake    func(f *fakeClient)
}

// testLogger sends logs to t.Log until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p[:len(p)-1]))
	}
	return len(p), nil
}

// testDSN returns a migrated waqtor database (internal/store) of kind k, so
// the engine's tables share it with waqtor's, as under a Core.
func testDSN(t testing.TB, k dbtest.Kind) (dsn, dialect string) {
	t.Helper()
	raw := dbtest.DSN(t, k)
	st, err := istore.Open(context.Background(), raw, &istore.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st.DSN, string(st.Dialect)
}

// newTestEngine returns an engine with fake clients on a migrated database of
// kind k (copied from the template on SQLite).
func newTestEngine(t testing.TB, k dbtest.Kind, cfg *Config, ff *fakeFactory) *Engine {
	t.Helper()
	if k == dbtest.SQLite {
		return newTestEngineOn(t, templateDSN(t), "sqlite", cfg, ff.newClient)
	}
	dsn, dialect := testDSN(t, k)
	return newTestEngineOn(t, dsn, dialect, cfg, ff.newClient)
}

func newTestEngineOn(t testing.TB, dsn, dialect string, cfg *Config, nc func(*store.Device, waLog.Logger) client) *Engine {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	c := *cfg
	c.Logger = testLogger(t)
	env := &waqtor.EngineEnv{DSN: dsn, Dialect: dialect, Now: func() time.Time { return testNow }}
	e, err := newEngine(context.Background(), env, &c, nc)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.Close(ctx))
	})
	return e
}

// fastConfig makes every timer of the engine fire in milliseconds.
func fastConfig() *Config {
	return &Config{
		ConnectTimeout: 200 * time.Millisecond,
		ConnectWait:    100 * time.Millisecond,
		QRFirstTimeout: 30 * time.Millisecond,
		QRTimeout:      10 * time.Millisecond,
		ReconnectMax:   8 * time.Millisecond,
		ReconnectMin:   2 * time.Millisecond,
	}
}

func setup(t *testing.T, o *setupOpts) *testBundle {
	t.Helper()
	if o == nil {
		o = &setupOpts{}
	}
	cfg := o.cfg
	if cfg == nil {
		cfg = fastConfig()
	}
	if o.db == "" {
		o.db = dbtest.SQLite
	}
	ff := &fakeFactory{setup: o.fake}
	e := newTestEngine(t, o.db, cfg, ff)
	sess := o.session
	if sess == nil {
		sess = &waqtor.EngineSession{ID: "s1", Tenant: "default"}
	}
	if o.paired {
		putDevice(t, e, sess.ID, ownJID, ownLID)
	}
	rec := newRecorder()
	c, err := e.Open(context.Background(), sess, rec)
	require.NoError(t, err)
	return &testBundle{ctx: context.Background(), conn: c.(*conn), e: e, ff: ff, rec: rec}
}

// putDevice stores a paired whatsmeow device, as pairing leaves it, and maps the
// session to it.
func putDevice(t testing.TB, e *Engine, session string, jid, lid types.JID) *store.Device {
	t.Helper()
	ctx := context.Background()
	dev := e.container.NewDevice()
	dev.ID, dev.LID, dev.PushName, dev.Platform = &jid, lid, "Own Name", "android"
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	require.NoError(t, e.container.PutDevice(ctx, dev))
	if session != "" {
		require.NoError(t, e.tables.putSession(ctx, session, jid.String()))
	}
	return dev
}

// ready connects a paired bundle's session and waits for StateReady.
func (b *testBundle) ready(t *testing.T) *fakeClient {
	t.Helper()
	require.NoError(t, b.conn.Connect(b.ctx))
	f := b.ff.last()
	b.rec.waitFor(t, "socket up", func() bool {
		b.conn.mu.Lock()
		defer b.conn.mu.Unlock()
		return b.conn.awaitingLogin
	})
	f.dispatch(&events.Connected{})
	b.rec.waitState(t, waqtor.StateReady)
	return f
}
