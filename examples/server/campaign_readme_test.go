package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/plugintest"
	"github.com/waqtor/waqtor/sandbox"
)

// TestReadmeCampaign runs the README's "Run a campaign" section, block by
// block, on the quickstart's gateway (started with the quickstart's first
// command) as a newcomer would: the watcher (a built binary standing for `go
// run`), and the curl commands through bash. As in TestReadmeQuickstart, the
// only changes to the commands are the addresses; the key the server prints
// becomes $KEY, and the ID the create command echoes becomes $CAMPAIGN. The
// pacing is the README's own (1–2 s a message). The simulated network is
// the test's, so that it can check what each virtual phone received.
func TestReadmeCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program and runs a paced campaign")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the campaign section needs %s", tool)
		}
	}
	t.Parallel()
	blocks := readmeBlocks(t, "campaign")
	watchBin := plugintest.Build(t, "github.com/waqtor/waqtor/examples/watch")
	dir := t.TempDir()

	server, ok := strings.CutPrefix(quickstartBlocks(t)[0], "go run ./examples/server ")
	require.True(t, ok)
	network := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true, AutoRead: true})
	env := map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite)}
	srv := startServerWith(t, strings.Fields(server), &seams{getenv: func(k string) string { return env[k] }, engine: network.Factory()})
	defer srv.stop(t)
	var key string
	require.Eventually(t, func() bool {
		key = regexp.MustCompile(`wqt_\w+`).FindString(srv.logs.String())
		return key != "" && strings.Contains(srv.logs.String(), "status=ready")
	}, 20*time.Second, 10*time.Millisecond, "no key, or the session did not pair:\n%s", srv.logs.String())

	vars := append(os.Environ(), "KEY="+key)
	rewrite := func(cmd string) string {
		cmd = strings.ReplaceAll(cmd, "go run ./examples/watch", watchBin)
		return strings.ReplaceAll(cmd, "localhost:8080", srv.addr)
	}
	oneShot := func(block string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", rewrite(block))
		cmd.Env, cmd.Dir = vars, dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", block, out)
		return string(out)
	}
	require.Len(t, blocks, 9, "the test walks the section's nine blocks; update it with the README")

	// The watcher, subscribed to campaign.*.
	watch := &syncBuffer{}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", rewrite(blocks[0]))
	cmd.Env, cmd.Dir = append(vars, "WAQTOR_URL=http://"+srv.addr), dir
	cmd.Stdout, cmd.Stderr = watch, watch
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	shows := func(what ...string) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, w := range what {
				if !strings.Contains(watch.String(), w) {
					return false
				}
			}
			return true
		}, time.Minute, 10*time.Millisecond, "want %q in:\n%s", what, watch)
	}
	shows("watching")

	// 1. Create: the block echoes the ID, which the next blocks use.
	id := strings.TrimSpace(oneShot(blocks[1]))
	require.Regexp(t, `^cmp_\w+$`, id)
	vars = append(vars, "CAMPAIGN="+id)
	// 2. Upload, with an Arabic name; then the preview renders it.
	var added struct {
		Added int `json:"added"`
		Total int `json:"total"`
	}
	require.NoError(t, json.Unmarshal([]byte(oneShot(blocks[2])), &added))
	require.Equal(t, 5, added.Added)
	require.Contains(t, oneShot(blocks[3]), "Eid Mubarak أحمد!")
	// 3. Execute; 4. pause and resume while it runs (five sends take at
	// least four pacing gaps of 1 s): the watcher sees the pause.
	require.Contains(t, oneShot(blocks[4]), `"state":"running"`)
	out := oneShot(blocks[5])
	require.Contains(t, out, `"state":"paused"`)
	require.Contains(t, out, `"state":"running"`)
	shows("campaign.progress", "campaign.paused", "checking the wording")
	require.Contains(t, oneShot(blocks[6]), `"counts"`)
	// 5. It completes; the report and the export show every send.
	shows("campaign.completed")
	var rep struct {
		Counts struct {
			Sent int `json:"sent"`
		} `json:"counts"`
		Sessions map[string]int `json:"sessions"`
		State    string         `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(oneShot(blocks[7])), &rep))
	require.Equal(t, "completed", rep.State)
	require.Equal(t, 5, rep.Counts.Sent)
	require.Equal(t, map[string]int{"default": 5}, rep.Sessions)
	oneShot(blocks[8])
	f, err := os.Open(filepath.Join(dir, "campaign.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 6)
	for _, row := range rows[1:] {
		require.Contains(t, []string{"sent", "delivered", "read"}, row[2], row)
		require.NotEmpty(t, row[6], "a message ID")
	}
	// Each virtual phone got its message once, its name filled in.
	for phone, name := range map[string]string{"+15550003001": "Amira", "+15550003002": "أحمد", "+15550003005": "Youssef"} {
		got := network.Phone(phone).Received()
		require.Len(t, got, 1, phone)
		require.Equal(t, "Eid Mubarak "+name+"! Show this message in store for 20% off.", got[0].Text())
	}
}

// readmeBlocks returns the sh blocks between the README's
// "<!-- name:start" and "<!-- name:end -->" markers.
func readmeBlocks(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "<!-- "+name+":start")
	j := strings.Index(s, "<!-- "+name+":end -->")
	require.True(t, i >= 0 && j > i, "README.md lacks the %s markers", name)
	var blocks []string
	for _, part := range strings.Split(s[i:j], "```sh\n")[1:] {
		end := strings.Index(part, "```")
		require.GreaterOrEqual(t, end, 0)
		blocks = append(blocks, strings.TrimSpace(part[:end]))
	}
	return blocks
}
