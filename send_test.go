package waqtor_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

const peer = "+15550009999"
const peerJID = "15550009999@s.whatsapp.net"

func TestSendTextLifecycle(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		events, unsub, err := c.Subscribe(waqtor.KindMessageSent, waqtor.KindMessageDelivered, waqtor.KindMessageRead)
		require.NoError(t, err)
		defer unsub()

		m, err := c.SendText(ctx, "main", "+1 (555) 000-9999", "hello", nil)
		require.NoError(t, err)
		require.Equal(t, waqtor.StatusSent, m.Status)
		require.Equal(t, peerJID, m.Chat.JID)
		require.Equal(t, peer, m.Chat.Phone)
		require.Regexp(t, `^3EB0[0-9A-F]{18}$`, m.ID)
		require.Equal(t, []string{m.ID}, sentIDs(b))

		sent := waitEvent[*waqtor.MessageSent](t, events, nil)
		require.Equal(t, m.ID, sent.Message.ID)
		require.Equal(t, "hello", sent.Message.Content.(*waqtor.Text).Body)
		require.Positive(t, sent.Meta().Seq)

		h := b.engine.Conn("main").Handler()
		// Read before delivered: both events come, in order, and the state is read.
		require.NoError(t, h.HandleReceipt(ctx, &waqtor.Receipt{Type: waqtor.ReceiptRead, IDs: []string{m.ID},
			Chat: waqtor.Address{JID: peerJID}, Sender: waqtor.Address{JID: peerJID}}))
		d := waitEvent[*waqtor.MessageDelivered](t, events, nil)
		require.Equal(t, m.ID, d.MessageID)
		r := waitEvent[*waqtor.MessageRead](t, events, nil)
		require.Equal(t, m.ID, r.MessageID)
		require.Greater(t, r.Meta().Seq, d.Meta().Seq)
		// A late delivered receipt does not move it back, nor emit again.
		require.NoError(t, h.HandleReceipt(ctx, &waqtor.Receipt{Type: waqtor.ReceiptDelivered, IDs: []string{m.ID, "unknown"}}))
		got, err := c.Message(ctx, "main", m.ID)
		require.NoError(t, err)
		require.Equal(t, waqtor.StatusRead, got.Status)
		evs, err := c.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageDelivered}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})
}

func sentIDs(b *testBundle) []string {
	var ids []string
	for _, s := range b.engine.Sends() {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestSendBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite)
	c := b.core
	before, err := c.LastSeq(ctx)
	require.NoError(t, err)
	big := make([]byte, waqtor.MaxMediaBytesDefault+1)
	tests := map[string]struct {
		send func() error
		want error
	}{
		"unknown session": {func() error { _, err := c.SendText(ctx, "nope", peer, "x", nil); return err }, waqtor.ErrSessionNotFound},
		"invalid session": {func() error { _, err := c.SendText(ctx, "No!", peer, "x", nil); return err }, waqtor.ErrInvalidSessionID},
		"garbage phone":   {func() error { _, err := c.SendText(ctx, "main", "call me", "x", nil); return err }, waqtor.ErrInvalidPhone},
		"no country code": {func() error { _, err := c.SendText(ctx, "main", "0101234567", "x", nil); return err }, waqtor.ErrInvalidPhone},
		"empty text":      {func() error { _, err := c.SendText(ctx, "main", peer, "  ", nil); return err }, waqtor.ErrInvalidMessage},
		"nil content":     {func() error { _, err := c.Send(ctx, "main", peer, nil, nil); return err }, waqtor.ErrInvalidMessage},
		"bad location": {func() error {
			_, err := c.SendLocation(ctx, "main", peer, &waqtor.Location{Latitude: 91}, nil)
			return err
		}, waqtor.ErrInvalidMessage},
		"one-option poll": {func() error {
			_, err := c.SendPoll(ctx, "main", peer, &waqtor.Poll{Question: "q", Options: []string{"a"}}, nil)
			return err
		}, waqtor.ErrInvalidMessage},
		"oversized media": {func() error {
			_, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: big}, nil)
			return err
		}, waqtor.ErrMediaTooLarge},
		"media two sources": {func() error {
			_, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: []byte("x"), Path: "/etc/hosts"}, nil)
			return err
		}, waqtor.ErrInvalidMessage},
		"media bad kind": {func() error {
			_, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: "gif", Data: []byte("x")}, nil)
			return err
		}, waqtor.ErrInvalidMessage},
		"media private url": {func() error {
			_, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: "http://169.254.169.254/latest"}, nil)
			return err
		}, waqtor.ErrMediaFetch},
		"media missing file": {func() error {
			_, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentDocument, Path: "/does/not/exist"}, nil)
			return err
		}, waqtor.ErrMediaFetch},
		"bad idempotency key": {func() error {
			_, err := c.SendText(ctx, "main", peer, "x", &waqtor.SendOpts{IdempotencyKey: "a\x00b"})
			return err
		}, waqtor.ErrInvalidMessage},
		"bad presence":     {func() error { return c.SetPresence(ctx, "main", peer, "dancing") }, waqtor.ErrInvalidMessage},
		"mark read no ids": {func() error { return c.MarkRead(ctx, "main", peer, nil, "") }, waqtor.ErrInvalidMessage},
		"check garbage": {func() error {
			_, err := c.CheckNumbers(ctx, "main", []string{"+15550001111", "nope"})
			return err
		}, waqtor.ErrInvalidPhone},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.send()
			require.ErrorIs(t, err, tt.want)
			var fe *waqtor.FieldError
			if errors.Is(tt.want, waqtor.ErrInvalidMessage) || errors.Is(tt.want, waqtor.ErrInvalidPhone) {
				require.ErrorAs(t, err, &fe, "input errors name their field")
				require.NotEmpty(t, fe.Field)
			}
		})
	}
	after, err := c.LastSeq(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "no event was logged")
	require.Empty(t, b.engine.Sends(), "nothing was sent")
	list, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peer})
	require.NoError(t, err)
	require.Empty(t, list.Messages, "nothing was stored")
}

