package clientip_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/clientip"
)

func TestAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	xff, err := clientip.New(&clientip.Config{TrustedProxies: trusted})
	require.NoError(t, err)
	fwd, err := clientip.New(&clientip.Config{Header: "forwarded", TrustedProxies: trusted})
	require.NoError(t, err)
	none, err := clientip.New(nil)
	require.NoError(t, err)

	tests := map[string]struct {
		r      *clientip.Resolver
		remote string
		header string
		values []string
		want   string
	}{
		"no proxies: peer":                     {none, "192.0.2.1:5000", "X-Forwarded-For", []string{"198.51.100.7"}, "192.0.2.1"},
		"untrusted peer: header ignored":       {xff, "192.0.2.1:5000", "X-Forwarded-For", []string{"198.51.100.7"}, "192.0.2.1"},
		"trusted peer, no header":              {xff, "10.0.0.2:5000", "", nil, "10.0.0.2"},
		"trusted peer: client":                 {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.7"}, "198.51.100.7"},
		"spoofed prefix ignored":               {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		"spoofed trusted address ignored":      {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"10.9.9.9, 198.51.100.7"}, "198.51.100.7"},
		"chain of trusted proxies":             {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"1.2.3.4, 198.51.100.7, 10.0.0.3", "10.0.0.4"}, "198.51.100.7"},
		"all trusted: left-most":               {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"10.0.0.5, 10.0.0.3"}, "10.0.0.5"},
		"garbage stops at trusted hop":         {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.7, nonsense, 10.0.0.3"}, "10.0.0.3"},
		"garbage right after peer":             {xff, "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.7, unknown"}, "10.0.0.2"},
		"ipv6 with port":                       {xff, "[fd00::1]:5000", "X-Forwarded-For", []string{"[2001:db8::7]:1234"}, "2001:db8::7"},
		"ipv4-mapped peer":                     {xff, "[::ffff:10.0.0.2]:5000", "X-Forwarded-For", []string{"198.51.100.7"}, "198.51.100.7"},
		"other header not read":                {xff, "10.0.0.2:5000", "Forwarded", []string{"for=198.51.100.7"}, "10.0.0.2"},
		"forwarded":                            {fwd, "10.0.0.2:5000", "Forwarded", []string{`for=1.2.3.4, for="[2001:db8::7]:80";proto=https, for=10.0.0.3`}, "2001:db8::7"},
		"forwarded: xff not read":              {fwd, "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.7"}, "10.0.0.2"},
		"forwarded: obfuscated stops the walk": {fwd, "10.0.0.2:5000", "Forwarded", []string{"for=198.51.100.7, for=_hidden"}, "10.0.0.2"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.values {
				req.Header.Add(tt.header, v)
			}
			got, err := tt.r.Addr(req)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.String())
			require.Equal(t, tt.want, tt.r.String(req))
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	_, err := clientip.New(&clientip.Config{Header: "X-Real-IP"})
	require.ErrorContains(t, err, "Header")
	_, err = clientip.New(&clientip.Config{TrustedProxies: []netip.Prefix{{}}})
	require.ErrorContains(t, err, "TrustedProxies[0]")
}

func TestNoAddress(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "pipe"
	_, err := (*clientip.Resolver)(nil).Addr(req)
	require.ErrorIs(t, err, clientip.ErrNoAddress)
	require.Equal(t, "pipe", (*clientip.Resolver)(nil).String(req))
}
