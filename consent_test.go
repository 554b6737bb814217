package waqtor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

const customerPhone = "+201001234567"

// consentEvents returns the consent.changed events in the log.
func consentEvents(t *testing.T, c *waqtor.Core) []*waqtor.ConsentChanged {
	t.Helper()
	evs, err := c.ReadLog(context.Background(), &waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindConsentChanged}})
	require.NoError(t, err)
	out := make([]*waqtor.ConsentChanged, len(evs))
	for i, e := range evs {
		out[i] = e.(*waqtor.ConsentChanged)
	}
	return out
}

func TestConsentRoundTrip(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core

		none, err := c.Consent(ctx, customerPhone)
		require.NoError(t, err)
		require.Empty(t, none)
		out, err := c.OptedOut(ctx, customerPhone, waqtor.ConsentMarketing)
		require.NoError(t, err)
		require.False(t, out)

		// A JID and a formatted number name the same contact.
		got, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: "201001234567@s.whatsapp.net", Scope: waqtor.ConsentMarketing,
			Status: waqtor.ConsentOptedOut, Note: "asked by phone"})
		require.NoError(t, err)
		require.Equal(t, customerPhone, got.Contact)
		require.Equal(t, waqtor.ConsentOptedOut, got.Status)
		require.Equal(t, "api", got.Source)
		require.Equal(t, "default", got.Tenant)
		require.Empty(t, got.Previous)
		require.False(t, got.Time.IsZero())

		// The same status again is a no-op: no history, no event.
		again, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: "+20 100 123 4567", Scope: waqtor.ConsentMarketing,
			Status: waqtor.ConsentOptedOut, Source: "import", Note: "ignored"})
		require.NoError(t, err)
		require.Equal(t, "api", again.Source)
		require.Equal(t, "asked by phone", again.Note)

		for scope, want := range map[waqtor.ConsentScope]bool{waqtor.ConsentMarketing: true, waqtor.ConsentAll: false} {
			out, err := c.OptedOut(ctx, customerPhone, scope)
			require.NoError(t, err)
			require.Equal(t, want, out, scope)
		}

		// Opting out of all implies marketing; opting back in to marketing
		// does not lift the all opt-out.
		_, err = c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedOut, Source: "crm"})
		require.NoError(t, err)
		in, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentMarketing, Status: waqtor.ConsentOptedIn})
		require.NoError(t, err)
		require.Equal(t, waqtor.ConsentOptedOut, in.Previous)
		for scope, want := range map[waqtor.ConsentScope]bool{waqtor.ConsentMarketing: true, waqtor.ConsentAll: true} {
			out, err := c.OptedOut(ctx, customerPhone, scope)
			require.NoError(t, err)
			require.Equal(t, want, out, scope)
		}
		cur, err := c.Consent(ctx, customerPhone)
		require.NoError(t, err)
		require.Len(t, cur, 2)
		require.Equal(t, []waqtor.ConsentScope{waqtor.ConsentAll, waqtor.ConsentMarketing}, []waqtor.ConsentScope{cur[0].Scope, cur[1].Scope})
		require.Equal(t, []waqtor.ConsentStatus{waqtor.ConsentOptedOut, waqtor.ConsentOptedIn}, []waqtor.ConsentStatus{cur[0].Status, cur[1].Status})

		// History: newest first, paged, filtered by scope.
		h, err := c.ConsentHistory(ctx, customerPhone, &waqtor.ConsentHistoryParams{Limit: 2})
		require.NoError(t, err)
		require.Len(t, h.Changes, 2)
		require.Equal(t, waqtor.ConsentOptedIn, h.Changes[0].Status)
		require.Equal(t, "crm", h.Changes[1].Source)
		require.NotEmpty(t, h.Next)
		h2, err := c.ConsentHistory(ctx, customerPhone, &waqtor.ConsentHistoryParams{Limit: 2, Before: h.Next})
		require.NoError(t, err)
		require.Len(t, h2.Changes, 1)
		require.Equal(t, "asked by phone", h2.Changes[0].Note)
		require.Empty(t, h2.Next)
		hm, err := c.ConsentHistory(ctx, customerPhone, &waqtor.ConsentHistoryParams{Scope: waqtor.ConsentMarketing})
		require.NoError(t, err)
		require.Len(t, hm.Changes, 2)

		// Events: one per change, in order, with the previous status.
		evs := consentEvents(t, c)
		require.Len(t, evs, 3)
		require.Equal(t, customerPhone, evs[0].Contact)
		require.Equal(t, waqtor.ConsentOptedOut, evs[0].Status)
		require.Empty(t, evs[0].Previous)
		require.Empty(t, evs[0].Session)
		require.Equal(t, "default", evs[0].Tenant)
		require.Equal(t, waqtor.ConsentAll, evs[1].Scope)
		require.Equal(t, waqtor.ConsentOptedOut, evs[2].Previous)

		// A LID is stored as such.
		lid, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: "123456789@lid", Scope: waqtor.ConsentMarketing, Status: waqtor.ConsentOptedOut})
		require.NoError(t, err)
		require.Equal(t, "123456789@lid", lid.Contact)
	})
}

