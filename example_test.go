package waqtor_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
)

// tempDB returns an SQLite path in a fresh directory, for examples.
func tempDB() string {
	dir, err := os.MkdirTemp("", "waqtor-example")
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Join(dir, "waqtor.db")
}

// waitReady polls until the Core reports the session ready.
func waitReady(core *waqtor.Core, id string) *waqtor.Session {
	for range 500 {
		s, err := core.Session(context.Background(), id)
		if err == nil && s.State == waqtor.StateReady {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Fatalf("session %s never became ready", id)
	return nil
}

// Embedding waqtor: a Core on SQLite, a session, a handler and a send. The
// simulated network stands in for WhatsApp, so the example runs anywhere.
func Example_embed() {
	ctx := context.Background()
	network := sandbox.NewNetwork(&sandbox.Config{AutoPair: true})
	defer network.Close(ctx)

	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: tempDB(), Engine: network.Factory()})
	if err != nil {
		log.Fatal(err)
	}
	defer core.Stop(ctx)
	waqtor.On(core, func(ctx context.Context, e *waqtor.MessageReceived) error {
		_, err := core.SendText(ctx, e.Message.Session, e.Message.Chat.JID, "Thanks, we got your message!", nil)
		return err
	})
	if err := core.Start(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	s := waitReady(core, "shop")
	customer := network.Phone("+201001234567")
	if _, err := customer.SendText(ctx, s.Info.Phone, "Is my order ready?"); err != nil {
		log.Fatal(err)
	}
	reply, err := customer.WaitForText(ctx, "Thanks, we got your message!")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Text())
	// Output: Thanks, we got your message!
}

// Sends are typed; the message ID is chosen and stored before WhatsApp is asked,
// and an idempotency key makes a retried call return the first result.
func ExampleCore_Send() {
	ctx := context.Background()
	network := sandbox.NewNetwork(&sandbox.Config{AutoPair: true})
	defer network.Close(ctx)
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: tempDB(), Engine: network.Factory(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer core.Stop(ctx)
	if err := core.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"}); err != nil {
		log.Fatal(err)
	}
	waitReady(core, "shop")

	opts := &waqtor.SendOpts{IdempotencyKey: "order-1001-shipped"}
	first, err := core.Send(ctx, "shop", "+20 100 123 4567", &waqtor.Text{Body: "Your order has shipped."}, opts)
	if err != nil {
		log.Fatal(err)
	}
	again, err := core.Send(ctx, "shop", "+20 100 123 4567", &waqtor.Text{Body: "Your order has shipped."}, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.Status, first.Chat.JID, first.ID == again.ID)
	fmt.Println(len(network.Phone("+201001234567").Received()), "message received")

	_, err = core.SendText(ctx, "shop", "0100 123 4567", "hi", nil)
	fmt.Println(err)
	// Output:
	// sent 201001234567@s.whatsapp.net true
	// 1 message received
	// waqtor: invalid phone number or chat ID: phone: "0100 123 4567" lacks a country code; write it as +<country code><number>
}

// A durable cursor reads the event log from where it left off, even after a
// crash: commit what you processed, and the next process resumes after it.
func ExampleCore_Cursor() {
	ctx := context.Background()
	network := sandbox.NewNetwork(&sandbox.Config{AutoPair: true})
	defer network.Close(ctx)
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: tempDB(), Engine: network.Factory(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer core.Stop(ctx)
	if err := core.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "shop"}); err != nil {
		log.Fatal(err)
	}

	cur, err := core.Cursor(ctx, "audit", &waqtor.CursorOpts{
		Filter: waqtor.LogReadParams{Kinds: []waqtor.EventKind{waqtor.KindSessionStatus}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for {
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		events, err := cur.Next(nctx, 10)
		cancel()
		if err != nil {
			log.Fatal(err)
		}
		done := false
		for _, e := range events {
			st := e.(*waqtor.SessionStatus)
			fmt.Println(st.Meta().Session, st.State)
			done = st.State == waqtor.StateReady
		}
		if err := cur.Commit(ctx, cur.Position()); err != nil {
			log.Fatal(err)
		}
		if done {
			break
		}
	}
	// Output:
	// shop disconnected
	// shop connecting
	// shop qr
	// shop ready
}
