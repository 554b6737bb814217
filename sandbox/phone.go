package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waqtor/waqtor"
)

// Phone is a virtual phone: a WhatsApp account's handset. It sends messages
// into the network (to sessions, other phones or groups) and records what it
// receives, the presences shown to it and the fate of what it sent. A session
// paired as a number is a linked device of that number's Phone.
//
// Get one with [Network.Phone]. All methods are safe for concurrent use.
type Phone struct {
	n      *Network
	jid    string
	lid    string
	number string

	// Guarded by Network.mu.
	changed     chan struct{} // closed and replaced on every change
	devices     map[string]*device
	held        []*envelope // messages waiting for the phone to come online
	hidden      bool
	online      bool
	presences   []Presence
	pushName    string
	received    []*receivedMsg
	receivedIdx map[string]*receivedMsg
	rng         *rand.Rand
	sent        []*sentMsg
	sentIdx     map[string]*sentMsg
	undelivered []*envelope // delivered receipts waiting for the phone to come online
	unread      []*envelope // automatic reads waiting for the phone to come online
}

type receivedMsg struct {
	env *envelope
	r   Received
}

type sentMsg struct {
	env *envelope
	s   Sent
}

// Received is a message a phone received.
type Received struct {
	// Chat is the conversation: the author's JID, or the group's.
	Chat string
	// Content is the message as sent (media with its Data); it must not be
	// modified.
	Content waqtor.Content
	// DeliveredAt is when the phone confirmed delivery, zero until then.
	DeliveredAt time.Time
	// From is the author's JID (its LID when the author hides its number).
	From string
	// ID is the message ID.
	ID string
	// IsGroup is true for group messages.
	IsGroup bool
	// ReadAt is when the phone read the message, zero until then.
	ReadAt time.Time
	// Session is the ID of the session that sent it, "" when a phone sent it.
	Session string
	// Time is the message's timestamp.
	Time time.Time
}

// Text returns the human-readable text of the message: a text's body, a
// media caption, an edit's new text, a poll's question, a location's or
// contact's name, or a reaction's emoji.
func (r Received) Text() string { return contentText(r.Content) }

func contentText(c waqtor.Content) string {
	switch v := c.(type) {
	case *waqtor.Text:
		return v.Body
	case *waqtor.Media:
		return v.Caption
	case *waqtor.Edit:
		return v.Text
	case *waqtor.Poll:
		return v.Question
	case *waqtor.Location:
		return v.Name
	case *waqtor.Contact:
		return v.Name
	case *waqtor.Reaction:
		return v.Emoji
	}
	return ""
}

// Sent is a message a phone sent, with its receipts.
type Sent struct {
	// Chat is the recipient's JID, or the group's.
	Chat string
	// Content is what was sent; it must not be modified.
	Content waqtor.Content
	// DeliveredAt is when the first recipient's device confirmed delivery.
	DeliveredAt time.Time
	// ID is the message ID.
	ID string
	// ReadAt is when the first recipient read it.
	ReadAt time.Time
	// ReadBy lists the JIDs of the readers, in the order they read.
	ReadBy []string
	// Time is the message's timestamp.
	Time time.Time
}

// Presence is a chat state a session showed to a phone.
type Presence struct {
	// Chat is where it was shown: the session account's JID, or a group's.
	Chat string
	// From is the session account's JID.
	From string
	// State is typing, recording or paused.
	State waqtor.ChatPresence
	// Time is when it was shown.
	Time time.Time
}

// SendOpts are optional parameters of [Phone.Send].
type SendOpts struct {
	// ID is the message ID to use instead of a generated one. Reusing an ID
	// simulates WhatsApp redelivering a message: sessions get it again, the
	// recipient phone records it once.
	ID string
}

// Address returns the phone's identities as sessions see them.
func (p *Phone) Address() waqtor.Address {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return p.addressLocked()
}

func (p *Phone) addressLocked() waqtor.Address {
	if p.hidden {
		return waqtor.Address{JID: p.lid, LID: p.lid}
	}
	return waqtor.Address{JID: p.jid, LID: p.lid, Phone: p.number}
}

// is reports whether jid is one of p's JIDs.
func (p *Phone) is(jid string) bool { return jid == p.jid || jid == p.lid }

// JID returns the phone JID ("<digits>@s.whatsapp.net").
func (p *Phone) JID() string { return p.jid }

// LID returns the phone's LID ("<digits>@lid"), derived from the seed and the number.
func (p *Phone) LID() string { return p.lid }

// Number returns the phone number in E.164.
func (p *Phone) Number() string { return p.number }

// PushName returns the phone's profile name. Defaults to "User " and the
// number's last four digits.
func (p *Phone) PushName() string {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return p.pushName
}

