package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/waqtor/waqtor"
)

// onMessage maps an inbound message and has the Core persist it before the
// handler returns: whatsmeow acknowledges the message to WhatsApp only when it
// returns true, so a failed (or crashed) insert means redelivery, not loss.
// Messages waqtor does not represent (protocol messages, history sync, ...) are
// acknowledged without a call.
func (c *conn) onMessage(cli client, evt *events.Message) bool {
	if c.life.Err() != nil {
		return false // closing: leave it to WhatsApp to redeliver
	}
	if evt.Info.Chat.Server == types.BroadcastServer && evt.Info.Chat.User == types.StatusBroadcastJID.User && !c.e.cfg.IncludeStatusBroadcasts {
		return true
	}
	ctx, cancel := context.WithTimeout(c.life, c.e.cfg.InboundTimeout)
	defer cancel()
	m := c.mapMessage(ctx, cli, evt)
	if m == nil {
		c.log.Debug("WhatsApp message without a waqtor content type; acknowledged", slog.String("id", evt.Info.ID))
		return true
	}
	if err := c.h.HandleMessage(ctx, m); err != nil {
		c.log.Error("Could not store an inbound WhatsApp message; WhatsApp will deliver it again",
			slog.String("id", m.ID), slog.Any("error", err))
		return false
	}
	return true
}

// mapMessage returns the InboundMessage of evt, or nil when waqtor has no
// content type for it.
func (c *conn) mapMessage(ctx context.Context, cli client, evt *events.Message) *waqtor.InboundMessage {
	content := c.mapContent(ctx, cli, evt)
	if content == nil {
		return nil
	}
	info := &evt.Info
	chat, sender := c.addresses(ctx, cli, &info.MessageSource)
	return &waqtor.InboundMessage{
		Chat:     chat,
		Content:  content,
		FromMe:   info.IsFromMe,
		ID:       info.ID,
		IsGroup:  info.Chat.Server == types.GroupServer,
		PushName: info.PushName,
		Sender:   sender,
		Time:     info.Timestamp,
	}
}

