package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
)

// followedKinds are the events that move campaigns and their recipients.
var followedKinds = []waqtor.EventKind{waqtor.KindMessageDelivered, waqtor.KindMessageFailed, waqtor.KindMessageRead,
	waqtor.KindMessageReceived, waqtor.KindMessageSent, waqtor.KindSessionStatus}

// follow reads the Core's event log through the service's cursor and applies
// each batch, with the new cursor position, in one transaction: a recipient's
// state and its campaign's counts move together, exactly once.
func (s *Service) follow(ctx context.Context, cur *waqtor.Cursor) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		evs, err := cur.Next(ctx, followBatch)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, waqtor.ErrStopped) {
				return
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			s.logger.WarnContext(ctx, "Campaign runner cannot read the event log", slog.Any("error", err))
			s.sleep(ctx, backoff, nil)
			continue
		}
		evs = s.linger(ctx, cur, evs)
		for ctx.Err() == nil {
			err := s.apply(ctx, evs)
			if err == nil {
				backoff = 0
				break
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			s.logger.WarnContext(ctx, "Campaign runner failed to apply events; retrying", slog.Int("events", len(evs)),
				slog.Any("error", err))
			s.sleep(ctx, backoff, nil)
		}
	}
}

// followBatch is the most events the follower applies in one transaction.
const followBatch = 500

// followLinger is how long the follower waits for more events after a small
// batch: receipts and sends come in bursts, and one transaction for a burst
// costs the database far less than one per event. Counts lag by at most this.
const followLinger = 20 * time.Millisecond

// linger adds the events that arrive within followLinger to a small batch:
// it waits that long, then reads what came meanwhile in one read.
func (s *Service) linger(ctx context.Context, cur *waqtor.Cursor, evs []waqtor.Event) []waqtor.Event {
	if len(evs) >= followBatch/2 {
		return evs
	}
	t := time.NewTimer(followLinger)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return evs
	}
	// Next waits for an event when there is none: a deadline that has
	// almost passed makes it return what is there.
	rctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if more, err := cur.Next(rctx, followBatch-len(evs)); err == nil {
		evs = append(evs, more...)
	}
	return evs
}

// batch collects what a transaction changes per campaign.
type batch struct {
	camps map[string]*campaignChange
	order []string
}

type campaignChange struct {
	delta    countDelta
	outcomes []bool // send outcomes in order, true when failed
	pause    *pauseCause
}

type pauseCause struct {
	reason, detail, session string
	resumeAt                time.Time
}

func (b *batch) of(id string) *campaignChange {
	if b.camps == nil {
		b.camps = map[string]*campaignChange{}
	}
	o := b.camps[id]
	if o == nil {
		o = &campaignChange{}
		b.camps[id] = o
		b.order = append(b.order, id)
	}
	return o
}

// apply applies a batch of events and moves the cursor past it.
func (s *Service) apply(ctx context.Context, evs []waqtor.Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := s.now()
	var touched []string
	err := s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		if err := s.lockTargets(ctx, tx, evs, now); err != nil {
			return err
		}
		b := &batch{}
		for _, e := range evs {
			m := e.Meta()
			var err error
			switch e := e.(type) {
			case *waqtor.MessageSent:
				err = s.advance(ctx, tx, b, m, e.Message.ID, RecipientSent, e.Message.Time, "")
			case *waqtor.MessageFailed:
				err = s.advance(ctx, tx, b, m, e.Message.ID, RecipientFailed, m.Time, e.Error)
			case *waqtor.MessageDelivered:
				err = s.advance(ctx, tx, b, m, e.MessageID, RecipientDelivered, m.Time, "")
			case *waqtor.MessageRead:
				err = s.advance(ctx, tx, b, m, e.MessageID, RecipientRead, m.Time, "")
			case *waqtor.MessageReceived:
				err = s.reply(ctx, tx, m, &e.Message, now)
			case *waqtor.SessionStatus:
				err = s.sessionChanged(ctx, tx, b, m, e)
			}
			if err != nil {
				return err
			}
		}
		if err := s.applyBatch(ctx, tx, em, b); err != nil {
			return err
		}
		touched = b.order
		return store.SetCursor(ctx, s.db.st.Q(tx), s.cfg.CursorName, evs[len(evs)-1].Meta().Seq, now)
	})
	if err != nil {
		return err
	}
	s.markDirty(touched...)
	return nil
}

