package netguard_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

// blockedCase is an address the default policy must refuse, with the range (and
// metadata flag) Classify must report for it.
type blockedCase struct {
	addr     string
	metadata bool
	rng      string
}

// blockedCases holds every address of docs/reliability.md T11 ("t11 ..." names) and
// the other ranges the guard covers.
var blockedCases = map[string]blockedCase{
	"t11 loopback v4":          {addr: "127.0.0.1", rng: "127.0.0.0/8"},
	"t11 loopback v6":          {addr: "::1", rng: "::1/128"},
	"t11 private 10/8":         {addr: "10.0.0.5", rng: "10.0.0.0/8"},
	"t11 private 172.16/12":    {addr: "172.16.0.1", rng: "172.16.0.0/12"},
	"t11 private 192.168/16":   {addr: "192.168.1.10", rng: "192.168.0.0/16"},
	"t11 metadata v4":          {addr: "169.254.169.254", metadata: true, rng: "169.254.169.254/32"},
	"t11 metadata AWS v6":      {addr: "fd00:ec2::254", metadata: true, rng: "fd00:ec2::254/128"},
	"t11 link-local v6":        {addr: "fe80::1", rng: "fe80::/10"},
	"t11 CGNAT":                {addr: "100.64.0.1", rng: "100.64.0.0/10"},
	"t11 this network":         {addr: "0.0.0.0", rng: "0.0.0.0/8"},
	"t11 benchmarking":         {addr: "198.18.0.1", rng: "198.18.0.0/15"},
	"t11 reserved 240/4":       {addr: "240.0.0.1", rng: "240.0.0.0/4"},
	"t11 v4-mapped loopback":   {addr: "::ffff:127.0.0.1", rng: "127.0.0.0/8"},
	"t11 NAT64 metadata":       {addr: "64:ff9b::a9fe:a9fe", metadata: true, rng: "169.254.169.254/32"},
	"t11 6to4 metadata":        {addr: "2002:a9fe:a9fe::1", metadata: true, rng: "169.254.169.254/32"},
	"6to4 private":             {addr: "2002:a00:5::1", rng: "10.0.0.0/8"},
	"Alibaba metadata":         {addr: "100.100.100.200", metadata: true, rng: "100.100.100.200/32"},
	"Azure WireServer":         {addr: "168.63.129.16", metadata: true, rng: "168.63.129.16/32"},
	"ECS credentials":          {addr: "169.254.170.2", metadata: true, rng: "169.254.170.2/32"},
	"EKS pod identity":         {addr: "169.254.170.23", metadata: true, rng: "169.254.170.23/32"},
	"GCP metadata v6":          {addr: "fd20:ce::254", metadata: true, rng: "fd20:ce::254/128"},
	"Oracle legacy metadata":   {addr: "192.0.0.192", metadata: true, rng: "192.0.0.192/32"},
	"Tencent metadata":         {addr: "169.254.0.23", metadata: true, rng: "169.254.0.23/32"},
	"broadcast":                {addr: "255.255.255.255", rng: "255.255.255.255/32"},
	"documentation TEST-NET-1": {addr: "192.0.2.1", rng: "192.0.2.0/24"},
	"documentation TEST-NET-2": {addr: "198.51.100.7", rng: "198.51.100.0/24"},
	"documentation TEST-NET-3": {addr: "203.0.113.9", rng: "203.0.113.0/24"},
	"documentation v6":         {addr: "2001:db8::1", rng: "2001:db8::/32"},
	"documentation v6 3fff":    {addr: "3fff::1", rng: "3fff::/20"},
	"discard-only v6":          {addr: "100::1", rng: "100::/64"},
	"IETF protocol 192.0.0/24": {addr: "192.0.0.8", rng: "192.0.0.0/24"},
	"ISATAP loopback":          {addr: "2001:4860::5efe:7f00:1", rng: "127.0.0.0/8"},
	"link-local v4":            {addr: "169.254.1.1", rng: "169.254.0.0/16"},
	"link-local v6 with zone":  {addr: "fe80::1%eth0", rng: "fe80::/10"},
	"multicast v4":             {addr: "224.0.0.1", rng: "224.0.0.0/4"},
	"multicast v6":             {addr: "ff02::1", rng: "ff00::/8"},
	"NAT64 local-use":          {addr: "64:ff9b:1::a00:5", rng: "64:ff9b:1::/48"},
	"NAT64 loopback":           {addr: "64:ff9b::7f00:1", rng: "127.0.0.0/8"},
	"ORCHIDv2":                 {addr: "2001:20::1", rng: "2001:20::/28"},
	"outside 2000::/3":         {addr: "4000::1", rng: "4000::1/128"},
	"site-local v6":            {addr: "fec0::1", rng: "fec0::/10"},
	"Teredo client loopback":   {addr: "2001:0:4136:e378:8000:63bf:80ff:fffe", rng: "127.0.0.0/8"},
	"Teredo client metadata":   {addr: "2001:0:4136:e378:8000:63bf:5601:5601", metadata: true, rng: "169.254.169.254/32"},
	"unique local v6":          {addr: "fd12:3456::1", rng: "fc00::/7"},
	"unspecified v6":           {addr: "::", rng: "::/128"},
	"v4-compatible":            {addr: "::7f00:1", rng: "::/96"},
	"v4-mapped metadata":       {addr: "::ffff:169.254.169.254", metadata: true, rng: "169.254.169.254/32"},
	"v4-mapped private":        {addr: "::ffff:10.0.0.5", rng: "10.0.0.0/8"},
	"v4-translated":            {addr: "::ffff:0:7f00:1", rng: "::ffff:0:0:0/96"},
}