// SetPushName sets the profile name that comes with the phone's messages.
func (p *Phone) SetPushName(name string) {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	p.pushName = name
}

// SetHidePhone makes the phone's messages, receipts and group membership show
// only its LID, without the phone JID or number, as WhatsApp does for users
// who hide their number. It tests LID-aware code. Sessions can still reply to
// the LID.
func (p *Phone) SetHidePhone(hide bool) {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	p.hidden = hide
}

// Online reports whether the phone is online. Phones start online.
func (p *Phone) Online() bool {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return p.online
}

// SetOnline takes the phone off the network or back. While offline, messages
// for it wait on the server (they are not in Received) and it sends no
// receipts; when it comes back they arrive in order, and receipts follow after
// the usual latencies. Sending from an offline phone still works.
func (p *Phone) SetOnline(online bool) {
	n := p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if p.online == online {
		return
	}
	p.online = online
	if !online {
		return
	}
	held, undelivered, unread := p.held, p.undelivered, p.unread
	p.held, p.undelivered, p.unread = nil, nil, nil
	for _, e := range held {
		p.recordLocked(e)
	}
	for _, e := range undelivered {
		n.scheduleDeliveredLocked(p, e)
	}
	for _, e := range unread {
		n.scheduleReadLocked(p, e)
	}
	p.notifyLocked()
}

func (p *Phone) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// receiveLocked takes a message for the phone (or holds it while offline).
func (p *Phone) receiveLocked(e *envelope) {
	if !p.online {
		p.held = append(p.held, e)
		return
	}
	p.recordLocked(e)
}

func (p *Phone) recordLocked(e *envelope) {
	if p.receivedIdx[e.key()] != nil {
		return
	}
	rm := &receivedMsg{env: e, r: Received{
		Chat:    e.chatFor(p),
		Content: e.content,
		From:    e.from.addressLocked().JID,
		ID:      e.id,
		IsGroup: e.group != nil,
		Time:    e.time,
	}}
	if e.fromDevice != nil {
		rm.r.Session = e.fromDevice.id
	}
	p.received = append(p.received, rm)
	p.receivedIdx[e.key()] = rm
	p.notifyLocked()
	p.n.scheduleDeliveredLocked(p, e)
}

// Send sends any content to a user (phone number, phone JID or LID) or a
// group the phone is a member of, and returns the message ID. The typed
// helpers (SendText, SendMedia, ...) are shorthands. Unlike the Core, Send does
// not validate content: tests may send what a real client would refuse.
func (p *Phone) Send(ctx context.Context, to string, c waqtor.Content, opts *SendOpts) (string, error) {
	if c == nil {
		return "", fmt.Errorf("sandbox: %s send: no content", p.number)
	}
	chat, err := waqtor.NormalizeChat(to)
	if err != nil {
		return "", fmt.Errorf("sandbox: %s send: %w", p.number, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sandbox: %s send: %w", p.number, err)
	}
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return p.sendLocked(chat, c, opts)
}

func (p *Phone) sendLocked(chat string, c waqtor.Content, opts *SendOpts) (string, error) {
	n := p.n
	if n.closed {
		return "", fmt.Errorf("sandbox: %s send: %w", p.number, ErrClosed)
	}
	to, g, err := n.resolveLocked(chat)
	if err != nil {
		return "", fmt.Errorf("sandbox: %s send: %w", p.number, err)
	}
	if g != nil && !slices.Contains(g.members, p) {
		return "", fmt.Errorf("sandbox: %s send to %s: %w", p.number, chat, ErrNotParticipant)
	}
	var id string
	if opts != nil {
		id = opts.ID
	}
	if id == "" {
		id = newMessageID(p.rng)
	}
	e := n.newEnvelopeLocked(id, p, nil, to, g, c, n.cfg.NowFunc())
	s := p.sentIdx[id]
	if s == nil {
		s = &sentMsg{env: e, s: Sent{Chat: e.chatFor(p), Content: e.content, ID: id, Time: e.time}}
		p.sent = append(p.sent, s)
		p.sentIdx[id] = s
	}
	e.sent = s
	n.deliverLocked(e)
	p.notifyLocked()
	return id, nil
}

// SendText sends a text message and returns its ID.
func (p *Phone) SendText(ctx context.Context, to, text string) (string, error) {
	return p.Send(ctx, to, &waqtor.Text{Body: text}, nil)
}

// SendMedia sends an image, video, audio clip, document or sticker and returns
// its ID. m.Data is required; Size, SHA256 and (when empty) MIME are filled in.
// Sessions receive it without Data and download it with DownloadMedia.
func (p *Phone) SendMedia(ctx context.Context, to string, m *waqtor.Media) (string, error) {
	if m == nil || len(m.Data) == 0 {
		return "", fmt.Errorf("sandbox: %s send media: no data", p.number)
	}
	return p.Send(ctx, to, m, nil)
}

// SendLocation sends a location and returns its ID.
func (p *Phone) SendLocation(ctx context.Context, to string, loc *waqtor.Location) (string, error) {
	if loc == nil {
		return "", fmt.Errorf("sandbox: %s send location: no location", p.number)
	}
	return p.Send(ctx, to, loc, nil)
}

// VotePoll votes on a poll the phone received (options are option texts; none
// withdraws the vote) and returns the vote's message ID. The vote goes to the
// poll's chat. Errors wrap ErrUnknownMessage for a poll the phone does not have;
// options must be the poll's and at most its MaxSelections.
func (p *Phone) VotePoll(ctx context.Context, pollID string, options ...string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sandbox: %s vote: %w", p.number, err)
	}
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	rm := p.findReceivedLocked(pollID)
	if rm == nil {
		return "", fmt.Errorf("sandbox: %s vote on %s: %w", p.number, pollID, ErrUnknownMessage)
	}
	poll, ok := rm.env.content.(*waqtor.Poll)
	if !ok {
		return "", fmt.Errorf("sandbox: %s vote on %s: it is a %s, not a poll", p.number, pollID, rm.env.content.ContentType())
	}
	if limit := max(1, poll.MaxSelections); len(options) > limit {
		return "", fmt.Errorf("sandbox: %s vote on %s: %d options chosen, at most %d allowed", p.number, pollID, len(options), limit)
	}
	for _, o := range options {
		if !slices.Contains(poll.Options, o) {
			return "", fmt.Errorf("sandbox: %s vote on %s: %q is not an option of %q", p.number, pollID, o, poll.Options)
		}
	}
	vote := &waqtor.PollVote{PollID: pollID, Selected: slices.Clone(options)}
	if vote.Selected == nil {
		vote.Selected = []string{}
	}
	return p.sendLocked(rm.env.chatFor(p), vote, nil)
}

