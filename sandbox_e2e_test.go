package waqtor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
)

// TestSandboxEndToEnd drives the Core through the simulated network: QR pairing,
// a bot that answers, receipts, faults, and a restart that resumes the session.
func TestSandboxEndToEnd(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		network := sandbox.NewTestNetwork(t, &sandbox.Config{Seed: 7, DeliverLatency: 5 * time.Millisecond,
			ReadLatency: 5 * time.Millisecond, AutoRead: true, ReconnectDelay: 10 * time.Millisecond})
		dsn := dbtest.DSN(t, kind)
		open := func() *waqtor.Core {
			c, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: network.Factory(), Logger: slogtest.New(t),
				RetryInterval: 10 * time.Millisecond})
			require.NoError(t, err)
			require.NoError(t, c.Start(ctx))
			return c
		}
		core := open()
		events, unsub, err := core.Subscribe(waqtor.AllKinds()...)
		require.NoError(t, err)

		// Pair by scanning the QR code the session shows.
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
		require.NoError(t, err)
		qr := waitEvent[*waqtor.SessionQR](t, events, nil)
		require.NoError(t, network.ScanQR(ctx, qr.Code, "+15550100000"))
		ready := waitEvent[*waqtor.SessionStatus](t, events, func(e *waqtor.SessionStatus) bool { return e.State == waqtor.StateReady })
		require.Equal(t, "+15550100000", ready.Info.Phone)

		// A bot: answer every text, quoting it.
		unsubBot := waqtor.On(core, func(ctx context.Context, e *waqtor.MessageReceived) error {
			text, ok := e.Message.Content.(*waqtor.Text)
			if !ok || e.Message.FromMe {
				return nil
			}
			_, err := core.Send(ctx, e.Message.Session, e.Message.Chat.JID, &waqtor.Text{Body: "you said: " + text.Body,
				Quote: &waqtor.Quote{ID: e.Message.ID}}, &waqtor.SendOpts{IdempotencyKey: "reply-" + e.Message.ID})
			return err
		})
		customer := network.Phone("+201001234567")
		_, err = customer.SendText(ctx, "+15550100000", "hello")
		require.NoError(t, err)
		got := customer.RequireText(t, "you said: hello")
		require.NotEmpty(t, got.ID)

		// The reply moves sent → delivered → read, with events for each.
		sent := waitEvent[*waqtor.MessageSent](t, events, nil)
		require.Equal(t, customer.JID(), sent.Message.Chat.JID)
		waitEvent[*waqtor.MessageDelivered](t, events, func(e *waqtor.MessageDelivered) bool { return e.MessageID == sent.Message.ID })
		waitEvent[*waqtor.MessageRead](t, events, func(e *waqtor.MessageRead) bool { return e.MessageID == sent.Message.ID })
		require.Eventually(t, func() bool {
			m, err := core.Message(ctx, "shop", sent.Message.ID)
			return err == nil && m.Status == waqtor.StatusRead
		}, 5*time.Second, 5*time.Millisecond)
		unsubBot()

		// Inbound kinds arrive typed, with LIDs.
		loc := &waqtor.Location{Latitude: 30.04, Longitude: 31.23, Name: "Cairo"}
		_, err = customer.SendLocation(ctx, "+15550100000", loc)
		require.NoError(t, err)
		in := waitEvent[*waqtor.MessageReceived](t, events, func(e *waqtor.MessageReceived) bool {
			return e.Message.Content.ContentType() == waqtor.ContentLocation
		})
		require.Equal(t, customer.LID(), in.Message.Sender.LID)
		require.Equal(t, "+201001234567", in.Message.Sender.Phone)
		_, err = customer.SendMedia(ctx, "+15550100000", &waqtor.Media{Kind: waqtor.ContentImage, Data: []byte("\x89PNG img"), MIME: "image/png"})
		require.NoError(t, err)
		img := waitEvent[*waqtor.MessageReceived](t, events, func(e *waqtor.MessageReceived) bool {
			return e.Message.Content.ContentType() == waqtor.ContentImage
		})
		data, media, err := core.DownloadMedia(ctx, "shop", img.Message.ID)
		require.NoError(t, err)
		require.Equal(t, []byte("\x89PNG img"), data)
		require.Equal(t, "image/png", media.MIME)

		// Faults: transient send errors are retried with the same ID.
		network.FailSends("shop", nil, 2)
		m, err := core.SendText(ctx, "shop", customer.Number(), "after a hiccup", nil)
		require.NoError(t, err)
		require.Equal(t, waqtor.StatusPending, m.Status)
		customer.RequireText(t, "after a hiccup")
		var attempts int
		for _, rec := range network.SendLog() {
			if rec.ID == m.ID {
				attempts++
			}
		}
		require.Equal(t, 3, attempts, "two failures, then the same ID succeeded")

		// A disconnect is honest, and the session comes back by itself.
		require.NoError(t, network.Disconnect("shop"))
		waitEvent[*waqtor.SessionStatus](t, events, func(e *waqtor.SessionStatus) bool { return e.State == waqtor.StateDisconnected })
		waitEvent[*waqtor.SessionStatus](t, events, func(e *waqtor.SessionStatus) bool { return e.State == waqtor.StateReady })

		// A temporary ban refuses sends with a typed error.
		require.NoError(t, network.Ban("shop", time.Hour))
		waitState(t, core, "shop", waqtor.StateBanned)
		_, err = core.SendText(ctx, "shop", customer.Number(), "nope", nil)
		var banned *waqtor.BannedError
		require.ErrorAs(t, err, &banned)
		require.ErrorIs(t, err, waqtor.ErrNotReady)
		require.False(t, banned.Expires.IsZero())
		unsub()
		require.NoError(t, core.Stop(ctx))

		// A restart on the same network resumes the paired session (it's still banned).
		core2 := open()
		defer func() { require.NoError(t, core2.Stop(ctx)) }()
		s, err := core2.Session(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, "+15550100000", s.Info.Phone)
		waitState(t, core2, "shop", waqtor.StateBanned)
	})
}

