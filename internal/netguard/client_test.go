package netguard_test

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

func TestClientAllowList(t *testing.T) {
	t.Parallel()

	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })

	t.Run("default refuses the loopback server", func(t *testing.T) {
		t.Parallel()
		resp, err := newClient(t, newPolicy(t, nil)).Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, netguard.ErrBlocked)
		require.ErrorContains(t, err, "add 127.0.0.0/8 to AllowCIDRs")
	})

	t.Run("127.0.0.0/8 allow-listed lets it through", func(t *testing.T) {
		t.Parallel()
		resp, err := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback})).Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "hello", string(body))
	})

	t.Run("10.0.0.0/8 allow-listed does not open loopback", func(t *testing.T) {
		t.Parallel()
		cfg := &netguard.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
		resp, err := newClient(t, newPolicy(t, cfg)).Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, netguard.ErrBlocked)
	})
}

// TestClientRedirect: a loopback server answers 302 to a second server or to
// the metadata address. The Location must never be requested.
func TestClientRedirect(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		redirector *countingServer
		target     *countingServer
	}
	setup := func(t *testing.T, location func(target string) string) *testBundle {
		t.Helper()
		b := &testBundle{}
		b.target = newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal") })
		b.redirector = newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, location(b.target.URL), http.StatusFound)
		})
		return b
	}
	toTarget := func(target string) string { return target + "/admin" }
	toMetadata := func(string) string { return "http://169.254.169.254/latest/meta-data/iam/security-credentials/" }

	for name, location := range map[string]func(string) string{"to second server": toTarget, "to metadata": toMetadata} {
		t.Run("client returns the 3xx "+name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, location)
			// Loopback is allow-listed, so the second server would be reachable.
			client := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback}))

			resp, err := client.Get(b.redirector.URL)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, location(b.target.URL), resp.Header.Get("Location"))

			_, err = netguard.Fetch(t.Context(), client, b.redirector.URL, 1<<10)
			require.ErrorIs(t, err, netguard.ErrRedirect)
			re, ok := errors.AsType[*netguard.RedirectError](err)
			require.True(t, ok)
			require.Equal(t, http.StatusFound, re.StatusCode)
			require.Equal(t, location(b.target.URL), re.Location)

			require.EqualValues(t, 2, b.redirector.hits.Load())
			require.Zero(t, b.target.hits.Load(), "the Location was never requested")
		})
	}

	// Negative control: a client that follows redirects does reach the second
	// server, so the zero count above means something.
	t.Run("control: a following client reaches the target", func(t *testing.T) {
		t.Parallel()
		b := setup(t, toTarget)
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := (&http.Client{Transport: tr}).Get(b.redirector.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.EqualValues(t, 1, b.target.hits.Load())
	})
}

func TestClientScheme(t *testing.T) {
	t.Parallel()

	client := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback, AllowedSchemes: []string{"https"}}))
	srv := newCountingServer(t, func(http.ResponseWriter, *http.Request) {})

	for name, url := range map[string]string{
		"file":                 "file:///etc/passwd",
		"http when https only": srv.URL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := client.Get(url)
			if resp != nil {
				resp.Body.Close()
			}
			require.ErrorIs(t, err, netguard.ErrScheme)
		})
	}
	t.Cleanup(func() { require.Zero(t, srv.hits.Load()) })
}

