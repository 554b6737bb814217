package whatsapp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// offlineClients makes real whatsmeow clients whose dialer fails like a machine
// without network (a *net.DNSError), without sending anything anywhere.
func offlineClients(dials *atomic.Int32, dial func(ctx context.Context) (net.Conn, error)) func(*store.Device, waLog.Logger) client {
	return func(dev *store.Device, log waLog.Logger) client {
		c := newWAClient(dev, log).(waClient)
		h := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx)
		}}}
		c.SetPreLoginHTTPClient(h)
		c.SetWebsocketHTTPClient(h)
		return c
	}
}

func dnsFailure(context.Context) (net.Conn, error) {
	return nil, &net.DNSError{Err: "no such host", Name: "web.whatsapp.com", IsNotFound: true}
}

func TestConnectOfflineRealClient(t *testing.T) {
	t.Parallel()

	t.Run("UnpairedFailsOnceWithTypedError", func(t *testing.T) {
		t.Parallel()
		var dials atomic.Int32
		dsn, dialect := testDSN(t, dbtest.SQLite)
		e := newTestEngineOn(t, dsn, dialect, fastConfig(), offlineClients(&dials, dnsFailure))
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "off"}, rec)
		require.NoError(t, err)

		start := time.Now()
		err = c.Connect(context.Background())
		require.Less(t, time.Since(start), 2*time.Second, "Connect returns promptly")
		var ce *ConnectError
		require.ErrorAs(t, err, &ce)
		var dnsErr *net.DNSError
		require.ErrorAs(t, err, &dnsErr, "the cause stays reachable")

		st := rec.waitState(t, waqtor.StateDisconnected)
		require.ErrorAs(t, st.Err, &ce)
		require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateDisconnected}, rec.states())
		cc := c.(*conn)
		cc.mu.Lock()
		require.Nil(t, cc.retry, "an unpaired session is never retried: no QR loop")
		cc.mu.Unlock()
		require.EqualValues(t, 1, dials.Load())
	})

	t.Run("PairedRetriesWithoutFlapping", func(t *testing.T) {
		t.Parallel()
		var dials atomic.Int32
		dsn, dialect := testDSN(t, dbtest.SQLite)
		e := newTestEngineOn(t, dsn, dialect, fastConfig(), offlineClients(&dials, dnsFailure))
		putDevice(t, e, "off", ownJID, ownLID)
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "off"}, rec)
		require.NoError(t, err)
		var ce *ConnectError
		require.ErrorAs(t, c.Connect(context.Background()), &ce)
		rec.waitFor(t, "five attempts", func() bool { return dials.Load() >= 5 })
		require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateDisconnected}, rec.states(),
			"retries report nothing until the state changes")
		require.NoError(t, c.Disconnect(context.Background()))
		n := dials.Load()
		cc := c.(*conn)
		cc.mu.Lock()
		require.Nil(t, cc.retry, "Disconnect stops the retries")
		cc.mu.Unlock()
		require.LessOrEqual(t, dials.Load(), n+1)
	})

	t.Run("HangingHandshakeDoesNotBlock", func(t *testing.T) {
		t.Parallel()
		var dials atomic.Int32
		// The socket opens but nothing ever answers: whatsmeow would wait 20 s.
		// net/http finishes dials in the background after the request is
		// cancelled (a real TLS handshake would time out); the test closes them.
		var pipes []net.Conn
		var pipesMu sync.Mutex
		t.Cleanup(func() {
			pipesMu.Lock()
			defer pipesMu.Unlock()
			for _, p := range pipes {
				_ = p.Close()
			}
		})
		hang := func(context.Context) (net.Conn, error) {
			client, server := net.Pipe()
			pipesMu.Lock()
			pipes = append(pipes, server)
			pipesMu.Unlock()
			return client, nil
		}
		dsn, dialect := testDSN(t, dbtest.SQLite)
		e := newTestEngineOn(t, dsn, dialect, fastConfig(), offlineClients(&dials, hang))
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "hang"}, rec)
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, c.Connect(context.Background()))
		require.Less(t, time.Since(start), 2*time.Second)
		require.Equal(t, waqtor.StateConnecting, rec.waitState(t, waqtor.StateConnecting).State)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start = time.Now()
		require.NoError(t, c.Close(ctx))
		require.Less(t, time.Since(start), 4*time.Second, "Close cancels the hanging attempt")
	})
}

func TestConnectSlowHandshakeBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, &setupOpts{paired: true, fake: func(f *fakeClient) {
		f.connectFn = func(context.Context) error { <-release; return nil } // ignores its context, like whatsmeow's handshake
	}})
	start := time.Now()
	require.NoError(t, b.conn.Connect(b.ctx))
	require.Less(t, time.Since(start), time.Second)
	// Disconnect must not wait for the handshake either.
	ctx, cancel := context.WithTimeout(b.ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	require.NoError(t, b.conn.Disconnect(ctx))
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateDisconnected}, func() []waqtor.SessionState {
		b.rec.waitState(t, waqtor.StateDisconnected)
		return b.rec.states()
	}())
	close(release) // the handshake completes after all: the socket is closed, not reported ready
	f := b.ff.last()
	b.rec.waitFor(t, "late socket closed", func() bool { _, d := f.counts(); return d >= 2 })
	require.Equal(t, waqtor.StateDisconnected, b.rec.lastStatus().State)
}

// TestRestartDuringHandshake: Disconnect then Connect while whatsmeow still
// holds the first handshake must end connected, not stranded.
func TestRestartDuringHandshake(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int32
	b := setup(t, &setupOpts{paired: true, fake: func(f *fakeClient) {
		f.connectFn = func(context.Context) error {
			if calls.Add(1) == 1 {
				<-release
			}
			return nil
		}
	}})
	require.NoError(t, b.conn.Connect(b.ctx))
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Millisecond)
	defer cancel()
	require.NoError(t, b.conn.Disconnect(ctx))
	require.NoError(t, b.conn.Connect(b.ctx))
	close(release)
	f := b.ff.last()
	b.rec.waitFor(t, "second attempt up", func() bool {
		b.conn.mu.Lock()
		defer b.conn.mu.Unlock()
		return b.conn.awaitingLogin
	})
	require.EqualValues(t, 2, calls.Load())
	f.dispatch(&events.Connected{})
	b.rec.waitState(t, waqtor.StateReady)
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateDisconnected, waqtor.StateConnecting, waqtor.StateReady}, b.rec.states())
}

func TestReconnectAfterOutage(t *testing.T) {
	t.Parallel()
	var online atomic.Bool
	b := setup(t, &setupOpts{paired: true, fake: func(f *fakeClient) {
		f.connectFn = func(context.Context) error {
			if !online.Load() {
				return errOffline
			}
			return nil
		}
	}})
	f := b.ff.last()
	require.Error(t, b.conn.Connect(b.ctx))
	b.rec.waitFor(t, "retries", func() bool { n, _ := f.counts(); return n >= 4 })
	online.Store(true)
	b.rec.waitFor(t, "socket up", func() bool {
		b.conn.mu.Lock()
		defer b.conn.mu.Unlock()
		return b.conn.awaitingLogin
	})
	f.dispatch(&events.Connected{})
	st := b.rec.waitState(t, waqtor.StateReady)
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateDisconnected, waqtor.StateReady}, b.rec.states())
	require.Equal(t, waqtor.ConnStatus{State: waqtor.StateReady, JID: "201000000001@s.whatsapp.net", LID: "900000000001@lid",
		PushName: "Own Name", Platform: "android", Reason: "connected"}, st)

	// A drop is reported once and retried until it is back.
	online.Store(false)
	f.dispatch(&events.Disconnected{})
	st = b.rec.waitState(t, waqtor.StateDisconnected)
	require.ErrorIs(t, st.Err, ErrConnectionLost)
	n, _ := f.counts()
	b.rec.waitFor(t, "retries after the drop", func() bool { m, _ := f.counts(); return m >= n+3 })
	online.Store(true)
	b.rec.waitFor(t, "socket up", func() bool {
		b.conn.mu.Lock()
		defer b.conn.mu.Unlock()
		return b.conn.awaitingLogin
	})
	f.dispatch(&events.Connected{})
	b.rec.waitState(t, waqtor.StateReady)
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateDisconnected, waqtor.StateReady,
		waqtor.StateDisconnected, waqtor.StateReady}, b.rec.states())
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{cfg: &Config{ReconnectMin: time.Second, ReconnectMax: time.Minute}})
	for failures, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 3: 8 * time.Second, 6: time.Minute, 60: time.Minute} {
		for range 50 {
			d := b.conn.backoff(failures)
			require.GreaterOrEqual(t, d, want/2, "failures=%d", failures)
			require.LessOrEqual(t, d, want, "failures=%d", failures)
		}
	}
}