func (c *conn) mapContent(ctx context.Context, cli client, evt *events.Message) waqtor.Content {
	msg := evt.Message
	switch {
	case msg == nil:
		return nil
	case msg.ProtocolMessage != nil:
		return c.mapProtocol(ctx, cli, evt, msg.ProtocolMessage)
	case msg.Conversation != nil:
		return &waqtor.Text{Body: msg.GetConversation()}
	case msg.ExtendedTextMessage != nil:
		ext := msg.ExtendedTextMessage
		t := &waqtor.Text{Body: ext.GetText()}
		c.applyContext(ctx, cli, t, ext.GetContextInfo())
		return t
	case msg.ImageMessage != nil:
		m := msg.ImageMessage
		return newMedia(waqtor.ContentImage, "image", m, m.GetCaption(), m.GetMimetype(), "", m.GetFileLength(), false)
	case msg.VideoMessage != nil:
		m := msg.VideoMessage
		return newMedia(waqtor.ContentVideo, "video", m, m.GetCaption(), m.GetMimetype(), "", m.GetFileLength(), false)
	case msg.PtvMessage != nil:
		m := msg.PtvMessage
		return newMedia(waqtor.ContentVideo, "video", m, m.GetCaption(), m.GetMimetype(), "", m.GetFileLength(), false)
	case msg.AudioMessage != nil:
		m := msg.AudioMessage
		return newMedia(waqtor.ContentAudio, "audio", m, "", m.GetMimetype(), "", m.GetFileLength(), m.GetPTT())
	case msg.DocumentMessage != nil:
		m := msg.DocumentMessage
		return newMedia(waqtor.ContentDocument, "document", m, m.GetCaption(), m.GetMimetype(), m.GetFileName(), m.GetFileLength(), false)
	case msg.StickerMessage != nil:
		m := msg.StickerMessage
		return newMedia(waqtor.ContentSticker, "image", m, "", m.GetMimetype(), "", m.GetFileLength(), false)
	case msg.LocationMessage != nil:
		l := msg.LocationMessage
		return &waqtor.Location{Address: l.GetAddress(), Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude(), Name: l.GetName()}
	case msg.LiveLocationMessage != nil:
		l := msg.LiveLocationMessage
		return &waqtor.Location{Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude(), Name: l.GetCaption()}
	case msg.ContactMessage != nil:
		return contactContent(msg.ContactMessage.GetDisplayName(), msg.ContactMessage.GetVcard())
	case msg.ContactsArrayMessage != nil:
		arr := msg.ContactsArrayMessage
		var cards []string
		name := arr.GetDisplayName()
		for _, ct := range arr.GetContacts() {
			cards = append(cards, ct.GetVcard())
			if name == "" {
				name = ct.GetDisplayName()
			}
		}
		if len(cards) == 0 {
			return nil
		}
		return contactContent(name, strings.Join(cards, "\n"))
	case msg.PollCreationMessage != nil || msg.PollCreationMessageV2 != nil || msg.PollCreationMessageV3 != nil || msg.PollCreationMessageV5 != nil:
		return c.mapPoll(ctx, evt, firstPoll(msg))
	case msg.PollUpdateMessage != nil:
		return c.mapPollVote(ctx, cli, evt)
	case msg.ReactionMessage != nil:
		r := msg.ReactionMessage
		return &waqtor.Reaction{Emoji: r.GetText(), TargetID: r.GetKey().GetID(), TargetSender: c.keySender(ctx, cli, &evt.Info, r.GetKey())}
	case msg.ButtonsResponseMessage != nil:
		r := msg.ButtonsResponseMessage
		return c.replyText(ctx, cli, r.GetSelectedDisplayText(), r.GetSelectedButtonID(), r.GetContextInfo())
	case msg.ListResponseMessage != nil:
		r := msg.ListResponseMessage
		return c.replyText(ctx, cli, r.GetTitle(), r.GetSingleSelectReply().GetSelectedRowID(), r.GetContextInfo())
	case msg.TemplateButtonReplyMessage != nil:
		r := msg.TemplateButtonReplyMessage
		return c.replyText(ctx, cli, r.GetSelectedDisplayText(), r.GetSelectedID(), r.GetContextInfo())
	case msg.InteractiveResponseMessage != nil:
		r := msg.InteractiveResponseMessage
		return c.replyText(ctx, cli, r.GetBody().GetText(), "", r.GetContextInfo())
	}
	return nil
}

func firstPoll(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{msg.PollCreationMessage, msg.PollCreationMessageV2, msg.PollCreationMessageV3, msg.PollCreationMessageV5} {
		if p != nil {
			return p
		}
	}
	return nil
}

// mapProtocol maps revokes and edits; other protocol messages (history sync,
// app state keys, ephemeral settings) are whatsmeow's business.
func (c *conn) mapProtocol(ctx context.Context, cli client, evt *events.Message, pm *waE2E.ProtocolMessage) waqtor.Content {
	switch pm.GetType() {
	case waE2E.ProtocolMessage_REVOKE:
		return &waqtor.Revoke{TargetID: pm.GetKey().GetID(), TargetSender: c.keySender(ctx, cli, &evt.Info, pm.GetKey())}
	case waE2E.ProtocolMessage_MESSAGE_EDIT:
		return &waqtor.Edit{TargetID: pm.GetKey().GetID(), Text: textOf(pm.GetEditedMessage())}
	}
	return nil
}

// textOf returns the text or caption of a message.
func textOf(m *waE2E.Message) string {
	switch {
	case m == nil:
		return ""
	case m.Conversation != nil:
		return m.GetConversation()
	case m.ExtendedTextMessage != nil:
		return m.ExtendedTextMessage.GetText()
	case m.ImageMessage != nil:
		return m.ImageMessage.GetCaption()
	case m.VideoMessage != nil:
		return m.VideoMessage.GetCaption()
	case m.DocumentMessage != nil:
		return m.DocumentMessage.GetCaption()
	}
	return ""
}