// Hot queries of the follower, prepared once on SQLite.
//
// qMessageRecipient's redundant message_id <> ” lets both databases use the
// partial index on message_id, whose condition SQLite (and Postgres's
// generic plan of a prepared statement) cannot prove from message_id = $1
// alone: without it every event the follower applies scans all recipients.
const (
	qMessageRecipient = `SELECT r.campaign_id, c.tenant_id, r.seq, r.state, r.session_id, r.sent_at
		FROM waqtor_campaign_recipients r JOIN waqtor_campaigns c ON c.id = r.campaign_id
		WHERE r.message_id = $1 AND r.message_id <> ''`
	// qAdvance moves a recipient up the sent → delivered → read line; $3
	// stamps sent_at when it was not yet (a delivered receipt may come first).
	qAdvance = `UPDATE waqtor_campaign_recipients SET state = $1, claim_until = 0, updated_at = $2,
		sent_at = CASE WHEN sent_at = 0 THEN $3 ELSE sent_at END,
		delivered_at = CASE WHEN $4 = 1 AND delivered_at = 0 THEN $3 ELSE delivered_at END,
		read_at = CASE WHEN $5 = 1 AND read_at = 0 THEN $3 ELSE read_at END
		WHERE campaign_id = $6 AND seq = $7 AND state = $8`
	qFail = `UPDATE waqtor_campaign_recipients SET state = 'failed', claim_until = 0, updated_at = $1, reason = $2,
		detail = $3 WHERE campaign_id = $4 AND seq = $5 AND state = $6`
)

func hotQueries() []string { return []string{qMessageRecipient, qAdvance, qFail} }

// lockTargets locks, on Postgres, the rows of the campaigns a batch of events
// concerns, in ID order, before any of their recipients. Every transaction
// that writes a campaign's recipients and counts takes the campaign's row
// first (claims, settles, deletes, imports, two nodes' followers), so none
// can hold a recipient another waits for while waiting for its campaign.
// SQLite runs one write transaction at a time and needs none of this.
func (s *Service) lockTargets(ctx context.Context, tx *sql.Tx, evs []waqtor.Event, now time.Time) error {
	if s.db.dialect != store.DialectPostgres {
		return nil
	}
	ids := map[string]bool{}
	var msgIDs []string
	for _, e := range evs {
		m := e.Meta()
		var msgID string
		switch e := e.(type) {
		case *waqtor.MessageSent:
			msgID = e.Message.ID
		case *waqtor.MessageFailed:
			msgID = e.Message.ID
		case *waqtor.MessageDelivered:
			msgID = e.MessageID
		case *waqtor.MessageRead:
			msgID = e.MessageID
		case *waqtor.MessageReceived:
			if err := s.replyTargets(ctx, tx, m, &e.Message, now, ids); err != nil {
				return err
			}
		case *waqtor.SessionStatus:
			if e.State != waqtor.StateBanned && e.State != waqtor.StateLoggedOut {
				continue
			}
			rows, err := s.db.campaignsIn(ctx, tx, StateRunning, StateScheduled)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if r.c.Tenant == m.Tenant && slices.Contains(r.c.Sessions, m.Session) {
					ids[r.c.ID] = true
				}
			}
		}
		if msgID != "" {
			msgIDs = append(msgIDs, msgID)
		}
	}
	// The campaigns of the batch's messages, in one query (the follower reads
	// each recipient again once its campaign is locked).
	for chunk := range slices.Chunk(msgIDs, 500) {
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			ph[i], args[i] = "$"+itoa(i+1), id
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT campaign_id FROM waqtor_campaign_recipients
			WHERE message_id IN (`+strings.Join(ph, ", ")+`) AND message_id <> ''`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids[id] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	for _, id := range sorted {
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM waqtor_campaigns WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
	}
	return nil
}

// replyTargets adds the campaigns an inbound message is a reply to.
func (s *Service) replyTargets(ctx context.Context, tx *sql.Tx, m *waqtor.EventMeta, msg *waqtor.Message, now time.Time, ids map[string]bool) error {
	phone, at, ok := s.replyOf(msg, now)
	if !ok {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT r.campaign_id FROM waqtor_campaign_recipients r
		JOIN waqtor_campaigns c ON c.id = r.campaign_id
		WHERE r.phone = $1 AND r.sent_at > $2 AND r.sent_at <= $3 AND r.replied_at = 0 AND r.session_id = $4 AND c.tenant_id = $5`,
		phone, micros(at.Add(-s.cfg.ReplyWindow)), micros(at), m.Session, m.Tenant)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids[id] = true
	}
	return rows.Err()
}

// replyOf returns who an inbound message is from and when, when it may be a
// reply to a campaign.
func (s *Service) replyOf(msg *waqtor.Message, now time.Time) (string, time.Time, bool) {
	if msg.FromMe || msg.IsGroup {
		return "", time.Time{}, false
	}
	phone := msg.Sender.Phone
	if phone == "" {
		phone = msg.Chat.Phone
	}
	at := msg.Time
	if at.IsZero() {
		at = now
	}
	return phone, at, phone != ""
}

