package waqtor_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/fakeengine"
	"github.com/waqtor/waqtor/internal/slogtest"
)

func TestCursorResumesAfterRestart(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		eng := fakeengine.New()
		dsn := dbtest.DSN(t, kind)
		open := func() *waqtor.Core {
			c, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: eng.Factory(), Logger: slogtest.New(t)})
			require.NoError(t, err)
			require.NoError(t, c.Start(ctx))
			return c
		}
		c := open()
		_, err := c.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "main"})
		require.NoError(t, err)
		eng.Conn("main").Pair(ctx, "15550001111@s.whatsapp.net")
		waitState(t, c, "main", waqtor.StateReady)

		cur, err := c.Cursor(ctx, "hooks", &waqtor.CursorOpts{Filter: waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageSent}}})
		require.NoError(t, err)
		var ids []string
		for i := range 5 {
			m, err := c.SendText(ctx, "main", peer, "m"+string(rune('a'+i)), nil)
			require.NoError(t, err)
			ids = append(ids, m.ID)
		}
		evs, err := cur.Next(ctx, 2)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, ids[0], evs[0].(*waqtor.MessageSent).Message.ID)
		require.NoError(t, cur.Commit(ctx, evs[1].Meta().Seq))
		// Read one more but crash before committing it.
		more, err := cur.Next(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, ids[2], more[0].(*waqtor.MessageSent).Message.ID)
		require.NoError(t, c.Stop(ctx))

		c2 := open()
		defer func() { require.NoError(t, c2.Stop(ctx)) }()
		cur2, err := c2.Cursor(ctx, "hooks", &waqtor.CursorOpts{Filter: waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindMessageSent}}})
		require.NoError(t, err)
		rest, err := cur2.Next(ctx, 10)
		require.NoError(t, err)
		var got []string
		for _, e := range rest {
			got = append(got, e.(*waqtor.MessageSent).Message.ID)
		}
		require.Equal(t, ids[2:], got, "resumes after the last committed event, re-reading the uncommitted one")

		// Next waits for new events, and wakes when one is appended.
		res := make(chan []waqtor.Event, 1)
		go func() {
			evs, _ := cur2.Next(ctx, 10)
			res <- evs
		}()
		m, err := c2.SendText(ctx, "main", peer, "late", nil)
		require.NoError(t, err)
		select {
		case evs := <-res:
			require.Equal(t, m.ID, evs[0].(*waqtor.MessageSent).Message.ID)
		case <-time.After(5 * time.Second):
			t.Fatal("Next did not wake")
		}
		// Next honours its context.
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err = cur2.Next(cctx, 10)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		fresh, err := c2.Cursor(ctx, "new-consumer", &waqtor.CursorOpts{Start: waqtor.FromNewest})
		require.NoError(t, err)
		last, err := c2.LastSeq(ctx)
		require.NoError(t, err)
		require.Equal(t, last, fresh.Position())
		_, err = c2.Cursor(ctx, "bad name!", nil)
		require.ErrorIs(t, err, waqtor.ErrConfig)
	})
}

func TestPruneRespectsCursorsAndRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var now atomicTime
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
		c.LogRetention = time.Hour
		c.Test.Now = now.Load
	})
	c := b.core
	cur, err := c.Cursor(ctx, "slow", nil)
	require.NoError(t, err)
	for range 3 {
		_, err := c.SendText(ctx, "main", peer, "x", nil)
		require.NoError(t, err)
	}
	last, err := c.LastSeq(ctx)
	require.NoError(t, err)

	n, err := c.PruneLog(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is old enough yet")

	now.Store(now.Load().Add(2 * time.Hour))
	n, err = c.PruneLog(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the cursor has not passed anything")

	require.NoError(t, cur.Commit(ctx, last-1))
	n, err = c.PruneLog(ctx)
	require.NoError(t, err)
	require.EqualValues(t, last-1, n)
	evs, err := c.ReadLog(ctx, nil)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, last, evs[0].Meta().Seq)

	_, err = c.ReadLog(ctx, &waqtor.LogReadParams{Kinds: []waqtor.EventKind{"nope"}})
	require.ErrorIs(t, err, waqtor.ErrConfig)
}

// atomicTime is a settable clock.
type atomicTime struct{ p atomic.Pointer[time.Time] }

func (a *atomicTime) Store(t time.Time) { a.p.Store(&t) }
func (a *atomicTime) Load() time.Time   { return *a.p.Load() }
