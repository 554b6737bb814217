// Package storetest is the conformance suite every database behind internal/store
// must pass; it runs for SQLite and PostgreSQL.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/store"
)

// Exercise runs the suite; open must return a fresh, migrated store each call.
func Exercise(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

	t.Run("MigrateIdempotent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for range 3 {
			require.NoError(t, s.Migrate(ctx))
		}
		v, err := s.SchemaVersion(ctx, store.CoreComponent)
		require.NoError(t, err)
		require.Equal(t, s.LatestVersion(), v)
	})

	t.Run("SchemaTooNew", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.DB.ExecContext(ctx, `UPDATE waqtor_schema_versions SET version = 999 WHERE component = 'core'`)
		require.NoError(t, err)
		err = s.Migrate(ctx)
		require.ErrorIs(t, err, store.ErrSchemaTooNew)
		require.Contains(t, err.Error(), "999")
	})

	t.Run("Sessions", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		in := &store.Session{ID: "s1", TenantID: "acme", Status: "disconnected", CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, store.InsertSession(ctx, s.DB, in))
		require.ErrorIs(t, store.InsertSession(ctx, s.DB, in), store.ErrDuplicate)
		require.NoError(t, store.InsertSession(ctx, s.DB, &store.Session{ID: "s2", TenantID: "other", Status: "qr", CreatedAt: t0, UpdatedAt: t0}))

		got, err := store.GetSession(ctx, s.DB, "s1")
		require.NoError(t, err)
		require.Equal(t, in, got)

		got.Status, got.JID, got.LID, got.BanExpires = "ready", "1@s.whatsapp.net", "2@lid", t0.Add(time.Hour)
		require.NoError(t, store.UpdateSession(ctx, s.DB, got))
		again, err := store.GetSession(ctx, s.DB, "s1")
		require.NoError(t, err)
		require.Equal(t, got, again)

		all, err := store.ListSessions(ctx, s.DB, "")
		require.NoError(t, err)
		require.Len(t, all, 2)
		acme, err := store.ListSessions(ctx, s.DB, "acme")
		require.NoError(t, err)
		require.Len(t, acme, 1)

		_, err = store.GetSession(ctx, s.DB, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, store.UpdateSession(ctx, s.DB, &store.Session{ID: "nope"}), store.ErrNotFound)
		require.NoError(t, store.DeleteSession(ctx, s.DB, "s1"))
		require.ErrorIs(t, store.DeleteSession(ctx, s.DB, "s1"), store.ErrNotFound)
	})

	t.Run("Messages", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := &store.Message{SessionID: "s1", Chat: "c@s.whatsapp.net", ID: "M1", TenantID: "default", Direction: store.DirectionOut,
			Type: "text", PushName: "Ann", Content: `{"body":"hi"}`, Status: "pending", IdempotencyKey: "k1", RequestHash: "h1",
			Time: t0, CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, store.InsertMessage(ctx, s.DB, m))
		dup := *m
		dup.IdempotencyKey = ""
		require.ErrorIs(t, store.InsertMessage(ctx, s.DB, &dup), store.ErrDuplicate, "same (session, chat, id)")
		dup.ID, dup.IdempotencyKey = "M2", "k1"
		require.ErrorIs(t, store.InsertMessage(ctx, s.DB, &dup), store.ErrDuplicate, "same idempotency key")
		// Many messages without a key: NULL keys never conflict.
		for i := range 3 {
			n := *m
			n.ID, n.IdempotencyKey, n.Time = fmt.Sprintf("N%d", i), "", t0.Add(time.Duration(i+1)*time.Second)
			require.NoError(t, store.InsertMessage(ctx, s.DB, &n))
		}

		got, err := store.GetMessage(ctx, s.DB, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, m, got)
		byKey, err := store.GetMessageByIdempotencyKey(ctx, s.DB, "s1", "k1")
		require.NoError(t, err)
		require.Equal(t, "M1", byKey.ID)
		_, err = store.GetMessageByIdempotencyKey(ctx, s.DB, "s2", "k1")
		require.ErrorIs(t, err, store.ErrNotFound, "keys are scoped by session")

		pending, err := store.ListMessagesByStatus(ctx, s.DB, "s1", "pending", t0.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, pending, 4)

		got.Status, got.Attempts, got.UpdatedAt = "sent", 1, t0.Add(time.Minute)
		require.ErrorIs(t, store.UpdateMessageStatus(ctx, s.DB, got, "delivered"), store.ErrNotFound, "compare-and-set refuses a stale status")
		require.NoError(t, store.UpdateMessageStatus(ctx, s.DB, got, "pending"))
		again, err := store.GetMessage(ctx, s.DB, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, "sent", again.Status)
		require.Equal(t, 1, again.Attempts)

		// An edit and a revocation recorded on the message.
		_, err = store.GetChatMessage(ctx, s.DB, "s1", "other@s.whatsapp.net", "M1")
		require.ErrorIs(t, err, store.ErrNotFound, "GetChatMessage looks in one chat")
		inChat, err := store.GetChatMessage(ctx, s.DB, "s1", m.Chat, "M1")
		require.NoError(t, err)
		require.Equal(t, again, inChat)
		inChat.Content, inChat.EditedAt, inChat.RevokedAt, inChat.UpdatedAt = `{"body":"hey"}`, t0.Add(2*time.Minute), t0.Add(3*time.Minute), t0.Add(3*time.Minute)
		require.NoError(t, store.UpdateMessageAmend(ctx, s.DB, inChat))
		amended, err := store.GetMessage(ctx, s.DB, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, inChat, amended)
		require.Equal(t, "h1", amended.RequestHash)
		missing := *inChat
		missing.ID = "NOPE"
		require.ErrorIs(t, store.UpdateMessageAmend(ctx, s.DB, &missing), store.ErrNotFound)

		page, err := store.ListChatMessages(ctx, s.DB, store.ListChatMessagesParams{Session: "s1", Chat: m.Chat, Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		require.Equal(t, "N2", page[0].ID)
		rest, err := store.ListChatMessages(ctx, s.DB, store.ListChatMessagesParams{Session: "s1", Chat: m.Chat, Limit: 10,
			Before: page[1].Time, BeforeID: page[1].ID})
		require.NoError(t, err)
		require.Len(t, rest, 2)
		require.Equal(t, "N0", rest[0].ID)

		require.NoError(t, store.PutOutboxMedia(ctx, s.DB, "s1", "M1", []byte{0, 1, 2, 255}))
		b, err := store.GetOutboxMedia(ctx, s.DB, "s1", "M1")
		require.NoError(t, err)
		require.Equal(t, []byte{0, 1, 2, 255}, b)
		require.NoError(t, store.DeleteOutboxMedia(ctx, s.DB, "s1", "M1"))
		_, err = store.GetOutboxMedia(ctx, s.DB, "s1", "M1")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("EventLog", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var all []*store.Event
		for i := range 5 {
			e := &store.Event{ID: fmt.Sprintf("e%d", i), Kind: "message.sent", SessionID: "s1", TenantID: "default",
				Time: t0.Add(time.Duration(i) * time.Minute), Data: `{}`}
			if i%2 == 1 {
				e.SessionID, e.Kind, e.TenantID = "s2", "session.status", "acme"
			}
			all = append(all, e)
		}
		require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error { return s.AppendEvents(ctx, tx, all[:3]) }))
		require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error { return s.AppendEvents(ctx, tx, all[3:]) }))
		for i, e := range all {
			require.Equal(t, int64(i+1), e.Seq)
		}
		err := s.InTx(ctx, func(tx *sql.Tx) error {
			return s.AppendEvents(ctx, tx, []*store.Event{{ID: "e0", Kind: "x", Data: "{}"}})
		})
		require.ErrorIs(t, err, store.ErrDuplicate)
		last, err := s.LastSeq(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(5), last, "a rolled-back append leaves no gap")

		got, err := s.ReadEvents(ctx, store.ReadEventsParams{After: 1, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3}, seqs(got))
		require.Equal(t, all[1].Time, got[0].Time)
		got, err = s.ReadEvents(ctx, store.ReadEventsParams{Kinds: []string{"session.status"}, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []int64{2, 4}, seqs(got))
		got, err = s.ReadEvents(ctx, store.ReadEventsParams{Sessions: []string{"s1"}, Tenant: "default", Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []int64{1, 3, 5}, seqs(got))

		_, err = store.GetCursor(ctx, s.DB, "hooks")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, store.SetCursor(ctx, s.DB, "hooks", 3, t0))
		require.NoError(t, store.SetCursor(ctx, s.DB, "hooks", 2, t0), "moving back is ignored, not an error")
		pos, err := store.GetCursor(ctx, s.DB, "hooks")
		require.NoError(t, err)
		require.Equal(t, int64(3), pos)
		require.NoError(t, store.SetCursor(ctx, s.DB, "ws", 1, t0))
		cs, err := store.ListCursors(ctx, s.DB)
		require.NoError(t, err)
		require.Len(t, cs, 2)

		// Pruning: everything is old enough, but cursor "ws" is at 1.
		n, err := store.PruneEvents(ctx, s.DB, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		require.NoError(t, store.DeleteCursor(ctx, s.DB, "ws"))
		// Only events older than 2m30s are eligible now (seq 2 and 3 by time; 3 by cursor).
		n, err = store.PruneEvents(ctx, s.DB, t0.Add(150*time.Second))
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		got, err = s.ReadEvents(ctx, store.ReadEventsParams{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []int64{4, 5}, seqs(got))
	})

	t.Run("ConcurrentAppendsCommitInOrder", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					err := s.InTx(ctx, func(tx *sql.Tx) error {
						return s.AppendEvents(ctx, tx, []*store.Event{{ID: fmt.Sprintf("w%d-%d", w, i), Kind: "k", Data: "{}", Time: t0}})
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		// A concurrent reader must only ever see a gap-free prefix.
		done := make(chan struct{})
		readerErr := make(chan error, 1)
		go func() {
			defer close(readerErr)
			for {
				select {
				case <-done:
					return
				default:
				}
				evs, err := s.ReadEvents(ctx, store.ReadEventsParams{Limit: writers * each})
				if err != nil {
					readerErr <- err
					return
				}
				for i, e := range evs {
					if e.Seq != int64(i+1) {
						readerErr <- fmt.Errorf("gap: position %d has seq %d", i, e.Seq)
						return
					}
				}
			}
		}()
		wg.Wait()
		close(done)
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, <-readerErr)
		last, err := s.LastSeq(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(writers*each), last)
	})

	t.Run("InsertMessagesSkipsDuplicates", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		msg := func(id, key string) *store.Message {
			return &store.Message{SessionID: "s1", Chat: "c@s.whatsapp.net", ID: id, TenantID: "default",
				Direction: store.DirectionIn, Type: "text", Content: `{"body":"` + id + `"}`, Status: "received",
				IdempotencyKey: key, Time: t0, CreatedAt: t0, UpdatedAt: t0}
		}
		require.NoError(t, store.InsertMessage(ctx, s.DB, msg("OLD", "k1")))
		// More than one statement's worth, with an existing message, a repeat
		// inside the batch and a taken idempotency key.
		var batch []*store.Message
		for i := range 120 {
			batch = append(batch, msg(fmt.Sprintf("B%03d", i), ""))
		}
		batch[10] = msg("OLD", "")
		batch[70] = msg("B005", "")
		batch[90] = msg("KEY", "k1")
		var got []bool
		require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			got, err = store.InsertMessages(ctx, tx, s.Dialect, batch)
			return err
		}))
		require.Len(t, got, len(batch))
		for i, ok := range got {
			require.Equal(t, i != 10 && i != 70 && i != 90, ok, "message %d (%s)", i, batch[i].ID)
		}
		m, err := store.GetMessage(ctx, s.DB, "s1", "B119")
		require.NoError(t, err)
		require.Equal(t, batch[119], m)
		old, err := store.GetMessage(ctx, s.DB, "s1", "OLD")
		require.NoError(t, err)
		require.Equal(t, "k1", old.IdempotencyKey, "the existing row is left as it was")
		_, err = store.GetMessage(ctx, s.DB, "s1", "KEY")
		require.ErrorIs(t, err, store.ErrNotFound)
		all, err := store.ListChatMessages(ctx, s.DB, store.ListChatMessagesParams{Session: "s1", Chat: "c@s.whatsapp.net", Limit: 500})
		require.NoError(t, err)
		require.Len(t, all, 1+120-3)
	})

	t.Run("AppendManyEventsInOneTx", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		first := []*store.Event{{ID: "first", Kind: "k", Data: `{}`, Time: t0}}
		require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error { return s.AppendEvents(ctx, tx, first) }))
		var burst []*store.Event
		for i := range 250 { // several statements
			burst = append(burst, &store.Event{ID: fmt.Sprintf("b%d", i), Kind: "k", SessionID: "s1", TenantID: "default",
				Data: fmt.Sprintf(`{"n":%d}`, i), Time: t0.Add(time.Duration(i) * time.Millisecond)})
		}
		require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error { return s.AppendEvents(ctx, tx, burst) }))
		got, err := s.ReadEvents(ctx, store.ReadEventsParams{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 251)
		for i, e := range got {
			require.Equal(t, int64(i+1), e.Seq)
			if i > 0 {
				require.Equal(t, burst[i-1].ID, e.ID)
				require.Equal(t, burst[i-1].Data, e.Data)
				require.Equal(t, burst[i-1].Time, e.Time)
			}
		}
		// A duplicate anywhere in a burst rolls the whole burst back, leaving
		// no gap.
		again := []*store.Event{{ID: "new1", Kind: "k", Data: `{}`}, {ID: "b200", Kind: "k", Data: `{}`}}
		err = s.InTx(ctx, func(tx *sql.Tx) error { return s.AppendEvents(ctx, tx, again) })
		require.ErrorIs(t, err, store.ErrDuplicate)
		last, err := s.LastSeq(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(251), last)
		require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error {
			return s.AppendEvents(ctx, tx, []*store.Event{{ID: "new2", Kind: "k", Data: `{}`}})
		}))
		got, err = s.ReadEvents(ctx, store.ReadEventsParams{After: 251, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []int64{252}, seqs(got))
	})

	t.Run("TxRollsBackOnError", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx *sql.Tx) error {
			require.NoError(t, store.InsertSession(ctx, tx, &store.Session{ID: "gone", TenantID: "default", Status: "x", CreatedAt: t0, UpdatedAt: t0}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = store.GetSession(ctx, s.DB, "gone")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("Consent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		put := func(tenant, contact, scope, status, previous string, at time.Time) {
			t.Helper()
			require.NoError(t, s.InTx(ctx, func(tx *sql.Tx) error {
				if err := store.LockConsent(ctx, tx, s.Dialect, tenant, contact, true); err != nil {
					return err
				}
				return store.PutConsent(ctx, tx, &store.Consent{TenantID: tenant, Contact: contact, Scope: scope, Status: status,
					Previous: previous, Source: "api", Note: "n", UpdatedAt: at})
			}))
		}
		put("a", "+1555", "marketing", "opted_out", "", t0)
		put("a", "+1555", "marketing", "opted_in", "opted_out", t0.Add(time.Second))
		put("a", "+1555", "all", "opted_out", "", t0.Add(2*time.Second))
		put("a", "+1666", "marketing", "opted_out", "", t0)
		put("b", "+1555", "marketing", "opted_out", "", t0)

		cur, err := store.GetConsent(ctx, s.DB, "a", "+1555")
		require.NoError(t, err)
		require.Len(t, cur, 2, "one current row per scope")
		require.Equal(t, []string{"all", "marketing"}, []string{cur[0].Scope, cur[1].Scope})
		require.Equal(t, "opted_in", cur[1].Status)
		require.Equal(t, "opted_out", cur[1].Previous)
		require.Equal(t, t0.Add(time.Second), cur[1].UpdatedAt)

		for _, tc := range []struct{ tenant, contact, a, b, want string }{
			{"a", "+1555", "marketing", "all", "all"},
			{"a", "+1555", "marketing", "marketing", ""},
			{"a", "+1666", "marketing", "all", "marketing"},
			{"a", "+1666", "all", "all", ""},
			{"b", "+1666", "marketing", "all", ""},
		} {
			got, err := store.OptedOutScope(ctx, s.Q(nil), tc.tenant, tc.contact, tc.a, tc.b)
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "%+v", tc)
		}

		hist, err := store.ListConsentHistory(ctx, s.DB, "a", "+1555", "", 0, 10)
		require.NoError(t, err)
		require.Len(t, hist, 3)
		require.Equal(t, "all", hist[0].Scope, "newest first")
		older, err := store.ListConsentHistory(ctx, s.DB, "a", "+1555", "marketing", hist[0].ID, 1)
		require.NoError(t, err)
		require.Len(t, older, 1)
		require.Equal(t, "opted_in", older[0].Status)

		list, err := store.ListConsent(ctx, s.DB, store.ListConsentParams{Tenant: "a", Status: "opted_out", Limit: 10})
		require.NoError(t, err)
		require.Len(t, list, 2)
		next, err := store.ListConsent(ctx, s.DB, store.ListConsentParams{Tenant: "a", AfterContact: "+1555", AfterScope: "all", Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{"+1555/marketing", "+1666/marketing"}, []string{next[0].Contact + "/" + next[0].Scope, next[1].Contact + "/" + next[1].Scope})
	})
}

func seqs(evs []*store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}