func TestListConsent(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		c := setup(t, kind).core
		for i := range 7 {
			status := waqtor.ConsentOptedOut
			if i%2 == 1 {
				status = waqtor.ConsentOptedIn
			}
			for _, scope := range []waqtor.ConsentScope{waqtor.ConsentMarketing, waqtor.ConsentAll} {
				_, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: fmt.Sprintf("+2010000000%02d", i), Scope: scope, Status: status})
				require.NoError(t, err)
			}
		}
		var all []*waqtor.Consent
		p := &waqtor.ConsentListParams{Limit: 3}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			res, err := c.ListConsent(ctx, p)
			require.NoError(t, err)
			all = append(all, res.Consents...)
			if res.Next == "" {
				break
			}
			p.After = res.Next
		}
		require.Len(t, all, 14)
		for i := 1; i < len(all); i++ {
			prev, cur := all[i-1], all[i]
			require.True(t, prev.Contact < cur.Contact || (prev.Contact == cur.Contact && prev.Scope < cur.Scope), "ordered by contact and scope")
		}
		out, err := c.ListConsent(ctx, &waqtor.ConsentListParams{Status: waqtor.ConsentOptedOut, Scope: waqtor.ConsentMarketing})
		require.NoError(t, err)
		require.Len(t, out.Consents, 4)
		for _, r := range out.Consents {
			require.Equal(t, waqtor.ConsentOptedOut, r.Status)
			require.Equal(t, waqtor.ConsentMarketing, r.Scope)
		}
		def, err := c.ListConsent(ctx, nil)
		require.NoError(t, err)
		require.Len(t, def.Consents, 14)
	})
}

