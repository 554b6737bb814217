package netguard_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/netguard"
)

func TestLimitReader(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		data    string
		limit   int64
		tooBig  bool
		wantLen int
	}{
		"under":       {data: "hello", limit: 10, wantLen: 5},
		"exactly":     {data: "hello", limit: 5, wantLen: 5},
		"one over":    {data: "hello!", limit: 5, tooBig: true, wantLen: 5},
		"far over":    {data: strings.Repeat("x", 10000), limit: 100, tooBig: true, wantLen: 100},
		"zero limit":  {data: "x", limit: 0, tooBig: true},
		"zero, empty": {data: "", limit: 0},
		"negative":    {data: "x", limit: -5, tooBig: true},
		"huge limit":  {data: "hello", limit: 1<<63 - 1, wantLen: 5},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for readerName, r := range map[string]io.Reader{
				"plain":    strings.NewReader(tt.data),
				"one byte": iotest.OneByteReader(strings.NewReader(tt.data)),
			} {
				got, err := io.ReadAll(netguard.LimitReader(r, tt.limit))
				require.Len(t, got, tt.wantLen, readerName)
				if !tt.tooBig {
					require.NoError(t, err, readerName)
					continue
				}
				require.ErrorIs(t, err, netguard.ErrTooLarge, readerName)
				tl, ok := errors.AsType[*netguard.TooLargeError](err)
				require.True(t, ok)
				require.Equal(t, max(tt.limit, 0), tl.Limit)
			}
		})
	}
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// bomb is 50 MB of zeros gzipped to about 50 KB (docs/reliability.md T12): fifty
// concatenated gzip members of 1 MB each, which gzip.Reader decodes as one
// stream. Built once, cheaply.
var bomb = sync.OnceValue(func() []byte {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return bytes.Repeat(member.Bytes(), bombSize>>20)
})

const bombSize = 50 << 20

func response(body []byte, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	return &http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1, Header: h}
}

func TestLimitBody(t *testing.T) {
	t.Parallel()

	plain := []byte(strings.Repeat("webhook payload ", 100)) // 1600 bytes
	gz := gzipped(t, plain)

	tests := map[string]struct {
		resp    *http.Response
		limit   int64
		want    []byte
		wantErr error
		errText string
	}{
		"identity under":           {resp: response(plain), limit: 1600, want: plain},
		"identity over":            {resp: response(plain), limit: 1599, wantErr: netguard.ErrTooLarge},
		"explicit identity":        {resp: response(plain, "Content-Encoding", "identity"), limit: 2000, want: plain},
		"gzip decoded":             {resp: response(gz, "Content-Encoding", "gzip"), limit: 1600, want: plain},
		"x-gzip decoded":           {resp: response(gz, "Content-Encoding", "X-GZIP"), limit: 1600, want: plain},
		"gzip capped after decode": {resp: response(gz, "Content-Encoding", "gzip"), limit: int64(len(gz)) + 10, wantErr: netguard.ErrTooLarge},
		"gzip bomb":                {resp: response(bomb(), "Content-Encoding", "gzip"), limit: 1 << 20, wantErr: netguard.ErrTooLarge},
		"corrupt gzip":             {resp: response([]byte("not gzip"), "Content-Encoding", "gzip"), limit: 100, errText: "gzip body"},
		"brotli refused":           {resp: response(plain, "Content-Encoding", "br"), limit: 2000, errText: `unsupported Content-Encoding "br"`},
		"stacked refused":          {resp: response(gz, "Content-Encoding", "gzip", "Content-Encoding", "gzip"), limit: 2000, errText: "2 Content-Encoding headers"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := netguard.LimitBody(tt.resp, tt.limit)
			if tt.errText != "" {
				require.ErrorContains(t, err, tt.errText)
				return
			}
			require.NoError(t, err)
			got, err := io.ReadAll(body)
			require.NoError(t, body.Close())
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.LessOrEqual(t, int64(len(got)), tt.limit)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("content-length over the limit fails before reading", func(t *testing.T) {
		t.Parallel()
		resp := &http.Response{
			Body:          io.NopCloser(iotest.ErrReader(errors.New("must not be read"))),
			ContentLength: 1 << 30,
			Header:        http.Header{},
		}
		_, err := netguard.LimitBody(resp, 20000)
		require.ErrorIs(t, err, netguard.ErrTooLarge)
	})
}

func TestFetch(t *testing.T) {
	t.Parallel()

	client := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback}))

	t.Run("plain body", func(t *testing.T) {
		t.Parallel()
		srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "media bytes")
		})
		res, err := netguard.Fetch(t.Context(), client, srv.URL, 1<<10)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "media bytes", string(res.Body))
		require.Equal(t, "text/plain", res.Header.Get("Content-Type"))
	})

	t.Run("gzip asked for and decoded", func(t *testing.T) {
		t.Parallel()
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") != "gzip" {
				http.Error(w, "gzip not asked for", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzipped(t, []byte("decoded!")))
		})
		res, err := netguard.Fetch(t.Context(), client, srv.URL, 8)
		require.NoError(t, err)
		require.Equal(t, "decoded!", string(res.Body))
	})

	t.Run("non-2xx status is returned", func(t *testing.T) {
		t.Parallel()
		srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "gone", http.StatusGone) })
		res, err := netguard.Fetch(t.Context(), client, srv.URL, 1<<10)
		require.NoError(t, err)
		require.Equal(t, http.StatusGone, res.StatusCode)
	})

	t.Run("streamed oversized body", func(t *testing.T) {
		t.Parallel()
		// The receiver would send 1 GB; the fetch must stop at the limit and
		// drop the connection rather than drain it.
		sent := make(chan int64, 1)
		srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
			chunk := bytes.Repeat([]byte("A"), 32<<10)
			var n int64
			for n < 1<<30 {
				m, err := w.Write(chunk)
				n += int64(m)
				if err != nil {
					break
				}
			}
			sent <- n
		})
		start := time.Now()
		_, err := netguard.Fetch(t.Context(), client, srv.URL, 20000)
		require.ErrorIs(t, err, netguard.ErrTooLarge)
		tl, ok := errors.AsType[*netguard.TooLargeError](err)
		require.True(t, ok)
		require.EqualValues(t, 20000, tl.Limit)
		require.Less(t, <-sent, int64(64<<20), "the connection was closed early")
		require.Less(t, time.Since(start), 10*time.Second)
	})

	t.Run("declared oversized body", func(t *testing.T) {
		t.Parallel()
		srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(100000))
			_, _ = w.Write(make([]byte, 100000))
		})
		_, err := netguard.Fetch(t.Context(), client, srv.URL, 20000)
		require.ErrorIs(t, err, netguard.ErrTooLarge)
	})

	t.Run("blocked destination", func(t *testing.T) {
		t.Parallel()
		_, err := netguard.Fetch(t.Context(), client, "http://169.254.169.254/latest/meta-data/", 1<<10)
		require.ErrorIs(t, err, netguard.ErrBlocked)
	})

	t.Run("bad arguments", func(t *testing.T) {
		t.Parallel()
		_, err := netguard.Fetch(t.Context(), nil, "http://example.test/", 1)
		require.ErrorContains(t, err, "create one with NewClient")
		_, err = netguard.Fetch(t.Context(), client, "http://example.test/", 0)
		require.ErrorContains(t, err, "maxBytes must be positive")
		_, err = netguard.Fetch(t.Context(), client, "http://[::1/", 1)
		require.ErrorIs(t, err, netguard.ErrInvalidURL)
	})
}

