package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
)

// Limits of campaign input.
const (
	// MaxNameLength is the longest campaign name, in characters.
	MaxNameLength = 200
	// MaxSessions is how many sender sessions a campaign may use.
	MaxSessions = 32
	// MaxVariables is how many default variables a campaign may have.
	MaxVariables = 64
	// MaxVariableBytes is the longest variable value.
	MaxVariableBytes = 4096
)

// CreateParams describe a new campaign. The campaign belongs to the tenant
// of ctx ([waqtor.WithTenant], else the Core's default tenant).
type CreateParams struct {
	// CheckNumbers skips recipients that are not on WhatsApp, asking WhatsApp
	// just before each send. Defaults to false.
	CheckNumbers bool `json:"check_numbers,omitempty"`
	// Content is what to send. Required.
	Content Content `json:"content"`
	// Name names the campaign for people. Required.
	Name string `json:"name"`
	// Pacing is the sending policy. Defaults to the zero Pacing with its
	// defaults (one message every 4–9 s per session, 200 a day, a 5 min pause
	// after every 50).
	Pacing *Pacing `json:"pacing,omitempty"`
	// Recipients are added with the campaign, in the same transaction (more
	// can be added with AddRecipients). Defaults to none.
	Recipients []RecipientInput `json:"recipients,omitempty"`
	// ScheduleAt starts the campaign at this time once executed; it must be in
	// the future. Defaults to starting at once.
	ScheduleAt time.Time `json:"schedule_at,omitzero"`
	// Sessions are the sender sessions, 1 to MaxSessions, of the campaign's
	// tenant. Required.
	Sessions []string `json:"sessions"`
	// TimeZone is the IANA zone of {{date}}, {{time}}, quiet hours and daily
	// caps. Defaults to "UTC".
	TimeZone string `json:"time_zone,omitempty"`
	// Variables are default template variables, overlaid by each recipient's.
	Variables map[string]string `json:"variables,omitempty"`
}

// UpdateParams change a campaign; nil fields are left as they are. Only a
// draft may change, except Pacing, which may change until the campaign ends
// and applies to the next send.
type UpdateParams struct {
	// CheckNumbers replaces the number check setting.
	CheckNumbers *bool `json:"check_numbers,omitempty"`
	// Content replaces the content.
	Content *Content `json:"content,omitempty"`
	// Name renames the campaign.
	Name *string `json:"name,omitempty"`
	// Pacing replaces the pacing.
	Pacing *Pacing `json:"pacing,omitempty"`
	// ScheduleAt replaces the schedule; the zero time removes it.
	ScheduleAt *time.Time `json:"schedule_at,omitempty"`
	// Sessions replaces the sender sessions.
	Sessions []string `json:"sessions,omitempty"`
	// TimeZone replaces the time zone.
	TimeZone *string `json:"time_zone,omitempty"`
	// Variables replaces the default variables.
	Variables map[string]string `json:"variables,omitempty"`
}

// AddResult reports what AddRecipients (or Create with recipients) did.
type AddResult struct {
	// Added is how many recipients were added as pending.
	Added int64 `json:"added"`
	// Duplicates is how many were recorded as skipped: their phone is in the
	// campaign already.
	Duplicates int64 `json:"duplicates"`
	// Invalid is how many were recorded as skipped: their phone is invalid.
	Invalid int64 `json:"invalid"`
	// MissingVariables counts, per variable the content needs without a
	// fallback, the added recipients that lack it (they get an empty value).
	MissingVariables map[string]int64 `json:"missing_variables"`
	// Total is the campaign's recipient count afterwards.
	Total int64 `json:"total"`
}

