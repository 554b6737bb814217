package campaign

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/waqtor/waqtor/internal/store"
)

//go:embed migrations
var migrationsFS embed.FS

func migrations() fs.FS {
	sub, _ := fs.Sub(migrationsFS, "migrations")
	return sub
}

// db runs the campaign tables' queries. Placeholders are $n on both
// dialects. On SQLite the pool has one connection: never use db.sql while
// holding a transaction in the same goroutine.
type db struct {
	sql     *sql.DB
	st      *store.Store
	dialect store.Dialect
}

type querier = store.Querier

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return store.Micros(t)
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return store.FromMicros(us)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("campaign: marshal %T: %v", v, err))
	}
	return string(b)
}

// row is a campaign as stored, with what the API does not show.
type row struct {
	c      Campaign
	recent string // the failure window of the last sends, as JSON
}

const campaignCols = `id, tenant_id, name, state, state_reason, sessions, content, variables, pacing, time_zone,
	check_numbers, schedule_at, resume_at, recent, var_counts, n_total, n_pending, n_sent, n_delivered, n_read, n_failed,
	n_skipped, created_at, updated_at, started_at, finished_at`

func scanCampaign(sc interface{ Scan(...any) error }) (*row, error) {
	var (
		r                                              row
		c                                              = &r.c
		sessions, content, vars, pacing, varCounts     string
		check                                          int
		schedule, resume, created, updated, start, fin int64
	)
	err := sc.Scan(&c.ID, &c.Tenant, &c.Name, &c.State, &c.StateReason, &sessions, &content, &vars, &pacing,
		&c.TimeZone, &check, &schedule, &resume, &r.recent, &varCounts, &c.Counts.Total, &c.Counts.Pending, &c.Counts.Sent,
		&c.Counts.Delivered, &c.Counts.Read, &c.Counts.Failed, &c.Counts.Skipped, &created, &updated, &start, &fin)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(sessions), &c.Sessions); err != nil {
		return nil, fmt.Errorf("campaign %s: sessions: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(content), &c.Content); err != nil {
		return nil, fmt.Errorf("campaign %s: content: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(vars), &c.Variables); err != nil {
		return nil, fmt.Errorf("campaign %s: variables: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(pacing), &c.Pacing); err != nil {
		return nil, fmt.Errorf("campaign %s: pacing: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(varCounts), &c.VariableCounts); err != nil {
		return nil, fmt.Errorf("campaign %s: variable counts: %w", c.ID, err)
	}
	if c.Variables == nil {
		c.Variables = map[string]string{}
	}
	if c.VariableCounts == nil {
		c.VariableCounts = map[string]int64{}
	}
	c.CheckNumbers = check != 0
	c.ScheduleAt, c.ResumeAt = fromMicros(schedule), fromMicros(resume)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.StartedAt, c.FinishedAt = fromMicros(start), fromMicros(fin)
	return &r, nil
}

func (d *db) insertCampaign(ctx context.Context, q querier, c *Campaign) error {
	_, err := q.ExecContext(ctx, `INSERT INTO waqtor_campaigns (`+campaignCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
		$23, $24, $25, $26)`,
		c.ID, c.Tenant, c.Name, c.State, c.StateReason, mustJSON(c.Sessions), mustJSON(c.Content), mustJSON(c.Variables),
		mustJSON(c.Pacing), c.TimeZone, boolInt(c.CheckNumbers), micros(c.ScheduleAt), micros(c.ResumeAt), "", "{}",
		c.Counts.Total, c.Counts.Pending, c.Counts.Sent, c.Counts.Delivered, c.Counts.Read, c.Counts.Failed,
		c.Counts.Skipped, micros(c.CreatedAt), micros(c.UpdatedAt), micros(c.StartedAt), micros(c.FinishedAt))
	return err
}

// updateDraft writes the editable fields of a draft.
func (d *db) updateDraft(ctx context.Context, q querier, c *Campaign) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE waqtor_campaigns SET name = $1, sessions = $2, content = $3,
		variables = $4, pacing = $5, time_zone = $6, check_numbers = $7, schedule_at = $8, updated_at = $9
		WHERE id = $10 AND state = 'draft'`,
		c.Name, mustJSON(c.Sessions), mustJSON(c.Content), mustJSON(c.Variables), mustJSON(c.Pacing), c.TimeZone,
		boolInt(c.CheckNumbers), micros(c.ScheduleAt), micros(c.UpdatedAt), c.ID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setPacing changes the pacing of a campaign in any state but final ones;
// running senders read it before their next send.
func (d *db) setPacing(ctx context.Context, q querier, id string, p *Pacing, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE waqtor_campaigns SET pacing = $1, updated_at = $2
		WHERE id = $3 AND state NOT IN ('completed', 'cancelled', 'failed')`, mustJSON(p), micros(now), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (d *db) getCampaign(ctx context.Context, q querier, tenant, id string) (*row, error) {
	r, err := scanCampaign(q.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM waqtor_campaigns WHERE id = $1`, id))
	if isNoRows(err) || err == nil && tenant != "" && r.c.Tenant != tenant {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return r, nil
}

// lockCampaign reads a campaign for update: on Postgres the row stays locked
// until tx ends, so moves of one campaign are serialised across processes
// (SQLite serialises every write transaction already).
func (d *db) lockCampaign(ctx context.Context, tx *sql.Tx, tenant, id string) (*row, error) {
	lock := ""
	if d.dialect == store.DialectPostgres {
		lock = " FOR UPDATE"
	}
	r, err := scanCampaign(tx.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM waqtor_campaigns WHERE id = $1`+lock, id))
	if isNoRows(err) || err == nil && tenant != "" && r.c.Tenant != tenant {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return r, nil
}

func (d *db) campaignsIn(ctx context.Context, q querier, states ...State) ([]*row, error) {
	args := make([]any, len(states))
	ph := make([]string, len(states))
	for i, s := range states {
		args[i], ph[i] = string(s), fmt.Sprintf("$%d", i+1)
	}
	rows, err := q.QueryContext(ctx, `SELECT `+campaignCols+` FROM waqtor_campaigns WHERE state IN (`+
		strings.Join(ph, ", ")+`) ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*row
	for rows.Next() {
		r, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// setState moves a campaign from one state to another and records the move.
// It reports false when the campaign was not in from any more.
func (d *db) setState(ctx context.Context, tx *sql.Tx, c *Campaign, from State, t Transition) (bool, error) {
	sets := "state = $1, state_reason = $2, updated_at = $3, resume_at = $4"
	args := []any{string(t.To), t.Reason, micros(t.At), micros(c.ResumeAt)}
	if t.To == StateRunning && c.StartedAt.IsZero() {
		sets += fmt.Sprintf(", started_at = $%d", len(args)+1)
		args = append(args, micros(t.At))
	}
	if t.To.Final() {
		sets += fmt.Sprintf(", finished_at = $%d", len(args)+1)
		args = append(args, micros(t.At))
	}
	args = append(args, c.ID, string(from))
	res, err := tx.ExecContext(ctx, `UPDATE waqtor_campaigns SET `+sets+fmt.Sprintf(` WHERE id = $%d AND state = $%d`,
		len(args)-1, len(args)), args...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO waqtor_campaign_transitions (campaign_id, at, n, from_state, to_state, reason, detail)
		SELECT $1, $2, COALESCE(MAX(n), 0) + 1, $3, $4, $5, $6 FROM waqtor_campaign_transitions WHERE campaign_id = $1`,
		c.ID, micros(t.At), string(t.From), string(t.To), t.Reason, t.Detail)
	return err == nil, err
}

func (d *db) transitions(ctx context.Context, q querier, id string) ([]Transition, error) {
	rows, err := q.QueryContext(ctx, `SELECT at, from_state, to_state, reason, detail FROM waqtor_campaign_transitions
		WHERE campaign_id = $1 ORDER BY n`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Transition{}
	for rows.Next() {
		var t Transition
		var at int64
		if err := rows.Scan(&at, &t.From, &t.To, &t.Reason, &t.Detail); err != nil {
			return nil, err
		}
		t.At = fromMicros(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// countDelta changes a campaign's counters.
type countDelta struct{ total, pending, sent, delivered, read, failed, skipped int64 }

func (c countDelta) zero() bool { return c == countDelta{} }

func (d *db) addCounts(ctx context.Context, q querier, id string, delta countDelta, now time.Time) error {
	if delta.zero() {
		return nil
	}
	_, err := q.ExecContext(ctx, `UPDATE waqtor_campaigns SET n_total = n_total + $1, n_pending = n_pending + $2,
		n_sent = n_sent + $3, n_delivered = n_delivered + $4, n_read = n_read + $5, n_failed = n_failed + $6,
		n_skipped = n_skipped + $7, updated_at = $8 WHERE id = $9`,
		delta.total, delta.pending, delta.sent, delta.delivered, delta.read, delta.failed, delta.skipped, micros(now), id)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recipientRow is a recipient as stored.
type recipientRow struct {
	r        Recipient
	rendered string
	owner    string
	until    time.Time
}

const recipientCols = `seq, phone, chat, variables, state, reason, detail, session_id, message_id, rendered,
	claim_owner, claim_until, claimed_at, sent_at, delivered_at, read_at, replied_at, updated_at`

func scanRecipient(sc interface{ Scan(...any) error }) (*recipientRow, error) {
	var (
		rr                                                    recipientRow
		r                                                     = &rr.r
		vars                                                  string
		until, claimed, sent, delivered, read, replied, updat int64
	)
	if err := sc.Scan(&r.Seq, &r.Phone, &r.Chat, &vars, &r.State, &r.Reason, &r.Detail, &r.Session, &r.MessageID,
		&rr.rendered, &rr.owner, &until, &claimed, &sent, &delivered, &read, &replied, &updat); err != nil {
		return nil, err
	}
	if vars != "" {
		if err := json.Unmarshal([]byte(vars), &r.Variables); err != nil {
			return nil, fmt.Errorf("recipient %d: variables: %w", r.Seq, err)
		}
	}
	rr.until = fromMicros(until)
	r.ClaimedAt, r.ClaimedBy = fromMicros(claimed), rr.owner
	r.SentAt, r.DeliveredAt, r.ReadAt = fromMicros(sent), fromMicros(delivered), fromMicros(read)
	r.RepliedAt, r.UpdatedAt = fromMicros(replied), fromMicros(updat)
	return &rr, nil
}

// RecipientListParams selects recipients for Service.Recipients.
type RecipientListParams struct {
	// After is the Seq of the last recipient of the previous page.
	After int64
	// Limit is the page size, 1 to 1,000. Defaults to 100.
	Limit int
	// State keeps only recipients in this state. Defaults to all.
	State RecipientState
}

// RecipientListResult is a page of recipients.
type RecipientListResult struct {
	// Next is the After of the next page, 0 at the end.
	Next int64 `json:"next,omitempty"`
	// Recipients are the page's recipients, by Seq.
	Recipients []*Recipient `json:"recipients"`
}

func (d *db) recipients(ctx context.Context, q querier, id string, p *RecipientListParams) (*RecipientListResult, error) {
	args := []any{id, p.After}
	where := "campaign_id = $1 AND seq > $2"
	if p.State != "" {
		args = append(args, string(p.State))
		where += " AND state = $3"
	}
	args = append(args, p.Limit+1)
	rows, err := q.QueryContext(ctx, `SELECT `+recipientCols+` FROM waqtor_campaign_recipients WHERE `+where+
		fmt.Sprintf(` ORDER BY seq LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &RecipientListResult{Recipients: []*Recipient{}}
	for rows.Next() {
		rr, err := scanRecipient(rows)
		if err != nil {
			return nil, err
		}
		out.Recipients = append(out.Recipients, &rr.r)
	}
	if len(out.Recipients) > p.Limit {
		out.Recipients = out.Recipients[:p.Limit]
		out.Next = out.Recipients[p.Limit-1].Seq
	}
	return out, rows.Err()
}

// eachRecipient calls fn for every recipient of a campaign in order, reading
// in pages so that memory stays flat.
func (d *db) eachRecipient(ctx context.Context, id string, fn func(*recipientRow) error) error {
	var after int64
	for {
		rows, err := d.sql.QueryContext(ctx, `SELECT `+recipientCols+` FROM waqtor_campaign_recipients
			WHERE campaign_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000`, id, after)
		if err != nil {
			return err
		}
		var page []*recipientRow
		for rows.Next() {
			rr, err := scanRecipient(rows)
			if err != nil {
				rows.Close()
				return err
			}
			page = append(page, rr)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		for _, rr := range page {
			if err := fn(rr); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].r.Seq
	}
}

// senderState reads a sender session's pacing state.
func (d *db) senderState(ctx context.Context, q querier, key string) (SenderState, error) {
	var st SenderState
	var raw string
	err := q.QueryRowContext(ctx, `SELECT state FROM waqtor_campaign_senders WHERE session_key = $1`, key).Scan(&raw)
	if isNoRows(err) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, fmt.Errorf("sender %s: %w", key, err)
	}
	return st, nil
}

func (d *db) putSenderState(ctx context.Context, q querier, key string, st SenderState, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO waqtor_campaign_senders (session_key, state, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (session_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		key, mustJSON(st), micros(now))
	return err
}

// sessionKey is a sender's key in waqtor_campaign_senders: pacing state
// belongs to a WhatsApp account, whatever campaign sends through it.
func sessionKey(tenant, session string) string { return tenant + "/" + session }
