package whatsapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // image.DecodeConfig of GIF
	_ "image/jpeg" // and JPEG
	_ "image/png"  // and PNG
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/waqtor/waqtor"
)

// Send sends one message with the ID the Core chose (whatsmeow's
// SendRequestExtra.ID), so that a retry after a crash or a network failure
// reuses it. Errors:
//
//   - wrapping waqtor.ErrNotReady (a *waqtor.BannedError while banned) when the
//     session is not connected and logged in: nothing was sent;
//   - waqtor.Permanent for what no retry can fix (bad recipient, unsupported
//     media, a refusal by WhatsApp);
//   - anything else (network loss mid-send, timeouts) is retryable with the same
//     ID.
func (c *conn) Send(ctx context.Context, msg *waqtor.OutboundMessage) (*waqtor.SendResult, error) {
	if msg == nil || msg.Content == nil || msg.ID == "" {
		return nil, waqtor.Permanent(fmt.Errorf("%w: message without ID or content", waqtor.ErrInvalidMessage))
	}
	cli, err := c.readyClient()
	if err != nil {
		return nil, err
	}
	to, err := parseChat(msg.Chat)
	if err != nil {
		return nil, waqtor.Permanent(err)
	}
	wm, err := c.build(ctx, cli, to, msg)
	if err != nil {
		return nil, err
	}
	resp, err := cli.SendMessage(ctx, to, wm, whatsmeow.SendRequestExtra{ID: msg.ID})
	if err != nil {
		return nil, classifySendError(err)
	}
	return &waqtor.SendResult{Time: resp.Timestamp}, nil
}

// parseChat parses a normalised chat JID.
func parseChat(chat string) (types.JID, error) {
	norm, err := waqtor.NormalizeChat(chat)
	if err != nil {
		return types.EmptyJID, err
	}
	return types.ParseJID(norm)
}

// classifySendError sorts whatsmeow's send errors into not-ready, permanent and
// retryable ones, keeping the cause for errors.Is.
func classifySendError(err error) error {
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return fmt.Errorf("%w: %w", waqtor.ErrNotReady, err)
	case errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrBroadcastListUnsupported),
		errors.Is(err, whatsmeow.ErrUnknownServer), errors.Is(err, whatsmeow.ErrNotInGroup),
		errors.Is(err, whatsmeow.ErrGroupNotFound), errors.Is(err, whatsmeow.ErrIQBadRequest),
		errors.Is(err, whatsmeow.ErrIQNotAuthorized), errors.Is(err, whatsmeow.ErrIQForbidden),
		errors.Is(err, whatsmeow.ErrIQNotFound), errors.Is(err, whatsmeow.ErrIQNotAcceptable):
		return waqtor.Permanent(fmt.Errorf("whatsapp: send: %w", err))
	case errors.Is(err, whatsmeow.ErrServerReturnedError):
		// "server returned error 479": 4xx is a refusal of this message, except
		// timeouts and rate limits.
		msg := err.Error()
		code, _ := strconv.Atoi(msg[strings.LastIndexByte(msg, ' ')+1:])
		if code >= 400 && code < 500 && code != 408 && code != 429 {
			return waqtor.Permanent(fmt.Errorf("whatsapp: send: %w", err))
		}
	case strings.Contains(err.Error(), "no LID found for"):
		return waqtor.Permanent(fmt.Errorf("whatsapp: send: recipient is not on WhatsApp: %w", err))
	}
	return fmt.Errorf("whatsapp: send: %w", err)
}