// publicCases are addresses every policy must let through.
var publicCases = map[string]string{
	"example.com v4":           "93.184.216.34",
	"Cloudflare v6":            "2606:4700::1111",
	"Google DNS v6":            "2001:4860:4860::8888",
	"6to4 of a public v4":      "2002:5db8:d822::1",
	"NAT64 of a public v4":     "64:ff9b::5db8:d822",
	"Teredo with public peers": "2001:0:4136:e378:8000:63bf:a247:27dd",
	"v4-mapped public":         "::ffff:93.184.216.34",
	"public v4 1.1.1.1":        "1.1.1.1",
}

// hostPort formats an address for a URL authority or a dial address.
func hostPort(addr string, port int) string {
	a := netip.MustParseAddr(addr)
	if a.Is6() {
		return fmt.Sprintf("[%s]:%d", a, port)
	}
	return fmt.Sprintf("%s:%d", a, port)
}

// urlHost formats an address as a URL host, escaping an IPv6 zone.
func urlHost(addr string) string {
	a := netip.MustParseAddr(addr)
	if !a.Is6() {
		return a.String()
	}
	if z := a.Zone(); z != "" {
		return "[" + a.WithZone("").String() + "%25" + z + "]"
	}
	return "[" + a.String() + "]"
}

// staticResolver answers from m and fails for any other host.
func staticResolver(m map[string][]string) netguard.Resolver {
	return netguard.ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		addrs, ok := m[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		out := make([]netip.Addr, len(addrs))
		for i, a := range addrs {
			out[i] = netip.MustParseAddr(a)
		}
		return out, nil
	})
}

// newPolicy builds a Policy or fails the test.
func newPolicy(t *testing.T, cfg *netguard.Config) *netguard.Policy {
	t.Helper()
	p, err := netguard.NewPolicy(cfg)
	require.NoError(t, err)
	return p
}

// newClient returns p's client and closes its idle connections at cleanup.
func newClient(t *testing.T, p *netguard.Policy) *http.Client {
	t.Helper()
	c := p.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// countingServer is a loopback httptest server that counts requests.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// loopback is the allow-list that lets tests reach their httptest servers.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
