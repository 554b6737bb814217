package sandbox

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

func TestCheckNumbers(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		requireRegistered bool
		want              []bool
	}{
		"open":               {false, []bool{true, true, false}},
		"require registered": {true, []bool{true, false, false}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fastConfig()
			cfg.RequireRegistered = tc.requireRegistered
			b := setupReady(t, cfg)
			alice := b.n.Phone("+201001234567")
			got, err := b.conn.CheckNumbers(t.Context(), []string{"201001234567", "+14155550100", "nope"})
			require.NoError(t, err)
			require.Len(t, got, 3)
			for i, w := range tc.want {
				require.Equal(t, w, got[i].OnWhatsApp, "number %d", i)
			}
			require.Equal(t, waqtor.NumberCheck{JID: alice.JID(), LID: alice.LID(), OnWhatsApp: true, Phone: "+201001234567"}, got[0])
			require.Equal(t, waqtor.NumberCheck{Phone: "nope"}, got[2])
			b.n.mu.Lock()
			require.Len(t, b.n.phones, 2, "checking creates no phone")
			b.n.mu.Unlock()
		})
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.AutoRead = true
	b := setupReady(t, cfg)
	ctx := t.Context()
	alice, bob, carol := b.n.Phone("+201001111111"), b.n.Phone("+201002222222"), b.n.Phone("+201003333333")
	gid, err := b.n.CreateGroup("Team", botNumber, alice.Number(), bob.JID())
	require.NoError(t, err)
	members, err := b.n.GroupMembers(gid)
	require.NoError(t, err)
	require.Equal(t, []string{botJID, alice.JID(), bob.JID()}, members)

	// A member's message reaches the session and the other members.
	id, err := alice.SendText(ctx, gid, "hello team")
	require.NoError(t, err)
	m := b.h.waitMessages(t, 1)[0]
	require.Equal(t, id, m.ID)
	require.True(t, m.IsGroup)
	require.Equal(t, waqtor.Address{JID: gid}, m.Chat)
	require.Equal(t, alice.Address(), m.Sender)
	require.Equal(t, gid, bob.RequireText(t, "hello team").Chat)
	require.Empty(t, carol.Received())

	_, err = carol.SendText(ctx, gid, "let me in")
	require.ErrorIs(t, err, ErrNotParticipant)

	// The session's message reaches every member; each reads it.
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "G1", Chat: gid, Content: &waqtor.Text{Body: "hi all"}})
	require.NoError(t, err)
	for _, p := range []*Phone{alice, bob} {
		r := p.RequireText(t, "hi all")
		require.Equal(t, gid, r.Chat)
		require.Equal(t, botJID, r.From)
		require.Equal(t, "s1", r.Session)
	}
	rcs := b.h.waitReceipts(t, 4)
	readers := map[waqtor.ReceiptType][]string{}
	for _, rc := range rcs {
		require.Equal(t, waqtor.Address{JID: gid}, rc.Chat)
		require.Equal(t, []string{"G1"}, rc.IDs)
		readers[rc.Type] = append(readers[rc.Type], rc.Sender.JID)
	}
	require.ElementsMatch(t, []string{alice.JID(), bob.JID()}, readers[waqtor.ReceiptDelivered])
	require.ElementsMatch(t, []string{alice.JID(), bob.JID()}, readers[waqtor.ReceiptRead])

	// Marking a member's message read tells that member.
	require.NoError(t, b.conn.MarkRead(ctx, gid, alice.JID(), []string{id}, time.Time{}))
	s, err := alice.WaitForSent(waitCtx(t), func(s Sent) bool { return s.ID == id && len(s.ReadBy) > 0 })
	require.NoError(t, err)
	require.Contains(t, s.ReadBy, botJID)

	// Not a member: refused for good.
	gid2, err := b.n.CreateGroup("Others", alice.Number(), bob.Number())
	require.NoError(t, err)
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "G2", Chat: gid2, Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, ErrNotParticipant)
	require.True(t, waqtor.IsPermanent(err))
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "G3", Chat: "1203639999@g.us", Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, ErrUnknownGroup)
	require.True(t, waqtor.IsPermanent(err))
}

