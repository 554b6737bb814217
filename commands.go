package waqtor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/waqtor/waqtor/internal/store"
)

// SendOpts are optional per-call settings of the send commands.
type SendOpts struct {
	// Consent names the consent a send needs: with ConsentMarketing
	// (campaigns set it), a 1:1 contact opted out of marketing or of all is
	// refused with an *OptedOutError (ErrOptedOut), even when Transactional;
	// with ConsentAll, one opted out of all. Groups, broadcasts and
	// amendments of existing messages (reactions, edits, revocations) are
	// never checked. Defaults to "": only the rule of Transactional applies.
	Consent ConsentScope
	// IdempotencyKey makes a send safe to retry: a second send with the same key
	// on the same session returns the first send's message and sends nothing
	// (nor downloads media from a URL again). The key is bound to the request it
	// was first used with (chat, content, media bytes or source): reusing it for
	// another request fails with ErrIdempotencyKeyReused. At most 255 printable
	// characters. Defaults to none.
	IdempotencyKey string
	// MessageID is the WhatsApp message ID to send under, chosen by the caller
	// so that it can be stored before the send (a campaign records it with its
	// recipient) and a send repeated after a crash goes out under the same ID.
	// 8 to 64 upper-case letters and digits; [NewMessageID] makes one of the
	// shape WhatsApp uses. With an IdempotencyKey, a repeated send returns the
	// first one's message; without one, an ID this session has stored already
	// fails with ErrDuplicateMessageID. Defaults to a new random ID.
	MessageID string
	// Transactional marks a message the contact expects (an order update, a
	// one-time code, an answer to the contact's own message): it is sent even
	// to a contact opted out of all. Without it, a send to a 1:1 contact
	// opted out of all fails with an *OptedOutError (ErrOptedOut) and stores
	// nothing. The check runs in the transaction that stores the message, so
	// a message stored after an opt-out committed is always refused; an
	// idempotent replay of a message stored before it still returns that
	// message. Defaults to false.
	Transactional bool
}

// MaxIdempotencyKeyLength is the longest accepted idempotency key.
const MaxIdempotencyKeyLength = 255

// NewMessageID returns a new random message ID of the shape WhatsApp Web uses,
// for SendOpts.MessageID.
func NewMessageID() string { return newMessageID() }

func validateMessageID(id string) error {
	if len(id) < 8 || len(id) > 64 {
		return fieldErr(ErrInvalidMessage, "message_id", "must be 8 to 64 characters long")
	}
	for _, r := range id {
		if (r < '0' || r > '9') && (r < 'A' || r > 'Z') {
			return fieldErr(ErrInvalidMessage, "message_id", "may hold only upper-case letters A-Z and digits")
		}
	}
	return nil
}

