package sandbox

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

// batchRecorder is a recorder that also takes messages in batches.
type batchRecorder struct {
	*recorder
	bmu      sync.Mutex
	sizes    []int // HandleMessages calls, by batch size
	failNext int   // refuse this many HandleMessages calls
}

func (r *batchRecorder) HandleMessages(ctx context.Context, ms []*waqtor.InboundMessage) error {
	r.bmu.Lock()
	r.sizes = append(r.sizes, len(ms))
	fail := r.failNext > 0
	if fail {
		r.failNext--
	}
	r.bmu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range ms {
		r.attempts[m.ID]++
	}
	if fail {
		r.add(nil)
		return errRefused
	}
	for _, m := range ms {
		r.add(m)
	}
	return nil
}

// setupBatch is setup with a batch-taking handler, connected once the
// messages queued while offline are in.
func setupBatch(t *testing.T) (*testBundle, *batchRecorder) {
	t.Helper()
	n := NewTestNetwork(t, &Config{ConnectLatency: 1, DeliverLatency: 1, QRInterval: 60e9, ReadLatency: 1,
		ReconnectDelay: 2e6, RedeliverDelay: 2e6, Seed: 1, Logger: testLogger(t)})
	h := &batchRecorder{recorder: newRecorder()}
	conn, err := n.Open(t.Context(), &waqtor.EngineSession{ID: "s1", JID: botJID}, h)
	require.NoError(t, err)
	return &testBundle{n: n, conn: conn, h: h.recorder}, h
}

func TestBatchedMessagesKeepOrder(t *testing.T) {
	t.Parallel()
	b, h := setupBatch(t)
	alice := b.n.Phone("+201001234567")
	var ids []string
	for i := range 300 {
		id, err := alice.SendText(t.Context(), botJID, fmt.Sprintf("m%d", i))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.NoError(t, b.conn.Connect(t.Context()))
	got := b.h.waitMessages(t, 300)
	for i, m := range got {
		require.Equal(t, ids[i], m.ID)
	}
	// Receipts still go to HandleReceipt.
	_, err := b.conn.Send(t.Context(), &waqtor.OutboundMessage{ID: "R1", Chat: alice.JID(), Content: &waqtor.Text{Body: "x"}})
	require.NoError(t, err)
	b.h.waitReceipts(t, 1)
	h.bmu.Lock()
	defer h.bmu.Unlock()
	require.Equal(t, []int{maxBatch, 300 - maxBatch}, h.sizes, "the offline backlog arrives in batches of at most maxBatch")
	b.h.mu.Lock()
	defer b.h.mu.Unlock()
	for _, id := range ids {
		require.Equal(t, 1, b.h.attempts[id])
	}
}

func TestRefusedBatchRedeliversOneByOne(t *testing.T) {
	t.Parallel()
	b, h := setupBatch(t)
	h.failNext = 1
	alice := b.n.Phone("+201001234567")
	var ids []string
	for i := range 3 {
		id, err := alice.SendText(t.Context(), botJID, fmt.Sprintf("m%d", i))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.NoError(t, b.conn.Connect(t.Context()))
	got := b.h.waitMessages(t, 3)
	for i, m := range got {
		require.Equal(t, ids[i], m.ID)
	}
	h.bmu.Lock()
	require.Equal(t, []int{3}, h.sizes, "one refused batch; the retries go one at a time")
	h.bmu.Unlock()
	b.h.mu.Lock()
	for _, id := range ids {
		require.Equal(t, 2, b.h.attempts[id], "refused once in the batch, then acknowledged alone")
	}
	b.h.mu.Unlock()
	b.h.wait(t, "nothing pending", func() bool {
		info, _ := b.n.Session("s1")
		return info.Pending == 0
	})
}
