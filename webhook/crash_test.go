package webhook_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/webhook"
)

// The crash test (docs/reliability.md T7) runs the Core and the webhook Service in
// a child process (this test binary, re-executed) that appends events and
// delivers them to a receiver in the parent, and kills it with SIGKILL at
// random moments while deliveries are in flight. The receiver, outside the
// process under test, records every request.

const (
	crashChildEnv = "WAQTOR_WEBHOOK_CRASH_CHILD"
	crashDSNEnv   = "WAQTOR_WEBHOOK_CRASH_DSN"
	crashURLEnv   = "WAQTOR_WEBHOOK_CRASH_URL"
	crashModeEnv  = "WAQTOR_WEBHOOK_CRASH_MODE" // "run" or "drain"
)

func crashChild() int {
	if err := runCrashChild(); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 1
	}
	return 0
}

func runCrashChild() error {
	ctx := context.Background()
	dsn, url, mode := os.Getenv(crashDSNEnv), os.Getenv(crashURLEnv), os.Getenv(crashModeEnv)
	logger := slog.New(slog.DiscardHandler)
	network := sandbox.NewNetwork(nil)
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: network.Factory(), Logger: logger})
	if err != nil {
		return err
	}
	if err := core.Start(ctx); err != nil {
		return err
	}
	svc, err := webhook.New(ctx, core, &webhook.Config{AllowCIDRs: loopback, Logger: logger, LeaseMargin: 300 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
		// The breaker takes part, on a short leash: on a loaded machine 1 s
		// timeouts can trip it, and the test is about crashes, not waits.
		Breaker: webhook.BreakerConfig{OpenTimeout: 100 * time.Millisecond, MaxOpenTimeout: time.Second, MaxReopens: -1}})
	if err != nil {
		return err
	}
	eps, err := svc.Endpoints(ctx, nil)
	if err != nil {
		return err
	}
	if len(eps) == 0 {
		// Generous enough that a loaded machine never exhausts it.
		retry := webhook.ExponentialRetry(50, 10*time.Millisecond, 2, 500*time.Millisecond)
		for range 2 { // two endpoints, one receiver: both must get everything
			if _, err := svc.CreateEndpoint(ctx, &webhook.EndpointParams{URL: url, Events: []string{"message.*"},
				Timeout: time.Second, Retry: retry}); err != nil {
				return err
			}
		}
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	fmt.Println("ready")
	if mode == "drain" {
		// Longer than the 60 s a timed-out attempt waits before its retry: on
		// a loaded machine an attempt of the drain can exceed its 1 s timeout.
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			if done, err := drained(ctx, core); err != nil {
				return err
			} else if done {
				fmt.Println("drained")
				return errors.Join(svc.Stop(ctx), core.Stop(ctx))
			}
			time.Sleep(20 * time.Millisecond)
		}
		st := corelink.Store(core)
		var cursor, last, pending, leased, endpoints int64
		_ = st.DB.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM waqtor_cursors WHERE name = 'webhook'), 0),
			(SELECT seq FROM waqtor_log_counter WHERE id = 1),
			(SELECT COUNT(*) FROM waqtor_webhook_deliveries WHERE state <> 'succeeded'),
			(SELECT COUNT(*) FROM waqtor_webhook_deliveries WHERE lease_until > 0),
			(SELECT COUNT(*) FROM waqtor_webhook_endpoints WHERE enabled = 1)`).Scan(&cursor, &last, &pending, &leased, &endpoints)
		rows, _ := st.DB.QueryContext(ctx, `SELECT id, state, attempts, tries, next_at, lease_until, last_error FROM waqtor_webhook_deliveries WHERE state <> 'succeeded' LIMIT 5`)
		var detail []string
		for rows != nil && rows.Next() {
			var id, state, lastErr string
			var attempts, tries, next, lease int64
			_ = rows.Scan(&id, &state, &attempts, &tries, &next, &lease, &lastErr)
			detail = append(detail, fmt.Sprintf("%s %s attempts=%d tries=%d next_in=%s lease=%d err=%q", id, state, attempts, tries,
				time.Until(time.UnixMicro(next)), lease, lastErr))
		}
		return fmt.Errorf("drain timed out: cursor %d, last %d, not succeeded %d, leased %d, enabled endpoints %d: %s",
			cursor, last, pending, leased, endpoints, strings.Join(detail, "; "))
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := 0; ; i++ {
		var evs []any
		for j := range 5 {
			evs = append(evs, &waqtor.MessageReceived{Message: waqtor.Message{ID: fmt.Sprintf("%s-%d-%d", run, i, j),
				Session: "main", Tenant: "default", Direction: waqtor.DirectionIn, Status: waqtor.StatusReceived,
				Content: &waqtor.Text{Body: "crash"}}})
		}
		if err := corelink.Emit(ctx, core, "main", "default", evs...); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drained reports whether the dispatcher has passed every event and no
// delivery is pending.
func drained(ctx context.Context, core *waqtor.Core) (bool, error) {
	st := corelink.Store(core)
	var cursor, last int64
	if err := st.DB.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM waqtor_cursors WHERE name = 'webhook'), 0),
		(SELECT seq FROM waqtor_log_counter WHERE id = 1)`).Scan(&cursor, &last); err != nil {
		return false, err
	}
	var pending int
	if err := st.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM waqtor_webhook_deliveries WHERE state <> 'succeeded'`).Scan(&pending); err != nil {
		return false, err
	}
	return cursor >= last && pending == 0, nil
}

func TestCrashAnywhereDeliversEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the binary")
	}
	t.Parallel()
	// 50 kills per database (200 in the nightly tier); the databases run in
	// parallel. A life is dominated by the child's start-up: about 0.1 s of
	// our code after 0.3 s of runtime and package initialisation for a -race
	// binary, several times that on a loaded 2-core machine; about a minute
	// per database.
	kills := 50
	if os.Getenv("WAQTOR_NIGHTLY") != "" {
		kills = 200
	}
	if v, err := strconv.Atoi(os.Getenv("WAQTOR_WEBHOOK_KILLS")); err == nil {
		kills = v
	}
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		dsn := dbtest.DSN(t, kind)
		// The receiver lives in this process: it fails one request in five
		// to exercise retries, and records every webhook-id it accepted.
		var mu sync.Mutex
		accepted := map[string]int{}
		requests := 0
		var inflight, seen atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			seen.Add(1)
			inflight.Add(1)
			defer inflight.Add(-1)
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // a window to be killed in
			if rand.IntN(5) == 0 {
				w.WriteHeader(503)
				return
			}
			mu.Lock()
			accepted[r.Header.Get(webhook.HeaderWebhookID)+"|"+r.Header.Get(webhook.HeaderDelivery)]++
			requests++
			mu.Unlock()
		})
		exe, err := os.Executable()
		require.NoError(t, err)
		start := func(mode string) (*exec.Cmd, *bufio.Reader) {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDSNEnv+"="+dsn, crashURLEnv+"="+rc.URL, crashModeEnv+"="+mode)
			cmd.Stderr = &prefixWriter{t: t}
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			br := bufio.NewReader(out)
			line, err := br.ReadString('\n')
			require.NoError(t, err, "child did not start")
			require.Equal(t, "ready\n", line)
			return cmd, br
		}
		// Each life lasts until the child's deliveries arrive, then a random
		// 0–50 ms more: every kill lands while deliveries flow.
		began := time.Now()
		hits := 0
		for range kills {
			before := seen.Load()
			cmd, _ := start("run")
			for wait := time.Now(); seen.Load() == before && time.Since(wait) < 3*time.Second; {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
			if inflight.Load() > 0 {
				hits++
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
		}
		killed := time.Since(began)
		cmd, out := start("drain")
		rest, _ := io.ReadAll(out)
		require.NoError(t, cmd.Wait(), "drain run: %s", rest)
		require.Contains(t, string(rest), "drained")
		drainedIn := time.Since(began) - killed

		// Every event in the log reached both endpoints at least once.
		ctx := context.Background()
		core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: sandbox.NewNetwork(nil).Factory(),
			Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer func() { require.NoError(t, core.Stop(ctx)) }()
		svc, err := webhook.New(ctx, core, nil)
		require.NoError(t, err)
		eps, err := svc.Endpoints(ctx, nil)
		require.NoError(t, err)
		require.Len(t, eps, 2)
		mu.Lock()
		defer mu.Unlock()
		endpointsReached := map[string]int{} // webhook-id -> distinct deliveries (one per endpoint) accepted
		dups := 0
		for k, n := range accepted {
			id, _, _ := strings.Cut(k, "|")
			endpointsReached[id]++
			dups += n - 1
		}
		events := 0
		for after := int64(0); ; {
			evs, err := core.ReadLog(ctx, &waqtor.LogReadParams{After: after, Limit: waqtor.LogReadLimitMax,
				Kinds: []waqtor.EventKind{waqtor.KindMessageReceived}})
			require.NoError(t, err)
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				events++
				require.Equal(t, 2, endpointsReached[e.Meta().ID], "event %s (seq %d) did not reach both endpoints",
					e.Meta().ID, e.Meta().Seq)
			}
			after = evs[len(evs)-1].Meta().Seq
		}
		require.Positive(t, events)
		require.Len(t, accepted, 2*events, "after dedupe on webhook-id: exactly one delivery per event and endpoint, nothing else")

		// The delivery log is whole: every delivery succeeded and is not
		// leased, and has one attempt row per counted attempt, numbered from
		// 1, each with its outcome (a status code or an error).
		db := corelink.Store(core).DB
		var deliveries, notDone, leased, attemptSum, attemptRows, noOutcome, gaps int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*),
			COALESCE(SUM(CASE WHEN state <> 'succeeded' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN lease_until <> 0 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(attempts), 0) FROM waqtor_webhook_deliveries`).Scan(&deliveries, &notDone, &leased, &attemptSum))
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*),
			COALESCE(SUM(CASE WHEN status_code = 0 AND error = '' THEN 1 ELSE 0 END), 0)
			FROM waqtor_webhook_attempts`).Scan(&attemptRows, &noOutcome))
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM waqtor_webhook_deliveries d WHERE d.attempts <>
			(SELECT COUNT(*) FROM waqtor_webhook_attempts a WHERE a.delivery_id = d.id AND a.n BETWEEN 1 AND d.attempts)`).Scan(&gaps))
		require.Equal(t, 2*events, deliveries)
		require.Zero(t, notDone, "deliveries not succeeded")
		require.Zero(t, leased, "deliveries still leased")
		require.Equal(t, attemptSum, attemptRows, "one attempt row per counted attempt")
		require.Zero(t, gaps, "deliveries whose attempt rows are not numbered 1..attempts")
		require.Zero(t, noOutcome, "attempt rows without an outcome")
		require.Positive(t, hits, "no kill landed while a request was in flight")
		t.Logf("%d kills (%d with a request in flight) in %s (drained in %s): %d events × 2 endpoints, all delivered; "+
			"%d accepted requests, %d duplicates removed by webhook-id; %d attempts logged", kills, hits, killed.Round(time.Millisecond),
			drainedIn.Round(time.Millisecond), events, requests, dups, attemptRows)
	})
}

type prefixWriter struct{ t *testing.T }

func (p *prefixWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }()
	p.t.Logf("child: %s", b)
	return len(b), nil
}
