package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// Consent is a row of waqtor_consent (the current consent of a contact for a
// scope) or of waqtor_consent_history (one change; ID is its position).
type Consent struct {
	Contact   string
	ID        int64 // history rows only
	Note      string
	Previous  string // the status before the change; "" for the first
	Scope     string
	SessionID string // the session whose inbound message made the change; "" otherwise
	Source    string
	Status    string
	TenantID  string
	UpdatedAt time.Time
}

const consentColumns = `tenant_id, contact, scope, status, previous, source, note, session_id, updated_at`

func scanConsent(sc interface{ Scan(...any) error }) (*Consent, error) {
	var c Consent
	var at int64
	if err := sc.Scan(&c.TenantID, &c.Contact, &c.Scope, &c.Status, &c.Previous, &c.Source, &c.Note, &c.SessionID, &at); err != nil {
		return nil, err
	}
	c.UpdatedAt = FromMicros(at)
	return &c, nil
}

// GetConsent returns a contact's current consent rows, by scope.
func GetConsent(ctx context.Context, q Querier, tenant, contact string) ([]*Consent, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+consentColumns+` FROM waqtor_consent
		WHERE tenant_id = $1 AND contact = $2 ORDER BY scope`, tenant, contact)
	if err != nil {
		return nil, fmt.Errorf("store: get consent: %w", err)
	}
	return collectConsent(rows)
}

func collectConsent(rows *sql.Rows) ([]*Consent, error) {
	defer rows.Close()
	var out []*Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan consent: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read consent: %w", err)
	}
	return out, nil
}

// PutConsent records a change: it sets the current row of (tenant, contact,
// scope) and appends the change to the history. Run it in a transaction.
func PutConsent(ctx context.Context, q Querier, c *Consent) error {
	at := Micros(c.UpdatedAt)
	if _, err := q.ExecContext(ctx, `INSERT INTO waqtor_consent (`+consentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (tenant_id, contact, scope) DO UPDATE SET status = excluded.status, previous = excluded.previous,
			source = excluded.source, note = excluded.note, session_id = excluded.session_id, updated_at = excluded.updated_at`,
		c.TenantID, c.Contact, c.Scope, c.Status, c.Previous, c.Source, c.Note, c.SessionID, at); err != nil {
		return fmt.Errorf("store: put consent: %w", err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO waqtor_consent_history
		(tenant_id, contact, scope, status, previous, source, note, session_id, ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		c.TenantID, c.Contact, c.Scope, c.Status, c.Previous, c.Source, c.Note, c.SessionID, at); err != nil {
		return fmt.Errorf("store: append consent history: %w", err)
	}
	return nil
}

const optedOutSQL = `SELECT scope FROM waqtor_consent
	WHERE tenant_id = $1 AND contact = $2 AND status = 'opted_out' AND (scope = $3 OR scope = $4)
	ORDER BY scope LIMIT 1`

// OptedOutScope returns the first of scopes a and b (they may be equal) that
// contact has opted out of, or "" when neither.
func OptedOutScope(ctx context.Context, q Querier, tenant, contact, a, b string) (string, error) {
	var scope string
	err := q.QueryRowContext(ctx, optedOutSQL, tenant, contact, a, b).Scan(&scope)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: check consent: %w", err)
	}
	return scope, nil
}

// consentLockClass is the first key of the advisory locks of LockConsent,
// apart from every single-key lock (such as the migration lock).
const consentLockClass = 0x57510043

// LockConsent serialises, on PostgreSQL, a transaction that changes a
// contact's consent (exclusive) against those that check it before storing a
// message (shared), until the transaction ends: a message stored after an
// opt-out committed always sees it. On SQLite every write transaction holds
// the database's write lock from its start, which serialises them already,
// and LockConsent does nothing.
func LockConsent(ctx context.Context, tx *sql.Tx, d Dialect, tenant, contact string, exclusive bool) error {
	if d != DialectPostgres {
		return nil
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant + "\x00" + contact))
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	if _, err := tx.ExecContext(ctx, `SELECT `+fn+`($1, $2)`, int32(consentLockClass), int32(h.Sum32())); err != nil {
		return fmt.Errorf("store: lock consent: %w", err)
	}
	return nil
}

// ListConsentParams selects current consent rows for ListConsent.
type ListConsentParams struct {
	AfterContact string // continue after (AfterContact, AfterScope)
	AfterScope   string
	Limit        int
	Scope        string // when set, only this scope
	Status       string // when set, only this status
	Tenant       string
}

// ListConsent returns a tenant's current consent rows ordered by contact and
// scope.
func ListConsent(ctx context.Context, q Querier, p ListConsentParams) ([]*Consent, error) {
	var sb strings.Builder
	args := []any{p.Tenant}
	sb.WriteString(`SELECT ` + consentColumns + ` FROM waqtor_consent WHERE tenant_id = $1`)
	add := func(cond string, v any) {
		args = append(args, v)
		fmt.Fprintf(&sb, cond, len(args))
	}
	if p.Status != "" {
		add(` AND status = $%d`, p.Status)
	}
	if p.Scope != "" {
		add(` AND scope = $%d`, p.Scope)
	}
	if p.AfterContact != "" {
		args = append(args, p.AfterContact, p.AfterScope)
		fmt.Fprintf(&sb, ` AND (contact > $%d OR (contact = $%d AND scope > $%d))`, len(args)-1, len(args)-1, len(args))
	}
	args = append(args, p.Limit)
	fmt.Fprintf(&sb, ` ORDER BY contact, scope LIMIT $%d`, len(args))
	rows, err := q.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list consent: %w", err)
	}
	return collectConsent(rows)
}

// ListConsentHistory returns a contact's consent changes, newest first: those
// with an ID below before (all when 0), of scope when set.
func ListConsentHistory(ctx context.Context, q Querier, tenant, contact, scope string, before int64, limit int) ([]*Consent, error) {
	var sb strings.Builder
	args := []any{tenant, contact}
	sb.WriteString(`SELECT id, ` + strings.Replace(consentColumns, "updated_at", "ts", 1) + `
		FROM waqtor_consent_history WHERE tenant_id = $1 AND contact = $2`)
	if scope != "" {
		args = append(args, scope)
		fmt.Fprintf(&sb, ` AND scope = $%d`, len(args))
	}
	if before > 0 {
		args = append(args, before)
		fmt.Fprintf(&sb, ` AND id < $%d`, len(args))
	}
	args = append(args, limit)
	fmt.Fprintf(&sb, ` ORDER BY id DESC LIMIT $%d`, len(args))
	rows, err := q.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list consent history: %w", err)
	}
	defer rows.Close()
	var out []*Consent
	for rows.Next() {
		var c Consent
		var at int64
		if err := rows.Scan(&c.ID, &c.TenantID, &c.Contact, &c.Scope, &c.Status, &c.Previous, &c.Source, &c.Note,
			&c.SessionID, &at); err != nil {
			return nil, fmt.Errorf("store: scan consent history: %w", err)
		}
		c.UpdatedAt = FromMicros(at)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read consent history: %w", err)
	}
	return out, nil
}
