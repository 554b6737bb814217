package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

func TestBan(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.NowFunc = func() time.Time { return now }
	b := setupReady(t, cfg)
	require.ErrorIs(t, b.n.Ban("nope", time.Second), ErrUnknownSession)

	// Hold the ban long enough to observe it, then lift it early by banning for 0.
	require.NoError(t, b.n.Ban("s1", time.Hour))
	st := b.h.waitStatus(t, waqtor.StateBanned)
	require.Equal(t, now.Add(time.Hour), st.BanExpires)
	var banned *waqtor.BannedError
	require.ErrorAs(t, st.Err, &banned)
	info, _ := b.n.Session("s1")
	require.Equal(t, now.Add(time.Hour), info.BanExpires)

	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "B1", Chat: "+201001234567", Content: &waqtor.Text{Body: "x"}})
	require.ErrorAs(t, err, &banned)
	require.Equal(t, now.Add(time.Hour), banned.Expires)
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	require.False(t, waqtor.IsPermanent(err))

	require.NoError(t, b.n.Ban("s1", time.Millisecond))
	b.h.waitStatusCount(t, waqtor.StateReady, 2)
	var states []waqtor.SessionState
	for _, s := range b.h.statuses() {
		states = append(states, s.State)
	}
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateReady, waqtor.StateBanned,
		waqtor.StateBanned, waqtor.StateConnecting, waqtor.StateReady}, states)
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "B1", Chat: "+201001234567", Content: &waqtor.Text{Body: "x"}})
	require.NoError(t, err)
	info, _ = b.n.Session("s1")
	require.True(t, info.BanExpires.IsZero())
}

func TestBanMetOnConnect(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, botJID)
	require.NoError(t, b.n.Ban("s1", time.Hour))
	require.NoError(t, b.conn.Connect(t.Context()))
	b.h.waitStatus(t, waqtor.StateBanned)
	require.NoError(t, b.n.Ban("s1", -time.Second), "a ban in the past lifts at once")
	b.h.waitStatus(t, waqtor.StateReady)

	u := setup(t, nil, "")
	require.ErrorIs(t, u.n.Ban("s1", time.Hour), ErrNotPaired)
}

func TestCloseFromHandler(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, botJID)
	closed := make(chan error, 1)
	b.h.onStatus = func(ctx context.Context, st *waqtor.ConnStatus) {
		if st.State == waqtor.StateReady {
			closed <- b.conn.Close(ctx) // the handler's own context: Close must not wait for itself
		}
	}
	require.NoError(t, b.conn.Connect(t.Context()))
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Close from inside a handler deadlocked")
	}
	require.ErrorIs(t, b.conn.Connect(t.Context()), ErrClosed)
}

func TestDisconnectReconnects(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.ReconnectDelay = time.Hour // reconnect when the test says so
	b := setupReady(t, cfg)
	require.ErrorIs(t, b.n.Disconnect("nope"), ErrUnknownSession)
	require.NoError(t, b.n.Disconnect("s1"))
	st := b.h.waitStatus(t, waqtor.StateDisconnected)
	require.ErrorIs(t, st.Err, ErrConnectionLost)
	require.NoError(t, b.n.Disconnect("s1"), "already reconnecting")

	// Sends fail while disconnected, and messages for the session queue.
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "D1", Chat: "+201001234567", Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	_, err = b.conn.CheckNumbers(t.Context(), []string{"+201001234567"})
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	id, err := b.n.Phone("+201001234567").SendText(t.Context(), botJID, "while you were away")
	require.NoError(t, err)
	require.Empty(t, b.h.messages())

	// Speed up the reconnection.
	b.n.mu.Lock()
	d := b.n.devices["s1"]
	b.n.stopLocked(d.life)
	d.life = b.n.afterLocked(0, func() { b.n.connectLocked(d) })
	b.n.mu.Unlock()
	b.h.waitStatusCount(t, waqtor.StateReady, 2)
	require.Equal(t, id, b.h.waitMessages(t, 1)[0].ID)
	var states []waqtor.SessionState
	for _, s := range b.h.statuses() {
		states = append(states, s.State)
	}
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateReady, waqtor.StateDisconnected,
		waqtor.StateConnecting, waqtor.StateReady}, states)
}

func TestDisconnectReconnectsByItself(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil) // ReconnectDelay of 2 ms
	require.NoError(t, b.n.Disconnect("s1"))
	b.h.waitStatusCount(t, waqtor.StateReady, 2)

	// A Conn disconnected by the Core is not connected: nothing to drop.
	require.NoError(t, b.conn.Disconnect(t.Context()))
	b.h.waitStatusCount(t, waqtor.StateDisconnected, 2)
	require.ErrorIs(t, b.n.Disconnect("s1"), ErrNotConnected)
}

