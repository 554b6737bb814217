package campaign

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/waqtor/waqtor"
)

// Limits of Preview.
const (
	// PreviewDefault is how many recipients Preview renders when asked for 0.
	PreviewDefault = 5
	// PreviewMax is the most recipients one Preview renders.
	PreviewMax = 50
)

// PreviewItem is one recipient's message as the campaign renders it.
type PreviewItem struct {
	// Media is the media message, with its caption rendered (without the
	// file's bytes).
	Media *Media `json:"media,omitempty"`
	// MissingVariables are the variables the content needs that neither the
	// recipient nor the campaign has; they render empty. Sorted.
	MissingVariables []string `json:"missing_variables"`
	// Phone is the recipient's phone.
	Phone string `json:"phone"`
	// Poll is the poll, rendered.
	Poll *waqtor.Poll `json:"poll,omitempty"`
	// Seq is the recipient's position in the campaign.
	Seq int64 `json:"seq"`
	// State is the recipient's state.
	State RecipientState `json:"state"`
	// Stored says the message is the one stored at the recipient's claim (it
	// was sent, or is being sent), not rendered for the preview.
	Stored bool `json:"stored,omitempty"`
	// Text is the text message.
	Text string `json:"text,omitempty"`
}

// Preview renders the campaign's content for its first n recipients (1 to
// PreviewMax; 0 means PreviewDefault): pending ones first, by Seq, then the
// others, so a draft shows what its recipients will get and a running
// campaign what is next. A recipient already claimed shows the message
// stored for it. {{date}}, {{time}} and random variants render as they would
// now; the send may differ in those. Errors: *FieldError, ErrNotFound.
func (s *Service) Preview(ctx context.Context, id string, n int) ([]PreviewItem, error) {
	switch {
	case n == 0:
		n = PreviewDefault
	case n < 1 || n > PreviewMax:
		return nil, fieldErr("n", "must be 1 to %d", PreviewMax)
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	k, err := compileContent(&c.Content)
	if err != nil {
		return nil, err
	}
	loc := c.location()
	var rows []*recipientRow
	for _, q := range []string{`state = 'pending'`, `state <> 'pending'`} {
		if len(rows) == n {
			break
		}
		page, err := s.db.recipientsWhere(ctx, id, q, n-len(rows))
		if err != nil {
			return nil, dbErr(err)
		}
		rows = append(rows, page...)
	}
	now := s.now()
	out := make([]PreviewItem, 0, len(rows))
	for _, rr := range rows {
		vars := mergeVars(c.Variables, rr.r.Variables, rr.r.Phone)
		it := PreviewItem{Seq: rr.r.Seq, Phone: rr.r.Phone, State: rr.r.State, MissingVariables: k.missing(vars)}
		if it.MissingVariables == nil {
			it.MissingVariables = []string{}
		}
		var m rendered
		if rr.rendered != "" && json.Unmarshal([]byte(rr.rendered), &m) == nil {
			it.Stored = true
		} else {
			m = *k.render(vars, now, loc, uint64(rr.r.Seq))
		}
		it.Text, it.Poll = m.Text, m.Poll
		if m.Media != nil {
			md := *m.Media
			md.Data = nil
			it.Media = &md
		}
		out = append(out, it)
	}
	return out, nil
}

// recipientsWhere returns up to limit recipients of a campaign matching
// where (a fixed condition of this file, never user input), by Seq.
func (d *db) recipientsWhere(ctx context.Context, id, where string, limit int) ([]*recipientRow, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+recipientCols+` FROM waqtor_campaign_recipients
		WHERE campaign_id = $1 AND `+where+` ORDER BY seq LIMIT $2`, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*recipientRow
	for rows.Next() {
		rr, err := scanRecipient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rr)
	}
	return out, rows.Err()
}

// Status is a campaign's state and progress, for polling.
type Status struct {
	// Counts are the recipients by how far they got.
	Counts waqtor.CampaignCounts `json:"counts"`
	// ETA is when a running campaign is expected to finish at its pacing
	// (absent when not running or unpaced).
	ETA time.Time `json:"eta,omitzero"`
	// FinishedAt is when it completed, failed or was cancelled.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// ID is the campaign's ID.
	ID string `json:"id"`
	// Name is the campaign's name.
	Name string `json:"name"`
	// ResumeAt is when a campaign paused by a temporary ban resumes by itself.
	ResumeAt time.Time `json:"resume_at,omitzero"`
	// StartedAt is when it first ran.
	StartedAt time.Time `json:"started_at,omitzero"`
	// State is the campaign's state.
	State State `json:"state"`
	// StateReason is why it entered its state.
	StateReason string `json:"state_reason,omitempty"`
}

// Status returns a campaign's state, counts and expected end. Errors:
// ErrNotFound.
func (s *Service) Status(ctx context.Context, id string) (*Status, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	p := s.progressEvent(c)
	return &Status{Counts: c.Counts, ETA: p.ETA, FinishedAt: c.FinishedAt, ID: c.ID, Name: c.Name, ResumeAt: c.ResumeAt,
		StartedAt: c.StartedAt, State: c.State, StateReason: c.StateReason}, nil
}

