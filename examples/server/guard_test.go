package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/transport/rest"
)

// TestKeyGuesses: wrong keys on /metrics and /ws-monitor are throttled like
// REST's (429 once over the limit, even for the right key from that address)
// and refused as problem+json.
func TestKeyGuesses(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/metrics", "/ws-monitor?format=json"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			key := auth.NewKeySecret()
			srv := startServer(t, []string{"-api-key", key},
				map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
			get := func(k string) *http.Response {
				req, err := http.NewRequest("GET", "http://"+srv.addr+path, nil)
				require.NoError(t, err)
				req.Header.Set("X-API-Key", k)
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				return res
			}
			require.Equal(t, http.StatusOK, get(key).StatusCode)
			res := get(auth.NewKeySecret())
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

			counts := map[int]int{}
			for range 100 {
				counts[get(auth.NewKeySecret()).StatusCode]++
			}
			require.Equal(t, rest.AuthFailureLimitDefault-1, counts[http.StatusUnauthorized], "%v", counts)
			require.Equal(t, 100-(rest.AuthFailureLimitDefault-1), counts[http.StatusTooManyRequests], "%v", counts)
			res = get(key)
			require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the address is held off")
			require.NotEmpty(t, res.Header.Get("Retry-After"))
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
			srv.stop(t)
		})
	}
}