func TestFailSends(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	alice := b.n.Phone("+201001234567")
	send := func(id string) error {
		_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: id, Chat: alice.JID(), Content: &waqtor.Text{Body: id}})
		return err
	}

	b.n.FailSends("s1", nil, 2)
	for range 2 {
		err := send("F1")
		require.ErrorIs(t, err, ErrNetwork)
		require.False(t, waqtor.IsPermanent(err))
	}
	require.NoError(t, send("F1"))
	alice.RequireText(t, "F1")

	refused := errors.New("refused by policy")
	b.n.FailSends("s1", waqtor.Permanent(refused), 1)
	err := send("F2")
	require.ErrorIs(t, err, refused)
	require.True(t, waqtor.IsPermanent(err))

	b.n.FailSends("s1", nil, 5)
	b.n.FailSends("s1", nil, 0)
	require.NoError(t, send("F3"))

	var errs []error
	for _, r := range b.n.SendLog() {
		errs = append(errs, r.Err)
	}
	require.Len(t, errs, 5)
	require.ErrorIs(t, errs[0], ErrNetwork)
	require.ErrorIs(t, errs[1], ErrNetwork)
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], refused)
	require.NoError(t, errs[4])
}

func TestFactoryEngineCloseKeepsNetwork(t *testing.T) {
	t.Parallel()
	n := NewTestNetwork(t, fastConfig())
	ctx := t.Context()
	eng1, err := n.Factory()(ctx, &waqtor.EngineEnv{})
	require.NoError(t, err)
	h1 := newRecorder()
	c1, err := eng1.Open(ctx, &waqtor.EngineSession{ID: "s1"}, h1)
	require.NoError(t, err)
	require.NoError(t, c1.Connect(ctx))
	b1 := h1.waitQRs(t, 1)
	require.NoError(t, n.ScanQR(ctx, b1[0].code, botNumber))
	jid := h1.waitStatus(t, waqtor.StateReady).JID

	// The first Core stops; a message arrives while nothing runs.
	require.NoError(t, eng1.(waqtor.EngineCloser).Close(ctx))
	require.ErrorIs(t, c1.Connect(ctx), ErrClosed)
	alice := n.Phone("+201001234567")
	id, err := alice.SendText(ctx, botJID, "anyone?")
	require.NoError(t, err)
	_, err = alice.SendMedia(ctx, botJID, &waqtor.Media{Kind: waqtor.ContentAudio, Data: []byte("OggS voice"), Voice: true})
	require.NoError(t, err)

	// A second Core resumes with the stored JID and gets the message.
	eng2, err := n.Factory()(ctx, &waqtor.EngineEnv{})
	require.NoError(t, err)
	h2 := newRecorder()
	c2, err := eng2.Open(ctx, &waqtor.EngineSession{ID: "s1", JID: jid}, h2)
	require.NoError(t, err)
	require.NoError(t, c2.Connect(ctx))
	got := h2.waitMessages(t, 2)
	require.Equal(t, id, got[0].ID)
	require.Empty(t, h2.qrs())
	require.Empty(t, h1.messages())
	data, err := eng2.(waqtor.MediaDownloader).DownloadMedia(ctx, "s1", got[1].Content.(*waqtor.Media))
	require.NoError(t, err)
	require.Equal(t, []byte("OggS voice"), data)
	// Media the network does not hold is unavailable to the Core.
	_, err = eng2.(waqtor.MediaDownloader).DownloadMedia(ctx, "s1", &waqtor.Media{Ref: []byte(`{"sandbox_media":"m999"}`)})
	require.ErrorIs(t, err, waqtor.ErrMediaUnavailable)
	require.ErrorIs(t, err, ErrMediaNotFound)
	require.NoError(t, eng2.(waqtor.EngineCloser).Close(ctx))
}

func TestLogoutRemote(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	ctx := t.Context()
	alice := b.n.Phone("+201001234567")
	require.NoError(t, b.conn.Disconnect(ctx)) // the Core disconnected; a message waits
	_, err := alice.SendText(ctx, botJID, "lost")
	require.NoError(t, err)
	require.NoError(t, b.conn.Connect(ctx))
	b.h.waitStatusCount(t, waqtor.StateReady, 2)
	b.h.waitMessages(t, 1)

	require.NoError(t, b.n.LogoutRemote("s1"))
	st := b.h.waitStatus(t, waqtor.StateLoggedOut)
	require.ErrorIs(t, st.Err, ErrLoggedOut)
	require.ErrorIs(t, b.n.LogoutRemote("s1"), ErrNotPaired)
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "X", Chat: alice.JID(), Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	_, err = alice.SendText(ctx, botJID, "nobody home")
	require.NoError(t, err)
	info, _ := b.n.Session("s1")
	require.Zero(t, info.Pending, "a forgotten device gets nothing")

	// A Core that still has the old JID learns about the logout on Connect.
	h2 := newRecorder()
	c2, err := b.n.Open(ctx, &waqtor.EngineSession{ID: "s1", JID: botJID}, h2)
	require.NoError(t, err)
	require.NoError(t, c2.Connect(ctx))
	require.ErrorIs(t, h2.waitStatus(t, waqtor.StateLoggedOut).Err, ErrLoggedOut)
	require.NoError(t, c2.Connect(ctx))
	h2.waitQRs(t, 1)
}

