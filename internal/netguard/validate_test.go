package netguard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

// TestValidateURLAddresses runs every address case at creation time, both as an
// IP literal in the URL and as a host name the resolver maps to it.
func TestValidateURLAddresses(t *testing.T) {
	t.Parallel()

	// nameFor gives each address a host name for the fake resolver.
	nameFor := func(addr string) string { return fmt.Sprintf("a%x.test", netip.MustParseAddr(addr).AsSlice()) }
	hosts := map[string][]string{}
	for _, tc := range blockedCases {
		hosts[nameFor(tc.addr)] = []string{tc.addr}
	}
	for _, addr := range publicCases {
		hosts[nameFor(addr)] = []string{addr}
	}
	p := newPolicy(t, &netguard.Config{Resolver: staticResolver(hosts)})

	for name, tc := range blockedCases {
		t.Run("blocked/"+name, func(t *testing.T) {
			t.Parallel()
			err := p.ValidateURL(t.Context(), "http://"+urlHost(tc.addr)+"/hook")
			require.ErrorIs(t, err, netguard.ErrBlocked)
			be, ok := errors.AsType[*netguard.BlockedError](err)
			require.True(t, ok)
			require.Equal(t, netip.MustParsePrefix(tc.rng), be.Range)

			host := nameFor(tc.addr)
			err = p.ValidateURL(t.Context(), "https://"+host+"/hook")
			require.ErrorIs(t, err, netguard.ErrBlocked)
			be, ok = errors.AsType[*netguard.BlockedError](err)
			require.True(t, ok)
			require.Equal(t, host, be.Host, "the error names the host that resolved to the address")
			require.ErrorContains(t, err, host)
		})
	}
	for name, addr := range publicCases {
		t.Run("public/"+name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, p.ValidateURL(t.Context(), "http://"+urlHost(addr)+":8080/hook"))
			host := nameFor(addr)
			require.NoError(t, p.ValidateURL(t.Context(), "https://"+host+"/hook?x=1"))
		})
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()

	resolver := staticResolver(map[string][]string{
		"example.test":       {"93.184.216.34", "2606:4700::1111"},
		"example.test.":      {"93.184.216.34"},
		"intranet.test":      {"10.0.0.5"},
		"mixed.test":         {"93.184.216.34", "192.168.1.10"},
		"metadata.test":      {"169.254.169.254"},
		"mapped-loopback.ex": {"::ffff:127.0.0.1"},
	})
	empty := netguard.ResolverFunc(func(_ context.Context, _, _ string) ([]netip.Addr, error) { return nil, nil })

	tests := map[string]struct {
		cfg     *netguard.Config
		url     string
		wantErr error // nil means the URL must pass
		wantIn  string
	}{
		"public name":                 {url: "https://example.test/path?q=1"},
		"public name with port":       {url: "http://example.test:8080/"},
		"public literal":              {url: "http://93.184.216.34/"},
		"uppercase scheme":            {url: "HTTPS://example.test/"},
		"trailing dot name":           {url: "https://example.test./"},
		"name to private":             {url: "http://intranet.test/", wantErr: netguard.ErrBlocked, wantIn: "add 10.0.0.0/8 to AllowCIDRs"},
		"name to mixed answer":        {url: "http://mixed.test/", wantErr: netguard.ErrBlocked, wantIn: "192.168.1.10"},
		"name to metadata":            {url: "http://metadata.test/", wantErr: netguard.ErrBlocked},
		"name to mapped loopback":     {url: "http://mapped-loopback.ex/", wantErr: netguard.ErrBlocked},
		"decimal integer (T11)":       {url: "http://2130706433/", wantErr: netguard.ErrBlocked, wantIn: `127.0.0.1 (host "2130706433")`},
		"octal (T11)":                 {url: "http://0177.0.0.1/", wantErr: netguard.ErrBlocked, wantIn: "127.0.0.1"},
		"hex two parts":               {url: "http://0x7f.1/", wantErr: netguard.ErrBlocked, wantIn: "127.0.0.1"},
		"hex integer":                 {url: "http://0x7f000001/", wantErr: netguard.ErrBlocked},
		"short form":                  {url: "http://127.1/", wantErr: netguard.ErrBlocked},
		"octal integer":               {url: "http://017700000001/", wantErr: netguard.ErrBlocked},
		"trailing dot literal":        {url: "http://127.0.0.1./", wantErr: netguard.ErrBlocked},
		"zero":                        {url: "http://0/", wantErr: netguard.ErrBlocked, wantIn: "0.0.0.0"},
		"decimal metadata":            {url: "http://2852039166/latest/meta-data/", wantErr: netguard.ErrBlocked, wantIn: "metadata"},
		"mixed radix metadata":        {url: "http://0xa9.0376.43518/", wantErr: netguard.ErrBlocked, wantIn: "169.254.169.254"},
		"decimal public is ambiguous": {url: "http://1572395042/", wantErr: netguard.ErrInvalidURL, wantIn: "write 93.184.216.34"},
		"five parts":                  {url: "http://1.2.3.4.5/", wantErr: netguard.ErrInvalidURL},
		"octet overflow":              {url: "http://256.0.0.1/", wantErr: netguard.ErrInvalidURL},
		"name ending in hex":          {url: "http://foo.0x10/", wantErr: netguard.ErrInvalidURL},
		"IPv6 with zone":              {url: "http://[fe80::1%25eth0]/", wantErr: netguard.ErrBlocked},
		"loopback v6 literal":         {url: "http://[::1]:8080/", wantErr: netguard.ErrBlocked},
		"file (T11 scheme)":           {url: "file:///etc/passwd", wantErr: netguard.ErrScheme},
		"gopher":                      {url: "gopher://127.0.0.1:70/_GET", wantErr: netguard.ErrScheme},
		"ftp":                         {url: "ftp://example.test/x", wantErr: netguard.ErrScheme},
		"javascript":                  {url: "javascript:alert(1)", wantErr: netguard.ErrScheme},
		"data":                        {url: "data:text/plain,hi", wantErr: netguard.ErrScheme},
		"dict":                        {url: "dict://127.0.0.1:11211/stat", wantErr: netguard.ErrScheme},
		"websocket by default":        {url: "ws://example.test/", wantErr: netguard.ErrScheme},
		"relative":                    {url: "/just/a/path", wantErr: netguard.ErrScheme},
		"https only refuses http":     {cfg: &netguard.Config{AllowedSchemes: []string{"HTTPS"}}, url: "http://example.test/", wantErr: netguard.ErrScheme},
		"https only allows https":     {cfg: &netguard.Config{AllowedSchemes: []string{"HTTPS"}}, url: "https://example.test/"},
		"userinfo":                    {url: "http://user:pass@example.test/", wantErr: netguard.ErrInvalidURL, wantIn: "userinfo"},
		"userinfo confusion":          {url: "http://example.test@127.0.0.1/", wantErr: netguard.ErrInvalidURL},
		"userinfo allowed":            {cfg: &netguard.Config{AllowUserinfo: true}, url: "http://user:pass@example.test/"},
		"userinfo allowed, host checked": {
			cfg: &netguard.Config{AllowUserinfo: true}, url: "http://example.test@127.0.0.1/", wantErr: netguard.ErrBlocked,
		},
		"no host":            {url: "http:///path", wantErr: netguard.ErrInvalidURL},
		"opaque":             {url: "http:example.test", wantErr: netguard.ErrInvalidURL},
		"unparseable":        {url: "http://[::1/", wantErr: netguard.ErrInvalidURL},
		"non-ASCII digits":   {url: "http://①②⑦.0.0.1/", wantErr: netguard.ErrInvalidURL, wantIn: "punycode"},
		"non-ASCII name":     {url: "http://exämple.test/", wantErr: netguard.ErrInvalidURL},
		"empty label":        {url: "http://a..test/", wantErr: netguard.ErrInvalidURL},
		"port 0":             {url: "http://example.test:0/", wantErr: netguard.ErrBlocked},
		"port not allowed":   {cfg: &netguard.Config{AllowedPorts: []uint16{443}}, url: "https://example.test:8443/", wantErr: netguard.ErrBlocked, wantIn: "add 8443 to AllowedPorts"},
		"default port 80":    {cfg: &netguard.Config{AllowedPorts: []uint16{443}}, url: "http://example.test/", wantErr: netguard.ErrBlocked},
		"default port 443":   {cfg: &netguard.Config{AllowedPorts: []uint16{443}}, url: "https://example.test/"},
		"allow-listed LAN":   {cfg: &netguard.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, url: "http://intranet.test/"},
		"allow-listed octal": {cfg: &netguard.Config{AllowCIDRs: loopback}, url: "http://0177.0.0.1/", wantErr: netguard.ErrInvalidURL, wantIn: "write 127.0.0.1"},
		"unknown name":       {url: "http://nxdomain.test/", wantErr: &net.DNSError{}},
		"no addresses":       {cfg: &netguard.Config{Resolver: empty}, url: "http://example.test/", wantErr: errNoAddresses},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			if cfg == nil {
				cfg = &netguard.Config{}
			}
			if cfg.Resolver == nil {
				cfg.Resolver = resolver
			}
			err := newPolicy(t, cfg).ValidateURL(t.Context(), tt.url)
			switch want := tt.wantErr; {
			case want == nil:
				require.NoError(t, err)
			case want == errNoAddresses:
				require.ErrorContains(t, err, "no addresses")
			case errors.As(want, new(*net.DNSError)):
				_, ok := errors.AsType[*net.DNSError](err)
				require.True(t, ok, "resolver errors are wrapped, got %v", err)
				require.NotErrorIs(t, err, netguard.ErrBlocked)
			default:
				require.ErrorIs(t, err, want)
			}
			if tt.wantIn != "" {
				require.ErrorContains(t, err, tt.wantIn)
			}
		})
	}
}

// errNoAddresses marks the case where the resolver answers with no addresses.
var errNoAddresses = errors.New("no addresses")
