package sandbox

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"time"

	"github.com/waqtor/waqtor"
)

// envelope is one message on the network, from a phone or a session.
type envelope struct {
	content     waqtor.Content // as phones see it (media with Data)
	deliveredTo map[*Phone]bool
	from        *Phone  // the author's account
	fromDevice  *device // the sending session, nil when sent from the phone
	group       *group  // nil in one-to-one chats
	id          string
	playedBy    map[*Phone]bool
	readBy      map[*Phone]bool
	sent        *sentMsg // the author's Phone.Sent record, when sent from the phone
	time        time.Time
	to          *Phone         // the recipient in one-to-one chats
	wire        waqtor.Content // as sessions receive it (media with Ref, without Data)
	// unlogged holds the message's receipts back until Config.SendLogFunc
	// has its send record (see conn.Send): afterLog runs then.
	unlogged bool
	afterLog []func()
}

// newEnvelopeLocked builds an envelope and indexes it for MarkRead.
func (n *Network) newEnvelopeLocked(id string, from *Phone, fromDevice *device, to *Phone, g *group, c waqtor.Content, now time.Time) *envelope {
	e := &envelope{
		content:     c,
		deliveredTo: make(map[*Phone]bool),
		from:        from,
		fromDevice:  fromDevice,
		group:       g,
		id:          id,
		playedBy:    make(map[*Phone]bool),
		readBy:      make(map[*Phone]bool),
		time:        now,
		to:          to,
		wire:        c,
	}
	if m, ok := c.(*waqtor.Media); ok && len(m.Data) > 0 {
		full := *m
		full.Data = slices.Clone(m.Data)
		full.Size = int64(len(m.Data))
		sum := sha256.Sum256(m.Data)
		full.SHA256 = sum[:]
		if full.MIME == "" {
			full.MIME = http.DetectContentType(m.Data)
		}
		full.Ref = n.storeMediaLocked(m.Data)
		wire := full
		wire.Data = nil
		e.content, e.wire = &full, &wire
	}
	n.envelopes[id] = append(n.envelopes[id], e)
	return e
}

// deliverLocked hands a message to its recipients: their phones record it (and
// send receipts), their sessions get it queued, and the author's other sessions
// get a FromMe copy.
func (n *Network) deliverLocked(e *envelope) {
	var recipients []*Phone
	switch {
	case e.group != nil:
		for _, m := range e.group.members {
			if m != e.from {
				recipients = append(recipients, m)
			}
		}
	case e.to != e.from:
		recipients = []*Phone{e.to}
	}
	for _, r := range recipients {
		r.receiveLocked(e)
		for _, d := range sortedDevices(r) {
			d.pushLocked(&item{msg: e.inboundLocked(false)})
		}
	}
	for _, d := range sortedDevices(e.from) {
		if d != e.fromDevice {
			d.pushLocked(&item{msg: e.inboundLocked(true)})
		}
	}
}

// inboundLocked is the message as a session receives it.
func (e *envelope) inboundLocked(fromMe bool) *waqtor.InboundMessage {
	m := &waqtor.InboundMessage{
		Content:  e.wire,
		FromMe:   fromMe,
		ID:       e.id,
		PushName: e.from.pushName,
		Sender:   e.from.addressLocked(),
		Time:     e.time,
	}
	switch {
	case e.group != nil:
		m.Chat = waqtor.Address{JID: e.group.jid}
		m.IsGroup = true
	case fromMe:
		m.Chat = e.to.addressLocked()
	default:
		m.Chat = e.from.addressLocked()
	}
	return m
}

// chatFor is the chat of e as seen by p: the group, or the other party.
func (e *envelope) chatFor(p *Phone) string {
	switch {
	case e.group != nil:
		return e.group.jid
	case p == e.from:
		return e.to.addressLocked().JID
	}
	return e.from.addressLocked().JID
}

// matchesChat reports whether reader received e in chat (from sender, in groups).
func (e *envelope) matchesChat(reader *Phone, chat, sender string) bool {
	if e.group != nil {
		return e.group.jid == chat && e.from != reader && slices.Contains(e.group.members, reader) &&
			(sender == "" || e.from.is(sender))
	}
	return e.to == reader && e.from.is(chat)
}

