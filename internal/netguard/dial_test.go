package netguard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

// TestControl runs every address case at dial time through the net.Dialer
// Control hook, as the net package calls it after resolving.
func TestControl(t *testing.T) {
	t.Parallel()

	p := newPolicy(t, nil)
	for name, tc := range blockedCases {
		t.Run("blocked/"+name, func(t *testing.T) {
			t.Parallel()
			for _, network := range []string{"tcp", "tcp4", "tcp6"} {
				err := p.Control(network, hostPort(tc.addr, 443), nil)
				require.ErrorIs(t, err, netguard.ErrBlocked, network)
				be, ok := errors.AsType[*netguard.BlockedError](err)
				require.True(t, ok)
				require.Equal(t, netip.MustParsePrefix(tc.rng), be.Range)
			}
		})
	}
	for name, addr := range publicCases {
		t.Run("public/"+name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, p.Control("tcp", hostPort(addr, 443), nil))
		})
	}

	t.Run("allow-listed 10.0.0.0/8", func(t *testing.T) {
		t.Parallel()
		lan := newPolicy(t, &netguard.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		require.NoError(t, lan.Control("tcp4", "10.0.0.5:443", nil))
		require.ErrorIs(t, lan.Control("tcp4", "192.168.1.10:443", nil), netguard.ErrBlocked)
	})

	tests := map[string]struct {
		network string
		address string
	}{
		"unix socket":         {network: "unix", address: "/var/run/docker.sock"},
		"unparseable":         {network: "tcp4", address: "not-an-address"},
		"host name not IP":    {network: "tcp4", address: "localhost:80"},
		"port zero":           {network: "tcp4", address: "93.184.216.34:0"},
		"ip network (no tcp)": {network: "ip4:icmp", address: "93.184.216.34"},
	}
	for name, tt := range tests {
		t.Run("refused/"+name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, p.Control(tt.network, tt.address, nil), netguard.ErrBlocked)
		})
	}
}

// TestDialContextRefusesBeforeConnecting checks every blocked case through
// DialContext, by literal and by a name the injected resolver maps to it. A
// blocked address is refused before any socket is created, so nothing here
// touches the network.
func TestDialContextRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()

	hosts := map[string][]string{
		"mixed.test": {"93.184.216.34", "127.0.0.1"},
	}
	for _, tc := range blockedCases {
		hosts[fmtName(tc.addr)] = []string{tc.addr}
	}
	p := newPolicy(t, &netguard.Config{Resolver: staticResolver(hosts)})

	for name, tc := range blockedCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := p.DialContext(t.Context(), "tcp", hostPort(tc.addr, 80))
			require.ErrorIs(t, err, netguard.ErrBlocked)

			_, err = p.DialContext(t.Context(), "tcp", net.JoinHostPort(fmtName(tc.addr), "80"))
			require.ErrorIs(t, err, netguard.ErrBlocked)
			be, ok := errors.AsType[*netguard.BlockedError](err)
			require.True(t, ok)
			require.Equal(t, fmtName(tc.addr), be.Host)
		})
	}
	refused := map[string]struct {
		network string
		address string
		want    error
	}{
		"mixed answer":            {network: "tcp", address: "mixed.test:80", want: netguard.ErrBlocked},
		"decimal integer (T11)":   {network: "tcp", address: "2130706433:80", want: netguard.ErrBlocked},
		"octal (T11)":             {network: "tcp", address: "0177.0.0.1:80", want: netguard.ErrBlocked},
		"ambiguous public number": {network: "tcp", address: "1572395042:80", want: netguard.ErrInvalidURL},
		"udp":                     {network: "udp", address: "93.184.216.34:53", want: netguard.ErrBlocked},
		"port zero":               {network: "tcp", address: "93.184.216.34:0", want: netguard.ErrBlocked},
	}
	for name, tt := range refused {
		t.Run("refused/"+name, func(t *testing.T) {
			t.Parallel()
			_, err := p.DialContext(t.Context(), tt.network, tt.address)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func fmtName(addr string) string {
	b := netip.MustParseAddr(addr).AsSlice()
	const hex = "0123456789abcdef"
	out := []byte("d")
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out) + ".test"
}

// TestDNSRebinding: the resolver answers a public address on the first lookup
// (creation time) and 127.0.0.1 on the second (delivery). ValidateURL passes,
// and the dial-time guard must still refuse.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		lookups atomic.Int64
		policy  *netguard.Policy
		client  *http.Client
		server  *countingServer
		url     string
	}
	setup := func(t *testing.T, allow []netip.Prefix) *testBundle {
		t.Helper()
		b := &testBundle{}
		b.server = newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret") })
		_, port, err := net.SplitHostPort(b.server.Listener.Addr().String())
		require.NoError(t, err)
		b.url = "http://rebind.test:" + port + "/"
		rebinding := netguard.ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
			require.Equal(t, "rebind.test", host)
			if b.lookups.Add(1) == 1 {
				return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		})
		b.policy = newPolicy(t, &netguard.Config{AllowCIDRs: allow, Resolver: rebinding})
		b.client = newClient(t, b.policy)
		return b
	}

	t.Run("refused at dial time", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		require.NoError(t, b.policy.ValidateURL(t.Context(), b.url), "first lookup is public")

		resp, err := b.client.Get(b.url)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, netguard.ErrBlocked)
		require.ErrorContains(t, err, `127.0.0.1 (host "rebind.test")`)
		require.EqualValues(t, 2, b.lookups.Load(), "the dial resolved again")
		require.Zero(t, b.server.hits.Load(), "the loopback server was never reached")
	})

	// Negative control: with loopback allow-listed the very same flow reaches
	// the server, so the refusal above is the guard and not a dial that could
	// never have worked.
	t.Run("control: allow-listed loopback connects", func(t *testing.T) {
		t.Parallel()
		b := setup(t, loopback)
		require.NoError(t, b.policy.ValidateURL(t.Context(), b.url))

		resp, err := b.client.Get(b.url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "secret", string(body))
		require.EqualValues(t, 1, b.server.hits.Load())
	})
}

