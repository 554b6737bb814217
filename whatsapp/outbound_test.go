package whatsapp

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/waqtor/waqtor"
)

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

// uploaded is the upload the fake returns for data of length n, as the
// fields of a media message.
func uploaded(n int) (url, path *string, key, enc, sha []byte, length *uint64) {
	return proto.String("https://mmg.example/u"), proto.String("/v/t62/abc"), []byte("mediakey"), []byte("encsha"), []byte("sha"), proto.Uint64(uint64(n))
}

func TestSend(t *testing.T) {
	t.Parallel()

	pngData := pngBytes(t, 3, 2)
	mp4 := append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 32)...)
	ogg := append([]byte("OggS\x00\x02"), make([]byte, 32)...)
	mp3 := append([]byte("ID3\x03\x00"), make([]byte, 32)...)
	pdf := []byte("%PDF-1.4\n%...")
	csv := []byte("a,b\n1,2\n")
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 24)...)
	vcard, err := waqtor.BuildVCard("Carol", "+201000000004")
	require.NoError(t, err)

	media := func(kind waqtor.ContentType, data []byte, f func(m *waqtor.Media)) *waqtor.Media {
		m := &waqtor.Media{Kind: kind, Data: data}
		if f != nil {
			f(m)
		}
		return m
	}
	image := func(n int, w, h uint32) *waE2E.Message {
		u, p, k, e, s, l := uploaded(n)
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("pic"), Mimetype: proto.String("image/png"), URL: u, DirectPath: p,
			MediaKey: k, FileEncSHA256: e, FileSHA256: s, FileLength: l, Width: proto.Uint32(w), Height: proto.Uint32(h)}}
	}
	u, p, k, e, s, _ := uploaded(0)

	tests := map[string]struct {
		to      types.JID
		content waqtor.Content
		cfg     *Config
		want    *waE2E.Message
		upload  whatsmeow.MediaType
	}{
		"Text": {contactPN, &waqtor.Text{Body: "hello"}, nil, &waE2E.Message{Conversation: proto.String("hello")}, ""},
		"TextQuoteMentions": {groupJID, &waqtor.Text{Body: "@201000000002 yes", Mentions: []string{"201000000002@s.whatsapp.net"},
			Quote: &waqtor.Quote{ID: "Q1", Sender: "201000000002:4@s.whatsapp.net", Text: "orig"}}, nil,
			&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@201000000002 yes"), ContextInfo: &waE2E.ContextInfo{
				MentionedJID: []string{"201000000002@s.whatsapp.net"}, StanzaID: proto.String("Q1"), Participant: proto.String("201000000002@s.whatsapp.net"),
				QuotedMessage: &waE2E.Message{Conversation: proto.String("orig")}}}}, ""},
		"ImagePNG": {contactPN, media(waqtor.ContentImage, pngData, func(m *waqtor.Media) { m.Caption = "pic" }), nil, image(len(pngData), 3, 2), whatsmeow.MediaImage},
		"Video": {contactPN, media(waqtor.ContentVideo, mp4, nil), nil, &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"),
			URL: u, DirectPath: p, MediaKey: k, FileEncSHA256: e, FileSHA256: s, FileLength: proto.Uint64(uint64(len(mp4)))}}, whatsmeow.MediaVideo},
		"VoiceNote": {contactPN, media(waqtor.ContentAudio, ogg, func(m *waqtor.Media) { m.Voice = true }), nil, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg; codecs=opus"), URL: u, DirectPath: p, MediaKey: k, FileEncSHA256: e, FileSHA256: s,
			FileLength: proto.Uint64(uint64(len(ogg)))}}, whatsmeow.MediaAudio},
		"AudioMP3": {contactPN, media(waqtor.ContentAudio, mp3, nil), nil, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			PTT: proto.Bool(false), Mimetype: proto.String("audio/mpeg"), URL: u, DirectPath: p, MediaKey: k, FileEncSHA256: e, FileSHA256: s,
			FileLength: proto.Uint64(uint64(len(mp3)))}}, whatsmeow.MediaAudio},
		"DocumentPDF": {contactPN, media(waqtor.ContentDocument, pdf, func(m *waqtor.Media) { m.FileName, m.Caption = "invoice.pdf", "your invoice" }), nil,
			&waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String("your invoice"), FileName: proto.String("invoice.pdf"),
				Title: proto.String("invoice.pdf"), Mimetype: proto.String("application/pdf"), URL: u, DirectPath: p, MediaKey: k, FileEncSHA256: e,
				FileSHA256: s, FileLength: proto.Uint64(uint64(len(pdf)))}}, whatsmeow.MediaDocument},
		"DocumentTypeFromName": {contactPN, media(waqtor.ContentDocument, csv, func(m *waqtor.Media) { m.FileName = "data.csv" }), nil,
			&waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("data.csv"), Title: proto.String("data.csv"),
				Mimetype: proto.String("text/csv"), URL: u, DirectPath: p, MediaKey: k, FileEncSHA256: e, FileSHA256: s,
				FileLength: proto.Uint64(uint64(len(csv)))}}, whatsmeow.MediaDocument},
		"Sticker": {contactPN, media(waqtor.ContentSticker, webp, nil), nil, &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp"),
			URL: u, DirectPath: p, MediaKey: k, FileEncSHA256: e, FileSHA256: s, FileLength: proto.Uint64(uint64(len(webp)))}}, whatsmeow.MediaImage},
		"Location": {contactPN, &waqtor.Location{Latitude: 30.0444, Longitude: 31.2357, Name: "Cairo"}, nil,
			&waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(30.0444), DegreesLongitude: proto.Float64(31.2357), Name: proto.String("Cairo")}}, ""},
		"ContactBuildsVCard": {contactPN, &waqtor.Contact{Name: "Carol", Phone: "+201000000004"}, nil,
			&waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Carol"), Vcard: proto.String(vcard)}}, ""},
		"ReactionToContact": {contactPN, &waqtor.Reaction{Emoji: "👍", TargetID: "IN1", TargetSender: contactPN.String()}, nil,
			&waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍"), SenderTimestampMS: proto.Int64(testNow.UnixMilli()),
				Key: &waCommon.MessageKey{FromMe: proto.Bool(false), ID: proto.String("IN1"), RemoteJID: proto.String(contactPN.String())}}}, ""},
		"ReactionInGroup": {groupJID, &waqtor.Reaction{Emoji: "❤️", TargetID: "G1", TargetSender: memberPN.String()}, nil,
			&waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("❤️"), SenderTimestampMS: proto.Int64(testNow.UnixMilli()),
				Key: &waCommon.MessageKey{FromMe: proto.Bool(false), ID: proto.String("G1"), RemoteJID: proto.String(groupJID.String()), Participant: proto.String(memberPN.String())}}}, ""},
		"Edit": {contactPN, &waqtor.Edit{TargetID: "OUT0", Text: "fixed"}, nil, &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
			ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), TimestampMS: proto.Int64(testNow.UnixMilli()),
				Key:           &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String("OUT0"), RemoteJID: proto.String(contactPN.String())},
				EditedMessage: &waE2E.Message{Conversation: proto.String("fixed")}}}}}, ""},
		"RevokeOwn": {contactPN, &waqtor.Revoke{TargetID: "OUT0"}, nil, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
			Key: &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String("OUT0"), RemoteJID: proto.String(contactPN.String())}}}, ""},
		"RevokeAsGroupAdmin": {groupJID, &waqtor.Revoke{TargetID: "G2", TargetSender: memberPN.String()}, nil, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waCommon.MessageKey{FromMe: proto.Bool(false), ID: proto.String("G2"),
				RemoteJID: proto.String(groupJID.String()), Participant: proto.String(memberPN.String())}}}, ""},
		"ButtonsDefaultTextMenu": {contactPN, &waqtor.Buttons{Body: "Pick", Buttons: []waqtor.Button{{ID: "y", Text: "Yes"}, {ID: "n", Text: "No"}}}, nil,
			&waE2E.Message{Conversation: proto.String("Pick\n\n1. Yes\n2. No")}, ""},
		"ButtonsNative": {contactPN, &waqtor.Buttons{Body: "Pick", Footer: "f", Mode: waqtor.InteractiveNative, Buttons: []waqtor.Button{{ID: "y", Text: "Yes"}}}, nil,
			&waE2E.Message{ButtonsMessage: &waE2E.ButtonsMessage{ContentText: proto.String("Pick"), FooterText: proto.String("f"), HeaderType: waE2E.ButtonsMessage_EMPTY.Enum(),
				Buttons: []*waE2E.ButtonsMessage_Button{{ButtonID: proto.String("y"), ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: proto.String("Yes")},
					Type: waE2E.ButtonsMessage_Button_RESPONSE.Enum()}}}}, ""},
		"ButtonsConfiguredNative": {contactPN, &waqtor.Buttons{Body: "Pick", Buttons: []waqtor.Button{{ID: "y", Text: "Yes"}}}, &Config{InteractiveMode: waqtor.InteractiveNative},
			&waE2E.Message{ButtonsMessage: &waE2E.ButtonsMessage{ContentText: proto.String("Pick"), HeaderType: waE2E.ButtonsMessage_EMPTY.Enum(),
				Buttons: []*waE2E.ButtonsMessage_Button{{ButtonID: proto.String("y"), ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: proto.String("Yes")},
					Type: waE2E.ButtonsMessage_Button_RESPONSE.Enum()}}}}, ""},
		"ButtonsPollWithOneOptionFallsBackToText": {contactPN, &waqtor.Buttons{Body: "Ok?", Mode: waqtor.InteractivePoll, Buttons: []waqtor.Button{{ID: "y", Text: "Yes"}}}, nil,
			&waE2E.Message{Conversation: proto.String("Ok?\n\n1. Yes")}, ""},
		"ListNative": {contactPN, &waqtor.List{Title: "Menu", Body: "Choose", ButtonText: "Open", Mode: waqtor.InteractiveNative,
			Sections: []waqtor.ListSection{{Title: "Drinks", Rows: []waqtor.ListRow{{ID: "tea", Title: "Tea", Description: "hot"}}}}}, nil,
			&waE2E.Message{ListMessage: &waE2E.ListMessage{Title: proto.String("Menu"), Description: proto.String("Choose"), ButtonText: proto.String("Open"),
				ListType: waE2E.ListMessage_SINGLE_SELECT.Enum(), Sections: []*waE2E.ListMessage_Section{{Title: proto.String("Drinks"),
					Rows: []*waE2E.ListMessage_Row{{RowID: proto.String("tea"), Title: proto.String("Tea"), Description: proto.String("hot")}}}}}}, ""},
		"ListText": {contactPN, &waqtor.List{Body: "Choose", ButtonText: "Open",
			Sections: []waqtor.ListSection{{Rows: []waqtor.ListRow{{ID: "tea", Title: "Tea"}, {ID: "cof", Title: "Coffee"}}}}}, nil,
			&waE2E.Message{Conversation: proto.String("Choose\n\n1. Tea\n2. Coffee")}, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fastConfig()
			if tt.cfg != nil {
				cfg.InteractiveMode = tt.cfg.InteractiveMode
			}
			b := setup(t, &setupOpts{paired: true, cfg: cfg})
			f := b.ready(t)
			res, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "OUT" + name, Chat: tt.to.String(), Content: tt.content})
			require.NoError(t, err)
			require.Equal(t, f.sendTime, res.Time)
			sent := f.lastSent(t)
			require.Equal(t, tt.to, sent.To)
			require.Equal(t, []whatsmeow.SendRequestExtra{{ID: "OUT" + name}}, sent.Extra, "the caller's message ID is used")
			if diff := cmp.Diff(tt.want, sent.Msg, protocmp.Transform()); diff != "" {
				t.Fatalf("message (-want +got):\n%s", diff)
			}
			if tt.upload != "" {
				require.Len(t, f.uploads, 1)
				require.Equal(t, tt.upload, f.uploads[0].Type)
			}
		})
	}
}