func newMessageID() string {
	// The shape WhatsApp Web uses (and whatsmeow's GenerateMessageID): "3EB0"
	// and 18 upper-case hex digits.
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// Send sends content to chat (a phone number or a JID) on a session and returns
// the stored message.
//
// The message ID is chosen and the message stored as pending before the engine is
// asked to send, so a send interrupted by a crash is retried after restart with
// the same ID. When the engine fails for a transient reason (network loss), the
// message stays pending and is retried every Config.RetryInterval; the returned
// message then has Status StatusPending and Error set. When the failure is
// permanent the message is marked failed and the error is returned.
//
// Errors before anything is stored wrap ErrSessionNotFound, ErrInvalidSessionID,
// ErrInvalidPhone, ErrInvalidMessage, ErrNotReady (the session is not connected
// and logged in), ErrMediaTooLarge, ErrIdempotencyKeyReused or ErrOptedOut (the
// contact opted out: see SendOpts.Transactional and SendOpts.Consent).
func (c *Core) Send(ctx context.Context, sessionID, chat string, content Content, opts *SendOpts) (*Message, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	return c.send(ctx, sessionID, chat, content, opts)
}

func (c *Core) send(ctx context.Context, sessionID, chat string, content Content, opts *SendOpts) (*Message, error) {
	req, err := c.prepareSend(ctx, sessionID, chat, opts)
	if err != nil {
		return nil, err
	}
	if err := c.checkContent(content); err != nil {
		return nil, err
	}
	if req.hash, err = contentRequestHash(req.s.id, req.jid, content); err != nil {
		return nil, err
	}
	return c.sendPrepared(ctx, req, content)
}

// sendRequest is a send's resolved session, chat and options.
type sendRequest struct {
	s    *session
	jid  string
	key  string // idempotency key, or ""
	id   string // caller-chosen message ID, or ""
	hash string // the request's fingerprint, set by the caller of prepareSend

	contact       string       // the chat's consent key (consentContact), "" when not a person
	consent       ConsentScope // SendOpts.Consent
	transactional bool         // SendOpts.Transactional
}

// prepareSend resolves the session, the chat and the options of a send.
func (c *Core) prepareSend(ctx context.Context, sessionID, chat string, opts *SendOpts) (*sendRequest, error) {
	s, err := c.session(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	jid, err := NormalizeChat(chat)
	if err != nil {
		return nil, err
	}
	req := &sendRequest{s: s, jid: jid, contact: consentContact(jid)}
	if opts != nil {
		req.key, req.id = opts.IdempotencyKey, opts.MessageID
		req.consent, req.transactional = opts.Consent, opts.Transactional
		if req.consent != "" && !req.consent.Valid() {
			return nil, fieldErr(ErrInvalidMessage, "consent", "must be %q, %q or empty, not %q", ConsentMarketing, ConsentAll, req.consent)
		}
		if err := validateIdempotencyKey(req.key); err != nil {
			return nil, err
		}
		if req.id != "" {
			if err := validateMessageID(req.id); err != nil {
				return nil, err
			}
		}
	}
	return req, nil
}

// fingerprint returns the request hash of a send: its content's hash, bound
// to the caller-chosen message ID when there is one.
func (r *sendRequest) fingerprint(contentHash string) string {
	if r.id == "" {
		return contentHash
	}
	return sha256Hex([]byte(contentHash + "|message_id=" + r.id))
}

// checkContent validates outbound content and the media size limit.
func (c *Core) checkContent(content Content) error {
	if err := ValidateContent(content); err != nil {
		return err
	}
	if m, ok := content.(*Media); ok && int64(len(m.Data)) > c.cfg.MaxMediaBytes {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrMediaTooLarge, len(m.Data), c.cfg.MaxMediaBytes)
	}
	return nil
}

// sendPrepared stores and sends validated content, or returns the message an
// earlier send with the same idempotency key made. hash fingerprints the
// request (see contentRequestHash).
func (c *Core) sendPrepared(ctx context.Context, req *sendRequest, content Content) (*Message, error) {
	s, jid, key, hash := req.s, req.jid, req.key, req.fingerprint(req.hash)
	if key != "" {
		if prev, err := c.replay(ctx, s, key, hash); err == nil || !errors.Is(err, ErrMessageNotFound) {
			return prev, err
		}
	}
	conn, err := s.readyConn()
	if err != nil {
		return nil, err
	}
	// Checked early, before the quota and any media download, and again
	// where the message is stored.
	consent := req.consentScope(content.ContentType())
	if err := c.checkConsent(ctx, nil, s.tenant, req.contact, consent); err != nil {
		return nil, consentErr(err)
	}
	if err := c.quota.take(s.tenant); err != nil {
		return nil, err
	}
	content, err = c.completeContent(ctx, s, jid, content)
	if err != nil {
		return nil, err
	}
	data, err := MarshalContent(content)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	now := c.now().UTC()
	id := req.id
	if id == "" {
		id = newMessageID()
	}
	row := &store.Message{SessionID: s.key, Chat: jid, ID: id, TenantID: s.tenant, Direction: store.DirectionOut,
		Type: string(content.ContentType()), Content: string(data), Status: string(StatusPending), IdempotencyKey: key,
		Time: now, CreatedAt: now, UpdatedAt: now}
	if key != "" {
		row.RequestHash = hash
	}
	if !s.claim(row.ID) {
		if req.id != "" {
			return nil, fmt.Errorf("%w: %s is being sent already", ErrDuplicateMessageID, row.ID)
		}
		return nil, fmt.Errorf("waqtor: message ID collision")
	}
	defer s.release(row.ID)
	if c.sendHook != nil {
		c.sendHook()
	}
	err = c.store.InTx(ctx, func(tx *sql.Tx) error {
		if err := c.checkConsent(ctx, tx, s.tenant, req.contact, consent); err != nil {
			return err
		}
		if err := store.InsertMessage(ctx, tx, row); err != nil {
			return err
		}
		if m, ok := content.(*Media); ok {
			return store.PutOutboxMedia(ctx, tx, s.key, row.ID, m.Data)
		}
		return nil
	})
	if errors.Is(err, store.ErrDuplicate) && key != "" {
		// A concurrent send with the same key won the race (or, with a
		// caller-chosen ID, the ID is taken: replay tells which).
		if prev, rerr := c.replay(ctx, s, key, hash); !errors.Is(rerr, ErrMessageNotFound) {
			return prev, rerr
		}
	}
	if errors.Is(err, store.ErrDuplicate) && req.id != "" {
		return nil, fmt.Errorf("%w: %s", ErrDuplicateMessageID, row.ID)
	}
	if errors.Is(err, ErrOptedOut) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: store message: %w", ErrDatabase, err)
	}
	return c.deliver(ctx, s, conn, row, content)
}

