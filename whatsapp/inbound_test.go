package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/waqtor/waqtor"
)

var (
	msgTime = time.Unix(1764158400, 0)

	contactAddr  = waqtor.Address{JID: "201000000002@s.whatsapp.net", LID: "900000000002@lid", Phone: "+201000000002"}
	memberAddr   = waqtor.Address{JID: "201000000003@s.whatsapp.net", LID: "900000000003@lid", Phone: "+201000000003"}
	ownAddr      = waqtor.Address{JID: "201000000001@s.whatsapp.net", LID: "900000000001@lid", Phone: "+201000000001"}
	strangerAddr = waqtor.Address{JID: "900000000009@lid", LID: "900000000009@lid"}
	groupAddr    = waqtor.Address{JID: "120363000000000001@g.us"}
)

func ad(j types.JID, device uint16) types.JID {
	j.Device = device
	return j
}

// Message sources as whatsmeow's parseMessageSource builds them.
var (
	// A DM from a LID-addressed contact, with the phone number in sender_pn.
	srcDMLIDWithPN = types.MessageSource{Chat: contactLID, Sender: ad(contactLID, 3), SenderAlt: ad(contactPN, 3), AddressingMode: types.AddressingModeLID}
	// A DM from a LID without sender_pn: the LID map knows the number.
	srcDMLIDMapped = types.MessageSource{Chat: contactLID, Sender: contactLID}
	// A DM from a phone-number-addressed contact.
	srcDMPN = types.MessageSource{Chat: contactPN, Sender: contactPN}
	// A DM from a LID nobody knows the number of.
	srcDMStranger = types.MessageSource{Chat: strangerLID, Sender: strangerLID}
	// A group message from a LID-addressed member.
	srcGroup = types.MessageSource{Chat: groupJID, Sender: ad(memberLID, 2), SenderAlt: memberPN, IsGroup: true, AddressingMode: types.AddressingModeLID}
	// A message the account sent from the phone to a LID chat.
	srcFromMe = types.MessageSource{Chat: contactLID, Sender: ad(ownLID, 0), IsFromMe: true, RecipientAlt: contactPN}
	// A broadcast-list message: it shows in the chat with its sender.
	srcBroadcast = types.MessageSource{Chat: types.NewJID("1700000000", types.BroadcastServer), Sender: contactPN, IsGroup: true}
	// A status update.
	srcStatus = types.MessageSource{Chat: types.StatusBroadcastJID, Sender: contactPN, IsGroup: true}
)

func msgEvent(src types.MessageSource, id string, m *waE2E.Message) *events.Message {
	evt := &events.Message{Info: types.MessageInfo{MessageSource: src, ID: id, PushName: "Bob", Timestamp: msgTime}, RawMessage: m}
	return evt.UnwrapRaw()
}

func inbound(chat, sender waqtor.Address, id string, c waqtor.Content) *waqtor.InboundMessage {
	return &waqtor.InboundMessage{Chat: chat, Content: c, ID: id, PushName: "Bob", Sender: sender, Time: msgTime}
}

func imageMsg() *waE2E.ImageMessage {
	return &waE2E.ImageMessage{Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"), URL: proto.String("https://mmg.whatsapp.net/x"),
		DirectPath: proto.String("/v/t62.7118-24/1"), MediaKey: []byte("mediakey"), FileEncSHA256: []byte("encsha"), FileSHA256: []byte("sha"), FileLength: proto.Uint64(1234)}
}

// ref is the Media.Ref the engine writes for the fields of imageMsg.
func ref(mediaType string) []byte {
	return []byte(`{"direct_path":"/v/t62.7118-24/1","file_enc_sha256":"ZW5jc2hh","file_length":1234,"file_sha256":"c2hh","media_key":"bWVkaWFrZXk=","media_type":"` +
		mediaType + `","url":"https://mmg.whatsapp.net/x"}`)
}

func media(kind waqtor.ContentType, mediaType, caption, mime, fileName string, voice bool) *waqtor.Media {
	return &waqtor.Media{Caption: caption, FileName: fileName, Kind: kind, MIME: mime, Ref: ref(mediaType), SHA256: []byte("sha"), Size: 1234, Voice: voice}
}