// build turns waqtor content into the whatsmeow message to send. Media is
// uploaded here.
func (c *conn) build(ctx context.Context, cli client, to types.JID, msg *waqtor.OutboundMessage) (*waE2E.Message, error) {
	own, ownLID := c.ownJIDs(cli)
	switch v := msg.Content.(type) {
	case *waqtor.Text:
		return buildText(v)
	case *waqtor.Media:
		return c.buildMedia(ctx, cli, v)
	case *waqtor.Location:
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(v.Latitude), DegreesLongitude: proto.Float64(v.Longitude),
			Name: optString(v.Name), Address: optString(v.Address),
		}}, nil
	case *waqtor.Contact:
		card := v.VCard
		if card == "" {
			var err error
			if card, err = waqtor.BuildVCard(v.Name, v.Phone); err != nil {
				return nil, waqtor.Permanent(err)
			}
		}
		return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String(v.Name), Vcard: proto.String(card)}}, nil
	case *waqtor.Poll:
		return c.buildPoll(ctx, to, msg.ID, v)
	case *waqtor.Reaction:
		sender, err := optJID("target_sender", v.TargetSender)
		if err != nil {
			return nil, err
		}
		return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
			Key: messageKey(to, sender, v.TargetID, own, ownLID), Text: proto.String(v.Emoji),
			SenderTimestampMS: proto.Int64(c.e.now().UnixMilli()),
		}}, nil
	case *waqtor.Edit:
		return buildEdit(to, v.TargetID, &waE2E.Message{Conversation: proto.String(v.Text)}, c.e.now()), nil
	case *waqtor.Revoke:
		sender, err := optJID("target_sender", v.TargetSender)
		if err != nil {
			return nil, err
		}
		return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: messageKey(to, sender, v.TargetID, own, ownLID),
		}}, nil
	case *waqtor.Buttons:
		switch c.interactiveMode(v.Mode) {
		case waqtor.InteractiveNative:
			return buildButtons(v), nil
		case waqtor.InteractivePoll:
			if len(v.Buttons) >= 2 {
				return c.buildPoll(ctx, to, msg.ID, v.Poll())
			}
		}
		return &waE2E.Message{Conversation: proto.String(v.TextMenu())}, nil
	case *waqtor.List:
		switch c.interactiveMode(v.Mode) {
		case waqtor.InteractiveNative:
			return buildList(v), nil
		case waqtor.InteractivePoll:
			if p := v.Poll(); len(p.Options) >= 2 {
				return c.buildPoll(ctx, to, msg.ID, p)
			}
		}
		return &waE2E.Message{Conversation: proto.String(v.TextMenu())}, nil
	case *waqtor.PollVote:
		return nil, waqtor.Permanent(fmt.Errorf("%w: poll votes cannot be sent", waqtor.ErrUnsupported))
	}
	return nil, waqtor.Permanent(fmt.Errorf("%w: content type %q", waqtor.ErrUnsupported, msg.Content.ContentType()))
}

func (c *conn) interactiveMode(m waqtor.InteractiveMode) waqtor.InteractiveMode {
	if m == waqtor.InteractiveDefault {
		return c.e.cfg.InteractiveMode
	}
	return m
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

func optJID(field, s string) (types.JID, error) {
	if s == "" {
		return types.EmptyJID, nil
	}
	j, err := parseChat(s)
	if err != nil {
		return types.EmptyJID, waqtor.Permanent(&waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: field, Reason: err.Error()})
	}
	return j, nil
}

func buildText(t *waqtor.Text) (*waE2E.Message, error) {
	if t.Quote == nil && len(t.Mentions) == 0 {
		return &waE2E.Message{Conversation: proto.String(t.Body)}, nil
	}
	ci := &waE2E.ContextInfo{}
	for i, m := range t.Mentions {
		j, err := optJID(fmt.Sprintf("mentions[%d]", i), m)
		if err != nil {
			return nil, err
		}
		ci.MentionedJID = append(ci.MentionedJID, j.String())
	}
	if q := t.Quote; q != nil {
		ci.StanzaID = proto.String(q.ID)
		sender, err := optJID("quote.sender", q.Sender)
		if err != nil {
			return nil, err
		}
		if !sender.IsEmpty() {
			ci.Participant = proto.String(sender.String())
		}
		ci.QuotedMessage = &waE2E.Message{Conversation: proto.String(q.Text)}
	}
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(t.Body), ContextInfo: ci}}, nil
}

// messageKey is whatsmeow's Client.BuildMessageKey without a client: the key of
// message id in chat, written by sender (empty for the account itself).
func messageKey(chat, sender types.JID, id string, own, ownLID types.JID) *waCommon.MessageKey {
	key := &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String(id), RemoteJID: proto.String(chat.String())}
	if !sender.IsEmpty() && sender.User != own.User && sender.User != ownLID.User {
		key.FromMe = proto.Bool(false)
		if chat.Server != types.DefaultUserServer && chat.Server != types.HiddenUserServer && chat.Server != types.MessengerServer {
			key.Participant = proto.String(sender.ToNonAD().String())
		}
	}
	return key
}