// Create creates a draft campaign (with its recipients, if given). Errors:
// *FieldError wrapping ErrInvalidCampaign; a *SourceError for a bad recipient.
func (s *Service) Create(ctx context.Context, p *CreateParams) (*Campaign, *AddResult, error) {
	if p == nil {
		return nil, nil, fieldErr("", "missing campaign")
	}
	now := s.now()
	tenant := s.core.Tenant(ctx)
	c := &Campaign{ID: store.NewID("cmp_", now), Tenant: tenant, Name: strings.TrimSpace(p.Name), State: StateDraft,
		StateReason: "created", Sessions: p.Sessions, Content: p.Content, Variables: p.Variables,
		TimeZone: p.TimeZone, ScheduleAt: p.ScheduleAt, CheckNumbers: p.CheckNumbers, CreatedAt: now, UpdatedAt: now}
	if p.Pacing != nil {
		c.Pacing = *p.Pacing
	}
	k, err := s.validate(ctx, c, now)
	if err != nil {
		return nil, nil, err
	}
	var res *AddResult
	err = s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		if err := s.db.insertCampaign(ctx, tx, c); err != nil {
			return dbErr(err)
		}
		if _, err := s.db.setState(ctx, tx, c, StateDraft, Transition{At: now, From: "", To: StateDraft, Reason: "created"}); err != nil {
			return dbErr(err)
		}
		var err error
		res, err = s.addRecipients(ctx, tx, &row{c: *c}, k, FromSlice(p.Recipients), now)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if r, err := s.db.getCampaign(ctx, s.db.sql, tenant, c.ID); err == nil {
		c = &r.c // with its counts
	}
	s.logger.InfoContext(ctx, "Campaign created", slog.String("campaign_id", c.ID), slog.String("tenant", tenant))
	return c, res, nil
}