func TestInboundMessages(t *testing.T) {
	t.Parallel()

	vcard := "BEGIN:VCARD\nVERSION:3.0\nFN:Carol\nTEL;type=CELL;waid=201000000004:+201000000004\nEND:VCARD"
	tests := map[string]struct {
		evt  *events.Message
		want *waqtor.InboundMessage // nil: acknowledged without a HandleMessage call
	}{
		"TextFromLIDWithPhone": {
			msgEvent(srcDMLIDWithPN, "M1", &waE2E.Message{Conversation: proto.String("hi")}),
			inbound(contactAddr, contactAddr, "M1", &waqtor.Text{Body: "hi"}),
		},
		"TextFromLIDResolvedByMap": {
			msgEvent(srcDMLIDMapped, "M2", &waE2E.Message{Conversation: proto.String("hi")}),
			inbound(contactAddr, contactAddr, "M2", &waqtor.Text{Body: "hi"}),
		},
		"TextFromPhoneGetsLID": {
			msgEvent(srcDMPN, "M3", &waE2E.Message{Conversation: proto.String("hi")}),
			inbound(contactAddr, contactAddr, "M3", &waqtor.Text{Body: "hi"}),
		},
		"TextFromUnknownLID": {
			msgEvent(srcDMStranger, "M4", &waE2E.Message{Conversation: proto.String("hi")}),
			inbound(strangerAddr, strangerAddr, "M4", &waqtor.Text{Body: "hi"}),
		},
		"ExtendedTextWithQuoteAndMentions": {
			msgEvent(srcGroup, "M5", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
				Text: proto.String("@201000000002 @900000000009 see this"),
				ContextInfo: &waE2E.ContextInfo{
					MentionedJID:  []string{contactLID.String(), strangerLID.String()},
					StanzaID:      proto.String("Q1"),
					Participant:   proto.String(contactLID.String()),
					QuotedMessage: &waE2E.Message{Conversation: proto.String("original")},
				},
			}}),
			func() *waqtor.InboundMessage {
				m := inbound(groupAddr, memberAddr, "M5", &waqtor.Text{Body: "@201000000002 @900000000009 see this",
					Mentions: []string{"201000000002@s.whatsapp.net", "900000000009@lid"},
					Quote:    &waqtor.Quote{ID: "Q1", Sender: "201000000002@s.whatsapp.net", Text: "original"}})
				m.IsGroup = true
				return m
			}(),
		},
		"Image": {
			msgEvent(srcDMPN, "M6", &waE2E.Message{ImageMessage: imageMsg()}),
			inbound(contactAddr, contactAddr, "M6", media(waqtor.ContentImage, "image", "look", "image/jpeg", "", false)),
		},
		"ViewOnceImage": {
			msgEvent(srcDMPN, "M6b", &waE2E.Message{ViewOnceMessageV2: &waE2E.FutureProofMessage{Message: &waE2E.Message{ImageMessage: imageMsg()}}}),
			inbound(contactAddr, contactAddr, "M6b", media(waqtor.ContentImage, "image", "look", "image/jpeg", "", false)),
		},
		"Video": {
			msgEvent(srcDMPN, "M7", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: proto.String("clip"), Mimetype: proto.String("video/mp4"),
				URL: proto.String("https://mmg.whatsapp.net/x"), DirectPath: proto.String("/v/t62.7118-24/1"), MediaKey: []byte("mediakey"),
				FileEncSHA256: []byte("encsha"), FileSHA256: []byte("sha"), FileLength: proto.Uint64(1234)}}),
			inbound(contactAddr, contactAddr, "M7", media(waqtor.ContentVideo, "video", "clip", "video/mp4", "", false)),
		},
		"VoiceNote": {
			msgEvent(srcDMPN, "M8", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg; codecs=opus"),
				URL: proto.String("https://mmg.whatsapp.net/x"), DirectPath: proto.String("/v/t62.7118-24/1"), MediaKey: []byte("mediakey"),
				FileEncSHA256: []byte("encsha"), FileSHA256: []byte("sha"), FileLength: proto.Uint64(1234)}}),
			inbound(contactAddr, contactAddr, "M8", media(waqtor.ContentAudio, "audio", "", "audio/ogg; codecs=opus", "", true)),
		},
		"Document": {
			msgEvent(srcDMPN, "M9", &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
				Caption: proto.String("invoice"), FileName: proto.String("inv.pdf"), Mimetype: proto.String("application/pdf"),
				URL: proto.String("https://mmg.whatsapp.net/x"), DirectPath: proto.String("/v/t62.7118-24/1"), MediaKey: []byte("mediakey"),
				FileEncSHA256: []byte("encsha"), FileSHA256: []byte("sha"), FileLength: proto.Uint64(1234)}}}}),
			inbound(contactAddr, contactAddr, "M9", media(waqtor.ContentDocument, "document", "invoice", "application/pdf", "inv.pdf", false)),
		},
		"Sticker": {
			msgEvent(srcDMPN, "M10", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp"),
				URL: proto.String("https://mmg.whatsapp.net/x"), DirectPath: proto.String("/v/t62.7118-24/1"), MediaKey: []byte("mediakey"),
				FileEncSHA256: []byte("encsha"), FileSHA256: []byte("sha"), FileLength: proto.Uint64(1234)}}),
			inbound(contactAddr, contactAddr, "M10", media(waqtor.ContentSticker, "image", "", "image/webp", "", false)),
		},
		"Location": {
			msgEvent(srcDMPN, "M11", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(30.0444),
				DegreesLongitude: proto.Float64(31.2357), Name: proto.String("Cairo"), Address: proto.String("Tahrir Sq.")}}),
			inbound(contactAddr, contactAddr, "M11", &waqtor.Location{Address: "Tahrir Sq.", Latitude: 30.0444, Longitude: 31.2357, Name: "Cairo"}),
		},
		"LiveLocation": {
			msgEvent(srcDMPN, "M12", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{DegreesLatitude: proto.Float64(1.5),
				DegreesLongitude: proto.Float64(-2.5), Caption: proto.String("on my way")}}),
			inbound(contactAddr, contactAddr, "M12", &waqtor.Location{Latitude: 1.5, Longitude: -2.5, Name: "on my way"}),
		},
		"Contact": {
			msgEvent(srcDMPN, "M13", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Carol"), Vcard: proto.String(vcard)}}),
			inbound(contactAddr, contactAddr, "M13", &waqtor.Contact{Name: "Carol", Phone: "+201000000004", VCard: vcard}),
		},
		"ContactsArray": {
			msgEvent(srcDMPN, "M14", &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{DisplayName: proto.String("2 contacts"),
				Contacts: []*waE2E.ContactMessage{{DisplayName: proto.String("Carol"), Vcard: proto.String(vcard)}, {DisplayName: proto.String("Dan"), Vcard: proto.String("BEGIN:VCARD\nEND:VCARD")}}}}),
			inbound(contactAddr, contactAddr, "M14", &waqtor.Contact{Name: "2 contacts", Phone: "+201000000004", VCard: vcard + "\nBEGIN:VCARD\nEND:VCARD"}),
		},
		"PollCreation": {
			msgEvent(srcDMPN, "M15", &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Lunch?"),
				Options:                []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Pizza")}, {OptionName: proto.String("Sushi")}},
				SelectableOptionsCount: proto.Uint32(1)}}),
			inbound(contactAddr, contactAddr, "M15", &waqtor.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}, MaxSelections: 1}),
		},
		"ReactionToOurMessage": {
			msgEvent(srcDMPN, "M16", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍"),
				Key: &waCommon.MessageKey{RemoteJID: proto.String(ownJID.ToNonAD().String()), FromMe: proto.Bool(false), ID: proto.String("OUT1")}}}),
			inbound(contactAddr, contactAddr, "M16", &waqtor.Reaction{Emoji: "👍", TargetID: "OUT1", TargetSender: ownAddr.JID}),
		},
		"ReactionInGroup": {
			msgEvent(srcGroup, "M17", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("❤️"),
				Key: &waCommon.MessageKey{RemoteJID: proto.String(groupJID.String()), FromMe: proto.Bool(false), ID: proto.String("G1"), Participant: proto.String(contactLID.String())}}}),
			func() *waqtor.InboundMessage {
				m := inbound(groupAddr, memberAddr, "M17", &waqtor.Reaction{Emoji: "❤️", TargetID: "G1", TargetSender: contactAddr.JID})
				m.IsGroup = true
				return m
			}(),
		},
		"ReactionRemoved": {
			msgEvent(srcDMPN, "M18", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String(""),
				Key: &waCommon.MessageKey{RemoteJID: proto.String(ownJID.ToNonAD().String()), FromMe: proto.Bool(true), ID: proto.String("IN1")}}}),
			inbound(contactAddr, contactAddr, "M18", &waqtor.Reaction{Emoji: "", TargetID: "IN1", TargetSender: contactAddr.JID}),
		},
		"Edit": {
			msgEvent(srcDMPN, "M19", &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
				Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("IN2"), FromMe: proto.Bool(true)},
				EditedMessage: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("fixed typo")}}}}}}),
			inbound(contactAddr, contactAddr, "M19", &waqtor.Edit{TargetID: "IN2", Text: "fixed typo"}),
		},
		"Revoke": {
			msgEvent(srcDMPN, "M20", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
				Key: &waCommon.MessageKey{ID: proto.String("IN3"), FromMe: proto.Bool(true), RemoteJID: proto.String(ownJID.ToNonAD().String())}}}),
			inbound(contactAddr, contactAddr, "M20", &waqtor.Revoke{TargetID: "IN3", TargetSender: contactAddr.JID}),
		},
		"FromMeOnOtherDevice": {
			msgEvent(srcFromMe, "M21", &waE2E.Message{Conversation: proto.String("sent from the phone")}),
			func() *waqtor.InboundMessage {
				m := inbound(contactAddr, ownAddr, "M21", &waqtor.Text{Body: "sent from the phone"})
				m.FromMe = true
				return m
			}(),
		},
		"GroupText": {
			msgEvent(srcGroup, "M22", &waE2E.Message{Conversation: proto.String("hello group")}),
			func() *waqtor.InboundMessage {
				m := inbound(groupAddr, memberAddr, "M22", &waqtor.Text{Body: "hello group"})
				m.IsGroup = true
				return m
			}(),
		},
		"BroadcastListShowsInSenderChat": {
			msgEvent(srcBroadcast, "M23", &waE2E.Message{Conversation: proto.String("to my list")}),
			inbound(contactAddr, contactAddr, "M23", &waqtor.Text{Body: "to my list"}),
		},
		"ButtonsReply": {
			msgEvent(srcDMPN, "M24", &waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{SelectedButtonID: proto.String("yes"),
				Response:    &waE2E.ButtonsResponseMessage_SelectedDisplayText{SelectedDisplayText: "Yes"},
				ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("MENU1"), Participant: proto.String(ownJID.ToNonAD().String())}}}),
			inbound(contactAddr, contactAddr, "M24", &waqtor.Text{Body: "Yes", Quote: &waqtor.Quote{ID: "MENU1", Sender: ownAddr.JID}}),
		},
		"ListReply": {
			msgEvent(srcDMPN, "M25", &waE2E.Message{ListResponseMessage: &waE2E.ListResponseMessage{Title: proto.String("Tea"),
				SingleSelectReply: &waE2E.ListResponseMessage_SingleSelectReply{SelectedRowID: proto.String("tea")},
				ContextInfo:       &waE2E.ContextInfo{StanzaID: proto.String("MENU2")}}}),
			inbound(contactAddr, contactAddr, "M25", &waqtor.Text{Body: "Tea", Quote: &waqtor.Quote{ID: "MENU2"}}),
		},
		"StatusBroadcastSkipped": {
			msgEvent(srcStatus, "M26", &waE2E.Message{Conversation: proto.String("my story")}), nil,
		},
		"ProtocolMessageSkipped": {
			msgEvent(srcDMPN, "M27", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum()}}), nil,
		},
		"EmptyMessageSkipped": {
			msgEvent(srcDMPN, "M28", &waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{GroupID: proto.String("x")}}), nil,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &setupOpts{paired: true})
			f := b.ff.last()
			f.setLID(contactPN, contactLID)
			f.setLID(memberPN, memberLID)
			failed := f.dispatch(tt.evt)
			require.False(t, failed, "the handler must succeed so that the message is acknowledged")
			if tt.want == nil {
				require.Empty(t, b.rec.messages)
				return
			}
			require.Len(t, b.rec.messages, 1)
			if diff := cmp.Diff(tt.want, b.rec.messages[0]); diff != "" {
				t.Fatalf("inbound message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInboundPollVote(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{paired: true})
	f := b.ff.last()
	// The poll this session sent, stored when it was built.
	_, err := b.e.tables.putPoll(b.ctx, "s1", "POLL1", contactPN.String(), []string{"Red", "Blue"}, []byte("secret"))
	require.NoError(t, err)
	red, other := sha256.Sum256([]byte("Red")), sha256.Sum256([]byte("Green"))
	f.decryptFn = func(evt *events.Message) (*waE2E.PollVoteMessage, error) {
		require.Equal(t, "POLL1", evt.Message.GetPollUpdateMessage().GetPollCreationMessageKey().GetID())
		return &waE2E.PollVoteMessage{SelectedOptions: [][]byte{red[:], other[:]}}, nil
	}
	vote := &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String("POLL1"), FromMe: proto.Bool(false), RemoteJID: proto.String(ownJID.ToNonAD().String())},
		Vote:                   &waE2E.PollEncValue{EncPayload: []byte("enc"), EncIV: []byte("iv")},
	}}
	require.False(t, f.dispatch(msgEvent(srcDMLIDWithPN, "V1", vote)))
	require.Len(t, b.rec.messages, 1)
	want := inbound(contactAddr, contactAddr, "V1", &waqtor.PollVote{PollID: "POLL1", Selected: []string{"Red", "sha256:" + hex.EncodeToString(other[:])}})
	require.Empty(t, cmp.Diff(want, b.rec.messages[0]))

	t.Run("WithdrawnVote", func(t *testing.T) {
		f.decryptFn = func(*events.Message) (*waE2E.PollVoteMessage, error) { return &waE2E.PollVoteMessage{}, nil }
		require.False(t, f.dispatch(msgEvent(srcDMLIDWithPN, "V2", vote)))
		require.Equal(t, &waqtor.PollVote{PollID: "POLL1", Selected: []string{}}, b.rec.messages[1].Content)
	})
	t.Run("UndecryptableVoteIsAcknowledgedAndDropped", func(t *testing.T) {
		f.decryptFn = nil
		require.False(t, f.dispatch(msgEvent(srcDMLIDWithPN, "V3", vote)))
		require.Len(t, b.rec.messages, 2)
	})
}