func TestLoginWatchdog(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{paired: true})
	f := b.ff.last()
	require.NoError(t, b.conn.Connect(b.ctx))
	// The socket is up but WhatsApp never logs the session in.
	st := b.rec.waitState(t, waqtor.StateDisconnected)
	require.ErrorIs(t, st.Err, ErrLoginTimeout)
	b.rec.waitFor(t, "a new attempt", func() bool { n, d := f.counts(); return n >= 2 && d >= 1 })
	b.rec.waitFor(t, "socket up", func() bool {
		b.conn.mu.Lock()
		defer b.conn.mu.Unlock()
		return b.conn.awaitingLogin
	})
	f.dispatch(&events.Connected{})
	b.rec.waitState(t, waqtor.StateReady)
}

func TestQRPairing(t *testing.T) {
	t.Parallel()

	connectUnpaired := func(t *testing.T, cfg *Config) *testBundle {
		t.Helper()
		b := setup(t, &setupOpts{cfg: cfg})
		require.NoError(t, b.conn.Connect(b.ctx))
		b.rec.waitFor(t, "socket up", func() bool {
			b.conn.mu.Lock()
			defer b.conn.mu.Unlock()
			return b.conn.awaitingLogin
		})
		return b
	}

	t.Run("CodesThenTimeoutWithoutLoop", func(t *testing.T) {
		t.Parallel()
		b := connectUnpaired(t, nil)
		f := b.ff.last()
		require.False(t, f.dispatch(&events.QR{Codes: []string{"ref1,a,b,c", "ref2,a,b,c", "ref3,a,b,c"}}))
		st := b.rec.waitFor
		st(t, "QR timeout", func() bool { return b.rec.lastStatus().Err != nil })
		last := b.rec.lastStatus()
		require.Equal(t, waqtor.StateDisconnected, last.State)
		require.ErrorIs(t, last.Err, ErrQRTimeout)
		require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateQR, waqtor.StateDisconnected}, b.rec.states())
		require.Equal(t, []qrCall{
			{"ref1,a,b,c", testNow.Add(30 * time.Millisecond)},
			{"ref2,a,b,c", testNow.Add(10 * time.Millisecond)},
			{"ref3,a,b,c", testNow.Add(10 * time.Millisecond)},
		}, b.rec.qrs)
		b.rec.waitFor(t, "socket closed", func() bool { _, d := f.counts(); return d >= 1 })
		// WhatsApp then closes the socket: nothing new is reported and nothing retried.
		require.False(t, f.dispatch(&events.Disconnected{}))
		n, _ := f.counts()
		require.Equal(t, 1, n, "one attempt only: QR codes never restart by themselves")
		require.Len(t, b.rec.statuses, 3)
	})

	t.Run("QRCodesCap", func(t *testing.T) {
		t.Parallel()
		cfg := fastConfig()
		cfg.QRCodes = 1
		b := connectUnpaired(t, cfg)
		b.ff.last().dispatch(&events.QR{Codes: []string{"r1", "r2", "r3"}})
		b.rec.waitFor(t, "QR timeout", func() bool { return errors.Is(b.rec.lastStatus().Err, ErrQRTimeout) })
		require.Len(t, b.rec.qrs, 1)
	})

	t.Run("ServerClosesPairingSocket", func(t *testing.T) {
		t.Parallel()
		cfg := fastConfig()
		cfg.QRFirstTimeout = time.Hour
		b := connectUnpaired(t, cfg)
		f := b.ff.last()
		f.dispatch(&events.QR{Codes: []string{"r1"}})
		b.rec.waitState(t, waqtor.StateQR)
		f.dispatch(&events.Disconnected{})
		st := b.rec.waitState(t, waqtor.StateDisconnected)
		require.ErrorIs(t, st.Err, ErrQRTimeout)
		b.conn.mu.Lock()
		require.Nil(t, b.conn.retry)
		require.Nil(t, b.conn.qrStop)
		b.conn.mu.Unlock()
	})

	t.Run("ScanMovesToReady", func(t *testing.T) {
		t.Parallel()
		cfg := fastConfig()
		cfg.QRFirstTimeout = time.Hour
		b := connectUnpaired(t, cfg)
		f := b.ff.last()
		f.dispatch(&events.QR{Codes: []string{"r1", "r2"}})
		b.rec.waitFor(t, "first code", func() bool {
			b.rec.mu.Lock()
			defer b.rec.mu.Unlock()
			return len(b.rec.qrs) == 1
		})
		f.dispatch(&events.PairSuccess{ID: ownJID, LID: ownLID, Platform: "android"})
		st := b.rec.waitState(t, waqtor.StateConnecting)
		require.Equal(t, waqtor.ConnStatus{State: waqtor.StateConnecting, JID: "201000000001@s.whatsapp.net", LID: "900000000001@lid",
			Platform: "android", Reason: "paired; logging in"}, st)
		// whatsmeow reconnects after pairing, then logs in.
		f.mu.Lock()
		f.id = identity{JID: ownJID, LID: ownLID, PushName: "Own Name", Platform: "android"}
		f.mu.Unlock()
		f.dispatch(&events.Connected{})
		st = b.rec.waitState(t, waqtor.StateReady)
		require.Equal(t, "201000000001@s.whatsapp.net", st.JID)
		require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateQR, waqtor.StateConnecting, waqtor.StateReady}, b.rec.states())
		require.Len(t, b.rec.qrs, 1, "the scan stops the codes")
		b.rec.waitFor(t, "device recorded", func() bool {
			dev, err := b.e.tables.sessionDevice(b.ctx, "s1")
			return err == nil && dev == ownJID.String()
		})
	})

	t.Run("PairError", func(t *testing.T) {
		t.Parallel()
		b := connectUnpaired(t, nil)
		f := b.ff.last()
		f.dispatch(&events.QR{Codes: []string{"r1"}})
		f.dispatch(&events.PairError{ID: ownJID, Error: errors.New("invalid device signature")})
		st := b.rec.waitState(t, waqtor.StateAuthFailure)
		require.ErrorIs(t, st.Err, ErrPairing)
		require.Equal(t, "pairing failed: invalid device signature", st.Reason)
	})
}

