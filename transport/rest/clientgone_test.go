package rest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// levelRecorder is a slog.Handler remembering the level and message of every
// record.
type levelRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelRecorder) WithGroup(string) slog.Handler      { return l }

func (l *levelRecorder) atLeast(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= level {
			out = append(out, r.Message)
		}
	}
	return out
}

// TestClientGoneIsNotAnOutage: a client that disconnects while its request
// waits on the database is recorded as 499 and logged at debug level, not
// answered 503 and logged at ERROR as "database unavailable" (which is what a
// database call made with the canceled context returns).
func TestClientGoneIsNotAnOutage(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	slow := rest.Route{Method: "GET", Pattern: "/slow", Scope: auth.ScopeRead, OperationID: "slow", Summary: "Waits on the database.",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select { // a database call bound to the request's context
			case <-r.Context().Done():
				rest.WriteError(w, r, fmt.Errorf("%w: store message: %w", waqtor.ErrDatabase, r.Context().Err()))
			case <-time.After(200 * time.Millisecond):
				rest.WriteError(w, r, fmt.Errorf("%w: connection refused", waqtor.ErrDatabase))
			}
		})}
	reg := prometheus.NewRegistry()
	logs := &levelRecorder{}
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) {
		o.Groups = []rest.RouteGroup{{Name: "slow", Routes: []rest.Route{slow}}}
		o.Registerer = reg
		o.Logger = slog.New(logs)
	}})
	count := func(code string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != "waqtor_http_requests_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "code" && lp.GetValue() == code {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/api/slow", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", b.keyA)
	done := make(chan error, 1)
	go func() {
		res, err := b.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-started
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Eventually(t, func() bool { return count("499") == 1 }, 5*time.Second, time.Millisecond, "the canceled request is counted as 499")
	require.Zero(t, count("503"), "a client going away is not an outage")
	require.Empty(t, logs.atLeast(slog.LevelWarn), "nothing logged above debug")

	// The same error with the client still there is an outage: 503 and ERROR.
	req, err = http.NewRequest("GET", b.srv.URL+"/api/slow", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", b.keyA)
	res, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	<-started
	require.Eventually(t, func() bool { return count("503") == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []string{"Request failed"}, logs.atLeast(slog.LevelError))
}