// TestConsentBadInput: every invalid change or query names its field, wraps
// ErrInvalidConsent, and stores and emits nothing.
func TestConsentBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := setup(t, dbtest.SQLite).core
	ok := waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentMarketing, Status: waqtor.ConsentOptedOut}
	tests := map[string]struct {
		mutate func(*waqtor.ConsentChange)
		field  string
	}{
		"empty contact":   {func(ch *waqtor.ConsentChange) { ch.Contact = "" }, "contact"},
		"letters":         {func(ch *waqtor.ConsentChange) { ch.Contact = "call me" }, "contact"},
		"national number": {func(ch *waqtor.ConsentChange) { ch.Contact = "01001234567" }, "contact"},
		"group":           {func(ch *waqtor.ConsentChange) { ch.Contact = "120363-1@g.us" }, "contact"},
		"newsletter":      {func(ch *waqtor.ConsentChange) { ch.Contact = "123@newsletter" }, "contact"},
		"unknown server":  {func(ch *waqtor.ConsentChange) { ch.Contact = "123@example.com" }, "contact"},
		"unknown scope":   {func(ch *waqtor.ConsentChange) { ch.Scope = "sms" }, "scope"},
		"empty scope":     {func(ch *waqtor.ConsentChange) { ch.Scope = "" }, "scope"},
		"unknown status":  {func(ch *waqtor.ConsentChange) { ch.Status = "maybe" }, "status"},
		"bad source":      {func(ch *waqtor.ConsentChange) { ch.Source = "Not A Source" }, "source"},
		"long source":     {func(ch *waqtor.ConsentChange) { ch.Source = strings.Repeat("a", 33) }, "source"},
		"long note":       {func(ch *waqtor.ConsentChange) { ch.Note = strings.Repeat("ن", waqtor.MaxConsentNoteLength+1) }, "note"},
		"control in note": {func(ch *waqtor.ConsentChange) { ch.Note = "a\x00b" }, "note"},
		"invalid utf8":    {func(ch *waqtor.ConsentChange) { ch.Note = "a\xffb" }, "note"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ch := ok
			tt.mutate(&ch)
			_, err := c.SetConsent(ctx, &ch)
			require.ErrorIs(t, err, waqtor.ErrInvalidConsent)
			var fe *waqtor.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
		})
	}
	_, err := c.SetConsent(ctx, nil)
	require.ErrorIs(t, err, waqtor.ErrInvalidConsent)
	_, err = c.SetConsent(waqtor.WithTenant(ctx, "Not A Tenant"), &ok)
	require.ErrorIs(t, err, waqtor.ErrInvalidConsent)
	_, err = c.OptedOut(ctx, customerPhone, "sms")
	require.ErrorIs(t, err, waqtor.ErrInvalidConsent)
	_, err = c.OptedOut(ctx, "nope", waqtor.ConsentAll)
	require.ErrorIs(t, err, waqtor.ErrInvalidConsent)
	for _, p := range []*waqtor.ConsentListParams{{Limit: -1}, {Limit: waqtor.MaxConsentListLimit + 1}, {Status: "x"}, {Scope: "x"},
		{After: "garbage"}, {After: "+1|sms"}, {After: "123|all"}} {
		_, err = c.ListConsent(ctx, p)
		require.ErrorIs(t, err, waqtor.ErrInvalidConsent, "%+v", p)
	}
	for _, p := range []*waqtor.ConsentHistoryParams{{Before: "x"}, {Before: "-1"}, {Scope: "x"}, {Limit: -2}} {
		_, err = c.ConsentHistory(ctx, customerPhone, p)
		require.ErrorIs(t, err, waqtor.ErrInvalidConsent, "%+v", p)
	}
	list, err := c.ListConsent(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, list.Consents, "nothing stored")
	require.Empty(t, consentEvents(t, c), "nothing emitted")
}

// TestConsentTenantIsolation: tenants have separate registries.
func TestConsentTenantIsolation(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		c := setup(t, kind).core
		a, b := waqtor.WithTenant(ctx, "tenant-a"), waqtor.WithTenant(ctx, "tenant-b")
		_, err := c.SetConsent(a, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedOut})
		require.NoError(t, err)
		out, err := c.OptedOut(b, customerPhone, waqtor.ConsentAll)
		require.NoError(t, err)
		require.False(t, out, "B does not see A's opt-out")
		cur, err := c.Consent(b, customerPhone)
		require.NoError(t, err)
		require.Empty(t, cur)
		h, err := c.ConsentHistory(b, customerPhone, nil)
		require.NoError(t, err)
		require.Empty(t, h.Changes)
		list, err := c.ListConsent(b, nil)
		require.NoError(t, err)
		require.Empty(t, list.Consents)
		// B's change is B's alone.
		_, err = c.SetConsent(b, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedIn})
		require.NoError(t, err)
		out, err = c.OptedOut(a, customerPhone, waqtor.ConsentAll)
		require.NoError(t, err)
		require.True(t, out)
		h, err = c.ConsentHistory(a, customerPhone, nil)
		require.NoError(t, err)
		require.Len(t, h.Changes, 1)
		for _, e := range consentEvents(t, c) {
			require.Contains(t, []string{"tenant-a", "tenant-b"}, e.Tenant)
		}
	})
}