func TestSendPoll(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{paired: true})
	f := b.ready(t)
	send := func(id string, c waqtor.Content) *waE2E.Message {
		_, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: id, Chat: contactPN.String(), Content: c})
		require.NoError(t, err)
		return f.lastSent(t).Msg
	}
	poll := &waqtor.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}}
	first := send("POLL1", poll)
	secret := first.GetMessageContextInfo().GetMessageSecret()
	require.Len(t, secret, 32)
	want := &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("Lunch?"), SelectableOptionsCount: proto.Uint32(1),
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Pizza")}, {OptionName: proto.String("Sushi")}}},
		MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: secret},
	}
	require.Empty(t, cmp.Diff(want, first, protocmp.Transform()))
	again := send("POLL1", poll)
	require.Equal(t, secret, again.GetMessageContextInfo().GetMessageSecret(), "a resend with the same ID reuses the secret")
	other := send("POLL2", poll)
	require.NotEqual(t, secret, other.GetMessageContextInfo().GetMessageSecret())

	t.Run("ButtonsAsPoll", func(t *testing.T) {
		m := send("POLL3", &waqtor.Buttons{Body: "Pick", Mode: waqtor.InteractivePoll, Buttons: []waqtor.Button{{ID: "y", Text: "Yes"}, {ID: "n", Text: "No"}}})
		require.Equal(t, "Pick", m.GetPollCreationMessage().GetName())
		require.EqualValues(t, 1, m.GetPollCreationMessage().GetSelectableOptionsCount())
		require.Len(t, m.GetPollCreationMessage().GetOptions(), 2)
	})
	t.Run("ListAsPoll", func(t *testing.T) {
		m := send("POLL4", &waqtor.List{Title: "Menu", Body: "Choose", ButtonText: "Open", Mode: waqtor.InteractivePoll,
			Sections: []waqtor.ListSection{{Rows: []waqtor.ListRow{{ID: "a", Title: "A"}}}, {Rows: []waqtor.ListRow{{ID: "b", Title: "B"}}}}})
		require.Equal(t, "Menu", m.GetPollCreationMessage().GetName())
	})
	t.Run("VotesMapBackToOptions", func(t *testing.T) {
		opts, err := b.e.tables.pollOptions(b.ctx, "s1", "POLL3")
		require.NoError(t, err)
		require.Equal(t, []string{"Yes", "No"}, opts)
	})
}

