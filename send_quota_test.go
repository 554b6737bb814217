package waqtor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// TestTenantSendQuota: a tenant's sends beyond Config.TenantSendLimit fail
// with a *QuotaError that says when to retry, store nothing, and leave other
// tenants' quotas alone; idempotent replays are free; the quota refills
// evenly over the window.
func TestTenantSendQuota(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	b := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
		c.TenantSendLimit, c.TenantSendWindow, c.Test.Now = 3, time.Minute, clock
	})
	ctx := context.Background()
	acme := waqtor.WithTenant(ctx, "acme")
	_, err := b.core.CreateSession(acme, &waqtor.CreateSessionParams{ID: "acme-shop"})
	require.NoError(t, err)
	b.engine.Conn("acme-shop").Pair(ctx, "15550009999@s.whatsapp.net")
	waitState(t, b.core, "main", waqtor.StateReady)
	require.Eventually(t, func() bool {
		s, err := b.core.Session(acme, "acme-shop")
		return err == nil && s.State == waqtor.StateReady
	}, 5*time.Second, 2*time.Millisecond)

	first, err := b.core.SendText(ctx, "main", "+15550001234", "one", &waqtor.SendOpts{IdempotencyKey: "k1"})
	require.NoError(t, err)
	for _, text := range []string{"two", "three"} {
		_, err := b.core.SendText(ctx, "main", "+15550001234", text, nil)
		require.NoError(t, err)
	}
	_, err = b.core.SendText(ctx, "main", "+15550001234", "four", nil)
	require.ErrorIs(t, err, waqtor.ErrSendQuota)
	var qe *waqtor.QuotaError
	require.True(t, errors.As(err, &qe))
	require.Equal(t, waqtor.QuotaError{Limit: 3, Window: time.Minute, RetryAfter: 20 * time.Second, Tenant: "default"}, *qe)
	list, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: "+15550001234"})
	require.NoError(t, err)
	require.Len(t, list.Messages, 3, "the refused send stored nothing")

	again, err := b.core.SendText(ctx, "main", "+15550001234", "one", &waqtor.SendOpts{IdempotencyKey: "k1"})
	require.NoError(t, err, "a replay is not a send")
	require.Equal(t, first.ID, again.ID)
	_, err = b.core.SendText(acme, "acme-shop", "+15550001234", "from acme", nil)
	require.NoError(t, err, "another tenant's quota is its own")

	advance(19 * time.Second)
	_, err = b.core.SendText(ctx, "main", "+15550001234", "four", nil)
	require.ErrorIs(t, err, waqtor.ErrSendQuota)
	advance(time.Second)
	_, err = b.core.SendText(ctx, "main", "+15550001234", "four", nil)
	require.NoError(t, err, "one send back after a third of the window")
	_, err = b.core.SendText(ctx, "main", "+15550001234", "five", nil)
	require.ErrorIs(t, err, waqtor.ErrSendQuota)

	_, err = waqtor.NewCore(ctx, &waqtor.Config{Database: b.dsn, Engine: b.engine.Factory(), TenantSendLimit: -1})
	require.ErrorIs(t, err, waqtor.ErrConfig)
}