// React reacts to a message the phone received or sent ("" removes the
// reaction) and returns the reaction's ID. Errors wrap ErrUnknownMessage.
func (p *Phone) React(ctx context.Context, msgID, emoji string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sandbox: %s react: %w", p.number, err)
	}
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	var e *envelope
	if rm := p.findReceivedLocked(msgID); rm != nil {
		e = rm.env
	} else if s := p.sentIdx[msgID]; s != nil {
		e = s.env
	} else {
		return "", fmt.Errorf("sandbox: %s react to %s: %w", p.number, msgID, ErrUnknownMessage)
	}
	r := &waqtor.Reaction{Emoji: emoji, TargetID: msgID, TargetSender: e.from.addressLocked().JID}
	return p.sendLocked(e.chatFor(p), r, nil)
}

// Edit replaces the text of a message the phone sent and returns the edit's
// message ID. Errors wrap ErrUnknownMessage.
func (p *Phone) Edit(ctx context.Context, msgID, text string) (string, error) {
	return p.amend(ctx, msgID, "edit", func() waqtor.Content { return &waqtor.Edit{TargetID: msgID, Text: text} })
}

// Revoke deletes a message the phone sent for everyone and returns the
// revocation's message ID. Errors wrap ErrUnknownMessage.
func (p *Phone) Revoke(ctx context.Context, msgID string) (string, error) {
	return p.amend(ctx, msgID, "revoke", func() waqtor.Content {
		return &waqtor.Revoke{TargetID: msgID, TargetSender: p.addressLocked().JID}
	})
}

func (p *Phone) amend(ctx context.Context, msgID, what string, content func() waqtor.Content) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sandbox: %s %s: %w", p.number, what, err)
	}
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	s := p.sentIdx[msgID]
	if s == nil {
		return "", fmt.Errorf("sandbox: %s %s %s: %w", p.number, what, msgID, ErrUnknownMessage)
	}
	return p.sendLocked(s.env.chatFor(p), content(), nil)
}

// Read reads messages the phone received: their authors get read receipts
// (after a delivered receipt, if none was sent yet). Errors wrap
// ErrUnknownMessage, and then nothing was read.
func (p *Phone) Read(ctx context.Context, msgIDs ...string) error {
	return p.mark(ctx, "read", msgIDs, p.n.readLocked)
}

// Play plays voice notes or videos the phone received: their authors get
// played receipts (after delivered and read receipts, if none were sent yet).
// Errors wrap ErrUnknownMessage, and then nothing was played.
func (p *Phone) Play(ctx context.Context, msgIDs ...string) error {
	return p.mark(ctx, "play", msgIDs, p.n.playedLocked)
}

