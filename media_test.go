package waqtor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
)

// Media whose bytes are not in a format WhatsApp shows as the declared kind is
// refused before anything is stored or sent, whatever the source, with an
// error naming the source field and the detected type.
func TestSendMediaRefusesContentOfAnotherKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	text := []byte("this is a text file, not a picture\n")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	dir := t.TempDir()
	notes := filepath.Join(dir, "holiday.jpg") // a misleading extension
	require.NoError(t, os.WriteFile(notes, text, 0o600))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg") // a lying server
		_, _ = w.Write(text)
	}))
	defer srv.Close()
	b := setup(t, dbtest.SQLite, func(c *waqtor.Config) {
		c.MediaAllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	c := b.core

	tests := map[string]struct {
		p      *waqtor.MediaParams
		field  string
		reason string
	}{
		"TextBytesAsImage":  {&waqtor.MediaParams{Kind: waqtor.ContentImage, Data: text}, "data", "text/plain"},
		"TextFileAsImage":   {&waqtor.MediaParams{Kind: waqtor.ContentImage, Path: notes}, "path", "text/plain"},
		"TextURLAsImage":    {&waqtor.MediaParams{Kind: waqtor.ContentImage, URL: srv.URL + "/cat.jpg"}, "url", "text/plain"},
		"TextAsVoice":       {&waqtor.MediaParams{Kind: waqtor.ContentAudio, Data: text, Voice: true}, "data", "text/plain"},
		"PNGAsVideo":        {&waqtor.MediaParams{Kind: waqtor.ContentVideo, Data: png}, "data", "image/png"},
		"PNGAsSticker":      {&waqtor.MediaParams{Kind: waqtor.ContentSticker, Data: png}, "data", "image/png"},
		"ImageDeclaredText": {&waqtor.MediaParams{Kind: waqtor.ContentImage, Data: png, MIME: "text/plain"}, "mime", "text/plain"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := c.SendMedia(ctx, "main", peer, tt.p, nil)
			require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
			var fe *waqtor.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
			require.Contains(t, fe.Reason, tt.reason)
		})
	}
	// Send with a *Media applies the same check.
	_, err := c.Send(ctx, "main", peer, &waqtor.Media{Kind: waqtor.ContentImage, Data: text}, nil)
	require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
	require.Empty(t, b.engine.Sends(), "nothing was sent")
	list, err := c.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: peer})
	require.NoError(t, err)
	require.Empty(t, list.Messages, "nothing was stored")

	// The right kind goes, with the type sniffed from the bytes rather than
	// taken from the extension; a document takes anything.
	doc, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentDocument, Path: notes}, nil)
	require.NoError(t, err)
	require.Equal(t, "holiday.jpg", doc.Content.(*waqtor.Media).FileName)
	pngFile := filepath.Join(dir, "photo.jpg")
	require.NoError(t, os.WriteFile(pngFile, png, 0o600))
	img, err := c.SendMedia(ctx, "main", peer, &waqtor.MediaParams{Kind: waqtor.ContentImage, Path: pngFile}, nil)
	require.NoError(t, err)
	require.Equal(t, "image/png", img.Content.(*waqtor.Media).MIME)
	require.Len(t, b.engine.Sends(), 2)
}