// advance moves the recipient a message was sent to, never backwards.
func (s *Service) advance(ctx context.Context, tx *sql.Tx, b *batch, m *waqtor.EventMeta, msgID string, to RecipientState, at time.Time, detail string) error {
	q := s.db.st.Q(tx)
	var (
		id, tenant, session string
		seq, sentAt         int64
		from                RecipientState
	)
	err := q.QueryRowContext(ctx, qMessageRecipient, msgID).Scan(&id, &tenant, &seq, &from, &session, &sentAt)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if tenant != m.Tenant || session != m.Session {
		return nil
	}
	switch {
	case to == RecipientFailed && from.level() != 0:
		return nil
	case to != RecipientFailed && (from.level() < 0 || to.level() <= from.level()):
		return nil
	}
	if at.IsZero() {
		at = s.now()
	}
	var res sql.Result
	if to == RecipientFailed {
		res, err = q.ExecContext(ctx, qFail, micros(s.now()), ReasonSendFailed, truncate(detail, 500), id, seq, string(from))
	} else {
		res, err = q.ExecContext(ctx, qAdvance, string(to), micros(s.now()), micros(at), boolInt(to.level() >= 2),
			boolInt(to.level() >= 3), id, seq, string(from))
	}
	if err != nil {
		return err
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return err
	}
	o := b.of(id)
	if to == RecipientFailed {
		o.delta.pending--
		o.delta.failed++
		o.outcomes = append(o.outcomes, true)
		return nil
	}
	if from.level() == 0 {
		o.delta.pending--
		o.outcomes = append(o.outcomes, false)
	}
	for lvl, c := range []*int64{&o.delta.sent, &o.delta.delivered, &o.delta.read} {
		if from.level() < lvl+1 && to.level() >= lvl+1 {
			*c++
		}
	}
	return nil
}

// reply records an inbound message as a reply to the campaigns that sent to
// its author within the reply window.
func (s *Service) reply(ctx context.Context, tx *sql.Tx, m *waqtor.EventMeta, msg *waqtor.Message, now time.Time) error {
	phone, at, ok := s.replyOf(msg, now)
	if !ok {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE waqtor_campaign_recipients SET replied_at = $1
		WHERE phone = $2 AND sent_at > $3 AND sent_at <= $1 AND replied_at = 0 AND session_id = $4
		AND campaign_id IN (SELECT id FROM waqtor_campaigns WHERE tenant_id = $5)`,
		micros(at), phone, micros(at.Add(-s.cfg.ReplyWindow)), m.Session, m.Tenant)
	return err
}

// sessionChanged pauses the running campaigns of a session that logged out
// or was banned.
func (s *Service) sessionChanged(ctx context.Context, tx *sql.Tx, b *batch, m *waqtor.EventMeta, e *waqtor.SessionStatus) error {
	var cause pauseCause
	switch e.State {
	case waqtor.StateBanned:
		cause = pauseCause{reason: "session_banned", detail: "session " + m.Session + " is temporarily banned", session: m.Session,
			resumeAt: e.BanExpires}
	case waqtor.StateLoggedOut:
		cause = pauseCause{reason: "session_logged_out", detail: "session " + m.Session + " logged out", session: m.Session}
	default:
		return nil
	}
	rows, err := s.db.campaignsIn(ctx, tx, StateRunning, StateScheduled)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.c.Tenant == m.Tenant && slices.Contains(r.c.Sessions, m.Session) {
			c := cause
			b.of(r.c.ID).pause = &c
		}
	}
	return nil
}

// applyBatch writes a batch's counts and failure windows, and moves the
// campaigns it concerns: auto-pause, completion.
func (s *Service) applyBatch(ctx context.Context, tx *sql.Tx, em *emitter, b *batch) error {
	now := s.now()
	for _, id := range b.order {
		o := b.camps[id]
		if err := s.db.addCounts(ctx, tx, id, o.delta, now); err != nil {
			return err
		}
		if len(o.outcomes) == 0 && o.pause == nil && o.delta.pending == 0 {
			continue
		}
		r, err := s.db.lockCampaign(ctx, tx, "", id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		p := r.c.Pacing.WithDefaults()
		if len(o.outcomes) > 0 {
			w := NewFailureWindow(p.FailureWindow)
			if r.recent != "" {
				if err := json.Unmarshal([]byte(r.recent), w); err != nil || w.Size() != p.FailureWindow {
					w = NewFailureWindow(p.FailureWindow) // the window's size changed: start afresh
				}
			}
			for _, failed := range o.outcomes {
				w.Add(failed)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE waqtor_campaigns SET recent = $1 WHERE id = $2`, mustJSON(w), id); err != nil {
				return err
			}
			if o.pause == nil && r.c.State == StateRunning && w.Exceeded(p) {
				o.pause = &pauseCause{reason: "failure_rate",
					detail: itoa(w.Failures()) + " of the last " + itoa(w.Len()) + " sends failed"}
			}
		}
		switch {
		case o.pause != nil && (r.c.State == StateRunning || r.c.State == StateScheduled):
			resume := time.Time{}
			if o.pause.reason == "session_banned" && p.ResumeAfterBan {
				resume = o.pause.resumeAt
			}
			if _, err := s.transition(ctx, tx, em, r, StatePaused, o.pause.reason, o.pause.detail, o.pause.session, resume); err != nil {
				return err
			}
		case r.c.State == StateRunning && r.c.Counts.Pending == 0:
			if _, err := s.transition(ctx, tx, em, r, StateCompleted, "done", "", "", time.Time{}); err != nil {
				return err
			}
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func jsonUnmarshal(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return dbErr(err)
	}
	return nil
}