func TestHandlerErrorRedelivers(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	b.h.mu.Lock()
	b.h.failMessages = 2
	b.h.failReceipts = 1
	b.h.mu.Unlock()
	alice := b.n.Phone("+201001234567")
	id, err := alice.SendText(t.Context(), botJID, "are you there?")
	require.NoError(t, err)

	got := b.h.waitMessages(t, 1)
	require.Equal(t, id, got[0].ID)
	b.h.mu.Lock()
	require.Equal(t, 3, b.h.attempts[id], "two refusals, then acknowledged")
	b.h.mu.Unlock()

	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "R1", Chat: alice.JID(), Content: &waqtor.Text{Body: "yes"}})
	require.NoError(t, err)
	require.Equal(t, waqtor.ReceiptDelivered, b.h.waitReceipts(t, 1)[0].Type)
	require.NoError(t, b.n.WaitForState(waitCtx(t), "s1", waqtor.StateReady))
	b.h.wait(t, "nothing pending", func() bool {
		info, _ := b.n.Session("s1")
		return info.Pending == 0
	})
}

func TestHandlerPanicRedelivers(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	panicked := false
	b.h.onMessage = func(_ context.Context, m *waqtor.InboundMessage) error {
		if !panicked {
			panicked = true // the worker calls handlers one at a time
			panic("boom")
		}
		return nil
	}
	_, err := b.n.Phone("+201001234567").SendText(t.Context(), botJID, "hi")
	require.NoError(t, err)
	b.h.waitMessages(t, 1)
}