// buildEdit is whatsmeow's Client.BuildEdit with the engine's clock.
func buildEdit(chat types.JID, id string, content *waE2E.Message, now time.Time) *waE2E.Message {
	return &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Key:           &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String(id), RemoteJID: proto.String(chat.String())},
		Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
		EditedMessage: content,
		TimestampMS:   proto.Int64(now.UnixMilli()),
	}}}}
}

// buildPoll is whatsmeow's Client.BuildPollCreation with a message secret that
// survives a resend: the options and the secret are stored under the message ID
// before the first send, and a resend with the same ID reuses the secret.
func (c *conn) buildPoll(ctx context.Context, to types.JID, id string, p *waqtor.Poll) (*waE2E.Message, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secret, err := c.e.tables.putPoll(ctx, c.sess.ID, id, to.String(), p.Options, secret)
	if err != nil {
		return nil, err
	}
	selectable := p.MaxSelections
	if selectable == 0 {
		selectable = 1
	}
	opts := make([]*waE2E.PollCreationMessage_Option, len(p.Options))
	for i, o := range p.Options {
		opts[i] = &waE2E.PollCreationMessage_Option{OptionName: proto.String(o)}
	}
	return &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String(p.Question), Options: opts, SelectableOptionsCount: proto.Uint32(uint32(selectable))},
		MessageContextInfo:  &waE2E.MessageContextInfo{MessageSecret: secret},
	}, nil
}

func buildButtons(b *waqtor.Buttons) *waE2E.Message {
	bm := &waE2E.ButtonsMessage{ContentText: proto.String(b.Body), FooterText: optString(b.Footer), HeaderType: waE2E.ButtonsMessage_EMPTY.Enum()}
	for _, btn := range b.Buttons {
		bm.Buttons = append(bm.Buttons, &waE2E.ButtonsMessage_Button{
			ButtonID:   proto.String(btn.ID),
			ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: proto.String(btn.Text)},
			Type:       waE2E.ButtonsMessage_Button_RESPONSE.Enum(),
		})
	}
	return &waE2E.Message{ButtonsMessage: bm}
}

func buildList(l *waqtor.List) *waE2E.Message {
	lm := &waE2E.ListMessage{
		Title: optString(l.Title), Description: proto.String(l.Body), ButtonText: proto.String(l.ButtonText),
		ListType: waE2E.ListMessage_SINGLE_SELECT.Enum(), FooterText: optString(l.Footer),
	}
	for _, s := range l.Sections {
		sec := &waE2E.ListMessage_Section{Title: optString(s.Title)}
		for _, r := range s.Rows {
			sec.Rows = append(sec.Rows, &waE2E.ListMessage_Row{RowID: proto.String(r.ID), Title: proto.String(r.Title), Description: optString(r.Description)})
		}
		lm.Sections = append(lm.Sections, sec)
	}
	return &waE2E.Message{ListMessage: lm}
}

// mediaTypes maps waqtor media kinds to whatsmeow's upload types.
var mediaTypes = map[waqtor.ContentType]whatsmeow.MediaType{
	waqtor.ContentAudio:    whatsmeow.MediaAudio,
	waqtor.ContentDocument: whatsmeow.MediaDocument,
	waqtor.ContentImage:    whatsmeow.MediaImage,
	waqtor.ContentSticker:  whatsmeow.MediaImage,
	waqtor.ContentVideo:    whatsmeow.MediaVideo,
}

// detectMIME returns m.MIME, or the type sniffed from the bytes (and the file
// name for documents), adjusted to what WhatsApp clients expect.
func detectMIME(m *waqtor.Media) string {
	if m.MIME != "" {
		return m.MIME
	}
	ct := http.DetectContentType(m.Data)
	base, _, _ := mime.ParseMediaType(ct)
	if base == "" {
		base = "application/octet-stream"
	}
	switch m.Kind {
	case waqtor.ContentAudio:
		switch {
		case base == "application/ogg" || m.Voice:
			return "audio/ogg; codecs=opus"
		case strings.HasPrefix(base, "video/"): // an .m4a sniffs as video/mp4
			return "audio/" + strings.TrimPrefix(base, "video/")
		}
	case waqtor.ContentSticker:
		return "image/webp"
	case waqtor.ContentDocument:
		if base == "application/octet-stream" || base == "text/plain" {
			if byExt := mime.TypeByExtension(strings.ToLower(filepath.Ext(m.FileName))); byExt != "" {
				b, _, _ := mime.ParseMediaType(byExt)
				return b
			}
		}
	}
	return base
}