func TestSendErrors(t *testing.T) {
	t.Parallel()

	t.Run("NotReady", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ff.last()
		_, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
		require.ErrorIs(t, err, waqtor.ErrNotReady)
		require.False(t, waqtor.IsPermanent(err), "the message stays pending")
		require.Empty(t, f.sent, "nothing was sent")
	})
	t.Run("Unpaired", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "X", Chat: contactPN.String(), Content: &waqtor.Text{Body: "x"}})
		require.ErrorIs(t, err, waqtor.ErrNotReady)
	})

	tests := map[string]struct {
		sendErr   error
		uploadErr error
		content   waqtor.Content
		cfg       *Config
		chat      string
		permanent bool
		is        error
	}{
		"NetworkLossMidSend":   {sendErr: &net.OpError{Op: "write", Err: errors.New("broken pipe")}, permanent: false},
		"Timeout":              {sendErr: whatsmeow.ErrMessageTimedOut, permanent: false, is: whatsmeow.ErrMessageTimedOut},
		"SocketGone":           {sendErr: whatsmeow.ErrNotConnected, permanent: false, is: waqtor.ErrNotReady},
		"ServerRefused":        {sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479), permanent: true},
		"ServerError":          {sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 500), permanent: false},
		"RateLimited":          {sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 429), permanent: false},
		"NotOnWhatsApp":        {sendErr: fmt.Errorf("no LID found for %s from server", contactPN), permanent: true},
		"NotInGroup":           {sendErr: fmt.Errorf("failed to get group members: %w", whatsmeow.ErrNotInGroup), permanent: true, is: whatsmeow.ErrNotInGroup},
		"UploadFails":          {uploadErr: errors.New("upload failed with status code 503"), content: &waqtor.Media{Kind: waqtor.ContentDocument, Data: []byte("x")}, permanent: false},
		"MediaTooLarge":        {cfg: &Config{MaxMediaBytes: 4}, content: &waqtor.Media{Kind: waqtor.ContentDocument, Data: []byte("12345")}, permanent: true, is: waqtor.ErrMediaTooLarge},
		"ImageThatIsNotImage":  {content: &waqtor.Media{Kind: waqtor.ContentImage, Data: []byte("%PDF-1.4 ...")}, permanent: true, is: waqtor.ErrInvalidMessage},
		"StickerThatIsNotWebP": {content: &waqtor.Media{Kind: waqtor.ContentSticker, Data: pngBytes(t, 1, 1), MIME: "image/png"}, permanent: true, is: waqtor.ErrInvalidMessage},
		"BadChat":              {chat: "not a jid@", permanent: true, is: waqtor.ErrInvalidPhone},
		"PollVote":             {content: &waqtor.PollVote{PollID: "x"}, permanent: true, is: waqtor.ErrUnsupported},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := fastConfig()
			if tt.cfg != nil {
				cfg.MaxMediaBytes = tt.cfg.MaxMediaBytes
			}
			b := setup(t, &setupOpts{paired: true, cfg: cfg, fake: func(f *fakeClient) { f.sendErr, f.uploadErr = tt.sendErr, tt.uploadErr }})
			b.ready(t)
			content, chat := tt.content, tt.chat
			if content == nil {
				content = &waqtor.Text{Body: "x"}
			}
			if chat == "" {
				chat = contactPN.String()
			}
			res, err := b.conn.Send(b.ctx, &waqtor.OutboundMessage{ID: "E1", Chat: chat, Content: content})
			require.Error(t, err)
			require.Nil(t, res)
			require.Equal(t, tt.permanent, waqtor.IsPermanent(err), "%v", err)
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			if tt.sendErr != nil {
				require.ErrorIs(t, err, tt.sendErr, "the cause stays reachable")
			}
		})
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()

	t.Run("CheckNumbers", func(t *testing.T) {
		t.Parallel()
		unknown := types.NewJID("201000000005", types.DefaultUserServer)
		b := setup(t, &setupOpts{paired: true, fake: func(f *fakeClient) {
			f.onWhatsApp = []types.IsOnWhatsAppResponse{{Query: "+201000000002", JID: contactPN, IsIn: true}, {Query: "+201000000005", JID: unknown, IsIn: false}}
		}})
		f := b.ready(t)
		f.setLID(contactPN, contactLID)
		got, err := b.conn.CheckNumbers(b.ctx, []string{"+20 100 000 0002", "00201000000005"})
		require.NoError(t, err)
		require.Equal(t, []waqtor.NumberCheck{
			{JID: "201000000002@s.whatsapp.net", LID: "900000000002@lid", OnWhatsApp: true, Phone: "+201000000002"},
			{Phone: "+201000000005"},
		}, got)
		require.Equal(t, [][]string{{"+201000000002", "+201000000005"}}, f.whatsAppAsks)
		_, err = b.conn.CheckNumbers(b.ctx, []string{"abc"})
		require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
	})
	t.Run("MarkRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		require.NoError(t, b.conn.MarkRead(b.ctx, groupJID.String(), memberPN.String(), []string{"A", "B"}, testNow))
		require.Equal(t, []markReadCall{{IDs: []string{"A", "B"}, At: testNow, Chat: groupJID, Sender: memberPN}}, f.markReads)
		require.NoError(t, b.conn.MarkRead(b.ctx, contactPN.String(), "", []string{"C"}, testNow))
		require.Equal(t, markReadCall{IDs: []string{"C"}, At: testNow, Chat: contactPN}, f.markReads[1])
	})
	t.Run("SetPresence", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		f := b.ready(t)
		for _, p := range []waqtor.ChatPresence{waqtor.PresenceTyping, waqtor.PresenceRecording, waqtor.PresencePaused} {
			require.NoError(t, b.conn.SetPresence(b.ctx, contactPN.String(), p))
		}
		require.Equal(t, []presenceCall{
			{contactPN, types.ChatPresenceComposing, types.ChatPresenceMediaText},
			{contactPN, types.ChatPresenceComposing, types.ChatPresenceMediaAudio},
			{contactPN, types.ChatPresencePaused, types.ChatPresenceMediaText},
		}, f.presences)
		require.ErrorIs(t, b.conn.SetPresence(b.ctx, contactPN.String(), "dancing"), waqtor.ErrInvalidMessage)
	})
	t.Run("LIDAddressedAccount", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true, fake: func(f *fakeClient) { f.lidMigrated = true }})
		f := b.ready(t)
		f.setLID(contactPN, contactLID)
		require.NoError(t, b.conn.MarkRead(b.ctx, contactPN.String(), "", []string{"A"}, testNow))
		require.NoError(t, b.conn.SetPresence(b.ctx, contactPN.String(), waqtor.PresenceTyping))
		require.NoError(t, b.conn.MarkRead(b.ctx, groupJID.String(), memberPN.String(), []string{"B"}, testNow))
		require.Equal(t, contactLID, f.markReads[0].Chat, "DM receipts go to the LID, as whatsmeow sends DMs")
		require.Equal(t, contactLID, f.presences[0].JID)
		require.Equal(t, groupJID, f.markReads[1].Chat)
		require.NoError(t, b.conn.MarkRead(b.ctx, types.NewJID("201000000005", types.DefaultUserServer).String(), "", []string{"C"}, testNow))
		require.Equal(t, "201000000005@s.whatsapp.net", f.markReads[2].Chat.String(), "unknown LIDs keep the phone JID")
	})
	t.Run("CommandsNeedReady", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		require.ErrorIs(t, b.conn.SetPresence(b.ctx, contactPN.String(), waqtor.PresenceTyping), waqtor.ErrNotReady)
		require.ErrorIs(t, b.conn.MarkRead(b.ctx, contactPN.String(), "", []string{"A"}, testNow), waqtor.ErrNotReady)
		_, err := b.conn.CheckNumbers(b.ctx, []string{"+201000000002"})
		require.ErrorIs(t, err, waqtor.ErrNotReady)
	})
}

