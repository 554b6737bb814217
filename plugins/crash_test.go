package plugins_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCrashMidMessageAnsweredExactlyOnce is docs/reliability.md T20: the plugin is
// killed with SIGKILL, exits or panics (recovered, and in a goroutine, which
// kills the process) while it handles message M, at random points. The host
// survives, restarts the plugin, redelivers M, and the phone receives each of
// M's replies exactly once.
func TestCrashMidMessageAnsweredExactlyOnce(t *testing.T) {
	t.Parallel()
	rounds := 20
	if os.Getenv("WAQTOR_NIGHTLY") != "" {
		rounds = 100
	}
	cfg := fastPlugin(t, "tp")
	cfg.MaxEventAttempts = 10
	b := setup(t, cfg)
	modes := []string{"kill", "exit", "panic", "gopanic"}
	pid := b.waitRunning(t, "tp", 0).PID
	restarts := 0
	for i := range rounds {
		mode := modes[i%len(modes)]
		var text string
		if mode == "kill" {
			text = fmt.Sprintf("slow %d", i)
			b.say(t, text)
			// Anywhere from before OnEvent starts to after it returned.
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		} else {
			text = fmt.Sprintf("crash %d %s", i, mode)
			b.say(t, text)
		}
		b.waitText(t, "echo: "+text)
		b.waitText(t, "ack: "+text)
		if mode != "panic" { // a recovered panic does not end the process
			st := b.waitRunning(t, "tp", pid)
			requireNoZombie(t, pid)
			pid = st.PID
			restarts++
		}
	}
	// Everything before the sentinel is handled and committed once its reply
	// arrives: replies sent twice would be here by now.
	b.say(t, "sentinel")
	b.waitText(t, "ack: sentinel")
	for i := range rounds {
		mode := modes[i%len(modes)]
		text := fmt.Sprintf("crash %d %s", i, mode)
		if mode == "kill" {
			text = fmt.Sprintf("slow %d", i)
		}
		require.Equal(t, 1, b.count("echo: "+text), "echo of %q", text)
		require.Equal(t, 1, b.count("ack: "+text), "ack of %q", text)
		require.LessOrEqual(t, b.count("late: "+text), 1, "late reply of %q", text)
	}
	st, err := b.host.Status(context.Background(), "tp")
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.Restarts, restarts)
	require.Zero(t, st.DeadLetters)
	t.Logf("%d rounds, %d restarts, %d messages on the phone", rounds, st.Restarts, len(b.texts()))
}
