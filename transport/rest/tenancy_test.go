package rest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// TestSessionIDsPerTenant: two tenants each create a session "shop" through
// the API and each acts only on its own: reads, sends (from its own WhatsApp
// account), deletion and re-creation never touch the other's.
func TestSessionIDsPerTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var sa, sb api.Session
	res := b.do(t, b.keyA, "POST", "/sessions", map[string]any{"id": "shop"})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	res.json(t, &sa)
	res = b.do(t, b.keyB, "POST", "/sessions", map[string]any{"id": "shop"})
	require.Equal(t, http.StatusCreated, res.status, "another tenant's ID is free: %s", res.body)
	res.json(t, &sb)
	require.Equal(t, []string{"shop", "default"}, []string{sa.ID, sa.Tenant})
	require.Equal(t, []string{"shop", "other"}, []string{sb.ID, sb.Tenant})
	res = b.do(t, b.keyB, "POST", "/sessions", map[string]any{"id": "shop"})
	require.Equal(t, http.StatusConflict, res.status, "IDs stay unique within a tenant: %s", res.body)

	// The sandbox knows them by their engine keys: the first to take "shop"
	// has the plain ID.
	const phoneA, phoneB = "+15550000011", "+15550000022"
	defCtx, otherCtx := waqtor.WithTenant(ctx, "default"), waqtor.WithTenant(ctx, "other")
	waitStateIn(t, b.core, defCtx, "shop", waqtor.StateQR)
	waitStateIn(t, b.core, otherCtx, "shop", waqtor.StateQR)
	require.NoError(t, b.net.Pair(ctx, "shop", phoneA))
	require.NoError(t, b.net.Pair(ctx, "other/shop", phoneB))
	waitStateIn(t, b.core, defCtx, "shop", waqtor.StateReady)
	waitStateIn(t, b.core, otherCtx, "shop", waqtor.StateReady)

	for key, want := range map[string]string{b.keyA: phoneA, b.keyB: phoneB} {
		var s api.Session
		res := b.do(t, key, "GET", "/sessions/shop", nil)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		res.json(t, &s)
		require.Equal(t, want, s.Info.Phone)
		var list struct {
			Sessions []api.Session `json:"sessions"`
		}
		b.do(t, key, "GET", "/sessions", nil).json(t, &list)
		require.Len(t, list.Sessions, 1)
		require.Equal(t, want, list.Sessions[0].Info.Phone)
	}

	// B sends from its own account, and the message is B's alone.
	res = b.do(t, b.keyB, "POST", "/sessions/shop/messages/send-text", map[string]any{"chat": alicePhone, "text": "from B"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var m api.Message
	res.json(t, &m)
	require.Equal(t, []string{"shop", "other"}, []string{m.Session, m.Tenant})
	got := b.net.Phone(alicePhone).RequireReceived(t, func(r sandbox.Received) bool { return r.ID == m.ID })
	require.True(t, strings.HasPrefix(got.From, strings.TrimPrefix(phoneB, "+")), "sent from B's account, not A's: %s", got.From)
	require.Equal(t, http.StatusOK, b.do(t, b.keyB, "GET", "/sessions/shop/messages/"+m.ID, nil).status)
	res = b.do(t, b.keyA, "GET", "/sessions/shop/messages/"+m.ID, nil)
	require.Equal(t, http.StatusNotFound, res.status, "A's shop does not have B's message: %s", res.body)

	// Deleting B's "shop" leaves A's; B may take the ID again.
	require.Equal(t, http.StatusNoContent, b.do(t, b.keyB, "DELETE", "/sessions/shop", nil).status)
	require.Equal(t, http.StatusNotFound, b.do(t, b.keyB, "GET", "/sessions/shop", nil).status)
	res = b.do(t, b.keyA, "GET", "/sessions/shop", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var still api.Session
	res.json(t, &still)
	require.Equal(t, waqtor.StateReady, waqtor.SessionState(still.State))
	require.Equal(t, http.StatusCreated, b.do(t, b.keyB, "POST", "/sessions", map[string]any{"id": "shop"}).status)
}