func (p *Phone) mark(ctx context.Context, what string, msgIDs []string, markLocked func(*Phone, *envelope, time.Time)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: %s %s: %w", p.number, what, err)
	}
	n := p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	envs := make([]*envelope, len(msgIDs))
	for i, id := range msgIDs {
		rm := p.findReceivedLocked(id)
		if rm == nil {
			return fmt.Errorf("sandbox: %s %s %s: %w", p.number, what, id, ErrUnknownMessage)
		}
		envs[i] = rm.env
	}
	now := n.cfg.NowFunc()
	for _, e := range envs {
		markLocked(p, e, now)
	}
	return nil
}

func (p *Phone) findReceivedLocked(id string) *receivedMsg {
	for i := len(p.received) - 1; i >= 0; i-- {
		if p.received[i].env.id == id {
			return p.received[i]
		}
	}
	return nil
}

// Received returns the messages the phone received, oldest first, one per
// message ID and author.
func (p *Phone) Received() []Received {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return p.receivedLocked()
}

func (p *Phone) receivedLocked() []Received {
	out := make([]Received, len(p.received))
	for i, rm := range p.received {
		out[i] = rm.r
	}
	return out
}

// Sent returns the messages the phone sent, oldest first, with their receipts.
func (p *Phone) Sent() []Sent {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return p.sentLocked()
}

func (p *Phone) sentLocked() []Sent {
	out := make([]Sent, len(p.sent))
	for i, s := range p.sent {
		out[i] = s.s
		out[i].ReadBy = slices.Clone(s.s.ReadBy)
	}
	return out
}

// Presences returns the chat states sessions showed the phone, oldest first.
func (p *Phone) Presences() []Presence {
	p.n.mu.Lock()
	defer p.n.mu.Unlock()
	return slices.Clone(p.presences)
}

// WaitFor returns the first received message (already there or still to come)
// that match accepts, or an error when ctx ends or the network closes. match
// runs without the network's lock and may call into it.
func (p *Phone) WaitFor(ctx context.Context, match func(Received) bool) (Received, error) {
	return waitPhone(ctx, p, "a message", p.receivedLocked, match)
}

// WaitForText waits for a received message whose Text is text.
func (p *Phone) WaitForText(ctx context.Context, text string) (Received, error) {
	return p.WaitFor(ctx, func(r Received) bool { return r.Text() == text })
}

// WaitForSent returns the first sent message (with its receipts as they are
// then) that match accepts, waiting for receipts to change it. Use it to wait
// for a read: p.WaitForSent(ctx, func(s Sent) bool { return s.ID == id && !s.ReadAt.IsZero() }).
func (p *Phone) WaitForSent(ctx context.Context, match func(Sent) bool) (Sent, error) {
	return waitPhone(ctx, p, "a sent message", p.sentLocked, match)
}

// waitPhone re-runs match over a snapshot of the phone each time it changes.
func waitPhone[T any](ctx context.Context, p *Phone, what string, snapshotLocked func() []T, match func(T) bool) (T, error) {
	var zero T
	for {
		p.n.mu.Lock()
		got, ch, closed := snapshotLocked(), p.changed, p.n.closed
		p.n.mu.Unlock()
		for _, v := range got {
			if match(v) {
				return v, nil
			}
		}
		if closed {
			return zero, fmt.Errorf("sandbox: %s wait for %s: %w", p.number, what, ErrClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return zero, fmt.Errorf("sandbox: %s wait for %s: %w", p.number, what, ctx.Err())
		}
	}
}

// RequireReceived waits up to Config.WaitTimeout for a received message that
// match accepts and returns it; otherwise it fails the test, listing what the
// phone did receive. Call it from the test's goroutine.
func (p *Phone) RequireReceived(t testing.TB, match func(Received) bool) Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), p.n.cfg.WaitTimeout)
	defer cancel()
	r, err := p.WaitFor(ctx, match)
	if err != nil {
		t.Fatalf("sandbox: %s received no matching message: %v; it received: %s", p.number, err, describe(p.Received()))
	}
	return r
}

// RequireText is RequireReceived for a message whose Text is text.
func (p *Phone) RequireText(t testing.TB, text string) Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), p.n.cfg.WaitTimeout)
	defer cancel()
	r, err := p.WaitForText(ctx, text)
	if err != nil {
		t.Fatalf("sandbox: %s did not receive %q: %v; it received: %s", p.number, text, err, describe(p.Received()))
	}
	return r
}

func describe(rs []Received) string {
	if len(rs) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s from %s %q", r.ID, r.Content.ContentType(), r.From, r.Text())
	}
	return b.String()
}
