package waqtor_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/fakeengine"
	"github.com/waqtor/waqtor/internal/slogtest"
)

func TestNewCoreConfigErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := fakeengine.New().Factory()
	tests := map[string]struct {
		cfg  *waqtor.Config
		want error
		msg  string
	}{
		"nil":             {cfg: nil, want: waqtor.ErrConfig},
		"no database":     {cfg: &waqtor.Config{Engine: eng}, want: waqtor.ErrConfig, msg: "missing Database"},
		"no engine":       {cfg: &waqtor.Config{Database: "x.db"}, want: waqtor.ErrConfig, msg: "missing Engine"},
		"bad tenant":      {cfg: &waqtor.Config{Database: "x.db", Engine: eng, DefaultTenant: "Bad Tenant"}, want: waqtor.ErrConfig},
		"negative":        {cfg: &waqtor.Config{Database: "x.db", Engine: eng, SendTimeout: -1}, want: waqtor.ErrConfig, msg: "SendTimeout"},
		"db unreachable":  {cfg: &waqtor.Config{Database: "postgres://nobody@127.0.0.1:1/x?connect_timeout=2", Engine: eng}, want: waqtor.ErrDatabase},
		"db path blocked": {cfg: &waqtor.Config{Engine: eng}, want: waqtor.ErrDatabase},
	}
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	tests["db path blocked"].cfg.Database = filepath.Join(blocker, "db", "w.db")
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := waqtor.NewCore(ctx, tt.cfg)
			require.ErrorIs(t, err, tt.want)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestNewCoreRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: fakeengine.New().Factory(), Logger: slogtest.New(t)})
	require.NoError(t, err)
	require.NoError(t, core.Stop(ctx))
	db, err := sql.Open("sqlite", "file:"+dsn)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE waqtor_schema_versions SET version = version + 1 WHERE component = 'core'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: fakeengine.New().Factory()})
	require.ErrorIs(t, err, waqtor.ErrSchemaTooNew)
}

func TestConfigWithDefaultsDoesNotMutate(t *testing.T) {
	t.Parallel()
	in := &waqtor.Config{Database: "x"}
	out := in.WithDefaults()
	require.Equal(t, "default", out.DefaultTenant)
	require.Equal(t, waqtor.RetryIntervalDefault, out.RetryInterval)
	require.Empty(t, in.DefaultTenant)
	require.Zero(t, in.RetryInterval)
}

func TestSessions(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		// Session IDs are resolved in the context's tenant.
		actx := waqtor.WithTenant(ctx, "acme")
		b := setup(t, kind)
		c := b.core

		events, unsub, err := c.Subscribe(waqtor.KindSessionStatus, waqtor.KindSessionQR)
		require.NoError(t, err)
		defer unsub()

		s, err := c.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop-1", Tenant: "acme"})
		require.NoError(t, err)
		require.Equal(t, "acme", s.Tenant)
		// A new session connects at once and waits for a QR scan.
		qr := waitEvent[*waqtor.SessionQR](t, events, func(e *waqtor.SessionQR) bool { return e.Meta().Session == "shop-1" })
		require.Equal(t, "fake-qr-shop-1", qr.Code)
		require.Equal(t, "acme", qr.Meta().Tenant)
		snap := waitStateIn(t, c, actx, "shop-1", waqtor.StateQR)
		require.Equal(t, "fake-qr-shop-1", snap.QR.Code)
		got, err := c.QR(actx, "shop-1")
		require.NoError(t, err)
		require.Equal(t, snap.QR.Code, got.Code)

		code, err := c.PairPhone(actx, "shop-1", "+1 555 000 2222")
		require.NoError(t, err)
		require.Equal(t, "FAKE-2222", code)

		b.engine.Conn("shop-1").Pair(ctx, "15550002222@s.whatsapp.net")
		ready := waitEvent[*waqtor.SessionStatus](t, events, func(e *waqtor.SessionStatus) bool {
			return e.Meta().Session == "shop-1" && e.State == waqtor.StateReady
		})
		require.Equal(t, "+15550002222", ready.Info.Phone)
		require.Equal(t, waqtor.StateQR, ready.Previous)
		_, err = c.PairPhone(actx, "shop-1", "+15550002222")
		require.ErrorIs(t, err, waqtor.ErrAlreadyPaired)
		_, err = c.QR(actx, "shop-1")
		require.ErrorIs(t, err, waqtor.ErrNotReady)

		all, err := c.Sessions(ctx, nil)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "main", all[0].ID)
		acme, err := c.Sessions(ctx, &waqtor.SessionListParams{Tenant: "acme"})
		require.NoError(t, err)
		require.Len(t, acme, 1)

		_, err = c.CreateSession(actx, &waqtor.CreateSessionParams{ID: "shop-1"})
		require.ErrorIs(t, err, waqtor.ErrSessionExists)
		_, err = c.Session(ctx, "shop-1")
		require.ErrorIs(t, err, waqtor.ErrSessionNotFound, "acme's session is not the default tenant's")
		for _, bad := range []string{"", "UPPER", "-x", "a b", string(make([]byte, 65))} {
			_, err := c.Session(ctx, bad)
			require.ErrorIs(t, err, waqtor.ErrInvalidSessionID, "%q", bad)
		}
		_, err = c.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "Bad ID"})
		require.ErrorIs(t, err, waqtor.ErrInvalidSessionID)
		_, err = c.Session(ctx, "nope")
		require.ErrorIs(t, err, waqtor.ErrSessionNotFound)

		gen, err := c.CreateSession(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, waqtor.ValidateSessionID(gen.ID))
		require.Equal(t, "default", gen.Tenant)

		require.NoError(t, c.Restart(actx, "shop-1"))
		waitStateIn(t, c, actx, "shop-1", waqtor.StateReady)
		require.NoError(t, c.Disconnect(actx, "shop-1"))
		waitStateIn(t, c, actx, "shop-1", waqtor.StateDisconnected)
		_, err = c.SendText(actx, "shop-1", "+15550003333", "hi", nil)
		require.ErrorIs(t, err, waqtor.ErrNotReady)
		require.NoError(t, c.Connect(actx, "shop-1"))
		waitStateIn(t, c, actx, "shop-1", waqtor.StateReady)

		require.NoError(t, c.Logout(actx, "shop-1"))
		out := waitStateIn(t, c, actx, "shop-1", waqtor.StateLoggedOut)
		require.Empty(t, out.Info.JID)

		require.NoError(t, c.DeleteSession(actx, "shop-1"))
		_, err = c.Session(actx, "shop-1")
		require.ErrorIs(t, err, waqtor.ErrSessionNotFound)
		require.ErrorIs(t, c.DeleteSession(actx, "shop-1"), waqtor.ErrSessionNotFound)
	})
}

