package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/waqtor/waqtor/internal/store"
)

// db runs the webhook tables' queries. Placeholders are $n on both dialects.
// On SQLite the pool has one connection: never use db.sql while holding a
// transaction in the same goroutine.
type db struct {
	sql     *sql.DB
	st      *store.Store
	dialect store.Dialect
	sealer  *sealer // opens the custom headers of scanned endpoints
}

type querier = store.Querier

func (d *db) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return d.st.InTx(ctx, fn)
}

func micros(t time.Time) int64      { return store.Micros(t) }
func fromMicros(us int64) time.Time { return store.FromMicros(us) }
func boolInt(b bool) int            { return map[bool]int{false: 0, true: 1}[b] }
func dbErr(err error) error         { return fmt.Errorf("%w: %w", ErrDatabase, err) }
func isNoRows(err error) bool       { return errors.Is(err, sql.ErrNoRows) }
func durMS(d time.Duration) int64   { return d.Milliseconds() }
func msDur(ms int64) time.Duration  { return time.Duration(ms) * time.Millisecond }
func usDur(us int64) time.Duration  { return time.Duration(us) * time.Microsecond }
func nonNil(ss []string) []string   { return append([]string{}, ss...) }
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE") || err != nil && strings.Contains(err.Error(), "23505")
}
func decodeList(s string) []string { var v []string; _ = json.Unmarshal([]byte(s), &v); return v }

// endpointRow is an endpoint as stored.
type endpointRow struct {
	ep             *Endpoint
	fromSeq        int64
	headers        string // as stored: JSON, or sealed JSON
	headersErr     error  // the stored headers cannot be decrypted; ep.Headers is empty
	oldSecret      string
	oldSecretUntil time.Time
	secret         string
}

const endpointCols = `id, tenant_id, url, description, events, sessions, headers, secret, old_secret, old_secret_until,
	enabled, disabled_reason, retry, timeout_ms, fifo, from_seq, failing_since, last_error, created_at, updated_at,
	hub_signature`

func (d *db) scanEndpoint(sc interface{ Scan(...any) error }) (*endpointRow, error) {
	var (
		r                                             endpointRow
		ep                                            Endpoint
		events, sessions, retry                       string
		enabled, fifo, hub                            int
		timeoutMS, oldUntil, failing, created, update int64
	)
	if err := sc.Scan(&ep.ID, &ep.Tenant, &ep.URL, &ep.Description, &events, &sessions, &r.headers, &r.secret, &r.oldSecret,
		&oldUntil, &enabled, &ep.DisabledReason, &retry, &timeoutMS, &fifo, &r.fromSeq, &failing, &ep.LastError,
		&created, &update, &hub); err != nil {
		return nil, err
	}
	ep.Events, ep.Sessions = decodeList(events), decodeList(sessions)
	if ep.Sessions == nil {
		ep.Sessions = []string{}
	}
	ep.Headers, r.headersErr = d.sealer.openHeaders(r.headers)
	ep.Retry = &RetryPolicy{}
	_ = json.Unmarshal([]byte(retry), ep.Retry)
	ep.Enabled, ep.FIFO, ep.HubSignature = enabled != 0, fifo != 0, hub != 0
	ep.Timeout = msDur(timeoutMS)
	ep.FailingSince, ep.CreatedAt, ep.UpdatedAt = fromMicros(failing), fromMicros(created), fromMicros(update)
	r.oldSecretUntil = fromMicros(oldUntil)
	r.ep = &ep
	return &r, nil
}

