package whatsapp

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types/events"
)

// A QR payload as whatsmeow's makeQRData builds it: ref, noise key, identity
// key and adv secret, comma-separated.
const sampleQR = "2@Xy3HnKRm9fJ0sXkYwqT5Zc1vB8aP4eLd7uN6gE2hQ0iW,Bf8Zq1b4i6nS0Pq7sRkGf+1Zy9bTq3cW2vX5aK8dJ4E=,k3GzQ8u7n0Rr5yTq1dF2hJ4mP6sV9wX0bC3eA5gI7L=,qA2sD4fG6hJ8kL0zX1cV3bN5mQ7wE9rT2yU4iO6pS8="

// requireQRImage checks that img shows the QR code of code, module by module.
func requireQRImage(t *testing.T, img image.Image, code string) {
	t.Helper()
	q, err := qrcode.New(code, qrcode.Medium)
	require.NoError(t, err)
	bitmap := q.Bitmap()
	n, size := len(bitmap), img.Bounds().Dx()
	require.Equal(t, size, img.Bounds().Dy())
	for my := range n {
		for mx := range n {
			px, py := int((float64(mx)+0.5)*float64(size)/float64(n)), int((float64(my)+0.5)*float64(size)/float64(n))
			r, _, _, _ := img.At(px, py).RGBA()
			require.Equal(t, bitmap[my][mx], r < 0x8000, "module (%d,%d)", mx, my)
		}
	}
}

func TestQRPNG(t *testing.T) {
	t.Parallel()
	data, err := QRPNG(sampleQR, 0)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, QRSizeDefault, img.Bounds().Dx())
	requireQRImage(t, img, sampleQR)

	data, err = QRPNG(sampleQR, 512)
	require.NoError(t, err)
	img, err = png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, 512, img.Bounds().Dx())

	_, err = QRPNG("", 256)
	require.Error(t, err)
	_, err = QRPNG(sampleQR, -1)
	require.Error(t, err)
}

func TestQRDataURL(t *testing.T) {
	t.Parallel()
	url, err := QRDataURL(sampleQR, 200)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(url, "data:image/png;base64,"))
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(url, "data:image/png;base64,"))
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	requireQRImage(t, img, sampleQR)
}

func TestQRTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, QRTerminal(&buf, sampleQR))
	q, err := qrcode.New(sampleQR, qrcode.Medium)
	require.NoError(t, err)
	require.Equal(t, q.ToSmallString(false), buf.String())
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Len(t, lines, (len(q.Bitmap())+1)/2, "two modules per character row")
	require.Error(t, QRTerminal(&buf, ""))
}

// TestQRFromFedEvents renders the codes of a fed events.QR, as they reach the
// Core through HandleQR.
func TestQRFromFedEvents(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.QRFirstTimeout, cfg.QRTimeout = 20_000_000, 5_000_000 // 20 ms, 5 ms
	b := setup(t, &setupOpts{cfg: cfg})
	require.NoError(t, b.conn.Connect(b.ctx))
	codes := []string{sampleQR, strings.Replace(sampleQR, "2@Xy3", "2@Ab9", 1)}
	require.False(t, b.ff.last().dispatch(&events.QR{Codes: codes}))
	b.rec.waitFor(t, "both codes", func() bool {
		b.rec.mu.Lock()
		defer b.rec.mu.Unlock()
		return len(b.rec.qrs) == 2
	})
	for i, qr := range b.rec.qrs {
		require.Equal(t, codes[i], qr.Code)
		data, err := QRPNG(qr.Code, 256)
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(data))
		require.NoError(t, err)
		requireQRImage(t, img, codes[i])
		var term bytes.Buffer
		require.NoError(t, QRTerminal(&term, qr.Code))
		require.NotEmpty(t, term.String())
	}
}
