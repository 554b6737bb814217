package plugins_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins"
	"github.com/waqtor/waqtor/sandbox"
)

// runTestHost runs a Core and a Host with the test plugin, prints the plugin's
// PID and waits to be killed.
func runTestHost(dir string) int {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := sandbox.NewNetwork(&sandbox.Config{AutoPair: true})
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: filepath.Join(dir, "host.db"), Engine: n.Factory(), Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := core.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exe, _ := os.Executable()
	h, err := plugins.NewHost(core, &plugins.Config{Logger: logger, Plugins: []plugins.PluginConfig{{Name: "orphan", Path: exe,
		Args: []string{testPluginArg}}}})
	if err == nil {
		err = h.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		if st, _ := h.Status(ctx, "orphan"); st != nil && st.State == waqtor.PluginRunning && st.PID != 0 {
			fmt.Println(st.PID)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {}
}

// TestPluginExitsWhenHostDies: a host killed with SIGKILL cannot stop its
// plugins; they notice and exit on their own, so none outlives its host.
func TestPluginExitsWhenHostDies(t *testing.T) {
	t.Parallel()
	exe, _ := testExe(t)
	cmd := exec.Command(exe, testHostArg, t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the host child did not start its plugin: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() { // should the test fail, leave no orphan behind
		if b, err := os.ReadFile("/proc/" + itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(b), testPluginArg) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// The plugin polls its parent every 500 ms; the ceiling is generous.
	requireGoneWithin(t, pid, 10*time.Second)
}

// requireGoneWithin is requireGone with a shorter ceiling.
func requireGoneWithin(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	}, d, 5*time.Millisecond, "process %d still runs", pid)
}
