package waqtor_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
)

// TestEnsureSession: the first start creates the session; a restart before
// it was ever paired shows QR codes again (Start alone connects only paired
// sessions); a paired session is returned as it is; bad input changes nothing.
func TestEnsureSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := dbtest.DSN(t, dbtest.SQLite)
	network := sandbox.NewTestNetwork(t, &sandbox.Config{})
	start := func() *waqtor.Core {
		core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: network.Factory(), Logger: slogtest.New(t)})
		require.NoError(t, err)
		require.NoError(t, core.Start(ctx))
		return core
	}
	stop := func(core *waqtor.Core) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, core.Stop(sctx))
	}

	core := start()
	_, err := core.EnsureSession(ctx, &waqtor.CreateSessionParams{})
	require.ErrorIs(t, err, waqtor.ErrInvalidSessionID)
	_, err = core.EnsureSession(ctx, &waqtor.CreateSessionParams{ID: "Not A Slug"})
	require.ErrorIs(t, err, waqtor.ErrInvalidSessionID)
	all, err := core.Sessions(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, all, "bad input created a session")

	s, err := core.EnsureSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
	require.NoError(t, err)
	require.Equal(t, "shop", s.ID)
	waitState(t, core, "shop", waqtor.StateQR)
	_, err = core.EnsureSession(ctx, &waqtor.CreateSessionParams{ID: "shop", Tenant: "other"})
	require.ErrorIs(t, err, waqtor.ErrSessionExists)
	stop(core)

	// Restarted before pairing: Start leaves it disconnected, EnsureSession
	// connects it so that it shows QR codes again.
	core = start()
	s, err = core.Session(ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, waqtor.StateDisconnected, s.State)
	_, err = core.EnsureSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
	require.NoError(t, err)
	waitState(t, core, "shop", waqtor.StateQR)
	require.NoError(t, network.Pair(ctx, "shop", "+15550001111"))
	waitState(t, core, "shop", waqtor.StateReady)
	stop(core)

	// Paired: Start reconnects it and EnsureSession returns it unchanged.
	core = start()
	defer stop(core)
	waitState(t, core, "shop", waqtor.StateReady)
	s, err = core.EnsureSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
	require.NoError(t, err)
	require.Equal(t, waqtor.StateReady, s.State)
	require.NotEmpty(t, s.Info.JID)
}