func TestInboundContent(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	ctx := t.Context()
	alice := b.n.Phone("+201001234567")
	alice.SetPushName("Alice")
	img := []byte("\x89PNG\r\n\x1a\nnot really a png")

	// The session sends a poll and a text so that alice can vote and react.
	poll := &waqtor.Poll{Question: "Lunch?", Options: []string{"Pizza", "Salad", "Soup"}, MaxSelections: 2}
	_, err := b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "POLL1", Chat: alice.JID(), Content: poll})
	require.NoError(t, err)
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "TXT1", Chat: alice.JID(), Content: &waqtor.Text{Body: "hello"}})
	require.NoError(t, err)
	alice.RequireText(t, "hello")

	textID, err := alice.SendText(ctx, botJID, "hi")
	require.NoError(t, err)
	_, err = alice.SendMedia(ctx, botJID, &waqtor.Media{Kind: waqtor.ContentImage, Data: img, Caption: "look"})
	require.NoError(t, err)
	_, err = alice.SendLocation(ctx, botJID, &waqtor.Location{Latitude: 30.04, Longitude: 31.24, Name: "Cairo"})
	require.NoError(t, err)
	_, err = alice.Send(ctx, botJID, &waqtor.Contact{Name: "Bob", Phone: "+201002222222"}, nil)
	require.NoError(t, err)
	_, err = alice.VotePoll(ctx, "POLL1", "Pizza", "Soup")
	require.NoError(t, err)
	_, err = alice.React(ctx, "TXT1", "👍")
	require.NoError(t, err)
	_, err = alice.Edit(ctx, textID, "hi!")
	require.NoError(t, err)
	_, err = alice.Revoke(ctx, textID)
	require.NoError(t, err)

	got := b.h.waitMessages(t, 8)
	addr := waqtor.Address{JID: alice.JID(), LID: alice.LID(), Phone: "+201001234567"}
	require.Regexp(t, `^\d{15}@lid$`, addr.LID)
	for _, m := range got {
		require.Equal(t, addr, m.Chat)
		require.Equal(t, addr, m.Sender)
		require.Equal(t, "Alice", m.PushName)
		require.False(t, m.IsGroup)
		require.False(t, m.FromMe)
		require.NotEmpty(t, m.ID)
	}
	require.Equal(t, &waqtor.Text{Body: "hi"}, got[0].Content)

	media := got[1].Content.(*waqtor.Media)
	sum := sha256.Sum256(img)
	require.Nil(t, media.Data, "sessions get metadata only")
	require.Equal(t, "image/png", media.MIME)
	require.Equal(t, int64(len(img)), media.Size)
	require.Equal(t, sum[:], media.SHA256)
	require.Equal(t, "look", media.Caption)
	data, err := b.n.DownloadMedia(ctx, "s1", media)
	require.NoError(t, err)
	require.Equal(t, img, data)
	_, err = b.n.DownloadMedia(ctx, "s1", &waqtor.Media{Ref: []byte(`{"sandbox_media":"m999"}`)})
	require.ErrorIs(t, err, ErrMediaNotFound)

	require.Equal(t, &waqtor.Location{Latitude: 30.04, Longitude: 31.24, Name: "Cairo"}, got[2].Content)
	require.Equal(t, &waqtor.Contact{Name: "Bob", Phone: "+201002222222"}, got[3].Content)
	require.Equal(t, &waqtor.PollVote{PollID: "POLL1", Selected: []string{"Pizza", "Soup"}}, got[4].Content)
	require.Equal(t, &waqtor.Reaction{Emoji: "👍", TargetID: "TXT1", TargetSender: botJID}, got[5].Content)
	require.Equal(t, &waqtor.Edit{TargetID: textID, Text: "hi!"}, got[6].Content)
	require.Equal(t, &waqtor.Revoke{TargetID: textID, TargetSender: alice.JID()}, got[7].Content)

	// Bad votes and targets are the test's mistakes.
	_, err = alice.VotePoll(ctx, "POLL1", "Pasta")
	require.Error(t, err)
	_, err = alice.VotePoll(ctx, "POLL1", "Pizza", "Salad", "Soup")
	require.Error(t, err)
	_, err = alice.VotePoll(ctx, "TXT1", "Pizza")
	require.Error(t, err)
	_, err = alice.VotePoll(ctx, "NOPE")
	require.ErrorIs(t, err, ErrUnknownMessage)
	_, err = alice.React(ctx, "NOPE", "👍")
	require.ErrorIs(t, err, ErrUnknownMessage)
	_, err = alice.Edit(ctx, "TXT1", "not mine")
	require.ErrorIs(t, err, ErrUnknownMessage)
}

func TestInboundHiddenNumber(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	alice := b.n.Phone("+201001234567")
	alice.SetHidePhone(true)
	_, err := alice.SendText(t.Context(), botJID, "guess who")
	require.NoError(t, err)
	m := b.h.waitMessages(t, 1)[0]
	require.Equal(t, waqtor.Address{JID: alice.LID(), LID: alice.LID()}, m.Sender)
	require.Equal(t, m.Sender, m.Chat)

	// The session can answer the LID.
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "L1", Chat: alice.LID(), Content: &waqtor.Text{Body: "you"}})
	require.NoError(t, err)
	alice.RequireText(t, "you")
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "L2", Chat: "999999@lid", Content: &waqtor.Text{Body: "?"}})
	require.ErrorIs(t, err, ErrNotOnWhatsApp)
}

func TestOfflineQueueInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, botJID) // opened, not connected
	alice := b.n.Phone("+201001234567")
	var ids []string
	for _, text := range []string{"one", "two", "three", "four", "five"} {
		id, err := alice.SendText(t.Context(), botJID, text)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	info, _ := b.n.Session("s1")
	require.Equal(t, 5, info.Pending)

	require.NoError(t, b.conn.Connect(t.Context()))
	got := b.h.waitMessages(t, 5)
	for i, m := range got {
		require.Equal(t, ids[i], m.ID)
	}
	// Ready is reported before the first message.
	b.h.mu.Lock()
	defer b.h.mu.Unlock()
	var order []string
	for _, v := range b.h.log {
		switch v := v.(type) {
		case *waqtor.ConnStatus:
			order = append(order, string(v.State))
		case *waqtor.InboundMessage:
			order = append(order, "msg")
		}
	}
	require.Equal(t, []string{"connecting", "ready", "msg", "msg", "msg", "msg", "msg"}, order)
}