// contentRequestHash fingerprints a Send: the session, the chat and the content
// as the caller gave it, media bytes by their SHA-256.
func contentRequestHash(session, chat string, content Content) (string, error) {
	data, err := MarshalContent(content)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	req := struct {
		Chat        string          `json:"chat"`
		Content     json.RawMessage `json:"content"`
		MediaSHA256 string          `json:"media_sha256,omitempty"`
		Op          string          `json:"op"`
		Session     string          `json:"session"`
	}{Chat: chat, Content: data, Op: "send", Session: session}
	if m, ok := content.(*Media); ok {
		req.MediaSHA256 = sha256Hex(m.Data)
	}
	return hashJSON(req)
}

// mediaRequestHash fingerprints a SendMedia: the session, the chat and the
// parameters as the caller gave them, bytes by their SHA-256 and a path or URL
// as such (so that a replay needs no download to be recognised).
func mediaRequestHash(session, chat string, p *MediaParams) (string, error) {
	req := struct {
		Caption    string      `json:"caption"`
		Chat       string      `json:"chat"`
		DataSHA256 string      `json:"data_sha256,omitempty"`
		FileName   string      `json:"file_name"`
		Kind       ContentType `json:"kind"`
		MIME       string      `json:"mime"`
		Op         string      `json:"op"`
		Path       string      `json:"path,omitempty"`
		Session    string      `json:"session"`
		URL        string      `json:"url,omitempty"`
		Voice      bool        `json:"voice"`
	}{Caption: p.Caption, Chat: chat, FileName: p.FileName, Kind: p.Kind, MIME: p.MIME, Op: "send-media",
		Path: p.Path, Session: session, URL: p.URL, Voice: p.Voice}
	if p.Data != nil {
		req.DataSHA256 = sha256Hex(p.Data)
	}
	return hashJSON(req)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hashJSON returns the hex SHA-256 of v's JSON, which encoding/json writes in
// a fixed order for structs.
func hashJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("waqtor: fingerprint request: %w", err)
	}
	return sha256Hex(b), nil
}

func validateIdempotencyKey(key string) error {
	if len(key) > MaxIdempotencyKeyLength {
		return fieldErr(ErrInvalidMessage, "idempotency_key", "is longer than %d bytes", MaxIdempotencyKeyLength)
	}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return fieldErr(ErrInvalidMessage, "idempotency_key", "contains a non-printable character")
		}
	}
	return nil
}

