package waqtor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/fakeengine"
)

// The crash test runs the Core in a child process (this test binary, re-executed)
// that sends messages and consumes the event log through a cursor, and kills it
// with SIGKILL at random moments. The fake engine appends every send to a file
// before it returns, and the child appends every accepted send and every
// consumed event to files, all outside the process under test.

const (
	crashChildEnv = "WAQTOR_CRASH_CHILD"
	crashDirEnv   = "WAQTOR_CRASH_DIR"
	crashDSNEnv   = "WAQTOR_CRASH_DSN"
	crashModeEnv  = "WAQTOR_CRASH_MODE" // "run" or "drain"
)

type acceptRecord struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Status string `json:"status"`
}

type consumeRecord struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Seq  int64  `json:"seq"`
}

func crashChild() int {
	if err := runCrashChild(); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 1
	}
	return 0
}

func runCrashChild() error {
	dir, dsn, mode := os.Getenv(crashDirEnv), os.Getenv(crashDSNEnv), os.Getenv(crashModeEnv)
	ctx := context.Background()
	eng := fakeengine.New()
	eng.SendLog = filepath.Join(dir, "sends.jsonl")
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: eng.Factory(), RetryInterval: 10 * time.Millisecond,
		MaxSendAttempts: 1000, Logger: discardLogger()})
	if err != nil {
		return err
	}
	if err := core.Start(ctx); err != nil {
		return err
	}
	if _, err := core.Session(ctx, "main"); errors.Is(err, waqtor.ErrSessionNotFound) {
		if _, err := core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"}); err != nil {
			return err
		}
		eng.Conn("main").Pair(ctx, "15550001111@s.whatsapp.net")
	}
	for {
		s, err := core.Session(ctx, "main")
		if err != nil {
			return err
		}
		if s.State == waqtor.StateReady {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cur, err := core.Cursor(ctx, "crash-consumer", nil)
	if err != nil {
		return err
	}
	consumeLog, err := os.OpenFile(filepath.Join(dir, "consumed.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	acceptLog, err := os.OpenFile(filepath.Join(dir, "accepted.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fmt.Println("ready")

	consume := func(cctx context.Context) error {
		evs, err := cur.Next(cctx, 100)
		if err != nil {
			return err
		}
		for _, e := range evs {
			b, _ := json.Marshal(consumeRecord{ID: e.Meta().ID, Kind: string(e.Kind()), Seq: e.Meta().Seq})
			if _, err := consumeLog.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		return cur.Commit(cctx, evs[len(evs)-1].Meta().Seq)
	}

	if mode == "drain" {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			last, err := core.LastSeq(ctx)
			if err != nil {
				return err
			}
			if cur.Position() >= last && !hasPending(ctx, core) {
				fmt.Println("last", last)
				return core.Stop(ctx)
			}
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			if err := consume(cctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				cancel()
				return err
			}
			cancel()
		}
		return errors.New("drain timed out")
	}

	var wg sync.WaitGroup
	var firstAccepted sync.Once
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if rand.IntN(10) == 0 {
					eng.FailNext(errors.New("transient network error"))
				}
				key := fmt.Sprintf("%s-%d-%d", run, w, i)
				m, err := core.SendText(ctx, "main", peer, "crash test "+key, &waqtor.SendOpts{IdempotencyKey: key})
				if err != nil {
					fmt.Fprintln(os.Stderr, "send:", err)
					continue
				}
				b, _ := json.Marshal(acceptRecord{ID: m.ID, Key: key, Status: string(m.Status)})
				_, _ = acceptLog.Write(append(b, '\n'))
				firstAccepted.Do(func() { fmt.Println("accepted") })
			}
		}()
	}
	for {
		if err := consume(ctx); err != nil {
			return err
		}
	}
}

// hasPending reports whether any message of "main" with peer is still pending.
func hasPending(ctx context.Context, c *waqtor.Core) bool {
	before := ""
	for {
		page, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peer, Limit: 500, Before: before})
		if err != nil {
			return true
		}
		for _, m := range page.Messages {
			if m.Status == waqtor.StatusPending {
				return true
			}
		}
		if page.Next == "" {
			return false
		}
		before = page.Next
	}
}

func TestCrashAnywhereLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the binary")
	}
	t.Parallel()
	kills := 50
	if os.Getenv("WAQTOR_NIGHTLY") != "" {
		kills = 500
	}
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			dsn := dbtest.DSN(t, kind)
			exe, err := os.Executable()
			require.NoError(t, err)
			start := func(mode string) *exec.Cmd {
				cmd := exec.Command(exe, "-test.run=^$")
				cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir, crashDSNEnv+"="+dsn, crashModeEnv+"="+mode)
				cmd.Stderr = &prefixWriter{t: t}
				return cmd
			}
			for i := range kills {
				cmd := start("run")
				out, err := cmd.StdoutPipe()
				require.NoError(t, err)
				require.NoError(t, cmd.Start())
				lines := bufio.NewReader(out)
				line, err := lines.ReadString('\n')
				require.NoError(t, err, "child %d did not start", i)
				require.Equal(t, "ready\n", line)
				if i%2 == 1 {
					// Every other life runs until it has accepted a send, so that
					// kills land among sends however slow the machine is; the
					// others may die anywhere from start-up on.
					line, err = lines.ReadString('\n')
					require.NoError(t, err, "child %d accepted nothing", i)
					require.Equal(t, "accepted\n", line)
				}
				time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				_ = cmd.Wait()
			}
			drain := start("drain")
			var drainOut strings.Builder
			drain.Stdout = &drainOut
			require.NoError(t, drain.Run(), "drain run")
			var lastSeq int64
			_, err = fmt.Sscanf(drainOut.String()[strings.Index(drainOut.String(), "last "):], "last %d", &lastSeq)
			require.NoError(t, err, "drain output %q", drainOut.String())

			accepted := readJSONL[acceptRecord](t, filepath.Join(dir, "accepted.jsonl"))
			sends := readJSONL[fakeengine.SendRecord](t, filepath.Join(dir, "sends.jsonl"))
			consumed := readJSONL[consumeRecord](t, filepath.Join(dir, "consumed.jsonl"))
			require.NotEmpty(t, accepted)

			ctx := context.Background()
			core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: fakeengine.New().Factory(), Logger: discardLogger()})
			require.NoError(t, err)
			defer func() { require.NoError(t, core.Stop(ctx)) }()

			sentCount := map[string]int{}
			for _, s := range sends {
				sentCount[s.ID]++
			}
			duplicates := 0
			for id, n := range sentCount {
				duplicates += n - 1
				m, err := core.Message(ctx, "main", id)
				require.NoError(t, err, "every send belongs to a stored message")
				require.Equal(t, waqtor.StatusSent, m.Status)
			}
			for _, a := range accepted {
				require.Positive(t, sentCount[a.ID], "accepted send %s (%s) was never sent", a.ID, a.Status)
			}
			// The log: gap-free, unique, and one message.sent per message.
			var all []waqtor.Event
			for after := int64(0); ; {
				evs, err := core.ReadLog(ctx, &waqtor.LogReadParams{After: after, Limit: waqtor.LogReadLimitMax})
				require.NoError(t, err)
				if len(evs) == 0 {
					break
				}
				all = append(all, evs...)
				after = evs[len(evs)-1].Meta().Seq
			}
			ids := map[string]bool{}
			sentEvents := map[string]int{}
			for i, e := range all {
				require.Equal(t, int64(i+1), e.Meta().Seq, "sequence has a gap")
				require.False(t, ids[e.Meta().ID], "event %s logged twice", e.Meta().ID)
				ids[e.Meta().ID] = true
				if s, ok := e.(*waqtor.MessageSent); ok {
					sentEvents[s.Message.ID]++
				}
			}
			for id := range sentCount {
				require.Equal(t, 1, sentEvents[id], "message %s has %d message.sent events", id, sentEvents[id])
			}
			// The cursor consumer saw every event (at least once).
			seen := map[int64]bool{}
			for _, c := range consumed {
				seen[c.Seq] = true
			}
			// (Events after lastSeq were written by this verifying process.)
			for _, e := range all {
				if e.Meta().Seq <= lastSeq {
					require.True(t, seen[e.Meta().Seq], "event %d (%s) was never consumed", e.Meta().Seq, e.Kind())
				}
			}
			t.Logf("%d kills: %d accepted sends, %d engine sends (%d resent with the same ID), %d events, %d consumed (%d re-read)",
				kills, len(accepted), len(sends), duplicates, len(all), len(consumed), len(consumed)-len(seen))
		})
	}
}

func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		if json.Unmarshal(sc.Bytes(), &v) != nil {
			continue // a line torn by SIGKILL
		}
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	return out
}

type prefixWriter struct{ t *testing.T }

func (p *prefixWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }()
	p.t.Logf("child: %s", b)
	return len(b), nil
}