func TestInboundPollCreationKeepsOptionsForVotes(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{paired: true})
	f := b.ff.last()
	poll := &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("Q"),
		Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("A")}, {OptionName: proto.String("B")}}}}
	require.False(t, f.dispatch(msgEvent(srcGroup, "P1", poll)))
	b2 := sha256.Sum256([]byte("B"))
	f.decryptFn = func(*events.Message) (*waE2E.PollVoteMessage, error) {
		return &waE2E.PollVoteMessage{SelectedOptions: [][]byte{b2[:]}}, nil
	}
	vote := &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String("P1")}}}
	require.False(t, f.dispatch(msgEvent(srcGroup, "V1", vote)))
	require.Equal(t, &waqtor.PollVote{PollID: "P1", Selected: []string{"B"}}, b.rec.messages[1].Content)
}

// TestInboundNotAcknowledgedWhenNotStored proves the durability contract: when
// the Core cannot store a message (or panics), the handler reports failure and
// whatsmeow withholds the acknowledgement, so WhatsApp redelivers; the
// redelivery with the same ID is then stored.
func TestInboundNotAcknowledgedWhenNotStored(t *testing.T) {
	t.Parallel()

	t.Run("StoreError", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ff.last()
		b.rec.failMsg = errors.New("database is locked")
		evt := msgEvent(srcDMPN, "R1", &waE2E.Message{Conversation: proto.String("hi")})
		require.True(t, f.dispatch(evt), "a failed insert must not be acknowledged")
		b.rec.failMsg = nil
		require.False(t, f.dispatch(evt), "the redelivery is stored and acknowledged")
		require.Len(t, b.rec.messages, 1)
		require.Equal(t, "R1", b.rec.messages[0].ID)
	})
	t.Run("HandlerPanic", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		b.rec.panicMsg = true
		require.True(t, b.ff.last().dispatch(msgEvent(srcDMPN, "R2", &waE2E.Message{Conversation: proto.String("hi")})))
	})
	t.Run("ReceiptStoreError", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		b.rec.failMsg = errors.New("timeout")
		require.True(t, b.ff.last().dispatch(&events.Receipt{MessageSource: srcDMPN, MessageIDs: []string{"X"}, Type: types.ReceiptTypeRead}))
	})
	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ff.last()
		require.NoError(t, b.conn.Close(b.ctx))
		// A late event after Close (whatsmeow may still dispatch) is not acknowledged.
		require.False(t, b.conn.handleEvent(f, msgEvent(srcDMPN, "R3", &waE2E.Message{Conversation: proto.String("late")})), "handleEvent reports failure")
		require.Empty(t, b.rec.messages)
	})
}