func TestSendConsentRules(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		earlier, err := c.SendText(ctx, "main", customerPhone, "your order shipped", &waqtor.SendOpts{IdempotencyKey: "k1"})
		require.NoError(t, err)
		stored := func() int {
			res, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: customerPhone})
			require.NoError(t, err)
			return len(res.Messages)
		}

		// Opted out of marketing: ordinary sends go out, marketing ones not.
		_, err = c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentMarketing, Status: waqtor.ConsentOptedOut})
		require.NoError(t, err)
		_, err = c.SendText(ctx, "main", customerPhone, "hello", nil)
		require.NoError(t, err)
		_, err = c.SendText(ctx, "main", customerPhone, "50% off", &waqtor.SendOpts{Consent: waqtor.ConsentMarketing, Transactional: true})
		var oe *waqtor.OptedOutError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, customerPhone, oe.Contact)
		require.Equal(t, waqtor.ConsentMarketing, oe.Scope)
		require.Equal(t, 2, stored())

		// Opted out of all: refused unless transactional; marketing refused
		// always; amendments and replays go through.
		_, err = c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedOut})
		require.NoError(t, err)
		for name, send := range map[string]func() error{
			"text": func() error { _, err := c.SendText(ctx, "main", customerPhone, "hi", nil); return err },
			"jid": func() error {
				_, err := c.SendText(ctx, "main", "201001234567@s.whatsapp.net", "hi", &waqtor.SendOpts{IdempotencyKey: "k2"})
				return err
			},
			"poll": func() error {
				_, err := c.SendPoll(ctx, "main", customerPhone, &waqtor.Poll{Question: "q?", Options: []string{"a", "b"}}, nil)
				return err
			},
			"media": func() error {
				_, err := c.SendMedia(ctx, "main", customerPhone, &waqtor.MediaParams{Kind: waqtor.ContentDocument, Data: []byte("%PDF-1.4"), FileName: "a.pdf"}, nil)
				return err
			},
			"media url": func() error {
				// Refused before the URL is fetched: nothing listens there.
				_, err := c.SendMedia(ctx, "main", customerPhone, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: "http://127.0.0.1:1/a.png"}, nil)
				return err
			},
			"marketing": func() error {
				_, err := c.SendText(ctx, "main", customerPhone, "sale", &waqtor.SendOpts{Consent: waqtor.ConsentMarketing, Transactional: true})
				return err
			},
			"all scope": func() error {
				_, err := c.SendText(ctx, "main", customerPhone, "sale", &waqtor.SendOpts{Consent: waqtor.ConsentAll, Transactional: true})
				return err
			},
		} {
			err := send()
			require.ErrorIs(t, err, waqtor.ErrOptedOut, name)
			require.Contains(t, err.Error(), customerPhone)
		}
		require.Equal(t, 2, stored(), "refused sends store nothing")
		otp, err := c.SendText(ctx, "main", customerPhone, "code 1234", &waqtor.SendOpts{Transactional: true})
		require.NoError(t, err)
		require.Equal(t, waqtor.StatusSent, otp.Status)
		replay, err := c.SendText(ctx, "main", customerPhone, "your order shipped", &waqtor.SendOpts{IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.Equal(t, earlier.ID, replay.ID, "a replay of a message accepted before the opt-out")
		_, err = c.React(ctx, "main", customerPhone, earlier.ID, "👍", nil)
		require.NoError(t, err, "reactions are not blocked")
		_, err = c.Edit(ctx, "main", customerPhone, earlier.ID, "your order shipped today", nil)
		require.NoError(t, err, "edits are not blocked")
		_, err = c.SendText(ctx, "main", "120363-1@g.us", "to the group", nil)
		require.NoError(t, err, "groups are not checked")
		_, err = c.SendText(ctx, "main", "+201009999999", "someone else", nil)
		require.NoError(t, err)
		_, err = c.SendText(ctx, "main", customerPhone, "x", &waqtor.SendOpts{Consent: "sms"})
		require.ErrorIs(t, err, waqtor.ErrInvalidMessage)

		// Opted back in to all: plain sends go out again, marketing still not.
		_, err = c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedIn})
		require.NoError(t, err)
		_, err = c.SendText(ctx, "main", customerPhone, "hi again", nil)
		require.NoError(t, err)
		_, err = c.SendText(ctx, "main", customerPhone, "sale", &waqtor.SendOpts{Consent: waqtor.ConsentMarketing})
		require.ErrorIs(t, err, waqtor.ErrOptedOut)
	})
}

