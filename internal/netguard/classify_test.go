package netguard_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

func TestClassify(t *testing.T) {
	t.Parallel()

	for name, tc := range blockedCases {
		t.Run("blocked/"+name, func(t *testing.T) {
			t.Parallel()
			addr := netip.MustParseAddr(tc.addr)
			err := netguard.Classify(addr)
			require.ErrorIs(t, err, netguard.ErrBlocked)
			be, ok := errors.AsType[*netguard.BlockedError](err)
			require.True(t, ok, "want *BlockedError, got %T", err)
			require.Equal(t, addr, be.Addr)
			require.Equal(t, netip.MustParsePrefix(tc.rng), be.Range, be.Error())
			require.Equal(t, tc.metadata, be.Metadata, be.Error())
			require.NotEmpty(t, be.Reason)
		})
	}
	for name, addr := range publicCases {
		t.Run("public/"+name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, netguard.Classify(netip.MustParseAddr(addr)))
		})
	}
	t.Run("invalid address", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, netguard.Classify(netip.Addr{}), netguard.ErrBlocked)
	})
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		addr string
		want string
	}{
		"private names the allow-list fix": {
			addr: "10.0.0.5",
			want: "netguard: blocked 10.0.0.5: private network (RFC 1918) in 10.0.0.0/8; add 10.0.0.0/8 to AllowCIDRs to permit it",
		},
		"embedded IPv4 names the decoding": {
			addr: "::ffff:127.0.0.1",
			want: "netguard: blocked ::ffff:127.0.0.1: loopback (RFC 1122) in 127.0.0.0/8 " +
				"(IPv4 127.0.0.1 decoded via IPv4-mapped ::ffff:0:0/96); add 127.0.0.0/8 to AllowCIDRs to permit it",
		},
		"metadata names the scary option": {
			addr: "169.254.169.254",
			want: "netguard: blocked 169.254.169.254: cloud metadata endpoint (AWS, GCP, Azure, OCI, DigitalOcean, OpenStack and others) " +
				"in 169.254.169.254/32; metadata endpoints stay blocked even inside AllowCIDRs; " +
				"only an exact 169.254.169.254/32 entry in DangerouslyAllowMetadataPrefixes permits it",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.EqualError(t, netguard.Classify(netip.MustParseAddr(tt.addr)), tt.want)
		})
	}
}