func TestPresence(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	alice := b.n.Phone("+201001234567")
	require.NoError(t, b.conn.SetPresence(t.Context(), alice.Number(), waqtor.PresenceTyping))
	require.NoError(t, b.conn.SetPresence(t.Context(), alice.JID(), waqtor.PresencePaused))
	require.Error(t, b.conn.SetPresence(t.Context(), alice.JID(), "dancing"))
	got := alice.Presences()
	require.Len(t, got, 2)
	require.Equal(t, Presence{Chat: botJID, From: botJID, State: waqtor.PresenceTyping, Time: got[0].Time}, got[0])
	require.Equal(t, waqtor.PresencePaused, got[1].State)
}

func TestReceipts(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.AutoRead = true
	b := setupReady(t, cfg)
	alice := b.n.Phone("+201001234567")
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "M1", Chat: alice.JID(), Content: &waqtor.Text{Body: "hi"}})
	require.NoError(t, err)
	rcs := b.h.waitReceipts(t, 2)
	require.Equal(t, waqtor.ReceiptDelivered, rcs[0].Type, "delivered comes before read")
	require.Equal(t, waqtor.ReceiptRead, rcs[1].Type)
	for _, rc := range rcs {
		require.Equal(t, []string{"M1"}, rc.IDs)
		require.Equal(t, alice.Address(), rc.Sender)
		require.Equal(t, alice.Address(), rc.Chat)
	}
	r, err := alice.WaitFor(waitCtx(t), func(r Received) bool { return !r.ReadAt.IsZero() })
	require.NoError(t, err)
	require.False(t, r.DeliveredAt.After(r.ReadAt))
	require.False(t, rcs[0].Time.After(rcs[1].Time))
}

func TestReceiptsWaitForOnlinePhone(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil) // no AutoRead
	alice := b.n.Phone("+201001234567")
	alice.SetOnline(false)
	require.False(t, alice.Online())
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "M1", Chat: alice.JID(), Content: &waqtor.Text{Body: "one"}})
	require.NoError(t, err)
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "M2", Chat: alice.JID(), Content: &waqtor.Text{Body: "two"}})
	require.NoError(t, err)
	require.Empty(t, alice.Received(), "an offline phone receives nothing")
	require.ErrorIs(t, alice.Read(t.Context(), "M1"), ErrUnknownMessage)

	alice.SetOnline(true)
	got := alice.Received()
	require.Len(t, got, 2)
	require.Equal(t, "M1", got[0].ID)
	require.Equal(t, "M2", got[1].ID)
	rcs := b.h.waitReceipts(t, 2)
	for _, rc := range rcs {
		require.Equal(t, waqtor.ReceiptDelivered, rc.Type)
	}

	// Reading is explicit without AutoRead.
	require.NoError(t, alice.Read(t.Context(), "M2"))
	rcs = b.h.waitReceipts(t, 3)
	require.Equal(t, waqtor.ReceiptRead, rcs[2].Type)
	require.Equal(t, []string{"M2"}, rcs[2].IDs)
	require.NoError(t, alice.Read(t.Context(), "M2"), "reading twice sends one receipt")
	require.Len(t, b.h.receipts(), 3)
}

func TestReadBeforeDeliveredSendsBoth(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.DeliverLatency = time.Hour
	b := setupReady(t, cfg)
	alice := b.n.Phone("+201001234567")
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "M1", Chat: alice.JID(), Content: &waqtor.Text{Body: "hi"}})
	require.NoError(t, err)
	require.NoError(t, alice.Read(t.Context(), "M1"))
	rcs := b.h.waitReceipts(t, 2)
	require.Equal(t, waqtor.ReceiptDelivered, rcs[0].Type)
	require.Equal(t, waqtor.ReceiptRead, rcs[1].Type)
}

