package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
)

// MaxVariableNames is how many distinct variable names a campaign's
// VariableCounts tracks.
const MaxVariableNames = 256

// recipientBatch is how many recipients one INSERT statement writes.
const recipientBatch = 200

// AddRecipients adds recipients to a campaign that has not ended, in one
// transaction: all of them or, on any error, none. Each phone is normalised
// to E.164; an invalid one is recorded as skipped with reason invalid_phone,
// and one already in the campaign as skipped with reason duplicate, so that
// nothing given is dropped silently. The sequence is read as it is stored:
// memory does not grow with it (but the transaction, and on SQLite the
// database, is held while it is read; give it a source that is at hand, such
// as a file). Errors: a *SourceError from the sequence, *FieldError (too many
// recipients), *StateError, ErrNotFound.
func (s *Service) AddRecipients(ctx context.Context, id string, recipients iter.Seq2[RecipientInput, error]) (*AddResult, error) {
	now := s.now()
	var res *AddResult
	var state State
	err := s.inTx(ctx, func(tx *sql.Tx, em *emitter) error {
		r, err := s.db.lockCampaign(ctx, tx, s.core.Tenant(ctx), id)
		if err != nil {
			return err
		}
		if r.c.State.Final() {
			return &StateError{Action: "add recipients to", State: r.c.State}
		}
		k, err := compileContent(&r.c.Content)
		if err != nil {
			return err
		}
		state = r.c.State
		res, err = s.addRecipients(ctx, tx, r, k, recipients, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.markDirty(id)
	if state == StateRunning {
		s.wakeSenders()
	}
	return res, nil
}

// addRecipients inserts recipients after r's last one, inside tx, and
// updates the campaign's counts.
func (s *Service) addRecipients(ctx context.Context, tx *sql.Tx, r *row, k *compiled, recipients iter.Seq2[RecipientInput, error], now time.Time) (*AddResult, error) {
	res := &AddResult{MissingVariables: map[string]int64{}}
	next := r.c.Counts.Total
	ins := s.db.newInserter(tx)
	defer ins.close()
	counts := maps.Clone(r.c.VariableCounts)
	if counts == nil {
		counts = map[string]int64{}
	}
	var batch []*pendingRecipient
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		dups, err := ins.insert(ctx, r.c.ID, batch, now)
		if err != nil {
			return dbErr(err)
		}
		for _, p := range batch {
			switch {
			case p.reason == ReasonInvalidPhone:
				res.Invalid++
			case dups[p.seq]:
				res.Duplicates++
			default:
				res.Added++
				for _, v := range p.missing {
					res.MissingVariables[v]++
				}
				for _, name := range p.present {
					if _, ok := counts[name]; ok || len(counts) < MaxVariableNames {
						counts[name]++
					}
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	for in, err := range recipients {
		if err != nil {
			return nil, err
		}
		if next >= s.cfg.MaxRecipients {
			return nil, fieldErr("recipients", "a campaign may have at most %d recipients", s.cfg.MaxRecipients)
		}
		next++
		p, err := prepareRecipient(next, in)
		if err != nil {
			return nil, err
		}
		if p.reason == "" {
			p.missing = k.missing(mergeVars(r.c.Variables, in.Variables, p.phone))
		}
		batch = append(batch, p)
		if len(batch) == recipientBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	res.Total = next
	delta := countDelta{total: next - r.c.Counts.Total, pending: res.Added, skipped: res.Duplicates + res.Invalid}
	if err := s.db.addCounts(ctx, tx, r.c.ID, delta, now); err != nil {
		return nil, dbErr(err)
	}
	if res.Added > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE waqtor_campaigns SET var_counts = $1 WHERE id = $2`, mustJSON(counts), r.c.ID); err != nil {
			return nil, dbErr(err)
		}
	}
	return res, nil
}

// pendingRecipient is a recipient about to be inserted.
type pendingRecipient struct {
	seq    int64
	phone  string
	chat   string
	vars   string
	reason string
	detail string
	// missing are the variables the content needs that it lacks.
	missing []string
	// present are the names of its non-empty variables.
	present []string
}

// prepareRecipient normalises one input. Only malformed variables are an
// error; an invalid phone becomes a skipped recipient.
func prepareRecipient(seq int64, in RecipientInput) (*pendingRecipient, error) {
	where := func() string {
		if in.Line > 0 {
			return fmt.Sprintf("line %d", in.Line)
		}
		return fmt.Sprintf("recipient %d", seq)
	}
	if len(in.Variables) > MaxVariables {
		return nil, fieldErr("recipients", "%s has more than %d variables", where(), MaxVariables)
	}
	p := &pendingRecipient{seq: seq, phone: strings.TrimSpace(in.Phone)}
	if len(in.Variables) > 0 {
		for name, v := range in.Variables {
			if len(v) > MaxVariableBytes {
				return nil, fieldErr("recipients", "%s: variable %q is longer than %d bytes", where(), name, MaxVariableBytes)
			}
		}
		for name, v := range in.Variables {
			if strings.TrimSpace(v) != "" {
				p.present = append(p.present, name)
			}
		}
		b, err := json.Marshal(in.Variables)
		if err != nil {
			return nil, fieldErr("recipients", "%s: %v", where(), err)
		}
		p.vars = string(b)
	}
	if len(p.phone) > 64 {
		p.phone = p.phone[:64]
	}
	e164, err := waqtor.ParsePhone(p.phone)
	if err != nil {
		p.reason, p.detail = ReasonInvalidPhone, strings.TrimPrefix(err.Error(), "waqtor: ")
		return p, nil
	}
	jid, err := waqtor.PhoneJID(e164)
	if err != nil {
		p.reason, p.detail = ReasonInvalidPhone, strings.TrimPrefix(err.Error(), "waqtor: ")
		return p, nil
	}
	p.phone, p.chat = e164, jid
	return p, nil
}

// inserter writes recipients in multi-row statements. On SQLite it numbers
// parameters with "?" (SQLite resolves "$n" names one by one, which costs
// more than the insert itself for a statement of a thousand parameters) and
// prepares the statement of a full batch once per import.
type inserter struct {
	d    *db
	tx   *sql.Tx
	full map[string]*sql.Stmt // by SQL text
}

func (d *db) newInserter(tx *sql.Tx) *inserter {
	return &inserter{d: d, tx: tx, full: map[string]*sql.Stmt{}}
}

func (in *inserter) close() {
	for _, st := range in.full {
		_ = st.Close()
	}
}

// values returns "(p, p, …), (…)" for rows of cols parameters, with
// constant SQL in place of the parameters whose consts entry is set.
func (in *inserter) values(rows, cols int, consts map[int]string) string {
	var sb strings.Builder
	n := 0
	for r := range rows {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			if k, ok := consts[c]; ok {
				sb.WriteString(k)
				continue
			}
			n++
			if in.d.dialect == store.DialectPostgres {
				fmt.Fprintf(&sb, "$%d", n)
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// stmt returns a prepared statement for a full batch, or nil.
func (in *inserter) stmt(ctx context.Context, query string, rows int) (*sql.Stmt, error) {
	if rows != recipientBatch {
		return nil, nil
	}
	if st := in.full[query]; st != nil {
		return st, nil
	}
	st, err := in.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	in.full[query] = st
	return st, nil
}

// insert inserts a batch; valid phones already in the campaign are
// inserted again as skipped duplicates. It returns the duplicates' seqs.
func (in *inserter) insert(ctx context.Context, campaignID string, batch []*pendingRecipient, now time.Time) (map[int64]bool, error) {
	var valid, other []*pendingRecipient
	for _, p := range batch {
		if p.reason == "" {
			valid = append(valid, p)
		} else {
			other = append(other, p)
		}
	}
	dups := map[int64]bool{}
	if len(valid) > 0 {
		query := `INSERT INTO waqtor_campaign_recipients (campaign_id, seq, phone, chat, dedupe, variables, state, updated_at) VALUES ` +
			in.values(len(valid), 8, map[int]string{6: "'pending'"}) + ` ON CONFLICT (campaign_id, dedupe) DO NOTHING RETURNING seq`
		args := make([]any, 0, len(valid)*7)
		for _, p := range valid {
			args = append(args, campaignID, p.seq, p.phone, p.chat, p.phone, p.vars, micros(now))
		}
		st, err := in.stmt(ctx, query, len(valid))
		if err != nil {
			return nil, err
		}
		var rows *sql.Rows
		if st != nil {
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = in.tx.QueryContext(ctx, query, args...)
		}
		if err != nil {
			return nil, err
		}
		inserted := make(map[int64]bool, len(valid))
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[seq] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		for _, p := range valid {
			if !inserted[p.seq] {
				dups[p.seq] = true
				p.reason, p.detail = ReasonDuplicate, "the phone is in the campaign already"
				other = append(other, p)
			}
		}
	}
	if len(other) > 0 {
		query := `INSERT INTO waqtor_campaign_recipients (campaign_id, seq, phone, chat, variables, state, reason, detail, updated_at) VALUES ` +
			in.values(len(other), 9, map[int]string{5: "'skipped'"})
		args := make([]any, 0, len(other)*8)
		for _, p := range other {
			args = append(args, campaignID, p.seq, p.phone, p.chat, p.vars, p.reason, p.detail, micros(now))
		}
		if _, err := in.tx.ExecContext(ctx, query, args...); err != nil {
			return nil, err
		}
	}
	return dups, nil
}