func TestSendIdempotency(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		opts := &waqtor.SendOpts{IdempotencyKey: "order-42"}
		first, err := b.core.SendText(ctx, "main", peer, "your order shipped", opts)
		require.NoError(t, err)
		// Concurrent retries with the same key all get the first message.
		var wg sync.WaitGroup
		results := make([]*waqtor.Message, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := b.core.SendText(ctx, "main", peer, "your order shipped", opts)
				if err == nil {
					results[i] = m
				}
			}()
		}
		wg.Wait()
		for _, m := range results {
			require.NotNil(t, m)
			require.Equal(t, first.ID, m.ID)
		}
		require.Len(t, b.engine.Sends(), 1, "sent exactly once")

		// Racing first sends with a fresh key: still exactly one send.
		b2 := make([]*waqtor.Message, 10)
		for i := range b2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := b.core.SendText(ctx, "main", peer, "race", &waqtor.SendOpts{IdempotencyKey: "race"})
				if err == nil {
					b2[i] = m
				}
			}()
		}
		wg.Wait()
		for _, m := range b2 {
			require.NotNil(t, m)
			require.Equal(t, b2[0].ID, m.ID)
		}
		require.Len(t, b.engine.Sends(), 2)
	})
}

func TestSendTransientFailureRetriesWithSameID(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		events, unsub, err := b.core.Subscribe(waqtor.KindMessageSent)
		require.NoError(t, err)
		defer unsub()
		b.engine.FailNext(errTransient, errTransient)
		m, err := b.core.SendText(ctx, "main", peer, "eventually", nil)
		require.NoError(t, err, "accepted: it will be retried")
		require.Equal(t, waqtor.StatusPending, m.Status)
		require.Contains(t, m.Error, "network unreachable")
		sent := waitEvent[*waqtor.MessageSent](t, events, nil)
		require.Equal(t, m.ID, sent.Message.ID)
		require.Equal(t, []string{m.ID}, sentIDs(b))
		got, err := b.core.Message(ctx, "main", m.ID)
		require.NoError(t, err)
		require.Equal(t, waqtor.StatusSent, got.Status)
	})
}

func TestSendPermanentFailureAndExhaustion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite, func(c *waqtor.Config) { c.MaxSendAttempts = 2 })
	events, unsub, err := b.core.Subscribe(waqtor.KindMessageFailed)
	require.NoError(t, err)
	defer unsub()

	b.engine.FailNext(waqtor.Permanent(errors.New("recipient not on WhatsApp")))
	m, err := b.core.SendText(ctx, "main", peer, "x", nil)
	require.Error(t, err)
	require.True(t, waqtor.IsPermanent(err))
	require.Equal(t, waqtor.StatusFailed, m.Status)
	f := waitEvent[*waqtor.MessageFailed](t, events, nil)
	require.Equal(t, m.ID, f.Message.ID)
	require.Contains(t, f.Error, "not on WhatsApp")

	b.engine.FailNext(errTransient, errTransient)
	m2, err := b.core.SendText(ctx, "main", peer, "y", nil)
	require.NoError(t, err)
	require.Equal(t, waqtor.StatusPending, m2.Status)
	f2 := waitEvent[*waqtor.MessageFailed](t, events, nil)
	require.Equal(t, m2.ID, f2.Message.ID, "gives up after MaxSendAttempts")
	require.Empty(t, b.engine.Sends())
}

func TestSendKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite)
	c := b.core
	h := b.engine.Conn("main").Handler()
	// An inbound message to quote, react to and revoke.
	require.NoError(t, h.HandleMessage(ctx, &waqtor.InboundMessage{ID: "IN1", Chat: waqtor.Address{JID: peerJID},
		Sender: waqtor.Address{JID: peerJID}, Content: &waqtor.Text{Body: "question?"}, Time: time.Now()}))

	reply, err := c.Send(ctx, "main", peer, &waqtor.Text{Body: "answer", Quote: &waqtor.Quote{ID: "IN1"},
		Mentions: []string{peerJID}}, nil)
	require.NoError(t, err)
	q := reply.Content.(*waqtor.Text).Quote
	require.Equal(t, peerJID, q.Sender, "filled from the store")
	require.Equal(t, "question?", q.Text)

	react, err := c.React(ctx, "main", peer, "IN1", "👍", nil)
	require.NoError(t, err)
	require.Equal(t, peerJID, react.Content.(*waqtor.Reaction).TargetSender)
	own, err := c.React(ctx, "main", peer, reply.ID, "❤️", nil)
	require.NoError(t, err)
	require.Equal(t, "15550001111@s.whatsapp.net", own.Content.(*waqtor.Reaction).TargetSender)

	_, err = c.Edit(ctx, "main", peer, reply.ID, "better answer", nil)
	require.NoError(t, err)
	_, err = c.Revoke(ctx, "main", peer, reply.ID, nil)
	require.NoError(t, err)
	loc, err := c.SendLocation(ctx, "main", peer, &waqtor.Location{Latitude: 30.0444, Longitude: 31.2357, Name: "Cairo"}, nil)
	require.NoError(t, err)
	require.Equal(t, waqtor.ContentLocation, loc.Content.ContentType())
	card, err := c.SendContact(ctx, "main", peer, &waqtor.Contact{Name: "Support; Team", Phone: "+201001234567"}, nil)
	require.NoError(t, err)
	require.Contains(t, card.Content.(*waqtor.Contact).VCard, "waid=201001234567:+201001234567")
	require.Contains(t, card.Content.(*waqtor.Contact).VCard, `FN:Support\; Team`)
	poll, err := c.SendPoll(ctx, "main", peer, &waqtor.Poll{Question: "Lunch?", Options: []string{"Yes", "No"}}, nil)
	require.NoError(t, err)

	// Media from bytes and from a file.
	png := []byte("\x89PNG\r\n\x1a\n0000")
	img, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: png, Caption: "pic"}, nil)
	require.NoError(t, err)
	require.Equal(t, "image/png", img.Content.(*waqtor.Media).MIME)
	path := filepath.Join(t.TempDir(), "invoice.pdf")
	require.NoError(t, os.WriteFile(path, []byte("%PDF-1.4 test"), 0o600))
	doc, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentDocument, Path: path}, nil)
	require.NoError(t, err)
	dm := doc.Content.(*waqtor.Media)
	require.Equal(t, "invoice.pdf", dm.FileName)
	require.Equal(t, "application/pdf", dm.MIME)
	require.EqualValues(t, 13, dm.Size)

	var types []string
	for _, s := range b.engine.Sends() {
		types = append(types, s.Type)
	}
	require.Equal(t, []string{"text", "reaction", "reaction", "edit", "revoke", "location", "contact", "poll", "image", "document"}, types)

	// Poll votes arrive as inbound content.
	require.NoError(t, h.HandleMessage(ctx, &waqtor.InboundMessage{ID: "V1", Chat: waqtor.Address{JID: peerJID},
		Sender: waqtor.Address{JID: peerJID}, Content: &waqtor.PollVote{PollID: poll.ID, Selected: []string{"Yes"}}}))
	vote, err := c.Message(ctx, "main", "V1")
	require.NoError(t, err)
	require.Equal(t, []string{"Yes"}, vote.Content.(*waqtor.PollVote).Selected)

	// Mark read, presence and number checks reach the engine.
	require.NoError(t, c.MarkRead(ctx, "main", peer, []string{"IN1"}, ""))
	require.Equal(t, [][]string{{peerJID, "IN1"}}, b.engine.Conn("main").Reads())
	require.NoError(t, c.SetPresence(ctx, "main", peer, waqtor.PresenceTyping))
	require.Equal(t, []waqtor.ChatPresence{waqtor.PresenceTyping}, b.engine.Conn("main").Presences())
	checks, err := c.CheckNumbers(ctx, "main", []string{"+15550001112", "15550001113"})
	require.NoError(t, err)
	require.True(t, checks[0].OnWhatsApp)
	require.False(t, checks[1].OnWhatsApp)
	require.Equal(t, "+15550001113", checks[1].Phone)

	// Paging through the chat, newest first.
	var seen []string
	cursor := ""
	for {
		page, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peerJID, Limit: 3, Before: cursor})
		require.NoError(t, err)
		for _, m := range page.Messages {
			seen = append(seen, m.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	require.Len(t, seen, 12)
	require.Equal(t, "V1", seen[0], "newest first: the vote came last")
	_, err = c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peerJID, Before: "garbage"})
	require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
}

func TestSendMediaFromURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cat.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write([]byte("\xff\xd8\xff\xe0 jpeg"))
		case "/big":
			_, _ = w.Write(make([]byte, 4096))
		case "/redirect":
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	// By default loopback is refused, at the address actually dialled.
	b := setup(t, dbtest.SQLite)
	_, err := b.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/cat.jpg"}, nil)
	require.ErrorIs(t, err, waqtor.ErrMediaFetch)
	require.Contains(t, err.Error(), "127.0.0.1")

	allowed := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
		c.MediaAllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.MaxMediaBytes = 1024
	})
	m, err := allowed.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/cat.jpg?sig=secret"}, nil)
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", m.Content.(*waqtor.Media).MIME)
	require.Equal(t, "cat.jpg", m.Content.(*waqtor.Media).FileName)

	_, err = allowed.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/big"}, nil)
	require.ErrorIs(t, err, waqtor.ErrMediaTooLarge)
	_, err = allowed.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/redirect"}, nil)
	require.ErrorIs(t, err, waqtor.ErrMediaFetch)
	_, err = allowed.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/missing?token=x"}, nil)
	require.ErrorIs(t, err, waqtor.ErrMediaFetch)
	require.NotContains(t, err.Error(), "token=x", "URLs in errors are redacted")
	_, err = allowed.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: "file:///etc/passwd"}, nil)
	require.ErrorIs(t, err, waqtor.ErrMediaFetch)
	require.Len(t, allowed.engine.Sends(), 1)
}

func TestInboundStoredOnceAndEmitted(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		events, unsub, err := b.core.Subscribe(waqtor.KindMessageReceived)
		require.NoError(t, err)
		defer unsub()
		h := b.engine.Conn("main").Handler()
		in := &waqtor.InboundMessage{ID: "ABC", Chat: waqtor.Address{JID: "120363000000000001@g.us"}, IsGroup: true,
			Sender: waqtor.Address{JID: peerJID, LID: "99887766@lid", Phone: peer}, PushName: "Ann",
			Content: &waqtor.Text{Body: "hi all"}, Time: time.Unix(1_800_000_000, 0)}
		for range 3 { // redeliveries
			require.NoError(t, h.HandleMessage(ctx, in))
		}
		e := waitEvent[*waqtor.MessageReceived](t, events, nil)
		require.Equal(t, "ABC", e.Message.ID)
		require.True(t, e.Message.IsGroup)
		require.Equal(t, "99887766@lid", e.Message.Sender.LID)
		require.Equal(t, peer, e.Message.Sender.Phone)
		require.Equal(t, "Ann", e.Message.PushName)
		evs, err := b.core.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageReceived}})
		require.NoError(t, err)
		require.Len(t, evs, 1, "a redelivery is stored and logged once")
		require.Error(t, h.HandleMessage(ctx, &waqtor.InboundMessage{ID: "", Chat: waqtor.Address{JID: peerJID}, Content: &waqtor.Text{}}))
	})
}

func TestQueuedOutboxSurvivesDisconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite)
	release := b.engine.Block()
	done := make(chan *waqtor.Message)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		m, _ := b.core.SendText(cctx, "main", peer, "slow", nil)
		done <- m
	}()
	// The caller gives up once the message is stored and the engine holds it
	// (no fixed deadline, which a loaded machine can overrun before storing).
	require.Eventually(t, func() bool {
		res, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peer})
		return err == nil && len(res.Messages) == 1
	}, 5*time.Second, 2*time.Millisecond)
	cancel()
	m := <-done
	require.NotNil(t, m)
	require.Equal(t, waqtor.StatusPending, m.Status, "the caller gave up; the message stays accepted")
	release()
	require.Eventually(t, func() bool {
		got, err := b.core.Message(ctx, "main", m.ID)
		return err == nil && got.Status == waqtor.StatusSent
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{m.ID}, sentIDs(b))
}