func TestInboundReceipts(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		evt  *events.Receipt
		want *waqtor.Receipt
	}{
		"Delivered": {
			&events.Receipt{MessageSource: srcDMLIDWithPN, MessageIDs: []string{"O1", "O2"}, Timestamp: msgTime, Type: types.ReceiptTypeDelivered},
			&waqtor.Receipt{Chat: contactAddr, IDs: []string{"O1", "O2"}, Sender: contactAddr, Time: msgTime, Type: waqtor.ReceiptDelivered},
		},
		"Read": {
			&events.Receipt{MessageSource: srcDMLIDMapped, MessageIDs: []string{"O3"}, Timestamp: msgTime, Type: types.ReceiptTypeRead},
			&waqtor.Receipt{Chat: contactAddr, IDs: []string{"O3"}, Sender: contactAddr, Time: msgTime, Type: waqtor.ReceiptRead},
		},
		"Played": {
			&events.Receipt{MessageSource: srcDMPN, MessageIDs: []string{"O4"}, Timestamp: msgTime, Type: types.ReceiptTypePlayed},
			&waqtor.Receipt{Chat: contactAddr, IDs: []string{"O4"}, Sender: contactAddr, Time: msgTime, Type: waqtor.ReceiptPlayed},
		},
		"GroupRead": {
			&events.Receipt{MessageSource: srcGroup, MessageIDs: []string{"O5"}, Timestamp: msgTime, Type: types.ReceiptTypeRead},
			&waqtor.Receipt{Chat: groupAddr, IDs: []string{"O5"}, Sender: memberAddr, Time: msgTime, Type: waqtor.ReceiptRead},
		},
		"ReadSelfIgnored":       {&events.Receipt{MessageSource: srcFromMe, MessageIDs: []string{"I1"}, Type: types.ReceiptTypeReadSelf}, nil},
		"OwnDeviceIgnored":      {&events.Receipt{MessageSource: srcFromMe, MessageIDs: []string{"I1"}, Type: types.ReceiptTypeDelivered}, nil},
		"SenderReceiptIgnored":  {&events.Receipt{MessageSource: srcDMPN, MessageIDs: []string{"I1"}, Type: types.ReceiptTypeSender}, nil},
		"RetryReceiptIgnored":   {&events.Receipt{MessageSource: srcDMPN, MessageIDs: []string{"I1"}, Type: types.ReceiptTypeRetry}, nil},
		"InactiveReceiptIgnore": {&events.Receipt{MessageSource: srcDMPN, MessageIDs: []string{"I1"}, Type: types.ReceiptTypeInactive}, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &setupOpts{paired: true})
			f := b.ff.last()
			f.setLID(contactPN, contactLID)
			f.setLID(memberPN, memberLID)
			require.False(t, f.dispatch(tt.evt))
			if tt.want == nil {
				require.Empty(t, b.rec.receipts)
				return
			}
			require.Len(t, b.rec.receipts, 1)
			require.Empty(t, cmp.Diff(tt.want, b.rec.receipts[0]))
		})
	}
}

