// Command bot answers every WhatsApp message it receives. Run it, scan the QR
// code it draws with your phone (Settings › Linked devices), then message
// that phone from another one.
package main

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"os/signal"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/whatsapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, "bot.db", whatsapp.New(nil), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run answers messages until ctx ends, drawing QR codes on out until a phone
// scans one. Tests pass the sandbox's engine instead of WhatsApp's.
func run(ctx context.Context, db string, engine waqtor.EngineFactory, out io.Writer) (err error) {
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: db, Engine: engine})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, core.Stop(context.WithoutCancel(ctx))) }()
	waqtor.On(core, func(ctx context.Context, e *waqtor.SessionQR) error {
		return whatsapp.QRTerminal(out, e.Code)
	})
	waqtor.On(core, func(ctx context.Context, e *waqtor.MessageReceived) error {
		_, err := core.SendText(ctx, e.Message.Session, e.Message.Chat.JID, "Thanks, we got your message!", nil)
		return err
	})
	if err := core.Start(ctx); err != nil {
		return err
	}
	if _, err := core.EnsureSession(ctx, &waqtor.CreateSessionParams{ID: "shop"}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
