package waqtor_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

// Edits, revocations and reactions must name a message of that chat; edits
// and revocations only this session's own sent messages, edits only text and
// within EditWindow; reactions a single emoji. Refusals send nothing and log
// no event.
func TestAmendRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var skew atomic.Int64
	b := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
		c.Test.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	c := b.core
	h := b.engine.Conn("main").Handler()
	require.NoError(t, h.HandleMessage(ctx, &waqtor.InboundMessage{ID: "IN1", Chat: waqtor.Address{JID: peerJID},
		Sender: waqtor.Address{JID: peerJID}, Content: &waqtor.Text{Body: "question?"}, Time: time.Now()}))
	mine, err := c.SendText(ctx, "main", peer, "answer", nil)
	require.NoError(t, err)
	loc, err := c.SendLocation(ctx, "main", peer, &waqtor.Location{Latitude: 30, Longitude: 31}, nil)
	require.NoError(t, err)
	react, err := c.React(ctx, "main", peer, "IN1", "👍", nil)
	require.NoError(t, err)
	other := "+15550008888"
	_, err = c.SendText(ctx, "main", other, "elsewhere", nil)
	require.NoError(t, err)
	sends := len(b.engine.Sends())
	before, err := c.LastSeq(ctx)
	require.NoError(t, err)

	tests := map[string]struct {
		do    func() error
		want  error
		field string
	}{
		"EditUnknown":        {func() error { _, err := c.Edit(ctx, "main", peer, "NOPE", "x", nil); return err }, waqtor.ErrMessageNotFound, ""},
		"EditOtherChat":      {func() error { _, err := c.Edit(ctx, "main", other, mine.ID, "x", nil); return err }, waqtor.ErrMessageNotFound, ""},
		"EditInbound":        {func() error { _, err := c.Edit(ctx, "main", peer, "IN1", "x", nil); return err }, waqtor.ErrNotOwnMessage, ""},
		"EditLocation":       {func() error { _, err := c.Edit(ctx, "main", peer, loc.ID, "x", nil); return err }, waqtor.ErrNotEditable, ""},
		"EditReaction":       {func() error { _, err := c.Edit(ctx, "main", peer, react.ID, "x", nil); return err }, waqtor.ErrNotEditable, ""},
		"RevokeUnknown":      {func() error { _, err := c.Revoke(ctx, "main", peer, "NOPE", nil); return err }, waqtor.ErrMessageNotFound, ""},
		"RevokeInbound":      {func() error { _, err := c.Revoke(ctx, "main", peer, "IN1", nil); return err }, waqtor.ErrNotOwnMessage, ""},
		"RevokeReaction":     {func() error { _, err := c.Revoke(ctx, "main", peer, react.ID, nil); return err }, waqtor.ErrNotRevocable, ""},
		"ReactUnknown":       {func() error { _, err := c.React(ctx, "main", peer, "NOPE", "👍", nil); return err }, waqtor.ErrMessageNotFound, ""},
		"ReactOtherChat":     {func() error { _, err := c.React(ctx, "main", other, "IN1", "👍", nil); return err }, waqtor.ErrMessageNotFound, ""},
		"ReactNotEmoji":      {func() error { _, err := c.React(ctx, "main", peer, "IN1", "not an emoji", nil); return err }, waqtor.ErrInvalidMessage, "emoji"},
		"ReactTwoEmoji":      {func() error { _, err := c.React(ctx, "main", peer, "IN1", "👍👍", nil); return err }, waqtor.ErrInvalidMessage, "emoji"},
		"ReactToAReaction":   {func() error { _, err := c.React(ctx, "main", peer, react.ID, "👍", nil); return err }, waqtor.ErrInvalidMessage, "target_id"},
		"ReactEmptyTargetID": {func() error { _, err := c.React(ctx, "main", peer, " ", "👍", nil); return err }, waqtor.ErrInvalidMessage, "target_id"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.do()
			require.ErrorIs(t, err, tt.want)
			if tt.field != "" {
				var fe *waqtor.FieldError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, tt.field, fe.Field)
			}
		})
	}
	require.Len(t, b.engine.Sends(), sends, "nothing was sent")
	after, err := c.LastSeq(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "no event was logged")

	// Past WhatsApp's edit window.
	skew.Store(int64(waqtor.EditWindow + time.Minute))
	_, err = c.Edit(ctx, "main", peer, mine.ID, "too late", nil)
	require.ErrorIs(t, err, waqtor.ErrNotEditable)
	require.Contains(t, err.Error(), "15m0s")
	skew.Store(0)

	// Sequences, and the removal of a reaction, are fine.
	for _, e := range []string{"👩🏽‍💻", "🇪🇬", "1️⃣", ""} {
		_, err := c.React(ctx, "main", peer, "IN1", e, nil)
		require.NoError(t, err, "%q", e)
	}
}