// insertEndpoint stores a new endpoint with its secret and custom headers in
// their stored (sealed) forms.
func (d *db) insertEndpoint(ctx context.Context, ep *Endpoint, sealed, headers string) error {
	// The endpoint receives events from the log's watermark on (read before the
	// transaction: on SQLite the pool's one connection is the transaction's).
	from, err := d.st.LastSeq(ctx)
	if err != nil {
		return dbErr(err)
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO waqtor_webhook_endpoints (`+endpointCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', 0, $9, $10, $11, $12, $13, $14, 0, '', $15, $15, $16)`,
			ep.ID, ep.Tenant, ep.URL, ep.Description, encodeJSON(nonNil(ep.Events)), encodeJSON(nonNil(ep.Sessions)),
			headers, sealed, boolInt(ep.Enabled), ep.DisabledReason, encodeJSON(ep.Retry), durMS(ep.Timeout),
			boolInt(ep.FIFO), from, micros(ep.CreatedAt), boolInt(ep.HubSignature))
		if err != nil {
			return dbErr(err)
		}
		return nil
	})
}

func (d *db) getEndpoint(ctx context.Context, q querier, tenant, id string) (*Endpoint, *endpointRow, error) {
	r, err := d.scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM waqtor_webhook_endpoints
		WHERE id = $1 AND tenant_id = $2`, id, tenant))
	if isNoRows(err) {
		return nil, nil, fmt.Errorf("%w: %q", ErrEndpointNotFound, id)
	}
	if err != nil {
		return nil, nil, dbErr(err)
	}
	return r.ep, r, nil
}

func (d *db) listEndpoints(ctx context.Context, tenant string) ([]*Endpoint, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+endpointCols+` FROM waqtor_webhook_endpoints WHERE tenant_id = $1 ORDER BY id`, tenant)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []*Endpoint{}
	for rows.Next() {
		r, err := d.scanEndpoint(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, r.ep)
	}
	return out, rows.Err()
}

const activeEndpointsSQL = `SELECT ` + endpointCols + ` FROM waqtor_webhook_endpoints WHERE enabled = 1`

// activeEndpoints returns every enabled endpoint, of all tenants.
func (d *db) activeEndpoints(ctx context.Context, q querier) ([]*endpointRow, error) {
	rows, err := q.QueryContext(ctx, activeEndpointsSQL)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*endpointRow
	for rows.Next() {
		r, err := d.scanEndpoint(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// updateEndpoint stores ep's fields, with its custom headers in their stored
// (sealed) form.
func (d *db) updateEndpoint(ctx context.Context, q querier, ep *Endpoint, headers string) error {
	_, err := q.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET url = $1, description = $2, events = $3, sessions = $4,
		headers = $5, enabled = $6, disabled_reason = $7, retry = $8, timeout_ms = $9, fifo = $10, failing_since = $11,
		last_error = $12, updated_at = $13, hub_signature = $16 WHERE id = $14 AND tenant_id = $15`,
		ep.URL, ep.Description, encodeJSON(nonNil(ep.Events)), encodeJSON(nonNil(ep.Sessions)), headers,
		boolInt(ep.Enabled), ep.DisabledReason, encodeJSON(ep.Retry), durMS(ep.Timeout), boolInt(ep.FIFO),
		micros(ep.FailingSince), ep.LastError, micros(ep.UpdatedAt), ep.ID, ep.Tenant, boolInt(ep.HubSignature))
	if err != nil {
		return dbErr(err)
	}
	return nil
}

func (d *db) setSecret(ctx context.Context, q querier, ep *Endpoint, sealed, old string, until time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET secret = $1, old_secret = $2, old_secret_until = $3,
		updated_at = $4 WHERE id = $5 AND tenant_id = $6`, sealed, old, micros(until), micros(ep.UpdatedAt), ep.ID, ep.Tenant)
	if err != nil {
		return dbErr(err)
	}
	return nil
}

func (d *db) deleteEndpoint(ctx context.Context, tenant, id string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM waqtor_webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenant)
		if err != nil {
			return dbErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %q", ErrEndpointNotFound, id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM waqtor_webhook_attempts WHERE endpoint_id = $1`, id); err != nil {
			return dbErr(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM waqtor_webhook_deliveries WHERE endpoint_id = $1`, id); err != nil {
			return dbErr(err)
		}
		return nil
	})
}
