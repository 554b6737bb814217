package rest_test

import (
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// rawStatus sends a GET /sessions with key and extra headers, without the
// validating client (it runs in many goroutines).
func (b *testBundle) rawStatus(t *testing.T, key string, hdr ...string) int {
	req, err := http.NewRequest("GET", b.srv.URL+"/api/sessions", nil)
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("X-API-Key", key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestAuthThrottleAtomic: parallel bad keys from one address get exactly
// AuthFailureLimit answers 401, the rest 429 (checking then counting let 145
// of 400 through against a limit of 30).
func TestAuthThrottleAtomic(t *testing.T) {
	t.Parallel()
	const limit, attempts = 30, 200
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) { o.AuthFailureLimit = limit; o.KeyFailureLimit = -1 }})
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range attempts {
		wg.Go(func() {
			<-start
			code := b.rawStatus(t, auth.NewKeySecret())
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	require.Equal(t, map[int]int{401: limit, 429: attempts - limit}, codes)
}

// TestTrustedProxies: behind a trusted proxy, the throttle counts the client
// named by X-Forwarded-For; a client cannot choose its address by writing
// the header itself, neither through the proxy nor without it.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	xff := "X-Forwarded-For"
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) {
			o.AuthFailureLimit = 2
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // the test server's peer
		}})
		for range 2 {
			require.Equal(t, 401, b.rawStatus(t, auth.NewKeySecret(), xff, "198.51.100.1"))
		}
		require.Equal(t, 429, b.rawStatus(t, auth.NewKeySecret(), xff, "198.51.100.1"))
		require.Equal(t, 429, b.rawStatus(t, auth.NewKeySecret(), xff, "203.0.113.9, 198.51.100.1"),
			"a prefix the client wrote is not its address")
		require.Equal(t, 401, b.rawStatus(t, auth.NewKeySecret(), xff, "198.51.100.2"), "another client behind the proxy")
		require.Equal(t, 200, b.rawStatus(t, b.keyA, xff, "198.51.100.3"))
	})
	t.Run("untrusted peer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) {
			o.AuthFailureLimit = 2
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // not the test server's peer
		}})
		for i := range 2 {
			require.Equal(t, 401, b.rawStatus(t, auth.NewKeySecret(), xff, "198.51.100."+string(rune('1'+i))))
		}
		require.Equal(t, 429, b.rawStatus(t, auth.NewKeySecret(), xff, "198.51.100.9"),
			"a new X-Forwarded-For from an untrusted peer does not make a new client")
	})
	t.Run("bad header name", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			TrustedProxyHeader: "X-Real-IP"})
		require.ErrorContains(t, err, "X-Real-IP")
	})
}