func TestPairPhone(t *testing.T) {
	t.Parallel()

	t.Run("WaitsForPairingConnection", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{fake: func(f *fakeClient) { f.pairCode = "ABCD-EFGH" }})
		require.NoError(t, b.conn.Connect(b.ctx))
		type result struct {
			code string
			err  error
		}
		res := make(chan result, 1)
		go func() {
			code, err := b.conn.PairPhone(b.ctx, "+20 100 000 0001")
			res <- result{code, err}
		}()
		b.rec.waitFor(t, "socket up", func() bool {
			b.conn.mu.Lock()
			defer b.conn.mu.Unlock()
			return b.conn.awaitingLogin
		})
		f := b.ff.last()
		f.dispatch(&events.QR{Codes: []string{"r1"}})
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, "ABCD-EFGH", r.code)
		require.Equal(t, []pairCall{{Phone: "201000000001", Push: true, Type: 1, Display: "Chrome (Linux)"}}, f.pairs)
	})
	t.Run("NeedsConnect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.conn.PairPhone(b.ctx, "+201000000001")
		require.ErrorIs(t, err, waqtor.ErrNotReady)
	})
	t.Run("AlreadyPaired", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		_, err := b.conn.PairPhone(b.ctx, "+201000000001")
		require.ErrorIs(t, err, waqtor.ErrAlreadyPaired)
	})
	t.Run("BadPhone", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.conn.PairPhone(b.ctx, "0100 123")
		require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
	})
}