func TestDownloadMedia(t *testing.T) {
	t.Parallel()
	b := setup(t, &setupOpts{paired: true})
	f := b.ff.last()
	require.False(t, f.dispatch(msgEvent(srcDMPN, "IMG", &waE2E.Message{ImageMessage: imageMsg()})))
	m := b.rec.messages[0].Content.(*waqtor.Media)

	_, err := b.e.DownloadMedia(b.ctx, "s1", m)
	require.ErrorIs(t, err, waqtor.ErrNotReady, "media hosts are found through the connection")

	b.ready(t)
	data, err := b.e.DownloadMedia(b.ctx, "s1", m)
	require.NoError(t, err)
	require.Equal(t, []byte("media bytes"), data)
	require.Equal(t, []downloadCall{{DirectPath: "/v/t62.7118-24/1", EncHash: []byte("encsha"), Hash: []byte("sha"), MediaKey: []byte("mediakey"),
		Length: 1234, MediaType: whatsmeow.MediaImage}}, f.downloads)

	_, err = b.e.DownloadMedia(b.ctx, "s1", &waqtor.Media{Kind: waqtor.ContentImage, Ref: []byte(`{"foo":1}`)})
	require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
	_, err = b.e.DownloadMedia(b.ctx, "nope", m)
	require.ErrorIs(t, err, waqtor.ErrNotReady)

	big := *m
	big.Ref = []byte(`{"direct_path":"/x","media_key":"bWVkaWFrZXk=","media_type":"video","file_length":999999999999}`)
	_, err = b.e.DownloadMedia(b.ctx, "s1", &big)
	require.ErrorIs(t, err, waqtor.ErrMediaTooLarge)

	// Media WhatsApp no longer holds is unavailable (a client error), not a
	// failure; other download errors stay as they are.
	for _, gone := range []error{whatsmeow.ErrMediaDownloadFailedWith404, whatsmeow.ErrMediaDownloadFailedWith410} {
		f.mu.Lock()
		f.downloadFn = func() ([]byte, error) { return nil, gone }
		f.mu.Unlock()
		_, err = b.e.DownloadMedia(b.ctx, "s1", m)
		require.ErrorIs(t, err, waqtor.ErrMediaUnavailable)
		require.ErrorIs(t, err, gone, "whatsmeow's error is kept")
	}
	f.mu.Lock()
	f.downloadFn = func() ([]byte, error) { return nil, whatsmeow.ErrMediaDownloadFailedWith403 }
	f.mu.Unlock()
	_, err = b.e.DownloadMedia(b.ctx, "s1", m)
	require.NotErrorIs(t, err, waqtor.ErrMediaUnavailable)
}