// An accepted edit or revocation is recorded on the message it targets, with
// message.edited and message.revoked events; a revoked message can be neither
// edited nor revoked again.
func TestEditAndRevokeRecorded(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		events, unsub, err := c.Subscribe(waqtor.KindMessageEdited, waqtor.KindMessageRevoked)
		require.NoError(t, err)
		defer unsub()
		mine, err := c.SendText(ctx, "main", peer, "helo", nil)
		require.NoError(t, err)

		edit, err := c.Edit(ctx, "main", peer, mine.ID, "hello", nil)
		require.NoError(t, err)
		e := waitEvent[*waqtor.MessageEdited](t, events, nil)
		require.Equal(t, edit.ID, e.EditID)
		require.Equal(t, "helo", e.PreviousText)
		require.Equal(t, mine.ID, e.Message.ID)
		require.Equal(t, "hello", e.Message.Content.(*waqtor.Text).Body)
		got, err := c.Message(ctx, "main", mine.ID)
		require.NoError(t, err)
		require.Equal(t, "hello", got.Content.(*waqtor.Text).Body)
		require.False(t, got.EditedAt.IsZero())
		require.False(t, got.Revoked)

		rev, err := c.Revoke(ctx, "main", peer, mine.ID, nil)
		require.NoError(t, err)
		r := waitEvent[*waqtor.MessageRevoked](t, events, nil)
		require.Equal(t, rev.ID, r.RevokeID)
		require.True(t, r.Message.Revoked)
		got, err = c.Message(ctx, "main", mine.ID)
		require.NoError(t, err)
		require.True(t, got.Revoked)
		require.False(t, got.RevokedAt.IsZero())

		_, err = c.Edit(ctx, "main", peer, mine.ID, "again", nil)
		require.ErrorIs(t, err, waqtor.ErrNotEditable)
		_, err = c.Revoke(ctx, "main", peer, mine.ID, nil)
		require.ErrorIs(t, err, waqtor.ErrNotRevocable)
		_, err = c.React(ctx, "main", peer, mine.ID, "👍", nil)
		require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
	})
}