// replay returns the message an earlier send with key made, provided it was
// made by the same request (hash); ErrMessageNotFound when the key is unused,
// ErrIdempotencyKeyReused when it was used for another request. Messages
// stored before fingerprints were kept (an empty hash) match any request.
func (c *Core) replay(ctx context.Context, s *session, key, hash string) (*Message, error) {
	row, err := store.GetMessageByIdempotencyKey(ctx, c.store.DB, s.key, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrMessageNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	if row.RequestHash != "" && row.RequestHash != hash {
		return nil, fmt.Errorf("%w: key %q was first used for message %s, with another request", ErrIdempotencyKeyReused, key, row.ID)
	}
	return messageFromRow(row)
}

// completeContent fills references (quoted message, reaction or revoke target)
// from the store, so callers need only give an ID.
func (c *Core) completeContent(ctx context.Context, s *session, chat string, content Content) (Content, error) {
	lookup := func(id string) *store.Message {
		row, err := store.GetMessage(ctx, c.store.DB, s.key, id)
		if err != nil {
			return nil
		}
		return row
	}
	author := func(row *store.Message) string {
		if row.Direction == store.DirectionOut {
			return s.ownJID()
		}
		return row.Sender
	}
	switch v := content.(type) {
	case *Text:
		if v.Quote != nil && v.Quote.Sender == "" {
			if row := lookup(v.Quote.ID); row != nil {
				cp, q := *v, *v.Quote
				q.Sender = author(row)
				if q.Text == "" {
					q.Text = previewText(row.Content)
				}
				cp.Quote = &q
				return &cp, nil
			}
		}
	case *Reaction:
		row, err := c.target(ctx, s, chat, v.TargetID)
		if err != nil {
			return nil, err
		}
		switch {
		case isAmendment(row.Type):
			return nil, fieldErr(ErrInvalidMessage, "target_id", "%s is a %s, which takes no reactions", v.TargetID, row.Type)
		case !row.RevokedAt.IsZero():
			return nil, fieldErr(ErrInvalidMessage, "target_id", "%s was revoked", v.TargetID)
		}
		if v.TargetSender == "" {
			cp := *v
			cp.TargetSender = author(row)
			return &cp, nil
		}
	case *Edit:
		row, err := c.target(ctx, s, chat, v.TargetID)
		if err != nil {
			return nil, err
		}
		if err := c.checkEditable(row); err != nil {
			return nil, err
		}
	case *Revoke:
		row, err := c.target(ctx, s, chat, v.TargetID)
		if err != nil {
			return nil, err
		}
		if err := checkRevocable(row); err != nil {
			return nil, err
		}
		if v.TargetSender != "" {
			cp := *v
			cp.TargetSender = "" // our own message: engines address it as such
			return &cp, nil
		}
	case *Contact:
		if v.VCard == "" {
			vc, err := BuildVCard(v.Name, v.Phone)
			if err != nil {
				return nil, err
			}
			cp := *v
			cp.VCard = vc
			return &cp, nil
		}
	}
	return content, nil
}

// target returns the message an edit, revocation or reaction refers to, which
// must be in chat: ErrMessageNotFound otherwise.
func (c *Core) target(ctx context.Context, s *session, chat, id string) (*store.Message, error) {
	row, err := store.GetChatMessage(ctx, c.store.DB, s.key, chat, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q in chat %s", ErrMessageNotFound, id, chat)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return row, nil
}

// isAmendment reports whether a content type changes another message rather
// than being one: those take no reactions, edits or revocations.
func isAmendment(typ string) bool {
	switch ContentType(typ) {
	case ContentReaction, ContentEdit, ContentRevoke, ContentPollVote:
		return true
	}
	return false
}

// checkEditable applies WhatsApp's rules for edits: only the author's own text
// messages, once sent, not revoked, within EditWindow of their timestamp.
func (c *Core) checkEditable(row *store.Message) error {
	switch {
	case row.Direction != store.DirectionOut:
		return fmt.Errorf("%w: %s was received, not sent by this session", ErrNotOwnMessage, row.ID)
	case row.Type != string(ContentText):
		return fmt.Errorf("%w: %s is a %s message; only text messages can be edited", ErrNotEditable, row.ID, row.Type)
	case !row.RevokedAt.IsZero():
		return fmt.Errorf("%w: %s was revoked", ErrNotEditable, row.ID)
	case row.Status == string(StatusPending) || row.Status == string(StatusFailed):
		return fmt.Errorf("%w: %s has not been sent (it is %s)", ErrNotEditable, row.ID, row.Status)
	}
	if age := c.now().Sub(row.Time); age > EditWindow {
		return fmt.Errorf("%w: %s was sent %s ago; WhatsApp allows edits for %s", ErrNotEditable, row.ID,
			age.Truncate(time.Second), EditWindow)
	}
	return nil
}

// checkRevocable applies WhatsApp's rules for deleting a message for everyone,
// as its author (group admins may delete others' messages; the Core does not
// offer that).
func checkRevocable(row *store.Message) error {
	switch {
	case row.Direction != store.DirectionOut:
		return fmt.Errorf("%w: %s was received, not sent by this session", ErrNotOwnMessage, row.ID)
	case isAmendment(row.Type):
		return fmt.Errorf("%w: %s is a %s, not a message", ErrNotRevocable, row.ID, row.Type)
	case !row.RevokedAt.IsZero():
		return fmt.Errorf("%w: %s was revoked already", ErrNotRevocable, row.ID)
	case row.Status == string(StatusPending) || row.Status == string(StatusFailed):
		return fmt.Errorf("%w: %s has not been sent (it is %s)", ErrNotRevocable, row.ID, row.Status)
	}
	return nil
}

func previewText(contentJSON string) string {
	c, err := UnmarshalContent([]byte(contentJSON))
	if err != nil {
		return ""
	}
	switch v := c.(type) {
	case *Text:
		return v.Body
	case *Media:
		return v.Caption
	case *Poll:
		return v.Question
	}
	return ""
}

func (s *session) ownJID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.row.JID
}

// claim marks a message as being sent by this process, so the retry loop leaves
// it alone; false when it already is.
func (s *session) claim(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inflight[id]; ok {
		return false
	}
	s.inflight[id] = struct{}{}
	return true
}

func (s *session) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, id)
}

// deliver asks the engine to send a stored pending message and records the
// outcome. Call with the message claimed.
func (c *Core) deliver(ctx context.Context, s *session, conn Conn, row *store.Message, content Content) (*Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, c.cfg.SendTimeout)
	res, sendErr := conn.Send(sendCtx, &OutboundMessage{Chat: row.Chat, Content: content, ID: row.ID})
	cancel()
	return c.recordOutcome(ctx, s, row, res, sendErr)
}