// applyContext adds the quote and mentions of a text message, with LIDs resolved
// to phone JIDs where the LID map knows them.
func (c *conn) applyContext(ctx context.Context, cli client, t *waqtor.Text, ci *waE2E.ContextInfo) {
	if ci == nil {
		return
	}
	for _, m := range ci.GetMentionedJID() {
		if j, err := types.ParseJID(m); err == nil {
			t.Mentions = append(t.Mentions, c.resolve(ctx, cli, j, types.EmptyJID).JID)
		}
	}
	if id := ci.GetStanzaID(); id != "" {
		q := &waqtor.Quote{ID: id, Text: textOf(ci.GetQuotedMessage())}
		if p, err := types.ParseJID(ci.GetParticipant()); err == nil && !p.IsEmpty() {
			q.Sender = c.resolve(ctx, cli, p, types.EmptyJID).JID
		}
		t.Quote = q
	}
}

// replyText maps a reply to native buttons or a list: a Text with the chosen
// label, quoting the menu, as a text-menu reply would look.
func (c *conn) replyText(ctx context.Context, cli client, label, id string, ci *waE2E.ContextInfo) waqtor.Content {
	t := &waqtor.Text{Body: label}
	if t.Body == "" {
		t.Body = id
	}
	c.applyContext(ctx, cli, t, ci)
	return t
}

// vcardWAID finds the phone number in the waid parameter of a vCard.
var vcardWAID = regexp.MustCompile(`waid=(\d{7,15})`)

func contactContent(name, vcard string) *waqtor.Contact {
	ct := &waqtor.Contact{Name: name, VCard: vcard}
	if m := vcardWAID.FindStringSubmatch(vcard); m != nil {
		ct.Phone = "+" + m[1]
	}
	return ct
}

// mediaRef is what Media.Ref holds: everything needed to download and decrypt
// the media later, without the message.
type mediaRef struct {
	DirectPath    string `json:"direct_path"`
	FileEncSHA256 []byte `json:"file_enc_sha256"`
	FileLength    uint64 `json:"file_length"`
	FileSHA256    []byte `json:"file_sha256"`
	MediaKey      []byte `json:"media_key"`
	MediaType     string `json:"media_type"` // image, video, audio or document
	URL           string `json:"url,omitempty"`
}

type downloadable interface {
	GetDirectPath() string
	GetFileEncSHA256() []byte
	GetFileSHA256() []byte
	GetMediaKey() []byte
	GetURL() string
}

func newMedia(kind waqtor.ContentType, mediaType string, d downloadable, caption, mime, fileName string, size uint64, voice bool) *waqtor.Media {
	ref, _ := json.Marshal(mediaRef{
		DirectPath: d.GetDirectPath(), FileEncSHA256: d.GetFileEncSHA256(), FileLength: size, FileSHA256: d.GetFileSHA256(),
		MediaKey: d.GetMediaKey(), MediaType: mediaType, URL: d.GetURL(),
	})
	return &waqtor.Media{Caption: caption, FileName: fileName, Kind: kind, MIME: mime, Ref: ref, SHA256: d.GetFileSHA256(), Size: int64(size), Voice: voice}
}

// mapPoll maps a poll creation and keeps its options, so that votes on it can be
// turned back into option texts.
func (c *conn) mapPoll(ctx context.Context, evt *events.Message, p *waE2E.PollCreationMessage) waqtor.Content {
	poll := &waqtor.Poll{Question: p.GetName(), MaxSelections: int(p.GetSelectableOptionsCount())}
	for _, o := range p.GetOptions() {
		poll.Options = append(poll.Options, o.GetOptionName())
	}
	if _, err := c.e.tables.putPoll(ctx, c.sess.ID, evt.Info.ID, evt.Info.Chat.ToNonAD().String(), poll.Options, nil); err != nil {
		c.log.Warn("Could not keep the options of an inbound poll; votes on it will carry option hashes", slog.Any("error", err))
	}
	return poll
}