func TestClientRequestChecks(t *testing.T) {
	t.Parallel()

	srv := newCountingServer(t, func(http.ResponseWriter, *http.Request) {})
	client := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback}))

	// The client refuses these before dialling, whatever DNS would say.
	tests := map[string]struct {
		url  string
		want error
	}{
		"userinfo":          {url: strings.Replace(srv.URL, "http://", "http://user:pw@", 1), want: netguard.ErrInvalidURL},
		"decimal loopback":  {url: "http://2130706433/", want: netguard.ErrInvalidURL}, // allow-listed, but ambiguous
		"metadata literal":  {url: "http://169.254.169.254/latest/meta-data/", want: netguard.ErrBlocked},
		"metadata via 6to4": {url: "http://[2002:a9fe:a9fe::1]/", want: netguard.ErrBlocked},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := client.Get(tt.url)
			if resp != nil {
				resp.Body.Close()
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
	t.Cleanup(func() { require.Zero(t, srv.hits.Load()) })
}

func TestClientSettings(t *testing.T) {
	t.Parallel()

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		p := newPolicy(t, nil)
		tr := p.Transport()
		require.Nil(t, tr.Proxy, "proxy environment variables are ignored")
		require.True(t, tr.DisableCompression)
		require.EqualValues(t, netguard.MaxResponseHeaderBytesDefault, tr.MaxResponseHeaderBytes)
		require.Equal(t, netguard.ResponseHeaderTimeoutDefault, tr.ResponseHeaderTimeout)
		require.Equal(t, netguard.TLSHandshakeTimeoutDefault, tr.TLSHandshakeTimeout)
		require.NotNil(t, tr.DialContext)
		require.Nil(t, tr.DialTLSContext)
		require.Equal(t, netguard.DialTimeoutDefault, p.Dialer().Timeout)

		c := p.Client()
		require.Equal(t, netguard.TimeoutDefault, c.Timeout)
		require.ErrorIs(t, c.CheckRedirect(nil, nil), http.ErrUseLastResponse)
	})

	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		p := newPolicy(t, &netguard.Config{
			DialTimeout: time.Second, MaxResponseHeaderBytes: 1234, ResponseHeaderTimeout: 2 * time.Second,
			TLSHandshakeTimeout: 3 * time.Second, Timeout: 4 * time.Second,
		})
		tr := p.Transport()
		require.EqualValues(t, 1234, tr.MaxResponseHeaderBytes)
		require.Equal(t, 2*time.Second, tr.ResponseHeaderTimeout)
		require.Equal(t, 3*time.Second, tr.TLSHandshakeTimeout)
		require.Equal(t, time.Second, p.Dialer().Timeout)
		require.Equal(t, 4*time.Second, p.Client().Timeout)
	})

	t.Run("no transparent gzip", func(t *testing.T) {
		t.Parallel()
		gotEncoding := make(chan string, 1)
		srv := newCountingServer(t, func(_ http.ResponseWriter, r *http.Request) { gotEncoding <- r.Header.Get("Accept-Encoding") })
		resp, err := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback})).Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Empty(t, <-gotEncoding, "the transport must not ask for gzip it would decode without a cap")
	})

	t.Run("oversized response headers", func(t *testing.T) {
		t.Parallel()
		srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
			for i := range 64 {
				w.Header().Set("X-Junk-"+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("x", 1024))
			}
		})
		p := newPolicy(t, &netguard.Config{AllowCIDRs: loopback, MaxResponseHeaderBytes: 16 << 10})
		resp, err := newClient(t, p).Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorContains(t, err, "server response headers exceeded")
	})

	t.Run("response header timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv := newCountingServer(t, func(http.ResponseWriter, *http.Request) { <-release })
		t.Cleanup(func() { close(release) }) // runs before srv.Close, which waits for the handler
		p := newPolicy(t, &netguard.Config{AllowCIDRs: loopback, ResponseHeaderTimeout: 50 * time.Millisecond})
		start := time.Now()
		resp, err := newClient(t, p).Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorContains(t, err, "timeout awaiting response headers")
		require.Less(t, time.Since(start), 5*time.Second)
	})
}

func TestNewPolicyConfig(t *testing.T) {
	t.Parallel()

	t.Run("nil config is the default", func(t *testing.T) {
		t.Parallel()
		p, err := netguard.NewPolicy(nil)
		require.NoError(t, err)
		require.ErrorIs(t, p.CheckAddr(netip.MustParseAddr("127.0.0.1")), netguard.ErrBlocked)
		_, err = netguard.NewClient(nil)
		require.NoError(t, err)
	})

	t.Run("WithDefaults copies", func(t *testing.T) {
		t.Parallel()
		cfg := &netguard.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}}
		got := cfg.WithDefaults()
		require.Equal(t, netguard.TimeoutDefault, got.Timeout)
		require.Equal(t, []string{"http", "https"}, got.AllowedSchemes)
		require.NotNil(t, got.Resolver)
		got.AllowCIDRs[0] = netip.MustParsePrefix("0.0.0.0/0")
		require.Equal(t, netip.MustParsePrefix("10.1.2.3/8"), cfg.AllowCIDRs[0], "the caller's slice is untouched")
		require.Zero(t, cfg.Timeout)

		_, err := netguard.NewPolicy(cfg)
		require.NoError(t, err)
		require.Equal(t, netip.MustParsePrefix("10.1.2.3/8"), cfg.AllowCIDRs[0], "NewPolicy normalizes a copy")
	})

	invalid := map[string]struct {
		cfg  *netguard.Config
		want string
	}{
		"zero prefix": {
			cfg:  &netguard.Config{AllowCIDRs: []netip.Prefix{{}}},
			want: "AllowCIDRs[0]: invalid prefix",
		},
		"metadata opt-in with a containing range": {
			cfg:  &netguard.Config{DangerouslyAllowMetadataPrefixes: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")}},
			want: "is not a known metadata endpoint; list the exact endpoint",
		},
		"metadata opt-in with a non-metadata host": {
			cfg:  &netguard.Config{DangerouslyAllowMetadataPrefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}},
			want: "is not a known metadata endpoint",
		},
		"port 0":          {cfg: &netguard.Config{AllowedPorts: []uint16{443, 0}}, want: "AllowedPorts contains 0"},
		"bad scheme":      {cfg: &netguard.Config{AllowedSchemes: []string{"ht tp"}}, want: "is not a URL scheme"},
		"negative":        {cfg: &netguard.Config{Timeout: -time.Second}, want: "Timeout is negative"},
		"negative header": {cfg: &netguard.Config{MaxResponseHeaderBytes: -1}, want: "MaxResponseHeaderBytes is negative"},
		"mixed mapped prefix": {
			cfg:  &netguard.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("::ffff:0.0.0.0/80")}},
			want: "mixes IPv4-mapped",
		},
	}
	for name, tt := range invalid {
		t.Run("invalid/"+name, func(t *testing.T) {
			t.Parallel()
			_, err := netguard.NewPolicy(tt.cfg)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "netguard: "), err.Error())
			_, err = netguard.NewClient(tt.cfg)
			require.Error(t, err)
		})
	}
}
