package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
)

func TestBotAnswers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	network := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true})
	done := make(chan error, 1)
	go func() { done <- run(ctx, filepath.Join(t.TempDir(), "bot.db"), network.Factory(), io.Discard) }()
	if err := network.WaitForState(ctx, "shop", waqtor.StateReady); err != nil {
		t.Fatal(err)
	}

	info, _ := network.Session("shop")
	customer := network.Phone("+201001234567")
	if _, err := customer.SendText(ctx, info.JID, "Is my order ready?"); err != nil {
		t.Fatal(err)
	}
	customer.RequireText(t, "Thanks, we got your message!")

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