// mapPollVote decrypts a vote and maps the selected option hashes to the texts
// of the poll's options. A vote that cannot be decrypted (the poll's secret is
// unknown) is logged and acknowledged: redelivery would not make it readable.
func (c *conn) mapPollVote(ctx context.Context, cli client, evt *events.Message) waqtor.Content {
	pollID := evt.Message.GetPollUpdateMessage().GetPollCreationMessageKey().GetID()
	vote, err := cli.DecryptPollVote(ctx, evt)
	if err != nil {
		c.log.Warn("Could not decrypt a poll vote", slog.String("id", evt.Info.ID), slog.String("poll", pollID), slog.Any("error", err))
		return nil
	}
	options, err := c.e.tables.pollOptions(ctx, c.sess.ID, pollID)
	if err != nil {
		c.log.Warn("Could not read the options of a poll", slog.String("poll", pollID), slog.Any("error", err))
	}
	byHash := make(map[[32]byte]string, len(options))
	for _, o := range options {
		byHash[sha256.Sum256([]byte(o))] = o
	}
	pv := &waqtor.PollVote{PollID: pollID, Selected: []string{}}
	for _, h := range vote.GetSelectedOptions() {
		var k [32]byte
		copy(k[:], h)
		if o, ok := byHash[k]; ok && len(h) == 32 {
			pv.Selected = append(pv.Selected, o)
		} else {
			pv.Selected = append(pv.Selected, "sha256:"+hex.EncodeToString(h))
		}
	}
	return pv
}

// keySender returns the author of the message a reaction or revoke points at,
// as a phone JID where known. Keys are written from the point of view of the
// message's sender: FromMe means "sent by the reactor".
func (c *conn) keySender(ctx context.Context, cli client, info *types.MessageInfo, key *waCommon.MessageKey) string {
	if p := key.GetParticipant(); p != "" {
		if j, err := types.ParseJID(p); err == nil {
			return c.resolve(ctx, cli, j, types.EmptyJID).JID
		}
	}
	switch {
	case key.GetFromMe():
		return c.senderAddress(ctx, cli, &info.MessageSource).JID
	case info.IsGroup:
		return ""
	case info.IsFromMe: // our other device reacted to the contact's message
		return c.resolve(ctx, cli, info.Chat, info.RecipientAlt).JID
	default: // the contact reacted to our message
		return c.ownAddress(ctx, cli).JID
	}
}

// addresses returns the chat and the sender of a message or receipt, each with
// its phone JID and LID where WhatsApp or the LID map gives them.
func (c *conn) addresses(ctx context.Context, cli client, src *types.MessageSource) (chat, sender waqtor.Address) {
	sender = c.senderAddress(ctx, cli, src)
	switch {
	case src.Chat.Server == types.GroupServer || src.Chat.Server == types.NewsletterServer:
		chat = waqtor.Address{JID: src.Chat.ToNonAD().String()}
	case src.Chat.Server == types.BroadcastServer:
		if src.IsIncomingBroadcast() && src.Chat.User != types.StatusBroadcastJID.User {
			chat = sender // a broadcast-list message shows in the chat with its sender
		} else {
			chat = waqtor.Address{JID: src.Chat.String()}
		}
	case src.IsFromMe:
		chat = c.resolve(ctx, cli, src.Chat, src.RecipientAlt)
	case src.Chat.User == src.Sender.User:
		chat = sender
	default:
		chat = c.resolve(ctx, cli, src.Chat, types.EmptyJID)
	}
	return chat, sender
}

func (c *conn) senderAddress(ctx context.Context, cli client, src *types.MessageSource) waqtor.Address {
	if src.IsFromMe {
		return c.ownAddress(ctx, cli)
	}
	return c.resolve(ctx, cli, src.Sender, src.SenderAlt)
}

func (c *conn) ownAddress(ctx context.Context, cli client) waqtor.Address {
	pn, lid := c.ownJIDs(cli)
	if pn.IsEmpty() {
		return c.resolve(ctx, cli, lid, types.EmptyJID)
	}
	return c.resolve(ctx, cli, pn, lid)
}