func TestConnectionEvents(t *testing.T) {
	t.Parallel()

	t.Run("StreamReplaced", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		f.dispatch(&events.StreamReplaced{})
		st := b.rec.waitState(t, waqtor.StateDisconnected)
		require.ErrorIs(t, st.Err, ErrStreamReplaced)
		b.conn.mu.Lock()
		require.Nil(t, b.conn.retry, "never fight the other client")
		b.conn.mu.Unlock()
		_, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
		require.ErrorIs(t, err, waqtor.ErrNotReady)
	})

	t.Run("TemporaryBan", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		f.dispatch(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour})
		st := b.rec.waitState(t, waqtor.StateBanned)
		require.Equal(t, testNow.Add(time.Hour), st.BanExpires)
		var ban *waqtor.BannedError
		require.ErrorAs(t, st.Err, &ban)
		require.Equal(t, testNow.Add(time.Hour), ban.Expires)
		_, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
		require.ErrorAs(t, err, &ban)
		require.ErrorIs(t, err, waqtor.ErrNotReady)
		require.Empty(t, f.sent)
		b.conn.mu.Lock()
		require.NotNil(t, b.conn.retry, "reconnects when the ban lifts")
		b.conn.mu.Unlock()
	})

	t.Run("LoggedOutFromPhone", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		f.dispatch(&events.LoggedOut{OnConnect: false, Reason: events.ConnectFailureLoggedOut})
		st := b.rec.waitState(t, waqtor.StateLoggedOut)
		require.ErrorIs(t, st.Err, ErrLoggedOut)
		require.Equal(t, "logged out from the phone", st.Reason)
		require.Equal(t, 2, b.ff.count(), "a fresh device replaces the unlinked one")
		b.rec.waitFor(t, "mapping forgotten", func() bool {
			dev, err := b.e.tables.sessionDevice(b.ctx, "s1")
			return err == nil && dev == ""
		})
		b.conn.mu.Lock()
		require.False(t, b.conn.paired)
		b.conn.mu.Unlock()
		// The next Connect pairs again with the new device.
		require.NoError(t, b.conn.Connect(b.ctx))
		b.rec.waitState(t, waqtor.StateConnecting)
		n, _ := b.ff.last().counts()
		require.Equal(t, 1, n)
	})

	t.Run("LoggedOutOnConnect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		require.NoError(t, b.conn.Connect(b.ctx))
		b.ff.last().dispatch(&events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureMainDeviceGone})
		st := b.rec.waitState(t, waqtor.StateLoggedOut)
		require.Equal(t, "WhatsApp refused the login: 403: primary device was logged out", st.Reason)
	})

	t.Run("ClientOutdated", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		require.NoError(t, b.conn.Connect(b.ctx))
		b.ff.last().dispatch(&events.ClientOutdated{})
		st := b.rec.waitState(t, waqtor.StateDisconnected)
		require.ErrorIs(t, st.Err, ErrClientOutdated)
		b.conn.mu.Lock()
		require.Nil(t, b.conn.retry)
		b.conn.mu.Unlock()
	})

	t.Run("ConnectFailureUnavailableRetries", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		require.NoError(t, b.conn.Connect(b.ctx))
		f := b.ff.last()
		f.dispatch(&events.ConnectFailure{Reason: events.ConnectFailureServiceUnavailable})
		b.rec.waitState(t, waqtor.StateDisconnected)
		b.rec.waitFor(t, "retry", func() bool { n, _ := f.counts(); return n >= 2 })
	})

	t.Run("ConnectFailureRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		require.NoError(t, b.conn.Connect(b.ctx))
		b.ff.last().dispatch(&events.ConnectFailure{Reason: events.ConnectFailureBadUserAgent, Message: "bad ua"})
		st := b.rec.waitState(t, waqtor.StateAuthFailure)
		var ce *ConnectError
		require.ErrorAs(t, st.Err, &ce)
	})

	t.Run("KeepAlive", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		f.dispatch(&events.KeepAliveTimeout{ErrorCount: 1})
		st := b.rec.waitState(t, waqtor.StateDisconnected)
		require.ErrorIs(t, st.Err, ErrKeepAliveTimeout)
		_, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
		require.ErrorIs(t, err, waqtor.ErrNotReady, "never ready while pings fail")
		f.dispatch(&events.KeepAliveRestored{})
		b.rec.waitState(t, waqtor.StateReady)

		// Persistent failures force a reconnect.
		n, _ := f.counts()
		for i := 1; i <= 3; i++ {
			f.dispatch(&events.KeepAliveTimeout{ErrorCount: i})
		}
		b.rec.waitFor(t, "forced reconnect", func() bool { m, d := f.counts(); return m > n && d >= 1 })
	})
}