// recordOutcome stores the result of a send attempt and emits message.sent or
// message.failed. A transient failure leaves the message pending.
func (c *Core) recordOutcome(ctx context.Context, s *session, row *store.Message, res *SendResult, sendErr error) (*Message, error) {
	// Record the outcome even if the caller's context ended meanwhile.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer rcancel()
	next := *row
	next.Attempts++
	next.UpdatedAt = c.now().UTC()
	switch {
	case sendErr == nil:
		next.Status, next.Error = string(StatusSent), ""
		if res != nil && !res.Time.IsZero() {
			next.Time = res.Time.UTC()
		}
	case IsPermanent(sendErr) || next.Attempts >= c.cfg.MaxSendAttempts:
		next.Status, next.Error = string(StatusFailed), sendErr.Error()
	default:
		next.Error = sendErr.Error()
	}
	var out *Message
	err := c.commit(rctx, func(tx *sql.Tx, em *emitter) error {
		err := store.UpdateMessageStatus(rctx, tx, &next, string(StatusPending))
		if errors.Is(err, store.ErrNotFound) {
			// A receipt moved it past pending already (applyReceipt emitted
			// message.sent then), or it was deleted.
			cur, gerr := store.GetMessage(rctx, tx, row.SessionID, row.ID)
			if gerr != nil {
				return gerr
			}
			out, err = messageFromRow(cur)
			return err
		} else if err != nil {
			return err
		}
		if next.Status != string(StatusPending) {
			if err := store.DeleteOutboxMedia(rctx, tx, row.SessionID, row.ID); err != nil {
				return err
			}
		}
		msg, err := messageFromRow(&next)
		if err != nil {
			return err
		}
		out = msg
		switch {
		case next.Status == string(StatusFailed):
			em.emit(s.id, s.tenant, &MessageFailed{Message: *msg, Error: next.Error})
		case sendErr == nil:
			em.emit(s.id, s.tenant, &MessageSent{Message: *msg})
			return c.applyAmend(rctx, tx, em, s, &next)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: record send outcome: %w", ErrDatabase, err)
	}
	if sendErr != nil {
		if out.Status == StatusFailed {
			return out, fmt.Errorf("waqtor: send %s: %w", row.ID, sendErr)
		}
		c.logger.WarnContext(ctx, "Send failed, will retry", slog.String("session", s.id),
			slog.String("message_id", row.ID), slog.Int("attempt", next.Attempts), slog.Any("error", sendErr))
	}
	return out, nil
}

func messageFromRow(r *store.Message) (*Message, error) {
	content, err := UnmarshalContent([]byte(r.Content))
	if err != nil {
		return nil, fmt.Errorf("waqtor: stored message %s: %w", r.ID, err)
	}
	m := &Message{
		Chat:      Address{JID: r.Chat, LID: r.ChatLID, Phone: JIDPhone(r.Chat)},
		Content:   content,
		CreatedAt: r.CreatedAt,
		Direction: Direction(r.Direction),
		EditedAt:  r.EditedAt,
		Error:     r.Error,
		FromMe:    r.Direction == store.DirectionOut,
		ID:        r.ID,
		IsGroup:   IsGroupJID(r.Chat),
		PushName:  r.PushName,
		Revoked:   !r.RevokedAt.IsZero(),
		RevokedAt: r.RevokedAt,
		Sender:    Address{JID: r.Sender, LID: r.SenderLID, Phone: JIDPhone(r.Sender)},
		Session:   sessionIDOf(r.SessionID, r.TenantID),
		Status:    MessageStatus(r.Status),
		Tenant:    r.TenantID,
		Time:      r.Time,
		UpdatedAt: r.UpdatedAt,
	}
	return m, nil
}

// SendText sends a text message. For quotes and mentions use Send with a *Text.
func (c *Core) SendText(ctx context.Context, session, chat, text string, opts *SendOpts) (*Message, error) {
	return c.Send(ctx, session, chat, &Text{Body: text}, opts)
}

// SendLocation sends a location.
func (c *Core) SendLocation(ctx context.Context, session, chat string, loc *Location, opts *SendOpts) (*Message, error) {
	if loc == nil {
		return nil, fieldErr(ErrInvalidMessage, "location", "is required")
	}
	return c.Send(ctx, session, chat, loc, opts)
}

// SendContact sends a contact card.
func (c *Core) SendContact(ctx context.Context, session, chat string, contact *Contact, opts *SendOpts) (*Message, error) {
	if contact == nil {
		return nil, fieldErr(ErrInvalidMessage, "contact", "is required")
	}
	return c.Send(ctx, session, chat, contact, opts)
}

// SendPoll sends a poll; votes arrive as message.received events with *PollVote
// content.
func (c *Core) SendPoll(ctx context.Context, session, chat string, poll *Poll, opts *SendOpts) (*Message, error) {
	if poll == nil {
		return nil, fieldErr(ErrInvalidMessage, "poll", "is required")
	}
	return c.Send(ctx, session, chat, poll, opts)
}

// React reacts to message targetID in chat with emoji; an empty emoji removes the
// reaction. The target must be a stored message of chat (ErrMessageNotFound),
// and emoji a single emoji (a FieldError wrapping ErrInvalidMessage).
func (c *Core) React(ctx context.Context, session, chat, targetID, emoji string, opts *SendOpts) (*Message, error) {
	return c.Send(ctx, session, chat, &Reaction{TargetID: targetID, Emoji: emoji}, opts)
}

// Edit replaces the text of a text message this session sent in chat, at most
// EditWindow ago. Errors wrap ErrMessageNotFound, ErrNotOwnMessage or
// ErrNotEditable. Once WhatsApp accepted the edit, the target records the new
// text and EditedAt, and message.edited is emitted.
func (c *Core) Edit(ctx context.Context, session, chat, targetID, text string, opts *SendOpts) (*Message, error) {
	return c.Send(ctx, session, chat, &Edit{TargetID: targetID, Text: text}, opts)
}

// Revoke deletes a message this session sent in chat for everyone. Errors
// wrap ErrMessageNotFound, ErrNotOwnMessage or ErrNotRevocable. Once WhatsApp
// accepted the revocation, the target is marked Revoked and message.revoked is
// emitted.
func (c *Core) Revoke(ctx context.Context, session, chat, targetID string, opts *SendOpts) (*Message, error) {
	return c.Send(ctx, session, chat, &Revoke{TargetID: targetID}, opts)
}

// MarkRead sends read receipts for inbound messages ids of chat. In groups,
// sender is the messages' author.
func (c *Core) MarkRead(ctx context.Context, session, chat string, ids []string, sender string) error {
	s, release, err := c.acquire(ctx, session)
	if err != nil {
		return err
	}
	defer release()
	jid, err := NormalizeChat(chat)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fieldErr(ErrInvalidMessage, "ids", "must not be empty")
	}
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			return fieldErr(ErrInvalidMessage, fmt.Sprintf("ids[%d]", i), "must not be empty")
		}
	}
	if sender != "" {
		if sender, err = NormalizeChat(sender); err != nil {
			return err
		}
	}
	conn, err := s.readyConn()
	if err != nil {
		return err
	}
	return conn.MarkRead(ctx, jid, sender, ids, c.now())
}