// checkMIME refuses media whose type WhatsApp would not show as its kind.
func checkMIME(m *waqtor.Media, typ string) error {
	want := map[waqtor.ContentType]string{waqtor.ContentImage: "image/", waqtor.ContentVideo: "video/", waqtor.ContentAudio: "audio/"}[m.Kind]
	if m.Kind == waqtor.ContentSticker && typ != "image/webp" {
		want = "image/webp"
	}
	if want != "" && !strings.HasPrefix(typ, want) {
		return waqtor.Permanent(&waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "mime",
			Reason: fmt.Sprintf("%s media must be %s*, not %s", m.Kind, want, typ)})
	}
	return nil
}

func (c *conn) buildMedia(ctx context.Context, cli client, m *waqtor.Media) (*waE2E.Message, error) {
	mt, ok := mediaTypes[m.Kind]
	if !ok {
		return nil, waqtor.Permanent(&waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "kind", Reason: fmt.Sprintf("unknown media kind %q", m.Kind)})
	}
	if len(m.Data) == 0 {
		return nil, waqtor.Permanent(&waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "media", Reason: "is empty"})
	}
	if int64(len(m.Data)) > c.e.cfg.MaxMediaBytes {
		return nil, waqtor.Permanent(fmt.Errorf("%w: %d bytes, the whatsapp engine's limit is %d", waqtor.ErrMediaTooLarge, len(m.Data), c.e.cfg.MaxMediaBytes))
	}
	typ := detectMIME(m)
	if err := checkMIME(m, typ); err != nil {
		return nil, err
	}
	up, err := cli.Upload(ctx, m.Data, mt)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: upload %s: %w", m.Kind, err) // retryable: the next attempt uploads again
	}
	return mediaMessage(m, typ, up), nil
}

// mediaMessage builds the message of uploaded media.
func mediaMessage(m *waqtor.Media, typ string, up whatsmeow.UploadResponse) *waE2E.Message {
	caption := optString(m.Caption)
	switch m.Kind {
	case waqtor.ContentImage:
		im := &waE2E.ImageMessage{Caption: caption, Mimetype: proto.String(typ), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength)}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(m.Data)); err == nil {
			im.Width, im.Height = proto.Uint32(uint32(cfg.Width)), proto.Uint32(uint32(cfg.Height))
		}
		return &waE2E.Message{ImageMessage: im}
	case waqtor.ContentSticker:
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String(typ), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength)}}
	case waqtor.ContentVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: caption, Mimetype: proto.String(typ), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength)}}
	case waqtor.ContentAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(m.Voice), Mimetype: proto.String(typ), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength)}}
	default: // document
		name := m.FileName
		if name == "" {
			name = "file"
			if exts, _ := mime.ExtensionsByType(typ); len(exts) > 0 {
				name += exts[0]
			}
		}
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: caption, FileName: proto.String(name), Title: proto.String(name),
			Mimetype: proto.String(typ), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength)}}
	}
}

// CheckNumbers asks WhatsApp which numbers have an account. The LID comes from
// whatsmeow's LID map when it knows the number.
func (c *conn) CheckNumbers(ctx context.Context, phones []string) ([]waqtor.NumberCheck, error) {
	out := make([]waqtor.NumberCheck, len(phones))
	query := make([]string, len(phones))
	for i, p := range phones {
		e164, err := waqtor.ParsePhone(p)
		if err != nil {
			return nil, err
		}
		out[i].Phone, query[i] = e164, e164
	}
	if len(phones) == 0 {
		return out, nil
	}
	cli, err := c.readyClient()
	if err != nil {
		return nil, err
	}
	resp, err := cli.IsOnWhatsApp(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: check numbers: %w", err)
	}
	byPhone := make(map[string]types.IsOnWhatsAppResponse, len(resp))
	for _, r := range resp {
		if p, err := waqtor.ParsePhone(r.Query); err == nil {
			byPhone[p] = r
		}
	}
	for i := range out {
		r, ok := byPhone[out[i].Phone]
		if !ok || !r.IsIn {
			continue
		}
		a := c.resolve(ctx, cli, r.JID, types.EmptyJID)
		out[i].OnWhatsApp, out[i].JID, out[i].LID = true, a.JID, a.LID
	}
	return out, nil
}

