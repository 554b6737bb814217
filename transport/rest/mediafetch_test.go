package rest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest"
)

// TestMediaFetchRefusalIsGeneric: a media URL the SSRF guard refuses is
// answered with its category only, never the resolved address or the
// server's options; the detail (naming the Core option that exists,
// MediaAllowCIDRs) is for the operator.
func TestMediaFetchRefusalIsGeneric(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	for _, url := range []string{"http://127.0.0.1:1/x.png", "http://localhost:1/x.png", "http://10.1.2.3/x.png"} {
		res := b.do(t, b.keyA, "POST", "/sessions/default/messages/send-media", map[string]any{"chat": alicePhone, "kind": "image", "url": url})
		require.Equal(t, 422, res.status, "%s", res.body)
		p := res.problem(t)
		require.Equal(t, rest.TypeMediaFetch, p.Type)
		require.Equal(t, "url: points to an address this server does not fetch from", p.Detail)
		for _, leak := range []string{"127.0.0.1", "10.1.2.3", "::1", "CIDR", "netguard", "/8"} {
			require.NotContains(t, string(res.body), leak)
		}
	}
	_, err := b.core.SendMedia(context.Background(), "default", alicePhone, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: "http://10.1.2.3/x.png"}, nil)
	require.ErrorIs(t, err, waqtor.ErrMediaFetch)
	require.Contains(t, err.Error(), "add 10.0.0.0/8 to waqtor Config.MediaAllowCIDRs to permit it")
	require.False(t, strings.Contains(err.Error(), " AllowCIDRs"), "names the Core's option: %v", err)
}
