package whatsapp

import (
	"context"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/waqtor/waqtor"
)

// BenchmarkInboundMapping measures the inbound path on whatsmeow's goroutine:
// mapping a decrypted events.Message (LID resolution, quote, mentions, media
// reference) and calling the Core's HandleMessage (a no-op here), for a mix of
// DM, group and media messages.
func BenchmarkInboundMapping(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark")
	}
	ff := &fakeFactory{}
	e := newTestEngine(b, "sqlite", fastConfig(), ff)
	putDevice(b, e, "bench", ownJID, ownLID)
	c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "bench"}, nopHandler{})
	if err != nil {
		b.Fatal(err)
	}
	f := ff.last()
	f.setLID(contactPN, contactLID)
	f.setLID(memberPN, memberLID)
	evts := []*events.Message{
		msgEvent(srcDMLIDWithPN, "B1", &waE2E.Message{Conversation: proto.String("hello there")}),
		msgEvent(srcDMLIDMapped, "B2", &waE2E.Message{Conversation: proto.String("hello there")}),
		msgEvent(srcGroup, "B3", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@201000000002 hi"),
			ContextInfo: &waE2E.ContextInfo{MentionedJID: []string{contactLID.String()}, StanzaID: proto.String("Q"), QuotedMessage: &waE2E.Message{Conversation: proto.String("q")}}}}),
		msgEvent(srcDMPN, "B4", &waE2E.Message{ImageMessage: imageMsg()}),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if f.dispatch(evts[i%len(evts)]) {
			b.Fatal("handler failed")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	_ = c.Close(context.Background())
}

type nopHandler struct{}

func (nopHandler) HandleMessage(context.Context, *waqtor.InboundMessage) error { return nil }
func (nopHandler) HandleQR(context.Context, string, time.Time)                 {}
func (nopHandler) HandleReceipt(context.Context, *waqtor.Receipt) error        { return nil }
func (nopHandler) HandleStatus(context.Context, *waqtor.ConnStatus)            {}
