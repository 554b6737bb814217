package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/auth"
)

// The gateway kill test runs the gateway as a child process (this test
// binary, re-executed), kills it with SIGKILL while a campaign runs, and
// starts it again on the same database, as an operator's crash and restart
// would. The sandbox's send log (-sandbox-send-log) is a file outside the
// process: it shows every message the engine was asked to send.

const gatewayChildEnv = "WAQTOR_GATEWAY_CHILD" // the child's arguments, as JSON

// gatewayChild runs the gateway with the arguments in gatewayChildEnv and
// prints its address on stdout once it listens.
func gatewayChild() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(gatewayChildEnv)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "gateway child:", err)
		return 2
	}
	ready := make(chan string, 1)
	go func() { fmt.Println("LISTENING", <-ready) }()
	if err := run(context.Background(), args, &seams{getenv: func(string) string { return "" }, stderr: os.Stderr,
		ready: ready}); err != nil {
		fmt.Fprintln(os.Stderr, "gateway child:", err)
		return 1
	}
	return 0
}

// startChild starts the gateway in a child process and returns it with its
// address.
func startChild(t *testing.T, args []string, logs *os.File) (*exec.Cmd, string) {
	t.Helper()
	b, err := json.Marshal(args)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), gatewayChildEnv+"="+string(b))
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(time.Minute):
		t.Fatal("the gateway did not start")
		return nil, ""
	}
}

// TestCampaignSurvivesGatewayKills: a campaign run through the gateway's REST
// routes, with the gateway killed (SIGKILL) and restarted several times
// mid-run, completes with each recipient sent exactly one message.
func TestCampaignSurvivesGatewayKills(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("restarts a server several times")
	}
	dir := t.TempDir()
	key := auth.NewKeySecret()
	sendLog := filepath.Join(dir, "sends.jsonl")
	args := []string{"-engine", "sandbox", "-db", filepath.Join(dir, "waqtor.db"), "-api-key", key, "-addr", "127.0.0.1:0",
		"-sandbox-send-log", sendLog, "-node-id", "gateway-1"}
	logs, err := os.Create(filepath.Join(dir, "gateway.log"))
	require.NoError(t, err)
	defer logs.Close()
	cmd, addr := startChild(t, args, logs)

	const n = 400
	var rs []string
	for i := range n {
		rs = append(rs, fmt.Sprintf(`{"phone":"+1555%07d","variables":{"n":"%d"}}`, i, i))
	}
	var id string
	require.Eventually(t, func() bool { // the session pairs by itself
		code, body := apiCall(t, addr, key, "POST", "/api/campaigns", `{"name":"kill","sessions":["default"],
			"content":{"text":"Hello {{n}}"},"pacing":{"unpaced":true},"recipients":[`+strings.Join(rs, ",")+`]}`)
		if code != 201 {
			return false
		}
		var c struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &c))
		id = c.ID
		return true
	}, 30*time.Second, 50*time.Millisecond)
	code, body := apiCall(t, addr, key, "POST", "/api/campaigns/"+id+"/execute", "")
	require.Equal(t, 200, code, body)

	var atKills []int // sends logged when each kill landed
	for range 6 {
		// Kill once this life has sent a few more messages, at a random
		// moment after that.
		target := len(readSendLog(t, sendLog)) + 10 + rand.IntN(40)
		require.Eventually(t, func() bool { return len(readSendLog(t, sendLog)) >= target }, time.Minute, 5*time.Millisecond)
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		atKills = append(atKills, len(readSendLog(t, sendLog)))
		cmd, addr = startChild(t, args, logs)
	}
	require.Less(t, atKills[len(atKills)-1], n, "every kill landed before the campaign was through: %v", atKills)
	t.Logf("sends logged at each kill: %v", atKills)
	require.Eventually(t, func() bool {
		code, body := apiCall(t, addr, key, "GET", "/api/campaigns/"+id+"/status", "")
		require.Equal(t, 200, code, body)
		return strings.Contains(body, `"completed"`)
	}, 2*time.Minute, 100*time.Millisecond)

	ids := map[string]map[string]bool{} // chat → message IDs sent to it
	for _, rec := range readSendLog(t, sendLog) {
		if rec.Error != "" {
			continue
		}
		if ids[rec.Chat] == nil {
			ids[rec.Chat] = map[string]bool{}
		}
		ids[rec.Chat][rec.ID] = true
	}
	require.Len(t, ids, n, "every recipient, and no one else, was sent to")
	for chat, got := range ids {
		require.Len(t, got, 1, "%s got %d distinct messages", chat, len(got))
	}
}

// readSendLog reads the records of -sandbox-send-log.
func readSendLog(t *testing.T, path string) []sendLogRecord {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []sendLogRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec sendLogRecord
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			break // a line cut by a kill
		}
		out = append(out, rec)
	}
	require.NoError(t, sc.Err())
	return out
}