func TestSessionsResumeAfterRestart(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		eng := fakeengine.New()
		dsn := dbtest.DSN(t, kind)
		core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: eng.Factory(), Logger: slogtest.New(t)})
		require.NoError(t, err)
		require.NoError(t, core.Start(ctx))
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "paired"})
		require.NoError(t, err)
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "unpaired"})
		require.NoError(t, err)
		eng.Conn("paired").Pair(ctx, "15550001111@s.whatsapp.net")
		waitState(t, core, "paired", waqtor.StateReady)
		waitState(t, core, "unpaired", waqtor.StateQR)
		require.NoError(t, core.Stop(ctx))
		<-core.Stopped()
		_, err = core.Session(ctx, "paired")
		require.ErrorIs(t, err, waqtor.ErrStopped)

		// A new process: before Start nothing is connected, whatever was stored.
		eng2 := fakeengine.New()
		core2, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: eng2.Factory(), Logger: slogtest.New(t)})
		require.NoError(t, err)
		defer func() { require.NoError(t, core2.Stop(ctx)) }()
		s, err := core2.Session(ctx, "paired")
		require.NoError(t, err)
		require.Equal(t, waqtor.StateDisconnected, s.State)
		require.Equal(t, "process restarted", s.Reason)
		require.Equal(t, "15550001111@s.whatsapp.net", s.Info.JID, "the pairing survives")
		require.NoError(t, core2.Start(ctx))
		waitState(t, core2, "paired", waqtor.StateReady)
		s, err = core2.Session(ctx, "unpaired")
		require.NoError(t, err)
		require.Equal(t, waqtor.StateDisconnected, s.State, "unpaired sessions wait for Connect")
		require.Nil(t, eng2.Conn("unpaired"))
	})
}

func TestStartStopIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: fakeengine.New().Factory(),
		Logger: slogtest.New(t)})
	require.NoError(t, err)
	require.ErrorIs(t, core.Connect(ctx, "x"), waqtor.ErrSessionNotFound)
	require.NoError(t, core.Start(ctx))
	require.NoError(t, core.Start(ctx))
	require.NoError(t, core.Ping(ctx))
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, core.Stop(stopCtx))
	require.NoError(t, core.Stop(stopCtx))
	require.ErrorIs(t, core.Start(ctx), waqtor.ErrStopped)
	require.ErrorIs(t, core.Ping(ctx), waqtor.ErrStopped)
	_, err = core.SendText(ctx, "main", "+15550001111", "hi", nil)
	require.ErrorIs(t, err, waqtor.ErrStopped)
}
