package rest_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest"
)

// TestTenantSendQuota: a send beyond the Core's TenantSendLimit is a 429
// problem with Retry-After, like the per-key rate limit.
func TestTenantSendQuota(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{core: func(c *waqtor.Config) { c.TenantSendLimit, c.TenantSendWindow = 1, time.Hour }})
	b.session(t, "default", "default", "+15550001111")
	send := func() *response {
		return b.do(t, b.keyA, "POST", "/sessions/default/messages/send-text", map[string]any{"chat": "+15550002222", "text": "x"})
	}
	require.Equal(t, http.StatusOK, send().status)
	res := send()
	require.Equal(t, http.StatusTooManyRequests, res.status, "%s", res.body)
	p := res.problem(t)
	require.Equal(t, rest.TypeRateLimited, p.Type)
	require.Contains(t, p.Detail, "tenant send quota exceeded")
	secs, err := strconv.Atoi(res.header.Get("Retry-After"))
	require.NoError(t, err)
	require.Equal(t, 3600, secs)
}