// TestFetchGzipBomb is docs/reliability.md T12's gzip bomb on one delivery: 50 KB on
// the wire, 50 MB decoded. It measures allocations, so it does not run in
// parallel with other tests.
func TestFetchGzipBomb(t *testing.T) {
	const limit = 1 << 20
	b := bomb()
	require.Less(t, len(b), 100<<10, "the bomb is small on the wire")

	// Negative control: a cap applied before decompression (the Convoy pattern
	// docs/reliability.md T12 warns about) lets far more than the cap through.
	zr, err := gzip.NewReader(io.LimitReader(bytes.NewReader(b), limit))
	require.NoError(t, err)
	_, err = io.CopyN(io.Discard, zr, 4*limit)
	require.NoError(t, err, "4x the cap decoded from under-cap wire bytes")

	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(b)
	})
	client := newClient(t, newPolicy(t, &netguard.Config{AllowCIDRs: loopback}))

	measure := func(limit int64) (allocated uint64, elapsed time.Duration, err error) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err = netguard.Fetch(t.Context(), client, srv.URL, limit)
		elapsed = time.Since(start)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, elapsed, err
	}

	allocated, elapsed, err := measure(limit)
	require.ErrorIs(t, err, netguard.ErrTooLarge)
	t.Logf("capped fetch: %d KiB allocated in %v", allocated>>10, elapsed)
	require.Less(t, allocated, uint64(16<<20), "memory stays bounded by the cap, not the decoded size")
	require.Less(t, elapsed, 5*time.Second)

	if testing.Short() || raceEnabled {
		t.Log("skipping the uncapped control: decoding 50 MB is slow under -race and -short")
		return
	}
	// Negative control for the measurement: with a limit above the decoded
	// size the same fetch allocates the whole 50 MB, which the bound above
	// would have caught.
	allocated, _, err = measure(bombSize + 1)
	require.NoError(t, err)
	t.Logf("uncapped fetch: %d KiB allocated", allocated>>10)
	require.Greater(t, allocated, uint64(bombSize))
}