// TestBuildersMatchWhatsmeow pins the engine's client-free builders (which use
// the engine's clock and stored poll secrets) to whatsmeow's own.
func TestBuildersMatchWhatsmeow(t *testing.T) {
	t.Parallel()
	dev := &store.Device{ID: &ownJID, LID: ownLID}
	cli := whatsmeow.NewClient(dev, nil)
	ownLIDAD := ad(ownLID, 7)
	for name, k := range map[string]struct{ chat, sender types.JID }{
		"OwnInDM":         {contactPN, types.EmptyJID},
		"OwnJIDInDM":      {contactPN, ownJID},
		"ContactInDM":     {contactPN, contactPN},
		"ContactLIDChat":  {contactLID, contactLID},
		"MemberInGroup":   {groupJID, ad(memberPN, 3)},
		"OwnLIDInGroup":   {groupJID, ownLIDAD},
		"OwnPhoneInGroup": {groupJID, ownJID},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := cli.BuildMessageKey(k.chat, k.sender, "ID1")
			require.Empty(t, cmp.Diff(want, messageKey(k.chat, k.sender, "ID1", ownJID.ToNonAD(), ownLID), protocmp.Transform()))
			require.Empty(t, cmp.Diff(cli.BuildRevoke(k.chat, k.sender, "ID1"),
				&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: messageKey(k.chat, k.sender, "ID1", ownJID, ownLID)}},
				protocmp.Transform()))
		})
	}
	t.Run("Reaction", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		b.ready(t)
		got, err := b.conn.build(b.ctx, b.conn.cli, groupJID, &waqtor.OutboundMessage{ID: "R", Content: &waqtor.Reaction{Emoji: "x", TargetID: "ID1", TargetSender: memberPN.String()}})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(cli.BuildReaction(groupJID, memberPN, "ID1", "x"), got, protocmp.Transform(),
			protocmp.IgnoreFields(&waE2E.ReactionMessage{}, "senderTimestampMS")))
	})
	t.Run("Edit", func(t *testing.T) {
		t.Parallel()
		content := &waE2E.Message{Conversation: proto.String("new")}
		require.Empty(t, cmp.Diff(cli.BuildEdit(contactPN, "ID1", content), buildEdit(contactPN, "ID1", content, time.Now()), protocmp.Transform(),
			protocmp.IgnoreFields(&waE2E.ProtocolMessage{}, "timestampMS")))
	})
	t.Run("Poll", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{paired: true})
		got, err := b.conn.buildPoll(b.ctx, contactPN, "P", &waqtor.Poll{Question: "Q", Options: []string{"A", "B"}, MaxSelections: 2})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(cli.BuildPollCreation("Q", []string{"A", "B"}, 2), got, protocmp.Transform(),
			protocmp.IgnoreFields(&waE2E.MessageContextInfo{}, "messageSecret")))
	})
}
