package rest_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/transport/rest"
)

// TestMediaMemoryBudget: while media bodies fill MediaMemoryBudget, another
// send-media request waits MediaMemoryWait and is refused with 503 and
// Retry-After; once the budget is released, media is accepted again. Other
// routes are not affected.
func TestMediaMemoryBudget(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) {
		o.MaxMediaBodyBytes, o.MediaMemoryBudget, o.MediaMemoryWait = limit, limit, 50*time.Millisecond
	}})
	b.session(t, "default", "default", sessionPhone)
	png := `{"chat": "` + alicePhone + `", "kind": "image", "data": "` + base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n0000")) + `"}`
	send := func() *http.Response {
		req, err := http.NewRequest("POST", b.srv.URL+"/api/sessions/default/messages/send-media", bytes.NewReader([]byte(png)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", b.keyA)
		res, err := b.srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	// A client uploading the largest body, slowly: it holds the whole budget
	// once its handler has reserved it. If a probe below holds the budget
	// first, the slow request may be the one refused: then it starts over.
	startSlow := func() (*io.PipeWriter, chan int) {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
		slow, err := http.NewRequest("POST", b.srv.URL+"/api/sessions/default/messages/send-media", pr)
		require.NoError(t, err)
		slow.ContentLength = limit
		slow.Header.Set("Content-Type", "application/json")
		slow.Header.Set("X-API-Key", b.keyA)
		done := make(chan int, 1)
		go func() {
			res, err := b.srv.Client().Do(slow)
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		_, err = pw.Write([]byte(`{"chat": `))
		require.NoError(t, err)
		return pw, done
	}
	pw, slowDone := startSlow()
	var refused *http.Response
	require.Eventually(t, func() bool {
		select {
		case <-slowDone: // refused itself: the budget was a probe's
			pw.CloseWithError(errors.New("restart"))
			pw, slowDone = startSlow()
		default:
		}
		refused = send()
		return refused.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 5*time.Millisecond, "a media request beyond the budget is refused")
	require.Equal(t, "1", refused.Header.Get("Retry-After"))
	require.Equal(t, 200, b.do(t, b.keyA, "POST", "/sessions/default/messages/send-text", map[string]any{"chat": alicePhone, "text": "x"}).status,
		"other routes do not wait for media budget")

	pw.CloseWithError(errors.New("client gave up"))
	<-slowDone
	require.Eventually(t, func() bool { return send().StatusCode == 200 }, 5*time.Second, 5*time.Millisecond, "the budget is released")
}

func TestMediaMemoryBudgetConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys, MaxMediaBodyBytes: 1 << 20, MediaMemoryBudget: 1 << 10})
	require.ErrorContains(t, err, "MediaMemoryBudget")
	_, err = rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys, MediaMemoryBudget: -1})
	require.NoError(t, err, "negative disables it")
}