// TestSandboxBurstOneTransaction: messages that queue while a session is
// offline arrive as a burst, which the Core stores in one transaction: every
// message once, in order, with gap-free sequence numbers, and redeliveries of
// stored messages (same IDs) emit nothing.
func TestSandboxBurstOneTransaction(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		network := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true})
		core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, kind), Engine: network.Factory(),
			Logger: slogtest.New(t)})
		require.NoError(t, err)
		require.NoError(t, core.Start(ctx))
		t.Cleanup(func() { require.NoError(t, core.Stop(context.Background())) })
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
		require.NoError(t, err)
		s := waitState(t, core, "shop", waqtor.StateReady)
		start, err := core.LastSeq(ctx)
		require.NoError(t, err)

		require.NoError(t, core.Disconnect(ctx, "shop"))
		customer := network.Phone("+201001234567")
		send := func(from, to int) []string {
			var ids []string
			for i := from; i < to; i++ {
				id, err := customer.Send(ctx, s.Info.JID, &waqtor.Text{Body: fmt.Sprint("m", i)},
					&sandbox.SendOpts{ID: fmt.Sprintf("3EB0BURST%04d", i)})
				require.NoError(t, err)
				ids = append(ids, id)
			}
			return ids
		}
		ids := send(0, 300)
		// Redeliveries of 0..99 behind the new ones, in the same burst.
		send(0, 100)
		require.NoError(t, core.Connect(ctx, "shop"))
		var got []waqtor.Event
		require.Eventually(t, func() bool {
			got, err = core.ReadLog(ctx, &waqtor.LogReadParams{After: start, Limit: 1000,
				Kinds: []waqtor.EventKind{waqtor.KindMessageReceived}})
			require.NoError(t, err)
			info, _ := network.Session("shop")
			return len(got) >= len(ids) && info.Pending == 0
		}, 10*time.Second, 5*time.Millisecond)
		require.Len(t, got, len(ids), "each message once")
		for i, e := range got {
			require.Equal(t, ids[i], e.(*waqtor.MessageReceived).Message.ID)
			if i > 0 {
				require.Equal(t, got[i-1].Meta().Seq+1, e.Meta().Seq)
			}
		}
		m, err := core.Message(ctx, "shop", ids[299])
		require.NoError(t, err)
		require.Equal(t, &waqtor.Text{Body: "m299"}, m.Content)
	})
}
