package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/store"
)

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states.
const (
	// StatePending: waiting for its next attempt (or in flight).
	StatePending DeliveryState = "pending"
	// StateSucceeded: the receiver answered 2xx.
	StateSucceeded DeliveryState = "succeeded"
	// StateFailed: dead; its attempts ran out, or the receiver answered 410.
	// Replay sends it again.
	StateFailed DeliveryState = "failed"
)

// Delivery is one event on its way to one endpoint, with its attempts.
type Delivery struct {
	// Attempts is how many attempts were recorded.
	Attempts int
	// CreatedAt is when the delivery was created.
	CreatedAt time.Time
	// EndpointID is the receiving endpoint.
	EndpointID string
	// EventID is the event's ID, sent as webhook-id: the same on every retry
	// and replay, the receiver's dedupe key.
	EventID string
	// EventSeq is the event's position in the event log.
	EventSeq int64
	// ID is the delivery's ID ("dlv_…"), sent as X-Waqtor-Delivery.
	ID string
	// Kind is the event's kind.
	Kind waqtor.EventKind
	// LastError describes the last failed attempt.
	LastError string
	// LastStatus is the HTTP status of the last attempt (0: no response).
	LastStatus int
	// NextAttemptAt is when a pending delivery is due.
	NextAttemptAt time.Time
	// Payload is the request body: the event's envelope.
	Payload json.RawMessage
	// Session is the event's session.
	Session string
	// State is where the delivery stands.
	State DeliveryState
	// Tenant owns the delivery.
	Tenant string
	// UpdatedAt is when the delivery last changed.
	UpdatedAt time.Time
}

// Attempt is one recorded HTTP request of a delivery.
type Attempt struct {
	// DeliveryID is the delivery.
	DeliveryID string
	// DueAt is when the attempt was scheduled.
	DueAt time.Time
	// Error describes a failure: a transport error, a timeout, a non-2xx
	// status. Empty on success.
	Error string
	// Latency is from sending the request to reading the response (or
	// failing).
	Latency time.Duration
	// N numbers the delivery's attempts from 1.
	N int
	// NextAttemptAt is when the retry it caused is due (zero when none).
	NextAttemptAt time.Time
	// ResponseBody is the start of the response body, decoded from gzip,
	// at most Config.MaxResponseBytes, with invalid UTF-8 replaced.
	ResponseBody string
	// ResponseTruncated reports a body longer than the cap.
	ResponseTruncated bool
	// StartedAt is when the request started.
	StartedAt time.Time
	// StatusCode is the HTTP status (0: no response).
	StatusCode int
	// WebhookTimestamp is the webhook-timestamp the attempt carried.
	WebhookTimestamp time.Time
}

const deliveryCols = `id, endpoint_id, tenant_id, event_id, event_seq, kind, session_id, payload, state, attempts,
	next_at, last_status, last_error, created_at, updated_at`