// TestSendOptOutInStoringTransaction: an opt-out that commits after a send's
// early check but before the send stores its message still refuses it: the
// check is repeated in the transaction that stores the message.
func TestSendOptOutInStoringTransaction(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		var once sync.Once
		waqtor.SetSendHook(c, func() {
			once.Do(func() {
				_, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedOut})
				require.NoError(t, err)
			})
		})
		_, err := c.SendText(ctx, "main", customerPhone, "hi", nil)
		require.ErrorIs(t, err, waqtor.ErrOptedOut)
		res, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: customerPhone})
		require.NoError(t, err)
		require.Empty(t, res.Messages)
	})
}

// TestSendConcurrentOptOut: sends race an opt-out. Every send that started
// after the opt-out returned is refused, every refused send stored nothing,
// and every accepted one is stored.
func TestSendConcurrentOptOut(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		const senders = 4
		var (
			mu       sync.Mutex
			accepted []string
			refused  int
			started  = make(chan struct{}, senders)
			wg       sync.WaitGroup
		)
		optedOut := make(chan struct{})
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if i == 2 {
						started <- struct{}{} // some sends went out
					}
					select {
					case <-optedOut:
						_, err := c.SendText(ctx, "main", customerPhone, "late", nil)
						if !errors.Is(err, waqtor.ErrOptedOut) {
							t.Errorf("a send started after the opt-out returned: %v", err)
						}
						return
					default:
					}
					m, err := c.SendText(ctx, "main", customerPhone, fmt.Sprintf("m%d-%d", g, i), nil)
					mu.Lock()
					switch {
					case err == nil:
						accepted = append(accepted, m.ID)
					case errors.Is(err, waqtor.ErrOptedOut):
						refused++
					default:
						t.Errorf("send: %v", err)
					}
					mu.Unlock()
				}
			}()
		}
		for range senders {
			<-started
		}
		_, err := c.SetConsent(ctx, &waqtor.ConsentChange{Contact: customerPhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedOut})
		require.NoError(t, err)
		close(optedOut)
		wg.Wait()
		res, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: customerPhone, Limit: 500})
		require.NoError(t, err)
		ids := make([]string, len(res.Messages))
		for i, m := range res.Messages {
			ids[i] = m.ID
		}
		require.ElementsMatch(t, accepted, ids, "exactly the accepted sends are stored")
		t.Logf("%d sends accepted, %d refused while the opt-out ran", len(accepted), refused)
	})
}