func TestMarkRead(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	alice, bob := b.n.Phone("+201001234567"), b.n.Phone("+201002222222")
	id, err := alice.SendText(t.Context(), botJID, "read me")
	require.NoError(t, err)
	other, err := bob.SendText(t.Context(), botJID, "not me")
	require.NoError(t, err)
	b.h.waitMessages(t, 2)

	// The wrong chat reads nothing; the right one reads alice's message.
	require.NoError(t, b.conn.MarkRead(t.Context(), bob.JID(), "", []string{id}, time.Time{}))
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	require.NoError(t, b.conn.MarkRead(t.Context(), alice.JID(), "", []string{id, "unknown"}, at))
	s, err := alice.WaitForSent(waitCtx(t), func(s Sent) bool { return s.ID == id && !s.ReadAt.IsZero() })
	require.NoError(t, err)
	require.Equal(t, at, s.ReadAt)
	require.Equal(t, []string{botJID}, s.ReadBy)
	require.False(t, s.DeliveredAt.IsZero())
	for _, s := range bob.Sent() {
		require.Equal(t, other, s.ID)
		require.True(t, s.ReadAt.IsZero())
	}
	// The account's own phone shows the message read too.
	r, err := b.n.Phone(botNumber).WaitFor(waitCtx(t), func(r Received) bool { return r.ID == id })
	require.NoError(t, err)
	require.Equal(t, at, r.ReadAt)
}

func TestSendReachesPhone(t *testing.T) {
	t.Parallel()
	var log []SendRecord
	cfg := fastConfig()
	cfg.SendLogFunc = func(r SendRecord) { log = append(log, r) } // sends below are sequential
	b := setupReady(t, cfg)
	ctx := t.Context()
	alice := b.n.Phone("+201001234567")

	msg := &waqtor.OutboundMessage{ID: "3EB0AAAA", Chat: "201001234567@s.whatsapp.net", Content: &waqtor.Text{Body: "hello"}}
	res1, err := b.conn.Send(ctx, msg)
	require.NoError(t, err)
	r := alice.RequireText(t, "hello")
	require.Equal(t, Received{Chat: botJID, Content: msg.Content, From: botJID, ID: "3EB0AAAA", Session: "s1",
		Time: res1.Time, DeliveredAt: r.DeliveredAt, ReadAt: r.ReadAt}, r)

	// A resend of the same ID is logged but not shown twice.
	res2, err := b.conn.Send(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, res1.Time, res2.Time)
	require.Len(t, alice.Received(), 1)
	sends := b.n.SendLog()
	require.Len(t, sends, 2)
	require.False(t, sends[0].Duplicate)
	require.True(t, sends[1].Duplicate)
	for _, s := range sends {
		require.Equal(t, "s1", s.Session)
		require.Equal(t, alice.JID(), s.Chat)
		require.Equal(t, "3EB0AAAA", s.ID)
		require.NoError(t, s.Err)
	}
	require.Equal(t, sends, log)

	// Outbound media reach the phone with their bytes.
	doc := []byte("%PDF-1.4 report")
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "DOC1", Chat: alice.JID(),
		Content: &waqtor.Media{Kind: waqtor.ContentDocument, Data: doc, FileName: "r.pdf", Caption: "the report"}})
	require.NoError(t, err)
	got := alice.RequireText(t, "the report").Content.(*waqtor.Media)
	require.Equal(t, doc, got.Data)
	require.Equal(t, "application/pdf", got.MIME)

	// Bad input is refused for good.
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "X", Chat: "nope", Content: &waqtor.Text{Body: "x"}})
	require.True(t, waqtor.IsPermanent(err))
	require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
	_, err = b.conn.Send(ctx, &waqtor.OutboundMessage{Chat: alice.JID(), Content: &waqtor.Text{Body: "x"}})
	require.True(t, waqtor.IsPermanent(err))
}

