package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkWSCompression measures what -ws-compression-threshold costs and
// saves: the same event frames (the hub's JSON, of the sizes a gateway sends)
// over a loopback WebSocket with compression off and with permessage-deflate
// (no context takeover, as the hub negotiates) from 1 KiB. wire-B/op is the
// bytes the client read per frame; ns/op is the CPU of both ends.
//
//	go test -run '^$' -bench WSCompression -benchtime 20000x ./examples/server
func BenchmarkWSCompression(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	frames := map[string]string{
		"receipt-340B": eventFrame("message.delivered", 0),
		"text-1.2KiB":  eventFrame("message.received", 500),
		"text-4KiB":    eventFrame("message.received", 3300),
	}
	for _, name := range []string{"receipt-340B", "text-1.2KiB", "text-4KiB"} {
		for _, threshold := range []int{0, 1024} {
			b.Run(fmt.Sprintf("%s/threshold=%d", name, threshold), func(b *testing.B) {
				benchFrames(b, []byte(frames[name]), threshold)
			})
		}
	}
}

// sentences make message bodies that do not repeat themselves, as people's
// messages do not (a repeated text would compress unfairly well).
var sentences = []string{
	"Hello! Your order #48213 has shipped and will arrive on Thursday between 9 and 12.",
	"Could you send me the invoice for last month, please? Our accountant needs it by Friday.",
	"The meeting moved to 3 pm; room B on the second floor, bring the quarterly figures.",
	"Thanks a lot, received with thanks. I'll transfer the remaining 1,250 EGP tomorrow morning.",
	"Reminder: your appointment with Dr. Samir is on 14 December at 10:30. Reply 1 to confirm.",
	"We're out of the blue size M until next week, but the black one is in stock at Maadi.",
	"Can you call me when you land? The driver will wait at gate 4 with a sign.",
	"Your verification code is 482913. It expires in 10 minutes; never share it with anyone.",
	"Photos from Saturday are in the shared album; tell me which ones you want printed.",
	"The technician will visit between 2 and 5 pm. Please make sure someone is home.",
	"Great news, your loan application was approved; a specialist will contact you shortly.",
	"I left the keys with the doorman, and the bill for the repairs is on the kitchen table.",
}

// eventFrame is an event frame as the hub writes it, with a message body of
// about n bytes (n = 0: a receipt).
func eventFrame(topic string, n int) string {
	data := `{"message_ids":["3EB0C431C26A1916A31F"],"chat":{"jid":"15550002222@s.whatsapp.net","phone":"+15550002222"},"status":"delivered","at":"2026-12-07T23:10:11.123Z"}`
	if n > 0 {
		var sb strings.Builder
		for i := 0; sb.Len() < n; i++ {
			sb.WriteString(sentences[(i*7)%len(sentences)] + " ")
		}
		body := sb.String()
		data = `{"message":{"id":"3EB0C431C26A1916A31F","session":"default","chat":{"jid":"15550002222@s.whatsapp.net","phone":"+15550002222","name":"Alice"},` +
			`"sender":{"jid":"15550002222@s.whatsapp.net","lid":"123456789012345@lid","push_name":"Alice"},"from_me":false,` +
			`"timestamp":"2026-12-07T23:10:11Z","content":{"type":"text","text":{"body":"` + body + `"}},"status":"received"}}`
	}
	return `{"type":"event","topic":"` + topic + `","seq":123456,"id":"evt_JDHRSCD6MDTNPVCKO3OEKSYC","session":"default",` +
		`"tenant":"default","timestamp":"2026-12-07T23:10:11.894Z","data":` + data + `}`
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func benchFrames(b *testing.B, frame []byte, threshold int) {
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled}
	if threshold > 0 {
		opts.CompressionMode, opts.CompressionThreshold = websocket.CompressionNoContextTakeover, threshold
	}
	n := b.N
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for range n {
			if err := c.Write(r.Context(), websocket.MessageText, frame); err != nil {
				return
			}
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()
	var read atomic.Int64
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, read: &read}, nil
	}}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{HTTPClient: client,
		CompressionMode: websocket.CompressionNoContextTakeover})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	for range n {
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(read.Load())/float64(n), "wire-B/op")
	b.ReportMetric(float64(len(frame)), "frame-B")
}