// TestKeywordOptOut drives opt-out keywords through the sandbox.
func TestKeywordOptOut(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		network := sandbox.NewTestNetwork(t, &sandbox.Config{Seed: 5})
		core := startCore(t, dbtest.DSN(t, kind), nil, func(c *waqtor.Config) {
			c.Engine = network.Factory()
			c.OptOutReply = "You will get no more offers. Reply START to come back."
		})
		events, unsub, err := core.Subscribe(waqtor.KindMessageReceived, waqtor.KindConsentChanged)
		require.NoError(t, err)
		defer unsub()
		_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
		require.NoError(t, err)
		waitState(t, core, "shop", waqtor.StateQR)
		require.NoError(t, network.Pair(ctx, "shop", "+15550100000"))
		waitState(t, core, "shop", waqtor.StateReady)

		for i, text := range []string{"STOP", " stop! ", "إلغاء", "الغاء", "إِلْغَاء", "UNSUBSCRIBE."} {
			phone := network.Phone(fmt.Sprintf("+2010012300%02d", i))
			id, err := phone.SendText(ctx, "+15550100000", text)
			require.NoError(t, err)
			recv := waitEvent[*waqtor.MessageReceived](t, events, func(e *waqtor.MessageReceived) bool { return e.Message.ID == id })
			ch := waitEvent[*waqtor.ConsentChanged](t, events, nil)
			require.Greater(t, ch.Seq, recv.Seq, "consent.changed follows message.received")
			require.Equal(t, phone.Number(), ch.Contact, text)
			require.Equal(t, waqtor.ConsentMarketing, ch.Scope)
			require.Equal(t, waqtor.ConsentOptedOut, ch.Status)
			require.Equal(t, "keyword", ch.Source)
			require.Equal(t, "shop", ch.Session)
			require.Equal(t, "message "+id, ch.Note)
			out, err := core.OptedOut(ctx, phone.Number(), waqtor.ConsentMarketing)
			require.NoError(t, err)
			require.True(t, out, text)
			phone.RequireText(t, "You will get no more offers. Reply START to come back.")
			cur, err := core.Consent(ctx, phone.Number())
			require.NoError(t, err)
			require.Equal(t, "shop", cur[0].Session)
		}

		// Not whole-message keywords: nothing changes.
		other := network.Phone("+201001239999")
		for _, text := range []string{"please stop spamming", "stop it now", "don't stop", "stopping by later"} {
			id, err := other.SendText(ctx, "+15550100000", text)
			require.NoError(t, err)
			waitEvent[*waqtor.MessageReceived](t, events, func(e *waqtor.MessageReceived) bool { return e.Message.ID == id })
		}
		out, err := core.OptedOut(ctx, other.Number(), waqtor.ConsentMarketing)
		require.NoError(t, err)
		require.False(t, out)
		require.Len(t, consentEvents(t, core), 6)
	})
}

// TestKeywordOptOutFakeEngine covers the cases the sandbox phones cannot
// send: groups, the account's own messages, redeliveries, a LID-only author,
// and the configuration knobs.
func TestKeywordOptOutFakeEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	handle := func(t *testing.T, b *testBundle, m *waqtor.InboundMessage) {
		t.Helper()
		require.NoError(t, b.engine.Conn("main").Handler().HandleMessage(ctx, m))
	}
	phoneJID := "201001234567@s.whatsapp.net"
	text := func(id, chat, sender, body string) *waqtor.InboundMessage {
		return &waqtor.InboundMessage{ID: id, Chat: waqtor.Address{JID: chat}, Sender: waqtor.Address{JID: sender},
			Content: &waqtor.Text{Body: body}, Time: time.Now()}
	}

	t.Run("ignored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dbtest.SQLite)
		group := text("G1", "120363-1@g.us", phoneJID, "STOP")
		group.IsGroup = true
		handle(t, b, group)
		own := text("O1", phoneJID, "15550001111@s.whatsapp.net", "STOP")
		own.FromMe = true
		handle(t, b, own)
		media := &waqtor.InboundMessage{ID: "M1", Chat: waqtor.Address{JID: phoneJID}, Sender: waqtor.Address{JID: phoneJID},
			Content: &waqtor.Location{Latitude: 1, Longitude: 2, Name: "STOP"}}
		handle(t, b, media)
		require.Empty(t, consentEvents(t, b.core))
	})

	t.Run("redelivery and repeat", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dbtest.SQLite)
		handle(t, b, text("A1", phoneJID, phoneJID, "stop"))
		handle(t, b, text("A1", phoneJID, phoneJID, "stop"))
		handle(t, b, text("A2", phoneJID, phoneJID, "STOP!!"))
		require.Len(t, consentEvents(t, b.core), 1, "a redelivery and a repeated keyword change nothing")
		h, err := b.core.ConsentHistory(ctx, customerPhone, nil)
		require.NoError(t, err)
		require.Len(t, h.Changes, 1)
	})

	t.Run("lid only", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dbtest.SQLite)
		m := &waqtor.InboundMessage{ID: "L1", Chat: waqtor.Address{JID: "98765@lid"}, Sender: waqtor.Address{LID: "98765@lid"},
			Content: &waqtor.Text{Body: "توقف"}}
		handle(t, b, m)
		out, err := b.core.OptedOut(ctx, "98765@lid", waqtor.ConsentMarketing)
		require.NoError(t, err)
		require.True(t, out)
	})

	t.Run("scope all and custom keywords", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
			c.OptOutKeywords = []string{"Basta"}
			c.OptOutScope = waqtor.ConsentAll
		})
		handle(t, b, text("C1", phoneJID, phoneJID, "STOP"))
		require.Empty(t, consentEvents(t, b.core), "the defaults are replaced")
		handle(t, b, text("C2", phoneJID, phoneJID, "basta!"))
		out, err := b.core.OptedOut(ctx, customerPhone, waqtor.ConsentAll)
		require.NoError(t, err)
		require.True(t, out)
		_, err = b.core.SendText(ctx, "main", customerPhone, "hi", nil)
		require.ErrorIs(t, err, waqtor.ErrOptedOut)
	})

	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dbtest.SQLite, func(c *waqtor.Config) { c.OptOutKeywords = []string{} })
		handle(t, b, text("D1", phoneJID, phoneJID, "STOP"))
		require.Empty(t, consentEvents(t, b.core))
	})
}

func TestOptOutConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, mutate := range map[string]func(*waqtor.Config){
		"bad scope":       func(c *waqtor.Config) { c.OptOutScope = "sms" },
		"empty keyword":   func(c *waqtor.Config) { c.OptOutKeywords = []string{"stop", "!!"} },
		"long keyword":    func(c *waqtor.Config) { c.OptOutKeywords = []string{strings.Repeat("a", 300)} },
		"bad reply utf-8": func(c *waqtor.Config) { c.OptOutReply = "\xff" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: sandbox.NewNetwork(nil).Factory()}
			mutate(cfg)
			_, err := waqtor.NewCore(ctx, cfg)
			require.ErrorIs(t, err, waqtor.ErrConfig)
		})
	}
	cfg := (&waqtor.Config{}).WithDefaults()
	require.Equal(t, waqtor.OptOutKeywordsDefault(), cfg.OptOutKeywords)
	require.Equal(t, waqtor.ConsentMarketing, cfg.OptOutScope)
	require.Empty(t, cfg.OptOutReply)
	require.NotNil(t, (&waqtor.Config{OptOutKeywords: []string{}}).WithDefaults().OptOutKeywords)
	require.Empty(t, (&waqtor.Config{OptOutKeywords: []string{}}).WithDefaults().OptOutKeywords)
}

func FuzzParseContact(f *testing.F) {
	for _, s := range []string{customerPhone, "201001234567@s.whatsapp.net", "201001234567:3@s.whatsapp.net", "123@lid", "1-2@g.us",
		"", "+", "00201001234567", "abc", "@", "x@lid", " +20 100 123 4567 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := waqtor.ParseContact(s)
		if err != nil {
			if !errors.Is(err, waqtor.ErrInvalidConsent) {
				t.Fatalf("%q: error %v does not wrap ErrInvalidConsent", s, err)
			}
			return
		}
		again, err := waqtor.ParseContact(c)
		if err != nil || again != c {
			t.Fatalf("%q → %q is not a fixed point: %q, %v", s, c, again, err)
		}
		if !strings.HasPrefix(c, "+") && !strings.HasSuffix(c, "@lid") {
			t.Fatalf("%q → %q is neither E.164 nor a LID", s, c)
		}
	})
}