func TestSendRequireRegistered(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.RequireRegistered = true
	b := setupReady(t, cfg)
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "M1", Chat: "+14155550100", Content: &waqtor.Text{Body: "x"}})
	require.ErrorIs(t, err, ErrNotOnWhatsApp)
	require.True(t, waqtor.IsPermanent(err))
	b.n.Phone("+14155550100")
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "M1", Chat: "+14155550100", Content: &waqtor.Text{Body: "x"}})
	require.NoError(t, err, "a failed ID may be sent again")
}

func TestSessionToSession(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	h2 := newRecorder()
	c2, err := b.n.Open(t.Context(), &waqtor.EngineSession{ID: "s2", JID: "15550000002@s.whatsapp.net"}, h2)
	require.NoError(t, err)
	require.NoError(t, c2.Connect(t.Context()))
	h2.waitStatus(t, waqtor.StateReady)

	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "X1", Chat: "15550000002@s.whatsapp.net", Content: &waqtor.Text{Body: "hi s2"}})
	require.NoError(t, err)
	m := h2.waitMessages(t, 1)[0]
	require.Equal(t, botJID, m.Sender.JID)
	require.Equal(t, "X1", m.ID)
	require.Equal(t, waqtor.ReceiptDelivered, b.h.waitReceipts(t, 1)[0].Type, "the account's phone confirms delivery")

	// A second device of the same account gets a FromMe copy.
	h3 := newRecorder()
	c3, err := b.n.Open(t.Context(), &waqtor.EngineSession{ID: "s3", JID: botJID}, h3)
	require.NoError(t, err)
	require.NoError(t, c3.Connect(t.Context()))
	_, err = b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "X2", Chat: "15550000002@s.whatsapp.net", Content: &waqtor.Text{Body: "again"}})
	require.NoError(t, err)
	m = h3.waitMessages(t, 1)[0]
	require.True(t, m.FromMe)
	require.Equal(t, "15550000002@s.whatsapp.net", m.Chat.JID)
}

func TestPlayed(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	alice := b.n.Phone("+201001234567")
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "V1", Chat: alice.JID(),
		Content: &waqtor.Media{Kind: waqtor.ContentAudio, Voice: true, Data: []byte("OggS")}})
	require.NoError(t, err)
	alice.RequireReceived(t, func(r Received) bool { return r.ID == "V1" })
	require.NoError(t, alice.Play(t.Context(), "V1"))
	require.ErrorIs(t, alice.Play(t.Context(), "V2"), ErrUnknownMessage)
	rcs := b.h.waitReceipts(t, 3)
	var types []waqtor.ReceiptType
	for _, rc := range rcs {
		types = append(types, rc.Type)
	}
	require.Equal(t, []waqtor.ReceiptType{waqtor.ReceiptDelivered, waqtor.ReceiptRead, waqtor.ReceiptPlayed}, types)
}

// TestReceiptsWaitForSendLog: a sent message's delivered receipt reaches the
// session only after Config.SendLogFunc returned for its send, so that a
// process killed while logging never has a receipt for a send its log lacks.
func TestReceiptsWaitForSendLog(t *testing.T) {
	t.Parallel()
	logged, release := make(chan struct{}), make(chan struct{})
	cfg := fastConfig()
	cfg.DeliverLatency = 0
	cfg.SendLogFunc = func(SendRecord) {
		close(logged)
		<-release
	}
	b := setupReady(t, cfg)
	alice := b.n.Phone("+201001234567")
	sent := make(chan error, 1)
	go func() {
		_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "3EB0BBBB", Chat: "201001234567@s.whatsapp.net",
			Content: &waqtor.Text{Body: "hello"}})
		sent <- err
	}()
	<-logged
	alice.RequireText(t, "hello") // delivered to the phone already
	// With no latency, a receipt not held back would reach the session at
	// once; 100 ms without one shows it is held.
	time.Sleep(100 * time.Millisecond)
	require.Empty(t, b.h.receipts(), "a receipt came before the send was logged")
	close(release)
	require.NoError(t, <-sent)
	rs := b.h.waitReceipts(t, 1)
	require.Equal(t, []string{"3EB0BBBB"}, rs[0].IDs)
}