// SetPresence shows a typing or recording indicator in chat (PresencePaused
// clears it).
func (c *Core) SetPresence(ctx context.Context, session, chat string, p ChatPresence) error {
	s, release, err := c.acquire(ctx, session)
	if err != nil {
		return err
	}
	defer release()
	jid, err := NormalizeChat(chat)
	if err != nil {
		return err
	}
	switch p {
	case PresenceTyping, PresenceRecording, PresencePaused:
	default:
		return fieldErr(ErrInvalidMessage, "presence", "must be typing, recording or paused, not %q", p)
	}
	conn, err := s.readyConn()
	if err != nil {
		return err
	}
	return conn.SetPresence(ctx, jid, p)
}

// MaxCheckNumbers is the most numbers one CheckNumbers call accepts.
const MaxCheckNumbers = 500

// CheckNumbers reports which phone numbers have WhatsApp accounts. Every number
// is validated first; one invalid number fails the whole call with its index.
func (c *Core) CheckNumbers(ctx context.Context, session string, phones []string) ([]NumberCheck, error) {
	s, release, err := c.acquire(ctx, session)
	if err != nil {
		return nil, err
	}
	defer release()
	if len(phones) == 0 || len(phones) > MaxCheckNumbers {
		return nil, fieldErr(ErrInvalidPhone, "phones", "must have 1 to %d entries", MaxCheckNumbers)
	}
	norm := make([]string, len(phones))
	for i, p := range phones {
		e164, err := ParsePhone(p)
		if err != nil {
			return nil, fieldErr(ErrInvalidPhone, fmt.Sprintf("phones[%d]", i), "%v", err)
		}
		norm[i] = e164
	}
	conn, err := s.readyConn()
	if err != nil {
		return nil, err
	}
	return conn.CheckNumbers(ctx, norm)
}