func TestPolicyCheckAddr(t *testing.T) {
	t.Parallel()

	prefixes := func(ss ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(ss))
		for i, s := range ss {
			out[i] = netip.MustParsePrefix(s)
		}
		return out
	}
	tests := map[string]struct {
		cfg     *netguard.Config
		allowed []string
		blocked []string
	}{
		"no allow-list blocks private": {
			cfg:     nil,
			allowed: []string{"93.184.216.34"},
			blocked: []string{"10.0.0.5", "127.0.0.1"},
		},
		"10/8 lets 10.0.0.5 through in every encoding": {
			cfg:     &netguard.Config{AllowCIDRs: prefixes("10.0.0.0/8")},
			allowed: []string{"10.0.0.5", "10.255.255.255", "::ffff:10.0.0.5", "64:ff9b::a00:5", "2002:a00:5::1"},
			blocked: []string{"192.168.1.10", "172.16.0.1", "127.0.0.1", "::ffff:127.0.0.1"},
		},
		"IPv4-mapped allow-list prefix is converted": {
			cfg:     &netguard.Config{AllowCIDRs: prefixes("::ffff:10.0.0.0/104")},
			allowed: []string{"10.0.0.5", "::ffff:10.0.0.5"},
			blocked: []string{"192.168.1.10"},
		},
		"metadata stays blocked inside an allow-listed link-local range": {
			cfg:     &netguard.Config{AllowCIDRs: prefixes("169.254.0.0/16", "fc00::/7")},
			allowed: []string{"169.254.1.1", "fd12::1"},
			blocked: []string{"169.254.169.254", "169.254.170.2", "fd00:ec2::254", "::ffff:169.254.169.254"},
		},
		"allow everything still blocks metadata in every encoding": {
			cfg:     &netguard.Config{AllowCIDRs: prefixes("0.0.0.0/0", "::/0")},
			allowed: []string{"127.0.0.1", "10.0.0.5", "::1", "fe80::1", "64:ff9b::7f00:1"},
			blocked: []string{
				"169.254.169.254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1",
				"2001:0:4136:e378:8000:63bf:5601:5601", "fd00:ec2::254", "168.63.129.16", "100.100.100.200",
			},
		},
		"exact metadata opt-in permits only that endpoint": {
			cfg: &netguard.Config{DangerouslyAllowMetadataPrefixes: prefixes("169.254.169.254/32")},
			// The opt-in does not also demand 169.254.0.0/16 in AllowCIDRs ...
			allowed: []string{"169.254.169.254", "::ffff:169.254.169.254"},
			// ... and opens nothing else.
			blocked: []string{"169.254.170.2", "169.254.1.1", "fd00:ec2::254"},
		},
		"allow-listed IPv6 translation prefix does not open the embedded IPv4": {
			cfg:     &netguard.Config{AllowCIDRs: prefixes("64:ff9b::/96", "2002::/16")},
			allowed: []string{"64:ff9b::5db8:d822"},
			blocked: []string{"64:ff9b::7f00:1", "2002:7f00:1::1"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tt.cfg)
			for _, a := range tt.allowed {
				require.NoError(t, p.CheckAddr(netip.MustParseAddr(a)), a)
			}
			for _, a := range tt.blocked {
				require.ErrorIs(t, p.CheckAddr(netip.MustParseAddr(a)), netguard.ErrBlocked, a)
			}
		})
	}
}

func TestPolicyCheckAddrPort(t *testing.T) {
	t.Parallel()

	p := newPolicy(t, &netguard.Config{AllowedPorts: []uint16{443}})
	require.NoError(t, p.CheckAddrPort(netip.MustParseAddrPort("93.184.216.34:443")))

	err := p.CheckAddrPort(netip.MustParseAddrPort("93.184.216.34:22"))
	be, ok := errors.AsType[*netguard.BlockedError](err)
	require.True(t, ok, "got %v", err)
	require.EqualValues(t, 22, be.Port)
	require.ErrorContains(t, err, "add 22 to AllowedPorts")

	any := newPolicy(t, nil)
	require.NoError(t, any.CheckAddrPort(netip.MustParseAddrPort("93.184.216.34:8080")))
	require.ErrorIs(t, any.CheckAddrPort(netip.MustParseAddrPort("93.184.216.34:0")), netguard.ErrBlocked)
}

// TestAllowCIDRsName: the refusal names the embedder's option, not this
// package's field (Core's option is MediaAllowCIDRs; "AllowCIDRs" sent users
// looking for an option that does not exist).
func TestAllowCIDRsName(t *testing.T) {
	t.Parallel()
	p, err := netguard.NewPolicy(&netguard.Config{AllowCIDRsName: "waqtor Config.MediaAllowCIDRs"})
	require.NoError(t, err)
	err = p.CheckAddr(netip.MustParseAddr("10.0.0.5"))
	require.ErrorContains(t, err, "add 10.0.0.0/8 to waqtor Config.MediaAllowCIDRs to permit it")
	err = p.CheckAddr(netip.MustParseAddr("169.254.169.254"))
	require.ErrorContains(t, err, "stay blocked even inside waqtor Config.MediaAllowCIDRs")
	p, err = netguard.NewPolicy(nil)
	require.NoError(t, err)
	require.ErrorContains(t, p.CheckAddr(netip.MustParseAddr("10.0.0.5")), "add 10.0.0.0/8 to AllowCIDRs")
}