// Edits and revocations that arrive from WhatsApp update the stored message
// when they come from its author, and are ignored otherwise.
func TestInboundEditAndRevokeRecorded(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		events, unsub, err := c.Subscribe(waqtor.KindMessageEdited, waqtor.KindMessageRevoked)
		require.NoError(t, err)
		defer unsub()
		h := b.engine.Conn("main").Handler()
		group := waqtor.Address{JID: "120363000000000001@g.us"}
		ann := waqtor.Address{JID: peerJID, LID: "99887766@lid"}
		bob := waqtor.Address{JID: "15550007777@s.whatsapp.net"}
		t0 := time.Now().Add(-time.Minute)
		in := func(id string, from waqtor.Address, content waqtor.Content, at time.Time) {
			t.Helper()
			require.NoError(t, h.HandleMessage(ctx, &waqtor.InboundMessage{ID: id, Chat: group, IsGroup: true, Sender: from,
				Content: content, Time: at}))
		}
		in("G1", ann, &waqtor.Text{Body: "meet at 5"}, t0)
		in("X1", bob, &waqtor.Edit{TargetID: "G1", Text: "hijacked"}, t0.Add(time.Second)) // not the author
		in("E1", waqtor.Address{JID: "", LID: "99887766@lid"}, &waqtor.Edit{TargetID: "G1", Text: "meet at 6"}, t0.Add(2*time.Second))
		e := waitEvent[*waqtor.MessageEdited](t, events, nil)
		require.Equal(t, "E1", e.EditID)
		require.Equal(t, "meet at 5", e.PreviousText)
		got, err := c.Message(ctx, "main", "G1")
		require.NoError(t, err)
		require.Equal(t, "meet at 6", got.Content.(*waqtor.Text).Body)
		require.True(t, got.EditedAt.Equal(t0.Add(2*time.Second).Truncate(time.Microsecond)))

		in("E0", ann, &waqtor.Edit{TargetID: "G1", Text: "stale"}, t0.Add(time.Second)) // older than the applied edit
		in("R1", bob, &waqtor.Revoke{TargetID: "G1"}, t0.Add(3*time.Second))            // not the author
		got, err = c.Message(ctx, "main", "G1")
		require.NoError(t, err)
		require.Equal(t, "meet at 6", got.Content.(*waqtor.Text).Body)
		require.False(t, got.Revoked)

		in("R2", ann, &waqtor.Revoke{TargetID: "G1"}, t0.Add(4*time.Second))
		r := waitEvent[*waqtor.MessageRevoked](t, events, nil)
		require.Equal(t, "R2", r.RevokeID)
		got, err = c.Message(ctx, "main", "G1")
		require.NoError(t, err)
		require.True(t, got.Revoked)

		// The account's own edit from another device applies to its message.
		mine, err := c.SendText(ctx, "main", peer, "typo", nil)
		require.NoError(t, err)
		require.NoError(t, h.HandleMessage(ctx, &waqtor.InboundMessage{ID: "E2", Chat: waqtor.Address{JID: peerJID}, FromMe: true,
			Content: &waqtor.Edit{TargetID: mine.ID, Text: "fixed"}, Time: time.Now()}))
		e = waitEvent[*waqtor.MessageEdited](t, events, nil)
		require.Equal(t, mine.ID, e.Message.ID)
		got, err = c.Message(ctx, "main", mine.ID)
		require.NoError(t, err)
		require.Equal(t, "fixed", got.Content.(*waqtor.Text).Body)

		evs, err := c.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageEdited, waqtor.KindMessageRevoked}})
		require.NoError(t, err)
		require.Len(t, evs, 3, "ignored amendments emitted nothing")
	})
}

// On the simulated network, a phone's edit and revocation of a message it sent
// reach the Core and are recorded on the stored message; the session's own edit
// reaches the phone.
func TestSandboxEditAndRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	network := sandbox.NewTestNetwork(t, &sandbox.Config{Seed: 3, DeliverLatency: time.Millisecond, ReadLatency: time.Millisecond})
	core := startCore(t, dbtest.DSN(t, dbtest.SQLite), nil, func(c *waqtor.Config) { c.Engine = network.Factory() })
	events, unsub, err := core.Subscribe(waqtor.KindMessageReceived, waqtor.KindMessageEdited, waqtor.KindMessageRevoked)
	require.NoError(t, err)
	defer unsub()
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
	require.NoError(t, err)
	waitState(t, core, "shop", waqtor.StateQR)
	require.NoError(t, network.Pair(ctx, "shop", "+15550100000"))
	waitState(t, core, "shop", waqtor.StateReady)

	customer := network.Phone("+201001234567")
	id, err := customer.SendText(ctx, "+15550100000", "two pizzas")
	require.NoError(t, err)
	waitEvent[*waqtor.MessageReceived](t, events, func(e *waqtor.MessageReceived) bool { return e.Message.ID == id })
	_, err = customer.Edit(ctx, id, "three pizzas")
	require.NoError(t, err)
	e := waitEvent[*waqtor.MessageEdited](t, events, nil)
	require.Equal(t, "two pizzas", e.PreviousText)
	got, err := core.Message(ctx, "shop", id)
	require.NoError(t, err)
	require.Equal(t, "three pizzas", got.Content.(*waqtor.Text).Body)
	_, err = customer.Revoke(ctx, id)
	require.NoError(t, err)
	waitEvent[*waqtor.MessageRevoked](t, events, nil)
	got, err = core.Message(ctx, "shop", id)
	require.NoError(t, err)
	require.True(t, got.Revoked)

	reply, err := core.SendText(ctx, "shop", customer.JID(), "on its way", nil)
	require.NoError(t, err)
	_, err = core.Edit(ctx, "shop", customer.JID(), reply.ID, "on its way, 10 minutes", nil)
	require.NoError(t, err)
	customer.RequireText(t, "on its way, 10 minutes")
}
