package whatsapp

import (
	"encoding/base64"
	"fmt"
	"io"

	qrcode "github.com/skip2/go-qrcode"
)

// QRSizeDefault is the PNG size QRPNG and QRDataURL use for a size of 0.
const QRSizeDefault = 256

// QRPNG renders a pairing code (the code of a session.qr event) as a PNG image
// of size×size pixels (QRSizeDefault when size is 0).
func QRPNG(code string, size int) ([]byte, error) {
	q, err := newQR(code)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		size = QRSizeDefault
	}
	if size < 0 || size > 4096 {
		return nil, fmt.Errorf("whatsapp: QR size %d is outside 1–4096 pixels", size)
	}
	return q.PNG(size)
}

// QRDataURL renders a pairing code as a "data:image/png;base64,…" URL, ready
// for an <img src>.
func QRDataURL(code string, size int) (string, error) {
	png, err := QRPNG(code, size)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// QRTerminal writes a pairing code to w as text a terminal shows as a QR code
// (two modules per character, with Unicode half blocks), for a phone to scan
// from the screen.
func QRTerminal(w io.Writer, code string) error {
	q, err := newQR(code)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, q.ToSmallString(false))
	return err
}

func newQR(code string) (*qrcode.QRCode, error) {
	if code == "" {
		return nil, fmt.Errorf("whatsapp: empty QR code")
	}
	q, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: render QR code: %w", err)
	}
	return q, nil
}
