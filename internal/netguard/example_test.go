package netguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/waqtor/waqtor/internal/netguard"
)

// A client for fetching user-supplied URLs. Loopback is allow-listed here only
// so that the example can reach its own test server.
func ExampleNewClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello from the LAN")
	}))
	defer srv.Close()

	client, err := netguard.NewClient(&netguard.Config{
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	fmt.Println(resp.StatusCode, string(body))

	// The metadata endpoint is refused before any packet is sent.
	_, err = client.Get("http://169.254.169.254/latest/meta-data/")
	fmt.Println(errors.Is(err, netguard.ErrBlocked))
	// Output:
	// 200 hello from the LAN
	// true
}

// Validate a webhook URL when the user registers it. The resolver is injected;
// production code leaves Config.Resolver nil for net.DefaultResolver.
func ExamplePolicy_ValidateURL() {
	dns := map[string][]netip.Addr{
		"hooks.example.com": {netip.MustParseAddr("93.184.216.34")},
		"intranet.example":  {netip.MustParseAddr("10.0.0.5")},
	}
	policy, err := netguard.NewPolicy(&netguard.Config{
		Resolver: netguard.ResolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
			return dns[host], nil
		}),
	})
	if err != nil {
		panic(err)
	}
	for _, u := range []string{
		"https://hooks.example.com/waqtor",
		"http://intranet.example/admin",
		"http://0177.0.0.1/",
		"file:///etc/passwd",
	} {
		fmt.Println(policy.ValidateURL(context.Background(), u))
	}
	// Output:
	// <nil>
	// netguard: blocked 10.0.0.5 (host "intranet.example"): private network (RFC 1918) in 10.0.0.0/8; add 10.0.0.0/8 to AllowCIDRs to permit it
	// netguard: blocked 127.0.0.1 (host "0177.0.0.1"): loopback (RFC 1122) in 127.0.0.0/8; add 127.0.0.0/8 to AllowCIDRs to permit it
	// netguard: scheme not allowed: "file"; allowed schemes are http, https (see Config.AllowedSchemes)
}

func ExampleClassify() {
	for _, s := range []string{"93.184.216.34", "192.168.1.10", "64:ff9b::a9fe:a9fe"} {
		err := netguard.Classify(netip.MustParseAddr(s))
		var be *netguard.BlockedError
		if errors.As(err, &be) {
			fmt.Printf("%s: blocked, %s %s, metadata=%v\n", s, be.Reason, be.Range, be.Metadata)
			continue
		}
		fmt.Printf("%s: public\n", s)
	}
	// Output:
	// 93.184.216.34: public
	// 192.168.1.10: blocked, private network (RFC 1918) 192.168.0.0/16, metadata=false
	// 64:ff9b::a9fe:a9fe: blocked, cloud metadata endpoint (AWS, GCP, Azure, OCI, DigitalOcean, OpenStack and others) 169.254.169.254/32, metadata=true
}

// Fetch reads a body with a cap that applies after gzip decoding.
func ExampleFetch() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, 5000))
	}))
	defer srv.Close()

	client, err := netguard.NewClient(&netguard.Config{
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()

	res, err := netguard.Fetch(context.Background(), client, srv.URL, 8000)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.StatusCode, len(res.Body))

	_, err = netguard.Fetch(context.Background(), client, srv.URL, 1000)
	fmt.Println(err)
	// Output:
	// 200 5000
	// netguard: body exceeds the 1000-byte limit (counted after any gzip decoding); raise the limit only for trusted sources
}