// Message returns a stored message by ID.
func (c *Core) Message(ctx context.Context, session, id string) (*Message, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	s, err := c.session(ctx, session)
	if err != nil {
		return nil, err
	}
	row, err := store.GetMessage(ctx, c.store.DB, s.key, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrMessageNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return messageFromRow(row)
}

// MessageListParams selects messages for Messages.
type MessageListParams struct {
	// Before continues a listing: pass the previous result's Next. Defaults to
	// the newest message.
	Before string
	// Chat is the conversation (phone number or JID). Required.
	Chat string
	// Limit caps the page. Defaults to 50; at most 500.
	Limit int
	// Session is the session. Required.
	Session string
}

// MessageListResult is a page of messages, newest first.
type MessageListResult struct {
	// Messages are the page's messages.
	Messages []*Message
	// Next is the cursor for the following (older) page, "" at the end.
	Next string
}

// Messages lists a chat's messages, newest first, with cursor pagination.
func (c *Core) Messages(ctx context.Context, p *MessageListParams) (*MessageListResult, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	if p == nil {
		return nil, fieldErr(ErrInvalidMessage, "params", "are required")
	}
	s, err := c.session(ctx, p.Session)
	if err != nil {
		return nil, err
	}
	chat, err := NormalizeChat(p.Chat)
	if err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := store.ListChatMessagesParams{Session: s.key, Chat: chat, Limit: limit + 1}
	if p.Before != "" {
		if q.Before, q.BeforeID, err = decodeMessageCursor(p.Before); err != nil {
			return nil, err
		}
	}
	rows, err := store.ListChatMessages(ctx, c.store.DB, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	res := &MessageListResult{}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		res.Next = encodeMessageCursor(last.Time, last.ID)
	}
	for _, r := range rows {
		m, err := messageFromRow(r)
		if err != nil {
			return nil, err
		}
		res.Messages = append(res.Messages, m)
	}
	return res, nil
}

func encodeMessageCursor(t time.Time, id string) string {
	return fmt.Sprintf("%d.%s", store.Micros(t), id)
}

func decodeMessageCursor(s string) (time.Time, string, error) {
	ts, id, ok := strings.Cut(s, ".")
	var us int64
	if _, err := fmt.Sscanf(ts, "%d", &us); !ok || err != nil || id == "" || us <= 0 {
		return time.Time{}, "", fieldErr(ErrInvalidMessage, "before", "is not a cursor returned by Messages")
	}
	return store.FromMicros(us), id, nil
}

// storeInbound persists inbound messages and their events in one transaction,
// all or none. A message already stored (a redelivery) is not an error and
// emits nothing.
func (c *Core) storeInbound(ctx context.Context, s *session, ms ...*InboundMessage) error {
	now := c.now().UTC()
	rows := make([]*store.Message, len(ms))
	for i, m := range ms {
		if m == nil || m.ID == "" || m.Chat.JID == "" || m.Content == nil {
			return fmt.Errorf("%w: inbound message lacks ID, chat or content", ErrInvalidMessage)
		}
		data, err := MarshalContent(m.Content)
		if err != nil {
			return err
		}
		ts := m.Time.UTC()
		if m.Time.IsZero() {
			ts = now
		}
		row := &store.Message{SessionID: s.key, Chat: m.Chat.JID, ChatLID: m.Chat.LID, ID: m.ID, TenantID: s.tenant,
			Direction: store.DirectionIn, Sender: m.Sender.JID, SenderLID: m.Sender.LID, PushName: m.PushName,
			Type: string(m.Content.ContentType()), Content: string(data), Status: string(StatusReceived),
			Time: ts, CreatedAt: now, UpdatedAt: now}
		if m.FromMe {
			row.Direction, row.Status = store.DirectionOut, string(StatusSent)
		}
		rows[i] = row
	}
	var optedOut []int // indexes of messages whose keyword changed consent
	err := c.commit(ctx, func(tx *sql.Tx, em *emitter) error {
		optedOut = optedOut[:0]
		q := c.store.Q(tx)
		inserted := []bool{true}
		if len(rows) == 1 {
			if err := store.InsertMessage(ctx, q, rows[0]); err != nil {
				return err
			}
		} else {
			var err error
			if inserted, err = store.InsertMessages(ctx, q, c.store.Dialect, rows); err != nil {
				return err
			}
		}
		for i, row := range rows {
			if !inserted[i] {
				continue // a redelivery
			}
			msg, err := messageFromRow(row)
			if err != nil {
				return err
			}
			m := ms[i]
			msg.Chat, msg.Sender, msg.IsGroup = m.Chat, m.Sender, m.IsGroup || msg.IsGroup
			em.emit(s.id, s.tenant, &MessageReceived{Message: *msg})
			if err := c.applyAmend(ctx, tx, em, s, row); err != nil {
				return err
			}
			if changed, err := c.keywordOptOut(ctx, tx, em, s, m); err != nil {
				return err
			} else if changed {
				optedOut = append(optedOut, i)
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrDuplicate) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: store inbound message: %w", ErrDatabase, err)
	}
	for _, i := range optedOut {
		c.sendOptOutReply(s, rows[i].Chat, rows[i].ID)
	}
	return nil
}

// applyReceipt moves outbound messages forward and emits their events.
func (c *Core) applyReceipt(ctx context.Context, s *session, r *Receipt) error {
	if r == nil {
		return nil
	}
	var target MessageStatus
	switch r.Type {
	case ReceiptDelivered:
		target = StatusDelivered
	case ReceiptRead:
		target = StatusRead
	case ReceiptPlayed:
		target = StatusPlayed
	default:
		return nil
	}
	for _, id := range r.IDs {
		err := c.commit(ctx, func(tx *sql.Tx, em *emitter) error {
			row, err := store.GetMessage(ctx, tx, s.key, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil // not ours (or deleted)
			}
			if err != nil {
				return err
			}
			cur := MessageStatus(row.Status)
			if row.Direction != store.DirectionOut || cur == StatusFailed || target.rank() <= cur.rank() {
				return nil
			}
			next := *row
			next.Status = string(target)
			next.UpdatedAt = c.now().UTC()
			if err := store.UpdateMessageStatus(ctx, tx, &next, row.Status); err != nil {
				return err
			}
			if cur == StatusPending {
				if err := store.DeleteOutboxMedia(ctx, tx, s.key, id); err != nil {
					return err
				}
			}
			chat := Address{JID: row.Chat, LID: row.ChatLID, Phone: JIDPhone(row.Chat)}
			if cur == StatusPending {
				// The receipt overtook the engine's answer to Send: the message
				// was sent. Say so first, so events keep their order.
				sentRow := *row
				sentRow.Status, sentRow.Error, sentRow.UpdatedAt = string(StatusSent), "", next.UpdatedAt
				msg, err := messageFromRow(&sentRow)
				if err != nil {
					return err
				}
				em.emit(s.id, s.tenant, &MessageSent{Message: *msg})
				if err := c.applyAmend(ctx, tx, em, s, &sentRow); err != nil {
					return err
				}
			}
			if cur.rank() < StatusDelivered.rank() {
				em.emit(s.id, s.tenant, &MessageDelivered{Chat: chat, MessageID: id, Recipient: r.Sender,
					EventMeta: EventMeta{Time: r.Time}})
			}
			if target.rank() >= StatusRead.rank() && cur.rank() < StatusRead.rank() {
				em.emit(s.id, s.tenant, &MessageRead{Chat: chat, MessageID: id, Reader: r.Sender,
					EventMeta: EventMeta{Time: r.Time}})
			}
			if target == StatusPlayed {
				em.emit(s.id, s.tenant, &MessageRead{Chat: chat, MessageID: id, Reader: r.Sender, Played: true,
					EventMeta: EventMeta{Time: r.Time}})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%w: apply receipt: %w", ErrDatabase, err)
		}
	}
	return nil
}

// applyAmend records on its target the effect of an edit or revocation that
// was sent (row is the amendment, now sent or received) and emits
// message.edited or message.revoked. Other messages, amendments of unknown
// messages and amendments by someone other than the target's author change
// nothing; neither do an edit older than the last one applied, an edit of a
// revoked message, or a second revocation.
func (c *Core) applyAmend(ctx context.Context, tx *sql.Tx, em *emitter, s *session, row *store.Message) error {
	if row.Type != string(ContentEdit) && row.Type != string(ContentRevoke) {
		return nil
	}
	content, err := UnmarshalContent([]byte(row.Content))
	if err != nil {
		return nil // stored by an older waqtor in a form it cannot read: nothing to apply
	}
	var targetID string
	switch v := content.(type) {
	case *Edit:
		targetID = v.TargetID
	case *Revoke:
		targetID = v.TargetID
	}
	target, err := store.GetChatMessage(ctx, tx, s.key, row.Chat, targetID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if target.Direction != row.Direction || (row.Direction == store.DirectionIn && !sameAuthor(row, target)) ||
		!target.RevokedAt.IsZero() {
		return nil
	}
	at := row.Time
	next := *target
	next.UpdatedAt = c.now().UTC()
	var previous string
	switch v := content.(type) {
	case *Edit:
		if at.Before(target.EditedAt) {
			return nil // a later edit was applied already
		}
		tc, err := UnmarshalContent([]byte(target.Content))
		if err != nil {
			return nil
		}
		switch t := tc.(type) {
		case *Text:
			previous, t.Body = t.Body, v.Text
		case *Media:
			previous, t.Caption = t.Caption, v.Text // a caption edited on a phone
		default:
			return nil
		}
		data, err := MarshalContent(tc)
		if err != nil {
			return err
		}
		next.Content, next.EditedAt = string(data), at
	case *Revoke:
		next.RevokedAt = at
	}
	if err := store.UpdateMessageAmend(ctx, tx, &next); err != nil {
		return err
	}
	msg, err := messageFromRow(&next)
	if err != nil {
		return err
	}
	if row.Type == string(ContentEdit) {
		em.emit(s.id, s.tenant, &MessageEdited{EditID: row.ID, Message: *msg, PreviousText: previous})
	} else {
		em.emit(s.id, s.tenant, &MessageRevoked{Message: *msg, RevokeID: row.ID})
	}
	return nil
}

// sameAuthor reports whether two inbound messages have the same sender, by
// phone JID or LID.
func sameAuthor(a, b *store.Message) bool {
	for _, x := range []string{a.Sender, a.SenderLID} {
		if x != "" && (x == b.Sender || x == b.SenderLID) {
			return true
		}
	}
	return false
}