// resolve returns the Address of a user: its phone JID as JID (and Phone) when
// known, its LID, from the JIDs WhatsApp sent or else from whatsmeow's LID map.
// Other JIDs (groups, newsletters, bots) are returned as they are.
func (c *conn) resolve(ctx context.Context, cli client, j, alt types.JID) waqtor.Address {
	j, alt = canonicalUser(j.ToNonAD()), canonicalUser(alt.ToNonAD())
	var pn, lid types.JID
	switch j.Server {
	case types.DefaultUserServer:
		pn = j
		if alt.Server == types.HiddenUserServer {
			lid = alt
		} else if l, err := cli.LIDForPN(ctx, pn); err != nil {
			c.log.Debug("LID lookup failed", slog.String("jid", pn.String()), slog.Any("error", err))
		} else {
			lid = l.ToNonAD()
		}
	case types.HiddenUserServer:
		lid = j
		if alt.Server == types.DefaultUserServer {
			pn = alt
		} else if p, err := cli.PNForLID(ctx, lid); err != nil {
			c.log.Debug("Phone number lookup failed", slog.String("lid", lid.String()), slog.Any("error", err))
		} else {
			pn = p.ToNonAD()
		}
	case "":
		return waqtor.Address{}
	default:
		return waqtor.Address{JID: j.String()}
	}
	a := waqtor.Address{}
	if !lid.IsEmpty() {
		a.LID = lid.String()
	}
	if !pn.IsEmpty() {
		a.JID, a.Phone = pn.String(), "+"+pn.User
	} else {
		a.JID = a.LID
	}
	return a
}

func lidString(j types.JID) string {
	if j.IsEmpty() {
		return ""
	}
	return j.ToNonAD().String()
}

func canonicalUser(j types.JID) types.JID {
	switch j.Server {
	case types.HostedServer:
		j.Server = types.DefaultUserServer
	case types.HostedLIDServer:
		j.Server = types.HiddenUserServer
	}
	return j
}

// onReceipt applies delivery, read and played receipts of messages this session
// sent. Like messages, a receipt is acknowledged only after the Core stored it.
// Receipts from the account's own devices are ignored.
func (c *conn) onReceipt(cli client, evt *events.Receipt) bool {
	var typ waqtor.ReceiptType
	switch evt.Type {
	case types.ReceiptTypeDelivered:
		typ = waqtor.ReceiptDelivered
	case types.ReceiptTypeRead:
		typ = waqtor.ReceiptRead
	case types.ReceiptTypePlayed:
		typ = waqtor.ReceiptPlayed
	default:
		return true
	}
	if evt.IsFromMe {
		return true
	}
	if c.life.Err() != nil {
		return false // closing: leave it to WhatsApp to redeliver
	}
	ctx, cancel := context.WithTimeout(c.life, c.e.cfg.InboundTimeout)
	defer cancel()
	chat, sender := c.addresses(ctx, cli, &evt.MessageSource)
	r := &waqtor.Receipt{Chat: chat, IDs: evt.MessageIDs, Sender: sender, Time: evt.Timestamp, Type: typ}
	if err := c.h.HandleReceipt(ctx, r); err != nil {
		c.log.Error("Could not apply a WhatsApp receipt; WhatsApp will deliver it again", slog.Any("ids", evt.MessageIDs), slog.Any("error", err))
		return false
	}
	return true
}

// onChatPresence passes typing notifications to a PresenceHandler, off
// whatsmeow's goroutine; under load they are dropped.
func (c *conn) onChatPresence(cli client, evt *events.ChatPresence) {
	if c.ph == nil {
		return
	}
	state := waqtor.PresencePaused
	if evt.State == types.ChatPresenceComposing {
		state = waqtor.PresenceTyping
		if evt.Media == types.ChatPresenceMediaAudio {
			state = waqtor.PresenceRecording
		}
	}
	ctx, cancel := context.WithTimeout(c.life, c.e.cfg.InboundTimeout)
	defer cancel()
	chat, sender := c.addresses(ctx, cli, &evt.MessageSource)
	p := &waqtor.InboundPresence{Chat: chat, Sender: sender, State: state, Time: c.e.now()}
	c.out.push(true, func(ctx context.Context) { c.ph.HandlePresence(ctx, p) })
}
