package sandbox

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

// TestConcurrentTraffic sends from many phones and the session at once while
// the connection drops and the handler refuses now and then: every message
// arrives, each phone's messages in order, and nothing deadlocks.
func TestConcurrentTraffic(t *testing.T) {
	t.Parallel()
	const phones, perPhone = 8, 15
	b := setupReady(t, nil)
	ctx := t.Context()
	b.h.mu.Lock()
	b.h.failMessages = 10
	b.h.mu.Unlock()

	var wg sync.WaitGroup
	sent := make([][]string, phones)
	for i := range phones {
		wg.Go(func() {
			p := b.n.Phone(fmt.Sprintf("+2010000000%02d", i))
			for j := range perPhone {
				id, err := p.SendText(ctx, botJID, fmt.Sprintf("%d-%d", i, j))
				if err != nil {
					t.Error(err)
					return
				}
				sent[i] = append(sent[i], id)
			}
		})
		wg.Go(func() {
			for j := range perPhone {
				// Sends fail while disconnected; that is fine here.
				_, _ = b.conn.Send(ctx, &waqtor.OutboundMessage{ID: fmt.Sprintf("OUT-%d-%d", i, j),
					Chat: fmt.Sprintf("+2010000000%02d", i), Content: &waqtor.Text{Body: "x"}})
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			_ = b.n.Disconnect("s1")
		}
	})
	wg.Wait()

	got := b.h.waitMessages(t, phones*perPhone)
	require.Len(t, got, phones*perPhone, "each message is acknowledged once")
	byPhone := map[string][]string{}
	for _, m := range got {
		byPhone[m.Sender.JID] = append(byPhone[m.Sender.JID], m.ID)
	}
	for i := range phones {
		require.Equal(t, sent[i], byPhone[fmt.Sprintf("2010000000%02d@s.whatsapp.net", i)], "phone %d", i)
	}
}

func TestOpenTakesOver(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	h2 := newRecorder()
	c2, err := b.n.Open(t.Context(), &waqtor.EngineSession{ID: "s1", JID: botJID}, h2)
	require.NoError(t, err)
	require.ErrorIs(t, b.conn.Connect(t.Context()), ErrClosed, "the old Conn is closed")
	require.NoError(t, c2.Connect(t.Context()))
	h2.waitStatus(t, waqtor.StateReady)
	_, err = b.n.Phone("+201001234567").SendText(t.Context(), botJID, "to the new one")
	require.NoError(t, err)
	h2.waitMessages(t, 1)
	require.Empty(t, b.h.messages())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = b.n.Open(ctx, &waqtor.EngineSession{ID: "s1"}, h2)
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.n.Open(t.Context(), &waqtor.EngineSession{}, h2)
	require.Error(t, err)
	_, err = b.n.Open(t.Context(), &waqtor.EngineSession{ID: "s3"}, nil)
	require.Error(t, err)
}
