package campaign

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
	"github.com/waqtor/waqtor/template"
)

// sender sends for every running campaign that uses one session, one
// message at a time, at the pace of the campaign it sends for.
type sender struct {
	tenant, session string
	wake            chan struct{}
}

func (snd *sender) key() string { return sessionKey(snd.tenant, snd.session) }

// wakeSenders makes every sender look at its campaigns again.
func (s *Service) wakeSenders() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, snd := range s.senders {
		select {
		case snd.wake <- struct{}{}:
		default:
		}
	}
}

// sleep waits d on the service's clock, or until woken or ctx ends. It
// reports false when ctx ended.
func (s *Service) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
		return false
	}
	return true
}

// poll starts due schedules, resumes campaigns whose ban lifted, completes
// running campaigns with nothing left to send, and keeps a sender running
// for every session of a running campaign.
func (s *Service) poll(ctx context.Context) {
	for {
		if err := s.pollOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "Campaign poll failed", slog.Any("error", err))
		}
		if !s.sleep(ctx, s.cfg.PollInterval, s.kickPoll) {
			return
		}
	}
}

func (s *Service) pollOnce(ctx context.Context) error {
	rows, err := s.db.campaignsIn(ctx, s.db.sql, StateScheduled, StateRunning, StatePaused)
	if err != nil {
		return dbErr(err)
	}
	now := s.now()
	for _, r := range rows {
		c := &r.c
		var to State
		var reason string
		switch {
		case c.State == StateScheduled && !c.ScheduleAt.After(now):
			to, reason = StateRunning, "schedule"
		case c.State == StatePaused && !c.ResumeAt.IsZero() && !c.ResumeAt.After(now):
			if s.sessionsUsable(ctx, c) != nil {
				continue
			}
			to, reason = StateRunning, "ban_lifted"
		case c.State == StateRunning && c.Counts.Pending == 0:
			to, reason = StateCompleted, "done"
		default:
			continue
		}
		if err := s.moveIf(ctx, c.ID, c.State, to, reason); err != nil {
			return err
		}
	}
	running, err := s.db.campaignsIn(ctx, s.db.sql, StateRunning)
	if err != nil {
		return dbErr(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range running {
		for _, id := range r.c.Sessions {
			key := sessionKey(r.c.Tenant, id)
			if s.senders[key] != nil {
				continue
			}
			snd := &sender{tenant: r.c.Tenant, session: id, wake: make(chan struct{}, 1)}
			s.senders[key] = snd
			s.goLoop(func(ctx context.Context) { s.runSender(ctx, snd) })
		}
	}
	return nil
}

// moveIf moves a campaign that is still in state from; a campaign that moved
// meanwhile is left alone.
func (s *Service) moveIf(ctx context.Context, id string, from, to State, reason string) error {
	err := s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		r, err := s.db.lockCampaign(ctx, tx, "", id)
		if err != nil || r.c.State != from {
			return err
		}
		if to == StateCompleted && r.c.Counts.Pending != 0 {
			return nil
		}
		_, err = s.transition(ctx, tx, em, r, to, reason, "", "", time.Time{})
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// runSender sends for the running campaigns of one session until none is
// left.
func (s *Service) runSender(ctx context.Context, snd *sender) {
	log := s.logger.With(slog.String("tenant", snd.tenant), slog.String("session", snd.session))
	tctx := waqtor.WithTenant(ctx, snd.tenant)
	turn := 0
	backoff := time.Duration(0)
	fail := func(what string, err error) bool {
		backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
		if ctx.Err() == nil {
			log.WarnContext(ctx, what, slog.Any("error", err))
		}
		return s.sleep(ctx, backoff, snd.wake)
	}
	for ctx.Err() == nil {
		camps, err := s.senderCampaigns(ctx, snd)
		if err != nil {
			if !fail("Campaign sender cannot read its campaigns", err) {
				return
			}
			continue
		}
		if len(camps) == 0 {
			s.mu.Lock()
			// Look again under the lock: poll may have found work meanwhile
			// and, seeing this sender, not started another.
			select {
			case <-snd.wake:
				s.mu.Unlock()
				continue
			default:
			}
			delete(s.senders, snd.key())
			s.mu.Unlock()
			return
		}
		sess, err := s.core.Session(tctx, snd.session)
		if err != nil || sess.State != waqtor.StateReady {
			if !s.sleep(ctx, s.cfg.PollInterval, snd.wake) {
				return
			}
			continue
		}
		wait := time.Duration(-1)
		sent := false
		for i := range camps {
			c := camps[(turn+i)%len(camps)]
			cls, w, err := s.claim(ctx, c, snd)
			if err != nil {
				if !fail("Campaign claim failed", err) {
					return
				}
				break
			}
			if len(cls) == 0 {
				if w > 0 && (wait < 0 || w < wait) {
					wait = w
				}
				continue
			}
			backoff = 0
			turn = (turn + i + 1) % len(camps)
			for _, cl := range cls {
				s.sendClaimed(ctx, c, snd, cl)
			}
			sent = true
			break
		}
		if !sent {
			if wait < 0 {
				wait = s.cfg.PollInterval
			}
			if !s.sleep(ctx, wait, snd.wake) {
				return
			}
		}
	}
}

// senderCampaigns returns the running campaigns that send through snd.
func (s *Service) senderCampaigns(ctx context.Context, snd *sender) ([]*Campaign, error) {
	rows, err := s.db.campaignsIn(ctx, s.db.sql, StateRunning)
	if err != nil {
		return nil, err
	}
	var out []*Campaign
	for _, r := range rows {
		if r.c.Tenant == snd.tenant && slices.Contains(r.c.Sessions, snd.session) {
			out = append(out, &r.c)
		}
	}
	return out, nil
}

// claimed is a recipient a sender claimed.
type claimed struct {
	seq       int64
	phone     string
	chat      string
	messageID string
	content   *rendered
	pacing    *Pacing
	fresh     bool // claimed from pending, not a resumed claim
}

// idempotencyKey is the Core idempotency key of a recipient's send.
func idempotencyKey(campaignID string, seq int64) string {
	return "campaign:" + campaignID + ":" + strconv.FormatInt(seq, 10)
}

// claimCandidates is how many recipients a sender looks at per claim.
const claimCandidates = 32

// claim picks the next recipient of c this sender may send to now and claims
// it: its message ID, rendered content and sender are stored, with a lease,
// and the sender's pacing state records the send, all in one transaction,
// before anything is sent. It returns nil and how long to wait when pacing,
// quiet hours or an empty queue hold the campaign back.
func (s *Service) claim(ctx context.Context, c *Campaign, snd *sender) ([]*claimed, time.Duration, error) {
	p := c.Pacing.WithDefaults()
	loc := c.location()
	now := s.now()
	limit := 1
	if p.Unpaced {
		// Nothing to pace: claim a few at once to spare transactions.
		limit = unpacedClaim
	} else {
		st, err := s.db.senderState(ctx, s.db.sql, snd.key())
		if err != nil {
			return nil, 0, dbErr(err)
		}
		if at, _ := p.Next(st, now, loc); at.After(now) {
			return nil, at.Sub(now), nil
		}
	}
	k, err := s.compiled(c)
	if err != nil {
		return nil, 0, err
	}
	var out []*claimed
	wait := time.Duration(0)
	var before SenderState
	err = s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		out, wait = out[:0], 0
		cur, err := s.db.lockCampaign(ctx, tx, "", c.ID)
		if err != nil {
			return err
		}
		if cur.c.State != StateRunning {
			return nil
		}
		st, err := s.db.lockSender(ctx, tx, snd.key(), now)
		if err != nil {
			return dbErr(err)
		}
		if at, _ := p.Next(st, now, loc); at.After(now) {
			wait = at.Sub(now)
			return nil
		}
		rrs, w, err := s.pick(ctx, tx, c.ID, snd.session, p, loc, now, limit)
		if err != nil || len(rrs) == 0 {
			wait = w
			return err
		}
		before = st
		for _, rr := range rrs {
			msgID, content := rr.r.MessageID, rr.rendered
			if rr.r.State == RecipientPending || msgID == "" || content == "" {
				msgID = waqtor.NewMessageID()
				content = mustJSON(k.render(mergeVars(c.Variables, rr.r.Variables, rr.r.Phone), now, loc,
					template.SeedFor(c.ID, rr.r.Phone)))
			}
			res, err := tx.ExecContext(ctx, `UPDATE waqtor_campaign_recipients SET state = 'sending', session_id = $1,
				message_id = $2, rendered = $3, claim_owner = $4, claim_until = $5, claimed_at = $6, updated_at = $6
				WHERE campaign_id = $7 AND seq = $8 AND state = $9`,
				snd.session, msgID, content, s.cfg.NodeID, micros(now.Add(s.cfg.ClaimLease)), micros(now), c.ID, rr.r.Seq,
				string(rr.r.State))
			if err != nil {
				return dbErr(err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return dbErr(err)
			} else if n != 1 {
				continue
			}
			s.rndMu.Lock()
			st = p.Record(st, now, loc, s.rnd)
			s.rndMu.Unlock()
			var r rendered
			if err := jsonUnmarshal(content, &r); err != nil {
				return err
			}
			out = append(out, &claimed{seq: rr.r.Seq, phone: rr.r.Phone, chat: rr.r.Chat, messageID: msgID, content: &r,
				pacing: p, fresh: rr.r.State == RecipientPending})
		}
		if len(out) == 0 || p.Unpaced {
			return nil
		}
		return s.db.putSenderState(ctx, tx, snd.key(), st, now)
	})
	if err != nil || len(out) == 0 {
		return nil, wait, err
	}
	kept := out[:0]
	for _, cl := range out {
		if !cl.fresh || p.Unpaced {
			// Unpaced, there is no turn to spare: the Core's check suffices.
			kept = append(kept, cl)
			continue
		}
		// An opted-out contact is skipped without spending the sender's
		// turn. (The Core checks again in the transaction that stores the
		// message, so an opt-out after this check is honoured too.)
		if opted, err := s.optedOut(ctx, c, cl.phone); err != nil {
			s.release(ctx, c.ID, cl.seq)
		} else if opted {
			s.settle(ctx, c.ID, cl.seq, RecipientSkipped, ReasonOptedOut, "the contact opted out")
			if !p.Unpaced {
				s.refund(ctx, snd, before)
			}
		} else {
			kept = append(kept, cl)
		}
	}
	return kept, 0, nil
}

// unpacedClaim is how many recipients an unpaced sender claims at once.
const unpacedClaim = 64

// compiled returns a campaign's parsed content, cached while the campaign
// is unchanged.
func (s *Service) compiled(c *Campaign) (*compiled, error) {
	s.mu.Lock()
	e := s.contents[c.ID]
	s.mu.Unlock()
	if e != nil && e.updated.Equal(c.UpdatedAt) {
		return e.k, nil
	}
	k, err := compileContent(&c.Content)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.contents[c.ID] = &compiledEntry{k: k, updated: c.UpdatedAt}
	s.mu.Unlock()
	return k, nil
}

type compiledEntry struct {
	k       *compiled
	updated time.Time
}

// pick returns the recipient a sender claims next: first its own claims
// whose lease ran out (sends interrupted by a crash, resent under the same
// ID), then pending ones in order, skipping those in their quiet hours. When
// none can be sent now, it returns how long until one can (0: unknown).
func (s *Service) pick(ctx context.Context, tx *sql.Tx, id, session string, p *Pacing, loc *time.Location, now time.Time, limit int) ([]*recipientRow, time.Duration, error) {
	wait := time.Duration(0)
	var out []*recipientRow
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`SELECT ` + recipientCols + ` FROM waqtor_campaign_recipients WHERE campaign_id = $1 AND state = 'sending'
			AND session_id = $2 AND claim_until < $3 ORDER BY seq LIMIT $4`, []any{id, session, micros(now), max(limit, claimCandidates)}},
		{`SELECT ` + recipientCols + ` FROM waqtor_campaign_recipients WHERE campaign_id = $1 AND state = 'pending'
			ORDER BY seq LIMIT $2`, []any{id, max(limit, claimCandidates)}},
	} {
		rows, err := tx.QueryContext(ctx, q.sql, q.args...)
		if err != nil {
			return nil, 0, dbErr(err)
		}
		var cands []*recipientRow
		for rows.Next() {
			rr, err := scanRecipient(rows)
			if err != nil {
				rows.Close()
				return nil, 0, dbErr(err)
			}
			cands = append(cands, rr)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, 0, dbErr(err)
		}
		for _, rr := range cands {
			if quiet, until := p.Quiet(now, p.QuietLocation(rr.r.Phone, rr.r.Variables, loc)); quiet {
				if w := until.Sub(now); wait == 0 || w < wait {
					wait = w
				}
				continue
			}
			if out = append(out, rr); len(out) == limit {
				return out, 0, nil
			}
		}
		if len(out) > 0 {
			return out, 0, nil
		}
	}
	return nil, wait, nil
}

