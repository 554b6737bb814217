package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
)

// syncBuffer is a bytes.Buffer safe for the bot's handler and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBotDrawsQR: an unpaired session draws its QR code in the terminal
// until a phone scans it; a restart before pairing draws it again.
func TestBotDrawsQR(t *testing.T) {
	t.Parallel()
	network := sandbox.NewTestNetwork(t, &sandbox.Config{})
	db := filepath.Join(t.TempDir(), "bot.db")
	start := func() (*syncBuffer, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, db, network.Factory(), out) }()
		return out, func() { cancel(); require.NoError(t, <-done) }
	}
	drawn := func(out *syncBuffer) bool { return strings.ContainsAny(out.String(), "█▀▄") }

	out, stop := start()
	require.Eventually(t, func() bool { return drawn(out) }, 10*time.Second, 5*time.Millisecond, "no QR code drawn")
	stop()

	out, stop = start()
	defer stop()
	require.Eventually(t, func() bool { return drawn(out) }, 10*time.Second, 5*time.Millisecond, "no QR code after a restart")
	ctx := context.Background()
	require.NoError(t, network.Pair(ctx, "shop", "+15550001111"))
	require.NoError(t, network.WaitForState(ctx, "shop", waqtor.StateReady))
}
