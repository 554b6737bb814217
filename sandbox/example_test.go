package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
)

// echoBot is a tiny ConnHandler standing in for the Core: it answers every
// text with an echo, from inside HandleMessage.
type echoBot struct {
	conn waqtor.Conn
	qr   chan string
}

func (b *echoBot) HandleMessage(ctx context.Context, m *waqtor.InboundMessage) error {
	if t, ok := m.Content.(*waqtor.Text); ok {
		_, err := b.conn.Send(ctx, &waqtor.OutboundMessage{ID: "echo-" + m.ID, Chat: m.Chat.JID, Content: &waqtor.Text{Body: "echo: " + t.Body}})
		return err
	}
	return nil
}

func (b *echoBot) HandleQR(ctx context.Context, code string, expires time.Time) {
	select {
	case b.qr <- code:
	default:
	}
}

func (b *echoBot) HandleReceipt(ctx context.Context, r *waqtor.Receipt) error { return nil }

func (b *echoBot) HandleStatus(ctx context.Context, st *waqtor.ConnStatus) {}

// A session pairs by QR code, then a virtual phone talks to it.
func Example() {
	ctx := context.Background()
	n := sandbox.NewNetwork(&sandbox.Config{Seed: 1})
	defer n.Close(ctx)

	bot := &echoBot{qr: make(chan string, 1)}
	conn, err := n.Open(ctx, &waqtor.EngineSession{ID: "demo"}, bot)
	if err != nil {
		panic(err)
	}
	bot.conn = conn
	if err := conn.Connect(ctx); err != nil {
		panic(err)
	}

	// Scan the QR code the session shows with the bot account's phone.
	if err := n.ScanQR(ctx, <-bot.qr, "+15550000001"); err != nil {
		panic(err)
	}
	if err := n.WaitForState(ctx, "demo", waqtor.StateReady); err != nil {
		panic(err)
	}

	alice := n.Phone("+201001234567")
	if _, err := alice.SendText(ctx, "+15550000001", "hello"); err != nil {
		panic(err)
	}
	r, err := alice.WaitForText(ctx, "echo: hello")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.From, "says", r.Text())
	// Output: 15550000001@s.whatsapp.net says echo: hello
}

// Sends can be made to fail, transiently or for good.
func ExampleNetwork_FailSends() {
	ctx := context.Background()
	n := sandbox.NewNetwork(nil)
	defer n.Close(ctx)

	bot := &echoBot{}
	conn, err := n.Open(ctx, &waqtor.EngineSession{ID: "demo", JID: "15550000001@s.whatsapp.net"}, bot)
	if err != nil {
		panic(err)
	}
	bot.conn = conn
	if err := conn.Connect(ctx); err != nil {
		panic(err)
	}
	if err := n.WaitForState(ctx, "demo", waqtor.StateReady); err != nil {
		panic(err)
	}

	n.FailSends("demo", nil, 1)
	msg := &waqtor.OutboundMessage{ID: "3EB0000000000001", Chat: "+201001234567", Content: &waqtor.Text{Body: "hi"}}
	_, err = conn.Send(ctx, msg)
	fmt.Println("first try:", err, "| permanent:", waqtor.IsPermanent(err))
	_, err = conn.Send(ctx, msg)
	fmt.Println("second try:", err)

	n.FailSends("demo", waqtor.Permanent(errors.New("message refused")), 1)
	_, err = conn.Send(ctx, &waqtor.OutboundMessage{ID: "3EB0000000000002", Chat: "+201001234567", Content: &waqtor.Text{Body: "hi"}})
	fmt.Println("third try:", err, "| permanent:", waqtor.IsPermanent(err))
	// Output:
	// first try: sandbox: send 3EB0000000000001: sandbox: network error (simulated) | permanent: false
	// second try: <nil>
	// third try: sandbox: send 3EB0000000000002: message refused | permanent: true
}