// scheduleDeliveredLocked makes p's device confirm delivery after
// DeliverLatency (and, with AutoRead, read it after ReadLatency), once p is
// online.
func (n *Network) scheduleDeliveredLocked(p *Phone, e *envelope) {
	n.afterLocked(n.cfg.DeliverLatency, func() {
		if e.unlogged {
			n.scheduleDeliveredAfterLogLocked(p, e)
			return
		}
		if !p.online {
			p.undelivered = append(p.undelivered, e)
			return
		}
		n.deliveredLocked(p, e, n.cfg.NowFunc())
		if n.cfg.AutoRead && len(p.devices) == 0 {
			n.scheduleReadLocked(p, e)
		}
	})
}

// scheduleDeliveredAfterLogLocked delivers the receipt once the send's record
// is logged.
func (n *Network) scheduleDeliveredAfterLogLocked(p *Phone, e *envelope) {
	e.afterLog = append(e.afterLog, func() { n.scheduleDeliveredLocked(p, e) })
}

// loggedLocked releases the receipts held while a send's record was logged.
func (n *Network) loggedLocked(e *envelope) {
	e.unlogged = false
	for _, f := range e.afterLog {
		f()
	}
	e.afterLog = nil
}

func (n *Network) scheduleReadLocked(p *Phone, e *envelope) {
	n.afterLocked(n.cfg.ReadLatency, func() {
		if !p.online {
			p.unread = append(p.unread, e)
			return
		}
		n.readLocked(p, e, n.cfg.NowFunc())
	})
}

// deliveredLocked records that reader's device got e and tells the author.
func (n *Network) deliveredLocked(reader *Phone, e *envelope, at time.Time) {
	if e.deliveredTo[reader] {
		return
	}
	e.deliveredTo[reader] = true
	if rm := reader.receivedIdx[e.key()]; rm != nil && rm.r.DeliveredAt.IsZero() {
		rm.r.DeliveredAt = at
		reader.notifyLocked()
	}
	n.receiptLocked(reader, e, waqtor.ReceiptDelivered, at)
}

// readLocked records that reader read e (delivering it first) and tells the author.
func (n *Network) readLocked(reader *Phone, e *envelope, at time.Time) {
	if e.readBy[reader] {
		return
	}
	n.deliveredLocked(reader, e, at)
	e.readBy[reader] = true
	if rm := reader.receivedIdx[e.key()]; rm != nil && rm.r.ReadAt.IsZero() {
		rm.r.ReadAt = at
		reader.notifyLocked()
	}
	n.receiptLocked(reader, e, waqtor.ReceiptRead, at)
}

// playedLocked records that reader played e (reading it first) and tells the author.
func (n *Network) playedLocked(reader *Phone, e *envelope, at time.Time) {
	if e.playedBy[reader] {
		return
	}
	n.readLocked(reader, e, at)
	e.playedBy[reader] = true
	n.receiptLocked(reader, e, waqtor.ReceiptPlayed, at)
}

// receiptLocked updates the author's Sent record and queues a receipt for the
// author's sessions.
func (n *Network) receiptLocked(reader *Phone, e *envelope, typ waqtor.ReceiptType, at time.Time) {
	if s := e.sent; s != nil {
		switch typ {
		case waqtor.ReceiptDelivered:
			if s.s.DeliveredAt.IsZero() {
				s.s.DeliveredAt = at
			}
		case waqtor.ReceiptRead:
			if s.s.ReadAt.IsZero() {
				s.s.ReadAt = at
			}
			s.s.ReadBy = append(s.s.ReadBy, reader.addressLocked().JID)
		}
		e.from.notifyLocked()
	}
	chat := reader.addressLocked()
	if e.group != nil {
		chat = waqtor.Address{JID: e.group.jid}
	}
	for _, d := range sortedDevices(e.from) {
		d.pushLocked(&item{receipt: &waqtor.Receipt{
			Chat:   chat,
			IDs:    []string{e.id},
			Sender: reader.addressLocked(),
			Time:   at,
			Type:   typ,
		}})
	}
}

// key identifies e in a phone's received messages.
func (e *envelope) key() string { return e.from.jid + "/" + e.id }
