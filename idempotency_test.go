package waqtor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// An idempotency key is bound to the request it was first used with: the
// same request replays the first message, any other is refused with
// ErrIdempotencyKeyReused and sends nothing.
func TestIdempotencyKeyBoundToRequest(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		ctx := context.Background()
		b := setup(t, kind)
		c := b.core
		key := &waqtor.SendOpts{IdempotencyKey: "order-7"}
		first, err := c.SendText(ctx, "main", peer, "shipped", key)
		require.NoError(t, err)

		png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
		mismatches := map[string]func() error{
			"OtherText": func() error { _, err := c.SendText(ctx, "main", peer, "cancelled", key); return err },
			"OtherChat": func() error { _, err := c.SendText(ctx, "main", "+15550008888", "shipped", key); return err },
			"OtherContentType": func() error {
				_, err := c.SendLocation(ctx, "main", peer, &waqtor.Location{Latitude: 1, Longitude: 2}, key)
				return err
			},
			"QuoteAdded": func() error {
				_, err := c.Send(ctx, "main", peer, &waqtor.Text{Body: "shipped", Quote: &waqtor.Quote{ID: "X"}}, key)
				return err
			},
			"Media": func() error {
				_, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: png}, key)
				return err
			},
		}
		for name, send := range mismatches {
			t.Run(name, func(t *testing.T) {
				err := send()
				require.ErrorIs(t, err, waqtor.ErrIdempotencyKeyReused)
				require.Contains(t, err.Error(), first.ID)
			})
		}
		again, err := c.SendText(ctx, "main", "+1 555 000 9999", "shipped", key)
		require.NoError(t, err, "the same request, the chat written another way, still replays")
		require.Equal(t, first.ID, again.ID)

		// Media bytes are part of the request: other bytes under the same key
		// are another request.
		mkey := &waqtor.SendOpts{IdempotencyKey: "photo-1"}
		img, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: png}, mkey)
		require.NoError(t, err)
		other := append([]byte{}, png...)
		other = append(other, 0)
		_, err = c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: other}, mkey)
		require.ErrorIs(t, err, waqtor.ErrIdempotencyKeyReused)
		_, err = c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: png, Caption: "x"}, mkey)
		require.ErrorIs(t, err, waqtor.ErrIdempotencyKeyReused)
		same, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Data: png}, mkey)
		require.NoError(t, err)
		require.Equal(t, img.ID, same.ID)

		require.Equal(t, []string{first.ID, img.ID}, sentIDs(b), "only the first requests were sent")
	})
}

// A replay of a send-media from a URL answers from the store before anything
// is downloaded: the media server sees one request.
func TestSendMediaURLReplayDoesNotDownloadAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("\xff\xd8\xff\xe0 jpeg"))
	}))
	defer srv.Close()
	b := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
		c.MediaAllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	key := &waqtor.SendOpts{IdempotencyKey: "cat"}
	p := &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/cat.jpg"}
	first, err := b.core.SendMedia(ctx, "main", peer, p, key)
	require.NoError(t, err)
	require.Equal(t, int64(1), hits.Load())
	for range 3 {
		again, err := b.core.SendMedia(ctx, "main", peer, p, key)
		require.NoError(t, err)
		require.Equal(t, first.ID, again.ID)
	}
	_, err = b.core.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/dog.jpg"}, key)
	require.ErrorIs(t, err, waqtor.ErrIdempotencyKeyReused)
	require.Equal(t, int64(1), hits.Load(), "replays and refusals downloaded nothing")
	require.Len(t, b.engine.Sends(), 1)
}