// MarkRead sends read receipts for messages of chat (sender is the author in
// groups).
func (c *conn) MarkRead(ctx context.Context, chat, sender string, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	cj, err := parseChat(chat)
	if err != nil {
		return err
	}
	sj, err := optJID("sender", sender)
	if err != nil {
		return err
	}
	cli, err := c.readyClient()
	if err != nil {
		return err
	}
	if err := cli.MarkRead(ctx, ids, at, c.dmAddress(ctx, cli, cj), sj); err != nil {
		return fmt.Errorf("whatsapp: mark read: %w", err)
	}
	return nil
}

// SetPresence shows typing, recording or paused in chat.
func (c *conn) SetPresence(ctx context.Context, chat string, p waqtor.ChatPresence) error {
	cj, err := parseChat(chat)
	if err != nil {
		return err
	}
	state, media := types.ChatPresenceComposing, types.ChatPresenceMediaText
	switch p {
	case waqtor.PresenceTyping:
	case waqtor.PresenceRecording:
		media = types.ChatPresenceMediaAudio
	case waqtor.PresencePaused:
		state = types.ChatPresencePaused
	default:
		return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "presence", Reason: fmt.Sprintf("must be typing, recording or paused, not %q", p)}
	}
	cli, err := c.readyClient()
	if err != nil {
		return err
	}
	if err := cli.SendChatPresence(ctx, c.dmAddress(ctx, cli, cj), state, media); err != nil {
		return fmt.Errorf("whatsapp: chat presence: %w", err)
	}
	return nil
}

// dmAddress returns the address whatsmeow's SendMessage would use for a chat:
// on accounts migrated to LID addressing, a phone JID becomes its LID when the
// LID map knows it, so that receipts and typing go where the chat lives.
func (c *conn) dmAddress(ctx context.Context, cli client, chat types.JID) types.JID {
	if chat.Server != types.DefaultUserServer || !cli.LIDMigrated() {
		return chat
	}
	if lid, err := cli.LIDForPN(ctx, chat); err == nil && !lid.IsEmpty() {
		return lid.ToNonAD()
	}
	return chat
}

// download fetches inbound media described by m.Ref.
func (c *conn) download(ctx context.Context, m *waqtor.Media) ([]byte, error) {
	if m == nil || len(m.Ref) == 0 {
		return nil, fmt.Errorf("%w: media has no download reference", waqtor.ErrInvalidMessage)
	}
	var ref mediaRef
	if err := json.Unmarshal(m.Ref, &ref); err != nil || ref.DirectPath == "" || len(ref.MediaKey) == 0 {
		return nil, fmt.Errorf("%w: media reference is not the whatsapp engine's", waqtor.ErrInvalidMessage)
	}
	mt, ok := map[string]whatsmeow.MediaType{"image": whatsmeow.MediaImage, "video": whatsmeow.MediaVideo,
		"audio": whatsmeow.MediaAudio, "document": whatsmeow.MediaDocument}[ref.MediaType]
	if !ok {
		return nil, fmt.Errorf("%w: unknown media type %q", waqtor.ErrInvalidMessage, ref.MediaType)
	}
	if int64(ref.FileLength) > c.e.cfg.MaxMediaBytes {
		return nil, fmt.Errorf("%w: %d bytes, the whatsapp engine's limit is %d", waqtor.ErrMediaTooLarge, ref.FileLength, c.e.cfg.MaxMediaBytes)
	}
	cli, err := c.readyClient()
	if err != nil {
		return nil, err
	}
	data, err := cli.DownloadMediaWithPath(ctx, ref.DirectPath, ref.FileEncSHA256, ref.FileSHA256, ref.MediaKey, int(ref.FileLength), mt, "")
	if errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) || errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410) {
		// WhatsApp's media hosts keep media for a limited time.
		return nil, fmt.Errorf("%w: whatsapp: download media: %w", waqtor.ErrMediaUnavailable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("whatsapp: download media: %w", err)
	}
	return data, nil
}