// FromSlice returns a sequence over recipients given in memory, for
// AddRecipients.
func FromSlice(recipients []RecipientInput) iter.Seq2[RecipientInput, error] {
	return func(yield func(RecipientInput, error) bool) {
		for _, r := range recipients {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// validate checks a campaign's editable fields and parses its content.
func (s *Service) validate(ctx context.Context, c *Campaign, now time.Time) (*compiled, error) {
	if c.Name == "" {
		return nil, fieldErr("name", "is required")
	}
	if utf8.RuneCountInString(c.Name) > MaxNameLength || !utf8.ValidString(c.Name) {
		return nil, fieldErr("name", "must be valid UTF-8 of at most %d characters", MaxNameLength)
	}
	if len(c.Sessions) == 0 || len(c.Sessions) > MaxSessions {
		return nil, fieldErr("sessions", "must list 1 to %d sessions", MaxSessions)
	}
	tctx := waqtor.WithTenant(ctx, c.Tenant)
	for i, id := range c.Sessions {
		if slices.Index(c.Sessions, id) != i {
			return nil, fieldErr(fmt.Sprintf("sessions[%d]", i), "repeats %q", id)
		}
		if _, err := s.core.Session(tctx, id); err != nil {
			return nil, fieldErr(fmt.Sprintf("sessions[%d]", i), "no session %q in this tenant", id)
		}
	}
	k, err := compileContent(&c.Content)
	if err != nil {
		return nil, err
	}
	if len(c.Variables) > MaxVariables {
		return nil, fieldErr("variables", "has more than %d entries", MaxVariables)
	}
	for name, v := range c.Variables {
		if name == "" || len(v) > MaxVariableBytes || !utf8.ValidString(v) || !utf8.ValidString(name) {
			return nil, fieldErr("variables."+name, "must be a named valid UTF-8 value of at most %d bytes", MaxVariableBytes)
		}
	}
	if c.Variables == nil {
		c.Variables = map[string]string{}
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	if _, ok := loadZone(c.TimeZone); !ok {
		return nil, fieldErr("time_zone", "%q is not an IANA time zone", c.TimeZone)
	}
	if !c.ScheduleAt.IsZero() {
		if c.ScheduleAt.Before(now) {
			return nil, fieldErr("schedule_at", "%s is in the past", c.ScheduleAt.Format(time.RFC3339))
		}
		c.ScheduleAt = c.ScheduleAt.UTC()
	}
	if err := c.Pacing.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Get returns one of the ctx tenant's campaigns.
func (s *Service) Get(ctx context.Context, id string) (*Campaign, error) {
	r, err := s.db.getCampaign(ctx, s.db.sql, s.core.Tenant(ctx), id)
	if err != nil {
		return nil, err
	}
	return &r.c, nil
}

// ListParams select campaigns for List.
type ListParams struct {
	// After is the ID of the last campaign of the previous page.
	After string
	// Limit is the page size, 1 to 500. Defaults to 50.
	Limit int
	// State keeps only campaigns in this state. Defaults to all.
	State State
}

// ListResult is a page of campaigns, oldest first.
type ListResult struct {
	// Campaigns are the page's campaigns.
	Campaigns []*Campaign `json:"campaigns"`
	// Next is the After of the next page; empty at the end.
	Next string `json:"next,omitempty"`
}

// List returns the ctx tenant's campaigns, oldest first.
func (s *Service) List(ctx context.Context, p *ListParams) (*ListResult, error) {
	if p == nil {
		p = &ListParams{}
	}
	limit := p.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 1 || limit > 500:
		return nil, fieldErr("limit", "must be 1 to 500")
	}
	if p.State != "" && !validState(p.State) {
		return nil, fieldErr("state", "%q is not a campaign state", p.State)
	}
	args := []any{s.core.Tenant(ctx), p.After}
	where := "tenant_id = $1 AND id > $2"
	if p.State != "" {
		args = append(args, string(p.State))
		where += " AND state = $3"
	}
	args = append(args, limit+1)
	rows, err := s.db.sql.QueryContext(ctx, `SELECT `+campaignCols+` FROM waqtor_campaigns WHERE `+where+
		fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := &ListResult{Campaigns: []*Campaign{}}
	for rows.Next() {
		r, err := scanCampaign(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out.Campaigns = append(out.Campaigns, &r.c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if len(out.Campaigns) > limit {
		out.Campaigns = out.Campaigns[:limit]
		out.Next = out.Campaigns[limit-1].ID
	}
	return out, nil
}

func validState(s State) bool {
	switch s {
	case StateDraft, StateScheduled, StateRunning, StatePaused, StateCompleted, StateCancelled, StateFailed:
		return true
	}
	return false
}

// Update changes a campaign: any field of a draft, or the pacing of a
// campaign that has not ended. Errors: *FieldError, *StateError, ErrNotFound.
func (s *Service) Update(ctx context.Context, id string, p *UpdateParams) (*Campaign, error) {
	if p == nil {
		return nil, fieldErr("", "missing changes")
	}
	now := s.now()
	var out *Campaign
	err := s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		r, err := s.db.lockCampaign(ctx, tx, s.core.Tenant(ctx), id)
		if err != nil {
			return err
		}
		c := r.c
		onlyPacing := p.Name == nil && p.Content == nil && p.Sessions == nil && p.Variables == nil &&
			p.TimeZone == nil && p.ScheduleAt == nil && p.CheckNumbers == nil
		if c.State.Final() || c.State != StateDraft && !onlyPacing {
			return &StateError{Action: "update", State: c.State}
		}
		if p.Name != nil {
			c.Name = strings.TrimSpace(*p.Name)
		}
		if p.Content != nil {
			c.Content = *p.Content
		}
		if p.Sessions != nil {
			c.Sessions = p.Sessions
		}
		if p.Variables != nil {
			c.Variables = p.Variables
		}
		if p.TimeZone != nil {
			c.TimeZone = *p.TimeZone
		}
		if p.ScheduleAt != nil {
			c.ScheduleAt = *p.ScheduleAt
		}
		if p.CheckNumbers != nil {
			c.CheckNumbers = *p.CheckNumbers
		}
		if p.Pacing != nil {
			c.Pacing = *p.Pacing
		}
		c.UpdatedAt = now
		if c.State != StateDraft {
			if err := c.Pacing.Validate(); err != nil {
				return err
			}
			if _, err := s.db.setPacing(ctx, tx, c.ID, &c.Pacing, now); err != nil {
				return dbErr(err)
			}
			out = &c
			return nil
		}
		if _, err := s.validate(ctx, &c, now); err != nil {
			return err
		}
		if _, err := s.db.updateDraft(ctx, tx, &c); err != nil {
			return dbErr(err)
		}
		out = &c
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.wakeSenders()
	return out, nil
}

// Delete deletes a campaign that is a draft or has ended, with its
// recipients and history. Errors: *StateError, ErrNotFound.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		// The campaign's row first, then its recipients: the order of every
		// transaction that writes both (the follower locks the campaigns of
		// a batch before moving their recipients), so that none deadlocks
		// with another on PostgreSQL.
		r, err := s.db.lockCampaign(ctx, tx, s.core.Tenant(ctx), id)
		if err != nil {
			return err
		}
		if r.c.State != StateDraft && !r.c.State.Final() {
			return &StateError{Action: "delete", State: r.c.State}
		}
		for _, q := range []string{`DELETE FROM waqtor_campaign_recipients WHERE campaign_id = $1`,
			`DELETE FROM waqtor_campaign_transitions WHERE campaign_id = $1`, `DELETE FROM waqtor_campaigns WHERE id = $1`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return dbErr(err)
			}
		}
		return nil
	})
}

// Transitions returns a campaign's state moves, oldest first.
func (s *Service) Transitions(ctx context.Context, id string) ([]Transition, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	ts, err := s.db.transitions(ctx, s.db.sql, id)
	if err != nil {
		return nil, dbErr(err)
	}
	return ts, nil
}

// Recipients returns a page of a campaign's recipients, by Seq.
func (s *Service) Recipients(ctx context.Context, id string, p *RecipientListParams) (*RecipientListResult, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	q := RecipientListParams{}
	if p != nil {
		q = *p
	}
	switch {
	case q.Limit == 0:
		q.Limit = 100
	case q.Limit < 1 || q.Limit > 1000:
		return nil, fieldErr("limit", "must be 1 to 1000")
	}
	if q.State != "" && q.State.level() < 0 && q.State != RecipientFailed && q.State != RecipientSkipped {
		return nil, fieldErr("state", "%q is not a recipient state", q.State)
	}
	if q.After < 0 {
		return nil, fieldErr("after", "must not be negative")
	}
	res, err := s.db.recipients(ctx, s.db.sql, id, &q)
	if err != nil {
		return nil, dbErr(err)
	}
	return res, nil
}

// Execute starts a campaign: at once, or at its ScheduleAt. Executing a
// campaign that runs or is scheduled already changes nothing and returns it,
// so a retried request is harmless. Errors: *StateError (a paused or ended
// campaign), ErrSessionUnavailable, *FieldError (no recipients, a schedule
// now in the past).
func (s *Service) Execute(ctx context.Context, id string) (*Campaign, error) {
	return s.move(ctx, id, "execute", func(c *Campaign, now time.Time) (State, string, error) {
		switch c.State {
		case StateRunning, StateScheduled:
			return "", "", nil
		case StateDraft:
		default:
			return "", "", &StateError{Action: "execute", State: c.State}
		}
		if c.Counts.Total == 0 {
			return "", "", fieldErr("recipients", "the campaign has no recipients")
		}
		if err := unknownVariables(c); err != nil {
			return "", "", err
		}
		if err := s.sessionsUsable(ctx, c); err != nil {
			return "", "", err
		}
		if !c.ScheduleAt.IsZero() {
			if c.ScheduleAt.Before(now) {
				return "", "", fieldErr("schedule_at", "%s is in the past", c.ScheduleAt.Format(time.RFC3339))
			}
			return StateScheduled, "requested", nil
		}
		return StateRunning, "requested", nil
	})
}

// Pause holds a running or scheduled campaign's sends; sends in progress
// finish. Pausing a paused campaign changes nothing. Errors: *StateError.
func (s *Service) Pause(ctx context.Context, id, reason string) (*Campaign, error) {
	return s.move(ctx, id, "pause", func(c *Campaign, now time.Time) (State, string, error) {
		switch c.State {
		case StatePaused:
			return "", "", nil
		case StateRunning, StateScheduled:
			return StatePaused, "requested", nil
		}
		return "", "", &StateError{Action: "pause", State: c.State}
	}, reason)
}

// Resume runs a paused campaign again (or schedules it, when it never ran
// and its schedule is ahead). Resuming a running campaign changes nothing.
// Errors: *StateError, ErrSessionUnavailable (a sender session is banned or
// logged out).
func (s *Service) Resume(ctx context.Context, id string) (*Campaign, error) {
	return s.move(ctx, id, "resume", func(c *Campaign, now time.Time) (State, string, error) {
		switch c.State {
		case StateRunning:
			return "", "", nil
		case StatePaused:
		default:
			return "", "", &StateError{Action: "resume", State: c.State}
		}
		if err := s.sessionsUsable(ctx, c); err != nil {
			return "", "", err
		}
		if c.StartedAt.IsZero() && c.ScheduleAt.After(now) {
			return StateScheduled, "resumed", nil
		}
		return StateRunning, "resumed", nil
	})
}

// Cancel ends a campaign for good; recipients not sent yet stay pending.
// Cancelling a cancelled campaign changes nothing. Errors: *StateError.
func (s *Service) Cancel(ctx context.Context, id, reason string) (*Campaign, error) {
	return s.move(ctx, id, "cancel", func(c *Campaign, now time.Time) (State, string, error) {
		switch c.State {
		case StateCancelled:
			return "", "", nil
		case StateCompleted, StateFailed:
			return "", "", &StateError{Action: "cancel", State: c.State}
		}
		return StateCancelled, "requested", nil
	}, reason)
}

// unknownVariables refuses content that needs a variable (without a
// fallback) that neither the campaign's defaults nor any recipient has: a
// typo such as {{nmae}} would otherwise send every message with a hole.
func unknownVariables(c *Campaign) error {
	k, err := compileContent(&c.Content)
	if err != nil {
		return err
	}
	known := maps.Clone(c.Variables)
	if known == nil {
		known = map[string]string{}
	}
	for name, n := range c.VariableCounts {
		if n > 0 {
			known[name] = "x"
		}
	}
	known["phone"] = "x"
	if missing := k.missing(known); len(missing) > 0 {
		return fieldErr("content", "{{%s}} has a value in no recipient and not in the campaign's variables: "+
			"add it, give it a fallback ({{%s|…}}), or fix its name", missing[0], missing[0])
	}
	return nil
}

// sessionsUsable refuses to run a campaign while one of its sessions is
// banned or logged out.
func (s *Service) sessionsUsable(ctx context.Context, c *Campaign) error {
	tctx := waqtor.WithTenant(ctx, c.Tenant)
	for _, id := range c.Sessions {
		sess, err := s.core.Session(tctx, id)
		if err != nil {
			return fmt.Errorf("%w: session %q: %w", ErrSessionUnavailable, id, err)
		}
		switch sess.State {
		case waqtor.StateBanned:
			return fmt.Errorf("%w: session %q is banned until %s", ErrSessionUnavailable, id, sess.BanExpires.Format(time.RFC3339))
		case waqtor.StateLoggedOut:
			return fmt.Errorf("%w: session %q is logged out; pair it again", ErrSessionUnavailable, id)
		}
	}
	return nil
}

// move runs one state-machine move of a campaign of the ctx tenant. decide
// returns the new state and the reason, or "" to change nothing.
func (s *Service) move(ctx context.Context, id, action string, decide func(*Campaign, time.Time) (State, string, error), detail ...string) (*Campaign, error) {
	now := s.now()
	var out *Campaign
	err := s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		r, err := s.db.lockCampaign(ctx, tx, s.core.Tenant(ctx), id)
		if err != nil {
			return err
		}
		to, reason, err := decide(&r.c, now)
		if err != nil || to == "" {
			out = &r.c
			return err
		}
		d := ""
		if len(detail) > 0 {
			d = strings.TrimSpace(detail[0])
			if utf8.RuneCountInString(d) > 500 || !utf8.ValidString(d) {
				return fieldErr("reason", "must be valid UTF-8 of at most 500 characters")
			}
		}
		out, err = s.transition(ctx, tx, em, r, to, reason, d, "", time.Time{})
		return err
	})
	if err != nil {
		return nil, err
	}
	if out.State == StateRunning || out.State == StateScheduled {
		s.kick()
	}
	s.wakeSenders()
	return out, nil
}

// transition moves r's campaign to state to inside tx and emits
// campaign.progress and the move's own event.
func (s *Service) transition(ctx context.Context, tx *sql.Tx, em *emitter, r *row, to State, reason, detail, session string, resumeAt time.Time) (*Campaign, error) {
	now := s.now()
	c := r.c
	from := c.State
	c.ResumeAt = resumeAt
	ok, err := s.db.setState(ctx, tx, &c, from, Transition{At: now, From: from, To: to, Reason: reason, Detail: detail})
	if err != nil {
		return nil, dbErr(err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: campaign %s moved concurrently", ErrDatabase, c.ID)
	}
	c.State, c.StateReason, c.UpdatedAt = to, reason, now
	if to == StateRunning && c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	if to.Final() {
		c.FinishedAt = now
	}
	events := []waqtor.Event{s.progressEvent(&c)}
	switch to {
	case StatePaused:
		events = append(events, &waqtor.CampaignPaused{CampaignID: c.ID, Counts: c.Counts, Detail: detail, Name: c.Name,
			Reason: reason, ResumeAt: resumeAt, Session: session})
	case StateCompleted:
		events = append(events, &waqtor.CampaignCompleted{CampaignID: c.ID, Counts: c.Counts, Name: c.Name})
	case StateFailed:
		events = append(events, &waqtor.CampaignFailed{CampaignID: c.ID, Counts: c.Counts, Name: c.Name, Reason: reason + ": " + detail})
	case StateCancelled:
		events = append(events, &waqtor.CampaignCancelled{CampaignID: c.ID, Counts: c.Counts, Name: c.Name, Reason: detail})
	}
	if err := em.emit(ctx, tx, c.Tenant, events...); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "Campaign state changed", slog.String("campaign_id", c.ID), slog.String("from", string(from)),
		slog.String("to", string(to)), slog.String("reason", reason))
	return &c, nil
}
