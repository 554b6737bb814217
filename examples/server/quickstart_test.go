package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/plugintest"
)

// TestReadmeQuickstart runs the README's quickstart, block by block, as a
// newcomer would type it: the gateway (in this process, through run), the
// watcher and the webhook receiver (built binaries standing for `go run`),
// and the curl commands through bash. The only changes to the commands are
// the addresses: the server listens on a free port instead of :8080, the
// receiver on another instead of :3000, and the database is a temporary file.
// The key the server prints becomes $KEY, as the README's `export KEY=` says.
func TestReadmeQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	for _, tool := range []string{"bash", "curl", "head", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the quickstart needs %s", tool)
		}
	}
	t.Parallel()
	blocks := quickstartBlocks(t)
	bins := map[string]string{
		"./examples/watch":           plugintest.Build(t, "github.com/waqtor/waqtor/examples/watch"),
		"./examples/webhookreceiver": plugintest.Build(t, "github.com/waqtor/waqtor/examples/webhookreceiver"),
	}
	receiverAddr := freeAddr(t)
	dir := t.TempDir() // the commands' working directory

	// 1. The gateway.
	server, ok := strings.CutPrefix(blocks[0], "go run ./examples/server ")
	require.True(t, ok, "the first block starts the gateway: %q", blocks[0])
	srv := startServer(t, strings.Fields(server), map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite)})
	defer srv.stop(t)
	var key string
	require.Eventually(t, func() bool {
		key = regexp.MustCompile(`wqt_\w+`).FindString(srv.logs.String())
		return key != ""
	}, 10*time.Second, 10*time.Millisecond, "the server printed no key:\n%s", srv.logs.String())

	// As the README says, the session is ready a moment later.
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "status=ready") }, 20*time.Second,
		10*time.Millisecond, "the session did not pair:\n%s", srv.logs)
	env := append(os.Environ(), "KEY="+key, "WAQTOR_URL=http://"+srv.addr)
	rewrite := func(cmd string) string {
		for src, bin := range bins {
			cmd = strings.ReplaceAll(cmd, "go run "+src, bin)
		}
		cmd = strings.ReplaceAll(cmd, "localhost:8080", srv.addr)
		cmd = strings.ReplaceAll(cmd, "localhost:3000", receiverAddr)
		return strings.ReplaceAll(cmd, "-addr :3000", "-addr "+receiverAddr)
	}
	oneShot := func(block string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", rewrite(block))
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", block, out)
		return string(out)
	}
	background := func(block string) *syncBuffer {
		t.Helper()
		out := &syncBuffer{}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", rewrite(block))
		cmd.Env, cmd.Dir = env, dir
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		return out
	}
	shows := func(out *syncBuffer, what ...string) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, w := range what {
				if !strings.Contains(out.String(), w) {
					return false
				}
			}
			return true
		}, 20*time.Second, 10*time.Millisecond, "want %q in:\n%s", what, out)
	}

	require.Len(t, blocks, 9, "the test walks the README's nine blocks; update it with the README")
	// 1b. export KEY=…: done above.
	require.True(t, strings.HasPrefix(blocks[1], "export KEY=wqt_"), blocks[1])
	// 2. The watcher.
	watch := background(blocks[2])
	shows(watch, "watching")
	// 3. A send: the answer is the message, the watcher sees it and its receipts.
	require.Contains(t, oneShot(blocks[3]), `"body":"Hello from waqtor"`)
	shows(watch, "message.sent", "message.delivered", "message.read")
	// 4. Inbound, seen live, then in the list.
	require.Contains(t, oneShot(blocks[4]), `"message_id"`)
	shows(watch, "message.received")
	list := oneShot(blocks[5])
	require.Contains(t, list, "Are you open today?")
	require.Contains(t, list, "Hello from waqtor")
	// 5. The webhook receiver; then another send reaches it, signed.
	receiver := background(blocks[6])
	shows(receiver, `"url":"http://`+receiverAddr+`/hook"`)
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", receiverAddr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "the receiver does not listen:\n%s", receiver)
	require.Contains(t, oneShot(blocks[7]), `"body":"Your order has shipped"`)
	shows(receiver, "type=message.sent", "Your order has shipped")
	// 6. The OpenAPI document.
	oneShot(blocks[8])
	doc, err := os.ReadFile(filepath.Join(dir, "openapi.json"))
	require.NoError(t, err)
	require.Contains(t, string(doc), `"openapi":"3.`)
	require.Contains(t, string(doc), `"/messages/send-text"`)
}

// quickstartBlocks returns the sh blocks between the README's quickstart
// markers.
func quickstartBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "<!-- quickstart:start")
	j := strings.Index(s, "<!-- quickstart:end -->")
	require.True(t, i >= 0 && j > i, "README.md lacks the quickstart markers")
	var blocks []string
	for _, part := range strings.Split(s[i:j], "```sh\n")[1:] {
		end := strings.Index(part, "```")
		require.GreaterOrEqual(t, end, 0)
		blocks = append(blocks, strings.TrimSpace(part[:end]))
	}
	return blocks
}

// freeAddr returns a loopback address nothing listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// syncBuffer collects a process's output for the test to read meanwhile.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
