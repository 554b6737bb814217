package netguard_test

import (
	"context"
	"errors"
	"hash/fnv"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

// special reports whether the standard library flags a as not a public unicast
// destination. The guard must block every such address (without allow-list).
func special(a netip.Addr) bool {
	u := a.Unmap().WithZone("")
	return !u.IsValid() || u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() ||
		u.IsLinkLocalMulticast() || u.IsInterfaceLocalMulticast() || u.IsMulticast() ||
		u.IsUnspecified() || !u.IsGlobalUnicast()
}

// embeddings returns IPv6 addresses that carry v4 and must share its verdict.
func embeddings(v4 netip.Addr) map[string]netip.Addr {
	b := v4.As4()
	teredo := netip.MustParseAddr("2001:0:4136:e378:8000:63bf::").As16() // public Teredo server
	for i := range 4 {
		teredo[12+i] = ^b[i]
	}
	return map[string]netip.Addr{
		"mapped": netip.AddrFrom16(v4.As16()),
		"NAT64":  netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: b[0], b[1], b[2], b[3]}),
		"6to4":   netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 15: 1}),
		"Teredo": netip.AddrFrom16(teredo),
	}
}

func FuzzClassify(f *testing.F) {
	for _, tc := range blockedCases {
		f.Add([]byte(tc.addr))
		f.Add(netip.MustParseAddr(tc.addr).AsSlice())
	}
	for _, addr := range publicCases {
		f.Add([]byte(addr))
		f.Add(netip.MustParseAddr(addr).AsSlice())
	}
	openAll := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

	f.Fuzz(func(t *testing.T, in []byte) {
		var a netip.Addr
		switch len(in) {
		case 4:
			a = netip.AddrFrom4([4]byte(in))
		case 16:
			a = netip.AddrFrom16([16]byte(in))
		default:
			a, _ = netip.ParseAddr(string(in))
		}

		err := netguard.Classify(a)
		if err != nil {
			require.ErrorIs(t, err, netguard.ErrBlocked)
			be, ok := errors.AsType[*netguard.BlockedError](err)
			require.True(t, ok)
			require.NotEmpty(t, be.Error())
		} else {
			require.False(t, special(a), "%s is special but Classify allowed it", a)
		}

		// Metadata endpoints stay blocked with everything else allow-listed.
		open, perr := netguard.NewPolicy(&netguard.Config{AllowCIDRs: openAll})
		require.NoError(t, perr)
		if be, ok := errors.AsType[*netguard.BlockedError](err); ok && be.Metadata {
			require.ErrorIs(t, open.CheckAddr(a), netguard.ErrBlocked, "metadata %s unblocked by AllowCIDRs", a)
		}

		// An IPv4 address and every IPv6 encoding of it get the same verdict.
		if u := a.Unmap(); u.Is4() {
			for name, e := range embeddings(u) {
				got := netguard.Classify(e)
				require.Equal(t, err == nil, got == nil, "%s: %s is %v but %s is %v", name, u, err, e, got)
			}
		}
	})
}

// fuzzAnswers are the addresses the fuzz resolver hands out.
var fuzzAnswers = []string{
	"93.184.216.34", "2606:4700::1111", "127.0.0.1", "10.0.0.5", "169.254.169.254",
	"::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "fd00:ec2::254", "::1", "2002:a9fe:a9fe::1",
}

func FuzzValidateURL(f *testing.F) {
	for _, tc := range blockedCases {
		f.Add("http://" + urlHost(tc.addr) + "/")
	}
	for _, addr := range publicCases {
		f.Add("https://" + urlHost(addr) + ":8443/x")
	}
	for _, s := range []string{
		"http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/", "http://1572395042/",
		"file:///etc/passwd", "gopher://127.0.0.1:70/", "http://user:pw@example.com/", "http://example.com@127.0.0.1/",
		"https://example.com/path?q=1#frag", "http://[fe80::1%25eth0]/", "http://①②⑦.0.0.1/", "http:example.com",
		"http://%31%32%37.0.0.1/", "http://127.0.0.1%2f@example.com/", "HTTP://EXAMPLE.COM:80/", "http://a..b/",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		var answered []netip.Addr
		resolver := netguard.ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
			h := fnv.New32a()
			_, _ = h.Write([]byte(host))
			sum := int(h.Sum32())
			answered = []netip.Addr{netip.MustParseAddr(fuzzAnswers[sum%len(fuzzAnswers)])}
			if sum%3 == 0 {
				answered = append(answered, netip.MustParseAddr(fuzzAnswers[(sum/7)%len(fuzzAnswers)]))
			}
			return answered, nil
		})
		p, err := netguard.NewPolicy(&netguard.Config{Resolver: resolver})
		require.NoError(t, err)

		err = p.ValidateURL(t.Context(), raw)
		if err != nil {
			ok := errors.Is(err, netguard.ErrBlocked) || errors.Is(err, netguard.ErrInvalidURL) || errors.Is(err, netguard.ErrScheme)
			require.True(t, ok, "unclassified error %v", err)
			return
		}

		u, perr := url.Parse(raw)
		require.NoError(t, perr)
		require.Contains(t, []string{"http", "https"}, u.Scheme)
		require.Nil(t, u.User)
		host := u.Hostname()
		require.NotEmpty(t, host)
		if a, aerr := netip.ParseAddr(host); aerr == nil {
			require.False(t, special(a), "accepted URL %q with special literal %s", raw, a)
			require.NoError(t, netguard.Classify(a))
			return
		}
		// A name: no numeric-looking last label, and every answer is public.
		labels := strings.Split(strings.TrimSuffix(host, "."), ".")
		require.NotEqual(t, "", strings.Trim(labels[len(labels)-1], "0123456789"), "numeric host %q accepted", host)
		require.NotEmpty(t, answered, "a name was accepted without resolving it")
		for _, a := range answered {
			require.False(t, special(a), "accepted %q although it resolved to %s", raw, a)
			require.NoError(t, netguard.Classify(a))
		}
	})
}