// refund gives a sender back the turn of a claim that sent nothing.
func (s *Service) refund(ctx context.Context, snd *sender, before SenderState) {
	ctx = context.WithoutCancel(ctx)
	if err := s.db.putSenderState(ctx, s.db.sql, snd.key(), before, s.now()); err != nil {
		s.logger.WarnContext(ctx, "Campaign sender state update failed", slog.Any("error", err))
	}
}

// lockSender reads a sender's pacing state for update: on Postgres the row
// stays locked until tx ends, so two processes never both take the slot.
func (d *db) lockSender(ctx context.Context, tx *sql.Tx, key string, now time.Time) (SenderState, error) {
	if d.dialect == store.DialectPostgres {
		if _, err := tx.ExecContext(ctx, `INSERT INTO waqtor_campaign_senders (session_key, state, updated_at)
			VALUES ($1, '{}', $2) ON CONFLICT (session_key) DO NOTHING`, key, micros(now)); err != nil {
			return SenderState{}, err
		}
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM waqtor_campaign_senders WHERE session_key = $1 FOR UPDATE`, key); err != nil {
			return SenderState{}, err
		}
	}
	return d.senderState(ctx, tx, key)
}

// sendClaimed sends a claimed recipient's message. Its outcome reaches the
// recipient through the Core's events (follow.go); here only what happens
// before the Core stores the message is recorded.
func (s *Service) sendClaimed(ctx context.Context, c *Campaign, snd *sender, cl *claimed) {
	tctx := waqtor.WithTenant(ctx, c.Tenant)
	if c.CheckNumbers {
		res, err := s.core.CheckNumbers(tctx, snd.session, []string{cl.phone})
		if err == nil && len(res) == 1 && !res[0].OnWhatsApp {
			s.settle(ctx, c.ID, cl.seq, RecipientSkipped, ReasonNotOnWhatsApp, "the number is not on WhatsApp")
			return
		}
	}
	s.rndMu.Lock()
	typing := cl.pacing.TypingFor(s.rnd)
	s.rndMu.Unlock()
	if typing > 0 {
		if s.core.SetPresence(tctx, snd.session, cl.chat, waqtor.PresenceTyping) == nil {
			s.sleep(ctx, typing, nil)
			_ = s.core.SetPresence(tctx, snd.session, cl.chat, waqtor.PresencePaused)
		}
	}
	opts := s.sendOpts(c, cl)
	var err error
	switch r := cl.content; {
	case r.Media != nil:
		_, err = s.core.SendMedia(tctx, snd.session, cl.chat, &waqtor.MediaParams{Caption: r.Media.Caption,
			Data: r.Media.Data, FileName: r.Media.FileName, Kind: r.Media.Kind, MIME: r.Media.MIME, URL: r.Media.URL}, opts)
	case r.Poll != nil:
		_, err = s.core.SendPoll(tctx, snd.session, cl.chat, r.Poll, opts)
	default:
		_, err = s.core.SendText(tctx, snd.session, cl.chat, r.Text, opts)
	}
	if err == nil {
		return
	}
	s.sendFailed(ctx, c, snd, cl, err)
}

// sendFailed records a send the Core refused or could not store.
func (s *Service) sendFailed(ctx context.Context, c *Campaign, snd *sender, cl *claimed, err error) {
	var quota *waqtor.QuotaError
	switch {
	case errors.As(err, &quota):
		s.release(ctx, c.ID, cl.seq)
		s.sleep(ctx, quota.RetryAfter, nil)
	case isOptOut(err):
		s.settle(ctx, c.ID, cl.seq, RecipientSkipped, ReasonOptedOut, "the contact opted out")
	case errors.Is(err, waqtor.ErrInvalidMessage), errors.Is(err, waqtor.ErrInvalidPhone),
		errors.Is(err, waqtor.ErrMediaTooLarge), errors.Is(err, waqtor.ErrMediaFetch),
		errors.Is(err, waqtor.ErrIdempotencyKeyReused), errors.Is(err, waqtor.ErrDuplicateMessageID):
		s.settle(ctx, c.ID, cl.seq, RecipientFailed, ReasonInvalidContent, err.Error())
	case waqtor.IsPermanent(err):
		// The Core stored the message as failed; message.failed moves the
		// recipient.
	default:
		// Not ready, stopped, a database error: the claim is released and
		// the recipient sent later under the same ID.
		s.release(ctx, c.ID, cl.seq)
		if ctx.Err() == nil {
			s.logger.WarnContext(ctx, "Campaign send deferred", slog.String("campaign_id", c.ID),
				slog.Int64("seq", cl.seq), slog.Any("error", err))
		}
	}
}

// release gives up a claim without sending, keeping the recipient's message
// ID for the next attempt.
func (s *Service) release(ctx context.Context, id string, seq int64) {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.db.sql.ExecContext(ctx, `UPDATE waqtor_campaign_recipients SET claim_until = 0
		WHERE campaign_id = $1 AND seq = $2 AND state = 'sending'`, id, seq); err != nil {
		s.logger.WarnContext(ctx, "Campaign claim release failed", slog.Any("error", err))
	}
}

// settle moves a recipient that was not sent to a final state.
func (s *Service) settle(ctx context.Context, id string, seq int64, to RecipientState, reason, detail string) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		// The campaign's row first, as every writer of its recipients does.
		if _, err := s.db.lockCampaign(ctx, tx, "", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE waqtor_campaign_recipients SET state = $1, reason = $2, detail = $3,
			claim_until = 0, updated_at = $4 WHERE campaign_id = $5 AND seq = $6 AND state IN ('pending', 'sending')`,
			string(to), reason, truncate(detail, 500), micros(now), id, seq)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		b := &batch{}
		o := b.of(id)
		o.delta.pending--
		if to == RecipientFailed {
			o.delta.failed++
			o.outcomes = append(o.outcomes, true)
		} else {
			o.delta.skipped++
		}
		return s.applyBatch(ctx, tx, em, b)
	})
	if err != nil {
		s.logger.WarnContext(ctx, "Campaign recipient update failed", slog.String("campaign_id", id),
			slog.Int64("seq", seq), slog.Any("error", err))
	}
}

// truncate cuts s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