func TestManySessionsConcurrentSends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite)
	for i := range 3 {
		id := fmt.Sprintf("s%d", i)
		_, err := b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: id})
		require.NoError(t, err)
		b.engine.Conn(id).Pair(ctx, fmt.Sprintf("1555000200%d@s.whatsapp.net", i))
		waitState(t, b.core, id, waqtor.StateReady)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.core.SendText(ctx, fmt.Sprintf("s%d", i%3), peer, strings.Repeat("x", i+1), nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, b.engine.Sends(), 40)
}

func TestReceiptOvertakingSendKeepsEventOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, dbtest.SQLite)
	events, unsub, err := b.core.Subscribe(waqtor.KindMessageSent, waqtor.KindMessageDelivered)
	require.NoError(t, err)
	defer unsub()
	release := b.engine.Block()
	result := make(chan *waqtor.Message, 1)
	go func() {
		m, err := b.core.SendText(ctx, "main", peer, "fast receipt", nil)
		if err != nil {
			t.Error(err)
		}
		result <- m
	}()
	var id string
	require.Eventually(t, func() bool {
		page, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peer})
		if err != nil || len(page.Messages) == 0 {
			return false
		}
		id = page.Messages[0].ID
		return true
	}, 5*time.Second, time.Millisecond)
	// The engine has not answered Send yet, but the delivery receipt is here.
	require.NoError(t, b.engine.Conn("main").Handler().HandleReceipt(ctx, &waqtor.Receipt{Type: waqtor.ReceiptDelivered, IDs: []string{id}}))
	release()
	m := <-result
	require.Equal(t, waqtor.StatusDelivered, m.Status)
	first := waitEvent[waqtor.Event](t, events, nil)
	second := waitEvent[waqtor.Event](t, events, nil)
	require.Equal(t, []waqtor.EventKind{waqtor.KindMessageSent, waqtor.KindMessageDelivered}, []waqtor.EventKind{first.Kind(), second.Kind()})
	evs, err := b.core.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageSent}})
	require.NoError(t, err)
	require.Len(t, evs, 1, "message.sent is logged once")
}

// TestSendCallerChosenMessageID: a send goes out under the ID the caller
// chose; the same ID and key again is a replay that sends nothing; the ID
// without the key, or the key with another ID, is refused and sends nothing;
// a malformed ID is refused before anything is stored.
func TestSendCallerChosenMessageID(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		id := waqtor.NewMessageID()
		opts := &waqtor.SendOpts{IdempotencyKey: "cmp-1-7", MessageID: id}
		m, err := b.core.SendText(ctx, "main", peer, "hello", opts)
		require.NoError(t, err)
		require.Equal(t, id, m.ID)
		again, err := b.core.SendText(ctx, "main", peer, "hello", opts)
		require.NoError(t, err)
		require.Equal(t, id, again.ID)
		require.Equal(t, []string{id}, sentIDs(b))

		_, err = b.core.SendText(ctx, "main", peer, "hello", &waqtor.SendOpts{MessageID: id})
		require.ErrorIs(t, err, waqtor.ErrDuplicateMessageID)
		_, err = b.core.SendText(ctx, "main", peer, "hello", &waqtor.SendOpts{IdempotencyKey: "other", MessageID: id})
		require.ErrorIs(t, err, waqtor.ErrDuplicateMessageID)
		_, err = b.core.SendText(ctx, "main", peer, "hello", &waqtor.SendOpts{IdempotencyKey: "cmp-1-7", MessageID: waqtor.NewMessageID()})
		require.ErrorIs(t, err, waqtor.ErrIdempotencyKeyReused)
		for _, bad := range []string{"short", "3eb0lowercase1234", "3EB0-DASHES-1234", strings.Repeat("A", 65)} {
			_, err = b.core.SendText(ctx, "main", peer, "hello", &waqtor.SendOpts{MessageID: bad})
			require.ErrorIs(t, err, waqtor.ErrInvalidMessage, bad)
			var fe *waqtor.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "message_id", fe.Field)
		}
		require.Equal(t, []string{id}, sentIDs(b), "nothing else was sent")
		res, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peer, Limit: 10})
		require.NoError(t, err)
		require.Len(t, res.Messages, 1, "nothing else was stored")
	})
}