func TestLogoutRemoteWhileClosed(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	require.NoError(t, b.conn.Close(t.Context()))
	require.NoError(t, b.n.LogoutRemote("s1"))
	h2 := newRecorder()
	c2, err := b.n.Open(t.Context(), &waqtor.EngineSession{ID: "s1", JID: botJID}, h2)
	require.NoError(t, err)
	require.NoError(t, c2.Connect(t.Context()))
	h2.waitStatus(t, waqtor.StateLoggedOut)
}

func TestNetworkClose(t *testing.T) {
	t.Parallel()
	n := NewNetwork(fastConfig())
	alice := n.Phone("+201001234567")
	h := newRecorder()
	c, err := n.Open(t.Context(), &waqtor.EngineSession{ID: "s1", JID: botJID}, h)
	require.NoError(t, err)
	require.NoError(t, c.Connect(t.Context()))
	waitErr := make(chan error, 1)
	go func() {
		_, err := alice.WaitForText(context.WithoutCancel(t.Context()), "never")
		waitErr <- err
	}()
	require.NoError(t, n.Close(t.Context()))
	require.NoError(t, n.Close(t.Context()), "Close twice is fine")
	require.ErrorIs(t, <-waitErr, ErrClosed)
	_, err = n.Open(t.Context(), &waqtor.EngineSession{ID: "s2"}, h)
	require.ErrorIs(t, err, ErrClosed)
	_, err = n.Factory()(t.Context(), &waqtor.EngineEnv{})
	require.ErrorIs(t, err, ErrClosed)
	_, err = alice.SendText(t.Context(), botJID, "x")
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Send(t.Context(), &waqtor.OutboundMessage{ID: "X", Chat: alice.JID(), Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, waqtor.ErrNotReady)
}

func TestNotReady(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, botJID)
	msg := &waqtor.OutboundMessage{ID: "N1", Chat: "+201001234567", Content: &waqtor.Text{Body: "x"}}
	_, err := b.conn.Send(t.Context(), msg)
	require.ErrorIs(t, err, waqtor.ErrNotReady)
	require.ErrorIs(t, b.conn.MarkRead(t.Context(), "+201001234567", "", []string{"x"}, time.Time{}), waqtor.ErrNotReady)
	require.ErrorIs(t, b.conn.SetPresence(t.Context(), "+201001234567", waqtor.PresenceTyping), waqtor.ErrNotReady)
	require.Len(t, b.n.SendLog(), 1, "failed attempts are logged")
}

func TestReentrantHandler(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	// An echo bot: it replies from inside HandleMessage and looks at the
	// network from inside HandleStatus.
	b.h.onMessage = func(ctx context.Context, m *waqtor.InboundMessage) error {
		text, ok := m.Content.(*waqtor.Text)
		if !ok {
			return nil
		}
		_, err := b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "echo-" + m.ID, Chat: m.Chat.JID, Content: &waqtor.Text{Body: "echo: " + text.Body}})
		if err != nil {
			return err
		}
		return b.conn.MarkRead(ctx, m.Chat.JID, "", []string{m.ID}, time.Time{})
	}
	b.h.onStatus = func(ctx context.Context, st *waqtor.ConnStatus) {
		b.n.Session("s1")
		_ = b.n.Disconnect("none")
	}
	alice := b.n.Phone("+201001234567")
	for _, text := range []string{"a", "b", "c"} {
		_, err := alice.SendText(t.Context(), botJID, text)
		require.NoError(t, err)
	}
	for _, text := range []string{"echo: a", "echo: b", "echo: c"} {
		alice.RequireText(t, text)
	}
	_, err := alice.WaitForSent(waitCtx(t), func(s Sent) bool { return s.ID != "" && len(s.ReadBy) == 1 })
	require.NoError(t, err)
	require.NoError(t, b.n.Disconnect("s1"))
	b.h.waitStatusCount(t, waqtor.StateReady, 2)
}

func TestSlowSend(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	alice := b.n.Phone("+201001234567")
	b.n.SetSendLatency("s1", time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
	defer cancel()
	_, err := b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "S1", Chat: alice.JID(), Content: &waqtor.Text{Body: "slow"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, waqtor.IsPermanent(err))
	require.Empty(t, alice.Received())
	log := b.n.SendLog()
	require.Len(t, log, 1)
	require.ErrorIs(t, log[0].Err, context.DeadlineExceeded)

	// A slow send that completes.
	b.n.SetSendLatency("s1", 5*time.Millisecond)
	start := time.Now()
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "S1", Chat: alice.JID(), Content: &waqtor.Text{Body: "slow"}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 5*time.Millisecond)
	alice.RequireText(t, "slow")

	// Closing the Conn ends a slow send (or refuses it, if Close comes first).
	b.n.SetSendLatency("s1", time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := b.conn.Send(context.WithoutCancel(t.Context()), &waqtor.OutboundMessage{ID: "S2", Chat: alice.JID(), Content: &waqtor.Text{Body: "x"}})
		done <- err
	}()
	require.NoError(t, b.conn.Close(t.Context()))
	select {
	case err := <-done:
		require.ErrorIs(t, err, waqtor.ErrNotReady)
	case <-time.After(waitTimeout):
		t.Fatal("Close did not end the slow send")
	}
}