func scanDelivery(sc interface{ Scan(...any) error }) (*Delivery, error) {
	var d Delivery
	var payload, kind, state string
	var next, created, updated int64
	if err := sc.Scan(&d.ID, &d.EndpointID, &d.Tenant, &d.EventID, &d.EventSeq, &kind, &d.Session, &payload, &state,
		&d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &updated); err != nil {
		return nil, err
	}
	d.Kind, d.State, d.Payload = waqtor.EventKind(kind), DeliveryState(state), json.RawMessage(payload)
	if d.State == StatePending {
		d.NextAttemptAt = fromMicros(next)
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

// DeliveryListParams selects deliveries for Deliveries.
type DeliveryListParams struct {
	// Before returns deliveries older than this delivery ID (the previous
	// page's Next). Defaults to the newest.
	Before string
	// EndpointID is the endpoint whose deliveries to list. Required.
	EndpointID string
	// Limit caps the page. Defaults to 50; at most 500.
	Limit int
	// State keeps only deliveries in this state. Defaults to all.
	State DeliveryState
	// Tenant owns the endpoint. Defaults to "default".
	Tenant string
}

// DeliveryListResult is a page of deliveries, newest first.
type DeliveryListResult struct {
	// Deliveries are newest first.
	Deliveries []*Delivery
	// Next is the Before of the next page; empty on the last page.
	Next string
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, p *DeliveryListParams) (*DeliveryListResult, error) {
	if p == nil {
		p = &DeliveryListParams{}
	}
	tenant := p.Tenant
	if tenant == "" {
		tenant = waqtor.DefaultTenantDefault
	}
	if _, _, err := s.db.getEndpoint(ctx, s.db.sql, tenant, p.EndpointID); err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := `SELECT ` + deliveryCols + ` FROM waqtor_webhook_deliveries WHERE endpoint_id = $1 AND tenant_id = $2`
	args := []any{p.EndpointID, tenant}
	if p.Before != "" {
		args = append(args, p.Before)
		q += fmt.Sprintf(" AND id < $%d", len(args))
	}
	if p.State != "" {
		args = append(args, string(p.State))
		q += fmt.Sprintf(" AND state = $%d", len(args))
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	res := &DeliveryListResult{Deliveries: []*Delivery{}}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		res.Deliveries = append(res.Deliveries, d)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if len(res.Deliveries) > limit {
		res.Deliveries = res.Deliveries[:limit]
		res.Next = res.Deliveries[limit-1].ID
	}
	return res, nil
}

// Delivery returns one of tenant's deliveries.
func (s *Service) Delivery(ctx context.Context, tenant, id string) (*Delivery, error) {
	d, err := scanDelivery(s.db.sql.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM waqtor_webhook_deliveries
		WHERE id = $1 AND tenant_id = $2`, id, tenant))
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: %q", ErrDeliveryNotFound, id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return d, nil
}

// Attempts returns the attempts of one of tenant's deliveries, oldest first.
func (s *Service) Attempts(ctx context.Context, tenant, deliveryID string) ([]*Attempt, error) {
	if _, err := s.Delivery(ctx, tenant, deliveryID); err != nil {
		return nil, err
	}
	rows, err := s.db.sql.QueryContext(ctx, `SELECT delivery_id, n, due_at, started_at, latency_us, status_code, error,
		response_body, response_truncated, webhook_timestamp, next_at FROM waqtor_webhook_attempts
		WHERE delivery_id = $1 AND tenant_id = $2 ORDER BY n`, deliveryID, tenant)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []*Attempt{}
	for rows.Next() {
		var a Attempt
		var due, started, lat, wts, next int64
		var trunc int
		if err := rows.Scan(&a.DeliveryID, &a.N, &due, &started, &lat, &a.StatusCode, &a.Error, &a.ResponseBody, &trunc,
			&wts, &next); err != nil {
			return nil, dbErr(err)
		}
		a.DueAt, a.StartedAt, a.NextAttemptAt = fromMicros(due), fromMicros(started), fromMicros(next)
		a.Latency, a.ResponseTruncated, a.WebhookTimestamp = usDur(lat), trunc != 0, time.Unix(wts, 0).UTC()
		out = append(out, &a)
	}
	return out, rows.Err()
}

// Replay sends one of tenant's deliveries again, whatever its state: it
// becomes pending, due now, with a fresh retry schedule, and keeps its ID and
// its webhook-id (so a receiver that already processed it can tell). Its
// earlier attempts stay in the log.
func (s *Service) Replay(ctx context.Context, tenant, deliveryID string) (*Delivery, error) {
	now := s.now()
	res, err := s.db.sql.ExecContext(ctx, `UPDATE waqtor_webhook_deliveries SET state = 'pending', tries = 0, next_at = $1,
		lease_until = 0, updated_at = $1 WHERE id = $2 AND tenant_id = $3`, micros(now), deliveryID, tenant)
	if err != nil {
		return nil, dbErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w: %q", ErrDeliveryNotFound, deliveryID)
	}
	d, err := s.Delivery(ctx, tenant, deliveryID)
	if err != nil {
		return nil, err
	}
	s.wake(d.EndpointID)
	return d, nil
}

// Test sends a webhook.test event to one of tenant's endpoints, and to it
// only, as a durable delivery like any other. The event is appended to the
// event log. It returns the delivery, to follow with Delivery and Attempts.
// Errors wrap ErrEndpointNotFound or ErrEndpointDisabled.
func (s *Service) Test(ctx context.Context, tenant, endpointID string) (*Delivery, error) {
	ep, err := s.Endpoint(ctx, tenant, endpointID)
	if err != nil {
		return nil, err
	}
	if !ep.Enabled {
		return nil, fmt.Errorf("%w: enable endpoint %q before testing it", ErrEndpointDisabled, endpointID)
	}
	now := s.now()
	e := &waqtor.WebhookTest{EndpointID: endpointID, Message: "This is a test webhook from waqtor."}
	var publish func()
	var d *Delivery
	err = s.db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if publish, err = corelink.EmitTx(ctx, s.core, tx, "", tenant, e); err != nil {
			return err
		}
		payload, err := waqtor.MarshalEvent(e)
		if err != nil {
			return err
		}
		d = &Delivery{ID: store.NewID("dlv_", now), EndpointID: endpointID, Tenant: tenant, EventID: e.ID, EventSeq: e.Seq,
			Kind: e.Kind(), Payload: payload, State: StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		_, err = s.db.insertDeliveries(ctx, tx, []*Delivery{d}, nil, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	publish()
	s.wake(endpointID)
	return d, nil
}

// insertDeliveriesSQL inserts rows deliveries.
func insertDeliveriesSQL(d store.Dialect, rows int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO waqtor_webhook_deliveries (id, endpoint_id, tenant_id, event_id, event_seq, kind,
			session_id, payload, next_at, created_at, lease_until, updated_at, state) VALUES `)
	d.Values(&sb, rows, 13, 0)
	sb.WriteString(" ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id")
	return sb.String()
}

// insertDeliveries inserts pending deliveries, skipping any (endpoint, event)
// pair that already has one, and returns the IDs it inserted. leases holds
// the lease of deliveries claimed as they are created (absent: unclaimed).
func (d *db) insertDeliveries(ctx context.Context, tx *sql.Tx, ds []*Delivery, leases map[string]int64, now time.Time) (map[string]bool, error) {
	const cols = 13
	inserted := make(map[string]bool, len(ds))
	q := d.st.Q(tx)
	for i := 0; i < len(ds); i += recordChunk {
		part := ds[i:min(i+recordChunk, len(ds))]
		args := make([]any, 0, len(part)*cols)
		for _, dl := range part {
			args = append(args, dl.ID, dl.EndpointID, dl.Tenant, dl.EventID, dl.EventSeq, string(dl.Kind), dl.Session,
				string(dl.Payload), micros(dl.NextAttemptAt), micros(now), leases[dl.ID], micros(now), string(StatePending))
		}
		rows, err := q.QueryContext(ctx, insertDeliveriesSQL(d.dialect, len(part)), args...)
		if err != nil {
			return nil, dbErr(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, dbErr(err)
			}
			inserted[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, dbErr(err)
		}
		if err := rows.Err(); err != nil {
			return nil, dbErr(err)
		}
	}
	return inserted, nil
}