func TestInboundChatPresence(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		evt  *events.ChatPresence
		want waqtor.ChatPresence
	}{
		"Typing":    {&events.ChatPresence{MessageSource: srcDMLIDWithPN, State: types.ChatPresenceComposing}, waqtor.PresenceTyping},
		"Recording": {&events.ChatPresence{MessageSource: srcDMLIDWithPN, State: types.ChatPresenceComposing, Media: types.ChatPresenceMediaAudio}, waqtor.PresenceRecording},
		"Paused":    {&events.ChatPresence{MessageSource: srcDMLIDWithPN, State: types.ChatPresencePaused}, waqtor.PresencePaused},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &setupOpts{paired: true})
			require.False(t, b.ff.last().dispatch(tt.evt))
			b.rec.waitFor(t, "presence", func() bool {
				b.rec.mu.Lock()
				defer b.rec.mu.Unlock()
				return len(b.rec.presences) == 1
			})
			require.Equal(t, &waqtor.InboundPresence{Chat: contactAddr, Sender: contactAddr, State: tt.want, Time: testNow}, b.rec.presences[0])
		})
	}
}

// TestInboundRealClientChain feeds real events.* structs through a real
// *whatsmeow.Client's handler chain (whatsmeow's dispatchEvent), the path
// decrypted messages take: the result is what whatsmeow uses to decide the ack.
func TestInboundRealClientChain(t *testing.T) {
	t.Parallel()
	ff := &fakeFactory{}
	e := newTestEngine(t, "sqlite", fastConfig(), ff)
	e.newClient = newWAClient
	putDevice(t, e, "real", ownJID, ownLID)
	rec := newRecorder()
	c, err := e.Open(context.Background(), &waqtor.EngineSession{ID: "real"}, rec)
	require.NoError(t, err)
	wc := c.(*conn).cli.(waClient)
	require.True(t, wc.SynchronousAck, "acks must wait for the handlers")
	require.True(t, wc.EnableDecryptedEventBuffer, "redelivered messages must decrypt again")
	require.False(t, wc.EnableAutoReconnect, "the engine reconnects itself")
	require.NoError(t, wc.Store.LIDs.PutLIDMapping(context.Background(), contactLID, contactPN))

	dispatch := func(evt any) bool {
		//lint:ignore SA1019 DangerousInternals is whatsmeow's only seam to feed events through its real handler chain.
		return wc.DangerousInternals().DispatchEvent(evt)
	}
	require.False(t, dispatch(msgEvent(srcDMLIDMapped, "C1", &waE2E.Message{Conversation: proto.String("via whatsmeow")})))
	require.Len(t, rec.messages, 1)
	require.Empty(t, cmp.Diff(inbound(contactAddr, contactAddr, "C1", &waqtor.Text{Body: "via whatsmeow"}), rec.messages[0]),
		"the LID resolves through whatsmeow's real LID map")

	rec.failMsg = errors.New("disk full")
	require.True(t, dispatch(msgEvent(srcDMPN, "C2", &waE2E.Message{Conversation: proto.String("x")})), "whatsmeow sees the failure")
	rec.panicMsg = true
	require.True(t, dispatch(msgEvent(srcDMPN, "C3", &waE2E.Message{Conversation: proto.String("x")})), "a panic is a failure, not an ack")
	require.NoError(t, c.Close(context.Background()))
}