// Report sums up a campaign's outcome.
type Report struct {
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Counts are the recipients by how far they got.
	Counts waqtor.CampaignCounts `json:"counts"`
	// DeliveryRate is Delivered / Sent (0 before any send).
	DeliveryRate float64 `json:"delivery_rate"`
	// Duration is from StartedAt to FinishedAt, or to now while the campaign
	// has not ended (0 before it started).
	Duration Duration `json:"duration"`
	// Failures counts failed recipients by reason (send_failed,
	// invalid_content, ...).
	Failures map[string]int64 `json:"failures"`
	// FinishedAt is when it completed, failed or was cancelled.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Name is the campaign's name.
	Name string `json:"name"`
	// ReadRate is Read / Sent (0 before any send).
	ReadRate float64 `json:"read_rate"`
	// Replies is how many recipients wrote back within the reply window of
	// their send (Config.ReplyWindow).
	Replies int64 `json:"replies"`
	// ReplyRate is Replies / Sent (0 before any send).
	ReplyRate float64 `json:"reply_rate"`
	// ReplyWindow is the reply window.
	ReplyWindow Duration `json:"reply_window"`
	// Sessions counts the messages each sender session sent.
	Sessions map[string]int64 `json:"sessions"`
	// Skips counts skipped recipients by reason (invalid_phone, duplicate,
	// opted_out, not_on_whatsapp).
	Skips map[string]int64 `json:"skips"`
	// StartedAt is when it first ran.
	StartedAt time.Time `json:"started_at,omitzero"`
	// State is the campaign's state.
	State State `json:"state"`
}

// Report returns a campaign's outcome: its counts and rates, its failures
// and skips by reason, the replies it got, and what each sender session
// sent. Errors: ErrNotFound.
func (s *Service) Report(ctx context.Context, id string) (*Report, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	rep := &Report{CampaignID: c.ID, Counts: c.Counts, Failures: map[string]int64{}, FinishedAt: c.FinishedAt, Name: c.Name,
		ReplyWindow: Duration(s.cfg.ReplyWindow), Sessions: map[string]int64{}, Skips: map[string]int64{},
		StartedAt: c.StartedAt, State: c.State}
	if sent := float64(c.Counts.Sent); sent > 0 {
		rep.DeliveryRate = float64(c.Counts.Delivered) / sent
		rep.ReadRate = float64(c.Counts.Read) / sent
	}
	if !c.StartedAt.IsZero() {
		end := c.FinishedAt
		if end.IsZero() {
			end = s.now()
		}
		rep.Duration = Duration(end.Sub(c.StartedAt).Truncate(time.Millisecond))
	}
	err = s.groupCounts(ctx, `SELECT state, reason, COUNT(*) FROM waqtor_campaign_recipients
		WHERE campaign_id = $1 AND state IN ('failed', 'skipped') GROUP BY state, reason`, id, func(state, reason string, n int64) {
		if state == string(RecipientFailed) {
			rep.Failures[reason] += n
		} else {
			rep.Skips[reason] += n
		}
	})
	if err != nil {
		return nil, err
	}
	err = s.groupCounts(ctx, `SELECT 'sent', session_id, COUNT(*) FROM waqtor_campaign_recipients
		WHERE campaign_id = $1 AND sent_at <> 0 GROUP BY session_id`, id, func(_, session string, n int64) {
		rep.Sessions[session] += n
	})
	if err != nil {
		return nil, err
	}
	if err := s.db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM waqtor_campaign_recipients
		WHERE campaign_id = $1 AND replied_at <> 0`, id).Scan(&rep.Replies); err != nil {
		return nil, dbErr(err)
	}
	if c.Counts.Sent > 0 {
		rep.ReplyRate = float64(rep.Replies) / float64(c.Counts.Sent)
	}
	return rep, nil
}

// groupCounts runs a query of (key, key, count) rows for a campaign.
func (s *Service) groupCounts(ctx context.Context, q, id string, fn func(a, b string, n int64)) error {
	rows, err := s.db.sql.QueryContext(ctx, q, id)
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		var n int64
		if err := rows.Scan(&a, &b, &n); err != nil {
			return dbErr(err)
		}
		fn(a, b, n)
	}
	if err := rows.Err(); err != nil {
		return dbErr(err)
	}
	return nil
}

// ExportHeader is the header row of ExportCSV.
var ExportHeader = []string{"seq", "phone", "state", "reason", "detail", "session", "message_id", "sent_at",
	"delivered_at", "read_at", "replied_at", "variables"}

// ExportCSV writes a campaign's recipients to w as CSV (RFC 4180, a header
// row of ExportHeader), one row per recipient by Seq: times in RFC 3339 UTC
// (empty when unset) and the recipient's variables as a JSON object. It
// reads the recipients in pages, so memory stays flat however many there
// are. Errors: ErrNotFound (before anything is written), or the writer's.
func (s *Service) ExportCSV(ctx context.Context, id string, w io.Writer) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportHeader); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	err := s.db.eachRecipient(ctx, id, func(rr *recipientRow) error {
		r := &rr.r
		vars := "{}"
		if len(r.Variables) > 0 {
			vars = mustJSON(r.Variables)
		}
		if err := cw.Write([]string{fmt.Sprint(r.Seq), csvSafe(r.Phone), string(r.State), r.Reason, csvSafe(r.Detail), r.Session,
			r.MessageID, ts(r.SentAt), ts(r.DeliveredAt), ts(r.ReadAt), ts(r.RepliedAt), vars}); err != nil {
			return err
		}
		return cw.Error()
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses a value a spreadsheet would run as a formula (CWE-1236):
// phones as given (an invalid one is kept verbatim) and details come from
// uploads.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '@' || v[0] == '\t' || v[0] == '\r' ||
		(v[0] == '-' || v[0] == '+') && !isPhoneLike(v)) {
		return "'" + v
	}
	return v
}

// isPhoneLike reports whether v is a number as people write one ("+20 100
// 123-4567"), which a spreadsheet reads as a value, not a formula.
func isPhoneLike(v string) bool {
	for _, r := range v[1:] {
		if (r < '0' || r > '9') && r != ' ' && r != '-' && r != '(' && r != ')' && r != '.' {
			return false
		}
	}
	return len(v) > 1
}
