package waqtor_test

import (
	"cmp"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/fakeengine"
	"github.com/waqtor/waqtor/internal/slogtest"
)

// TestSessionNamespacePerTenant: session IDs are unique per tenant. Two
// tenants each create "shop" and "legacy"; every command, message, event and
// restart keeps them apart, and the default tenant is what a context without
// a tenant means.
func TestSessionNamespacePerTenant(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		acme := waqtor.WithTenant(ctx, "acme")
		b := setup(t, kind)
		c := b.core
		events, unsub, err := c.Subscribe(waqtor.KindMessageSent, waqtor.KindMessageReceived)
		require.NoError(t, err)
		defer unsub()

		// The first session to use an ID gets it as its store key, as every
		// session of a database from before per-tenant namespaces has; the
		// second gets "tenant/ID". Here each tenant has one of each.
		for _, step := range []struct {
			ctx context.Context
			id  string
		}{{acme, "legacy"}, {ctx, "shop"}, {ctx, "legacy"}, {acme, "shop"}} {
			s, err := c.CreateSession(step.ctx, &waqtor.CreateSessionParams{ID: step.id})
			require.NoError(t, err, step.id)
			require.Equal(t, step.id, s.ID)
		}
		_, err = c.CreateSession(acme, &waqtor.CreateSessionParams{ID: "shop"})
		require.ErrorIs(t, err, waqtor.ErrSessionExists, "IDs stay unique within a tenant")
		_, err = c.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop", Tenant: "acme"})
		require.ErrorIs(t, err, waqtor.ErrSessionExists, "an explicit Tenant is the same namespace")
		_, err = c.Session(waqtor.WithTenant(ctx, "other"), "shop")
		require.ErrorIs(t, err, waqtor.ErrSessionNotFound)
		// Listing defaults to the context's tenant, else every tenant.
		listed, err := c.Sessions(acme, nil)
		require.NoError(t, err)
		require.Len(t, listed, 2)
		for _, s := range listed {
			require.Equal(t, "acme", s.Tenant)
		}
		listed, err = c.Sessions(acme, &waqtor.SessionListParams{Tenant: "default"})
		require.NoError(t, err)
		require.Len(t, listed, 3, "an explicit Tenant wins")
		listed, err = c.Sessions(ctx, nil)
		require.NoError(t, err)
		require.Len(t, listed, 5)

		// The engine knows them by distinct keys.
		b.engine.Conn("legacy").Pair(ctx, "15550000001@s.whatsapp.net")
		b.engine.Conn("default/legacy").Pair(ctx, "15550000002@s.whatsapp.net")
		b.engine.Conn("acme/shop").Pair(ctx, "15550000003@s.whatsapp.net")
		b.engine.Conn("shop").Pair(ctx, "15550000004@s.whatsapp.net")
		phones := map[string]string{"acme/legacy": "+15550000001", "default/legacy": "+15550000002",
			"acme/shop": "+15550000003", "default/shop": "+15550000004"}
		for ref, phone := range phones {
			cx := ctx
			tenant, id := split(ref)
			if tenant == "acme" {
				cx = acme
			}
			var s *waqtor.Session
			require.Eventually(t, func() bool {
				s, err = c.Session(cx, id)
				return err == nil && s.State == waqtor.StateReady
			}, 5*time.Second, 2*time.Millisecond, ref)
			require.Equal(t, tenant, s.Tenant, ref)
			require.Equal(t, phone, s.Info.Phone, ref)
		}

		// Sends: the same idempotency key in both tenants makes two messages.
		opts := &waqtor.SendOpts{IdempotencyKey: "k1"}
		ma, err := c.SendText(acme, "shop", "+15550003333", "from acme", opts)
		require.NoError(t, err)
		md, err := c.SendText(ctx, "shop", "+15550003333", "from default", opts)
		require.NoError(t, err)
		require.NotEqual(t, ma.ID, md.ID)
		require.Equal(t, []string{"shop", "acme"}, []string{ma.Session, ma.Tenant})
		require.Equal(t, []string{"shop", "default"}, []string{md.Session, md.Tenant})
		var engineSessions []string
		for _, r := range b.engine.Sends() {
			engineSessions = append(engineSessions, r.Session)
		}
		require.Equal(t, []string{"acme/shop", "shop"}, engineSessions)
		sent := map[string]*waqtor.MessageSent{}
		for len(sent) < 2 {
			e := waitEvent[*waqtor.MessageSent](t, events, nil)
			sent[e.Meta().Tenant] = e
		}
		require.Equal(t, "shop", sent["acme"].Meta().Session)
		require.Equal(t, ma.ID, sent["acme"].Message.ID)
		require.Equal(t, "shop", sent["acme"].Message.Session)
		require.Equal(t, md.ID, sent["default"].Message.ID)

		// Reads resolve in the context's tenant only.
		_, err = c.Message(ctx, "shop", ma.ID)
		require.ErrorIs(t, err, waqtor.ErrMessageNotFound)
		got, err := c.Message(acme, "shop", ma.ID)
		require.NoError(t, err)
		require.Equal(t, "from acme", got.Content.(*waqtor.Text).Body)
		list, err := c.Messages(acme, &waqtor.MessageListParams{Session: "shop", Chat: "+15550003333"})
		require.NoError(t, err)
		require.Len(t, list.Messages, 1)
		require.Equal(t, ma.ID, list.Messages[0].ID)
		require.Equal(t, "shop", list.Messages[0].Session)

		// Edits find their target in the context's tenant's session only.
		_, err = c.Edit(ctx, "shop", "+15550003333", ma.ID, "hijacked", nil)
		require.ErrorIs(t, err, waqtor.ErrMessageNotFound, "another tenant's message")
		_, err = c.Edit(acme, "shop", "+15550003333", ma.ID, "from acme, edited", nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			got, err := c.Message(acme, "shop", ma.ID)
			return err == nil && !got.EditedAt.IsZero() && got.Content.(*waqtor.Text).Body == "from acme, edited"
		}, 5*time.Second, 2*time.Millisecond, "the edit is recorded on acme's message")
		got, err = c.Message(ctx, "shop", md.ID)
		require.NoError(t, err)
		require.True(t, got.EditedAt.IsZero(), "the default tenant's message is untouched")

		// Inbound: the same WhatsApp message ID reaching both tenants' "shop"
		// (say, in a group both are in) is stored and announced twice.
		in := &waqtor.InboundMessage{ID: "WAMSG1", Chat: waqtor.Address{JID: "15550003333@s.whatsapp.net"},
			Sender: waqtor.Address{JID: "15550003333@s.whatsapp.net"}, Content: &waqtor.Text{Body: "hello"}, Time: time.Now()}
		for _, key := range []string{"acme/shop", "shop"} {
			require.NoError(t, b.engine.Conn(key).Handler().HandleMessage(ctx, in))
		}
		received := map[string]string{}
		for len(received) < 2 {
			e := waitEvent[*waqtor.MessageReceived](t, events, nil)
			received[e.Meta().Tenant] = e.Meta().Session + "/" + e.Message.Session
		}
		require.Equal(t, map[string]string{"acme": "shop/shop", "default": "shop/shop"}, received)
		for _, cx := range []context.Context{acme, ctx} {
			m, err := c.Message(cx, "shop", "WAMSG1")
			require.NoError(t, err)
			tenant, _ := waqtor.TenantFrom(cx)
			require.Equal(t, []string{"shop", cmp.Or(tenant, "default")}, []string{m.Session, m.Tenant})
		}

		// The log and its filters carry each tenant's own IDs.
		evs, err := c.ReadLog(ctx, &waqtor.LogReadParams{Tenant: "acme", Sessions: []string{"shop"},
			Kinds: []waqtor.EventKind{waqtor.KindMessageReceived}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "acme", evs[0].Meta().Tenant)

		// A restart loads both namespaces back, keys and all.
		require.NoError(t, c.Stop(ctx))
		eng := fakeengine.New()
		c2, err := waqtor.NewCore(ctx, &waqtor.Config{Database: b.dsn, Engine: eng.Factory(), Logger: slogtest.New(t)})
		require.NoError(t, err)
		require.NoError(t, c2.Start(ctx))
		t.Cleanup(func() { _ = c2.Stop(context.Background()) })
		all, err := c2.Sessions(ctx, nil)
		require.NoError(t, err)
		var refs []string
		for _, s := range all {
			refs = append(refs, s.Tenant+"/"+s.ID)
		}
		require.Equal(t, []string{"acme/legacy", "default/legacy", "default/main", "acme/shop", "default/shop"}, refs)
		for ref, phone := range phones {
			cx := ctx
			tenant, id := split(ref)
			if tenant == "acme" {
				cx = acme
			}
			s, err := c2.Session(cx, id)
			require.NoError(t, err, ref)
			require.Equal(t, phone, s.Info.Phone, ref)
		}
		require.NotNil(t, eng.Conn("acme/shop"), "the engine is handed the same key after a restart")
		require.NotNil(t, eng.Conn("default/legacy"))
		got, err = c2.Message(acme, "shop", ma.ID)
		require.NoError(t, err)
		require.Equal(t, "shop", got.Session)

		// Deleting one tenant's "shop" leaves the other's, and its messages.
		require.NoError(t, c2.DeleteSession(acme, "shop"))
		_, err = c2.Session(acme, "shop")
		require.ErrorIs(t, err, waqtor.ErrSessionNotFound)
		got, err = c2.Message(ctx, "shop", md.ID)
		require.NoError(t, err)
		require.Equal(t, "from default", got.Content.(*waqtor.Text).Body)
		// ...and acme may take the ID again.
		_, err = c2.CreateSession(acme, &waqtor.CreateSessionParams{ID: "shop"})
		require.NoError(t, err)
		list, err = c2.Messages(acme, &waqtor.MessageListParams{Session: "shop", Chat: "+15550003333"})
		require.NoError(t, err)
		require.Empty(t, list.Messages, "a new session does not inherit the deleted one's messages")
	})
}

// TestWithTenantBadInput: a context naming an invalid tenant finds no session
// and creates none.
func TestWithTenantBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite)
	bad := waqtor.WithTenant(ctx, "Not A Tenant")
	_, err := b.core.Session(bad, "main")
	require.ErrorIs(t, err, waqtor.ErrSessionNotFound)
	_, err = b.core.CreateSession(bad, &waqtor.CreateSessionParams{ID: "x"})
	require.ErrorIs(t, err, waqtor.ErrConfig)
	all, err := b.core.Sessions(ctx, nil)
	require.NoError(t, err)
	require.Len(t, all, 1)
	tenant, ok := waqtor.TenantFrom(ctx)
	require.False(t, ok)
	require.Empty(t, tenant)
}

func split(ref string) (tenant, id string) {
	tenant, id, _ = strings.Cut(ref, "/")
	return tenant, id
}