func TestDeviceProblems(t *testing.T) {
	t.Parallel()

	t.Run("CorruptDeviceRow", func(t *testing.T) {
		t.Parallel()
		ff := &fakeFactory{}
		e := newTestEngine(t, dbtest.SQLite, fastConfig(), ff)
		putDevice(t, e, "s1", ownJID, ownLID)
		// whatsmeow's CHECK constraints keep key lengths valid; a JID column that
		// no longer parses is the corruption SQL can still produce.
		_, err := e.db.Exec(`UPDATE whatsmeow_device SET lid = $1 WHERE jid = $2`, "900000000001:x@lid", ownJID.String())
		require.NoError(t, err)
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "s1", JID: "201000000001@s.whatsapp.net"}, rec)
		require.NoError(t, err, "a corrupt device is a state, not an Open failure")
		require.ErrorIs(t, c.Connect(context.Background()), ErrDeviceCorrupt)
		st := rec.waitState(t, waqtor.StateLoggedOut)
		require.ErrorIs(t, st.Err, ErrDeviceCorrupt)
		require.Equal(t, "the device keys in the store are corrupt; pair the session again", st.Reason)
		var n int
		require.NoError(t, e.db.QueryRow(`SELECT COUNT(*) FROM whatsmeow_device`).Scan(&n))
		require.Zero(t, n, "the unreadable row is removed")
		dev, err := e.tables.sessionDevice(context.Background(), "s1")
		require.NoError(t, err)
		require.Empty(t, dev)
		// The next Connect pairs a new device.
		require.NoError(t, c.Connect(context.Background()))
		rec.waitState(t, waqtor.StateConnecting)
	})

	t.Run("MissingDeviceRow", func(t *testing.T) {
		t.Parallel()
		ff := &fakeFactory{}
		e := newTestEngine(t, dbtest.SQLite, fastConfig(), ff)
		require.NoError(t, e.tables.putSession(context.Background(), "s1", ownJID.String()))
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "s1", JID: "201000000001@s.whatsapp.net"}, rec)
		require.NoError(t, err)
		require.ErrorIs(t, c.Connect(context.Background()), ErrDeviceNotFound)
		st := rec.waitState(t, waqtor.StateLoggedOut)
		require.ErrorIs(t, st.Err, ErrDeviceNotFound)
	})

	t.Run("PairedJIDWithoutAnyDevice", func(t *testing.T) {
		t.Parallel()
		ff := &fakeFactory{}
		e := newTestEngine(t, dbtest.SQLite, fastConfig(), ff)
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "s1", JID: "201000000001@s.whatsapp.net"}, rec)
		require.NoError(t, err)
		require.ErrorIs(t, c.Connect(context.Background()), ErrDeviceNotFound)
		rec.waitState(t, waqtor.StateLoggedOut)
	})

	t.Run("AdoptsDeviceByJID", func(t *testing.T) {
		t.Parallel()
		ff := &fakeFactory{}
		e := newTestEngine(t, dbtest.SQLite, fastConfig(), ff)
		putDevice(t, e, "", ownJID, ownLID) // whatsmeow has it; the mapping is lost
		rec := newRecorder()
		c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "s1", JID: "201000000001@s.whatsapp.net"}, rec)
		require.NoError(t, err)
		require.True(t, c.(*conn).paired)
		dev, err := e.tables.sessionDevice(context.Background(), "s1")
		require.NoError(t, err)
		require.Equal(t, ownJID.String(), dev)
		// Another session with the same account does not steal it.
		c2, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "s2", JID: "201000000001@s.whatsapp.net"}, newRecorder())
		require.NoError(t, err)
		require.False(t, c2.(*conn).paired)
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()

	t.Run("Connected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		require.NoError(t, b.conn.Logout(b.ctx))
		require.Equal(t, 1, f.logouts, "unlinks on the phone")
		st := b.rec.waitState(t, waqtor.StateLoggedOut)
		require.Equal(t, "logged out", st.Reason)
		dev, err := b.e.tables.sessionDevice(b.ctx, "s1")
		require.NoError(t, err)
		require.Empty(t, dev)
		require.Equal(t, 2, b.ff.count())
		_, err = b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
		require.ErrorIs(t, err, waqtor.ErrNotReady)
	})
	t.Run("OfflineDeletesKeysAnyway", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ff.last()
		require.NoError(t, b.conn.Logout(b.ctx))
		require.Zero(t, f.logouts)
		require.True(t, f.deleted)
		b.rec.waitState(t, waqtor.StateLoggedOut)
	})
	t.Run("RemoteFailureDeletesKeysAnyway", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true, fake: func(f *fakeClient) { f.logoutErr = errors.New("info query timed out") }})
		f := b.ready(t)
		require.NoError(t, b.conn.Logout(b.ctx))
		require.True(t, f.deleted)
		st := b.rec.waitState(t, waqtor.StateLoggedOut)
		require.Contains(t, st.Reason, "locally")
	})
}

func TestCloseAndOpen(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{paired: true})
	f := b.ready(t)
	_, err := b.e.Open(b.ctx, &waqtor.EngineSession{ID: "s1"}, newRecorder())
	require.ErrorIs(t, err, ErrSessionOpen)
	require.NoError(t, b.conn.Close(b.ctx))
	require.NoError(t, b.conn.Close(b.ctx), "Close is idempotent")
	require.True(t, f.removed)
	require.ErrorIs(t, b.conn.Connect(b.ctx), ErrClosed)
	_, err = b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	// Closed sessions can be opened again and find their device.
	c, err := b.e.Open(b.ctx, &waqtor.EngineSession{ID: "s1"}, newRecorder())
	require.NoError(t, err)
	require.True(t, c.(*conn).paired)
	ids, err := b.e.PairedSessions(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"s1"}, ids)
}