// TestDialTimeGuardWithoutValidation covers URLs that skipped creation-time
// validation (say, inserted straight into the database): the transport alone,
// with no per-request URL check, and the bare Dialer with the standard resolver,
// which relies on the Control hook only.
func TestDialTimeGuardWithoutValidation(t *testing.T) {
	t.Parallel()

	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	t.Cleanup(func() { require.Zero(t, srv.hits.Load(), "no request reached the server") }) // after the subtests

	t.Run("transport refuses loopback", func(t *testing.T) {
		t.Parallel()
		tr := newPolicy(t, nil).Transport()
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, netguard.ErrBlocked)
	})

	t.Run("dialer control hook refuses loopback", func(t *testing.T) {
		t.Parallel()
		conn, err := newPolicy(t, nil).Dialer().DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
		if conn != nil {
			conn.Close()
		}
		require.ErrorIs(t, err, netguard.ErrBlocked)
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr, "the refusal comes from inside the net package's dial")
	})

	t.Run("dialer control hook refuses a name resolving to loopback", func(t *testing.T) {
		t.Parallel()
		// The standard resolver must answer from /etc/hosts, never from DNS.
		hosts, err := os.ReadFile("/etc/hosts")
		if err != nil || !regexp.MustCompile(`(?m)^\s*127\.0\.0\.1\s.*\blocalhost\b`).Match(hosts) {
			t.Skip("no 127.0.0.1 localhost line in /etc/hosts")
		}
		_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
		require.NoError(t, err)
		conn, err := newPolicy(t, nil).Dialer().DialContext(t.Context(), "tcp", net.JoinHostPort("localhost", port))
		if conn != nil {
			conn.Close()
		}
		require.ErrorIs(t, err, netguard.ErrBlocked)
	})

	t.Run("control: allow-listed dialer connects", func(t *testing.T) {
		t.Parallel()
		conn, err := newPolicy(t, &netguard.Config{AllowCIDRs: loopback}).Dialer().DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	})
}
