package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// Scopes of the webhook routes.
const (
	// ScopeWebhooksAdmin creates, changes, tests and deletes endpoints, reads
	// and rotates their secrets, and replays deliveries.
	ScopeWebhooksAdmin auth.Scope = "webhooks:admin"
	// ScopeWebhooksRead reads endpoints (without secrets), deliveries,
	// attempts and statistics.
	ScopeWebhooksRead auth.Scope = "webhooks:read"
)

// RoutesOpts tunes Routes.
type RoutesOpts struct {
	// ExposeResponseBodies includes receivers' response bodies in the attempts
	// the API returns. Off by default: with an allow-listed private range, a
	// key holder could otherwise read internal services through a webhook
	// (OWASP API7). The Go API always returns them.
	ExposeResponseBodies bool
}

// Routes returns the REST route group of the webhook API, for
// rest.HandlerOpts.Groups. Every route acts within the principal's tenant; a
// principal narrowed to some sessions may only manage endpoints whose session
// filter lies within its sessions.
func (s *Service) Routes(opts *RoutesOpts) rest.RouteGroup {
	if opts == nil {
		opts = &RoutesOpts{}
	}
	a := &api{s: s, opts: *opts}
	webhook := &rest.Owner{Param: "webhook", LookupFunc: a.endpointOwner}
	delivery := &rest.Owner{Param: "delivery", LookupFunc: a.deliveryOwner}
	return rest.RouteGroup{
		Name:        "webhooks",
		Description: "Durable, signed webhooks: endpoints, deliveries with every attempt, replay and statistics.",
		Scopes: map[auth.Scope]string{
			ScopeWebhooksAdmin: "Create, change, test and delete webhook endpoints, read and rotate their secrets, replay deliveries.",
			ScopeWebhooksRead:  "Read webhook endpoints (without secrets), deliveries, attempts and statistics.",
		},
		Routes: []rest.Route{
			{Method: "GET", Pattern: "/webhooks", Scope: ScopeWebhooksRead, OperationID: "listWebhooks",
				Summary: "List the tenant's webhook endpoints.", Response: EndpointList{}, Handler: rest.HandleJSON(a.list)},
			{Method: "POST", Pattern: "/webhooks", Scope: ScopeWebhooksAdmin, OperationID: "createWebhook",
				Summary: "Create an endpoint; the response carries its secret.",
				Description: "The URL is checked against the SSRF guard, including its DNS answers. The secret is generated " +
					"when not given. retry_attempts and retry_delay_ms express the original plan's short form " +
					"(exponential from the delay); retry gives a full schedule.",
				Request: CreateEndpointRequest{}, Response: EndpointResponse{}, Status: http.StatusCreated, Handler: rest.HandleJSON(a.create)},
			{Method: "GET", Pattern: "/webhooks/{webhook}", Scope: ScopeWebhooksRead, Owner: webhook, OperationID: "getWebhook",
				Summary: "Get an endpoint (without its secret).", Response: EndpointResponse{}, Handler: rest.HandleJSON(a.get)},
			{Method: "PATCH", Pattern: "/webhooks/{webhook}", Scope: ScopeWebhooksAdmin, Owner: webhook, OperationID: "updateWebhook",
				Summary: "Change an endpoint; absent fields are left as they are. Enabling clears the failure state.",
				Request: UpdateEndpointRequest{}, Response: EndpointResponse{}, Handler: rest.HandleJSON(a.update)},
			{Method: "DELETE", Pattern: "/webhooks/{webhook}", Scope: ScopeWebhooksAdmin, Owner: webhook, OperationID: "deleteWebhook",
				Summary: "Delete an endpoint with its deliveries and their attempts.", Handler: rest.HandleJSON(a.delete)},
			{Method: "POST", Pattern: "/webhooks/{webhook}/test", Scope: ScopeWebhooksAdmin, Owner: webhook, OperationID: "testWebhook",
				Summary:  "Send a webhook.test event to this endpoint only, as a durable delivery; follow it with getWebhookDelivery.",
				Response: DeliveryResponse{}, Status: http.StatusAccepted, Handler: rest.HandleJSON(a.test)},
			{Method: "GET", Pattern: "/webhooks/{webhook}/secret", Scope: ScopeWebhooksAdmin, Owner: webhook, OperationID: "getWebhookSecret",
				Summary: "Get an endpoint's current secret.", Response: SecretResponse{}, Handler: rest.HandleJSON(a.secret)},
			{Method: "POST", Pattern: "/webhooks/{webhook}/secret/rotate", Scope: ScopeWebhooksAdmin, Owner: webhook,
				OperationID: "rotateWebhookSecret", Summary: "Replace the secret; the previous one keeps signing during the grace period.",
				Request: RotateSecretRequest{}, Response: EndpointResponse{}, Handler: rest.HandleJSON(a.rotate)},
			{Method: "GET", Pattern: "/webhooks/{webhook}/deliveries", Scope: ScopeWebhooksRead, Owner: webhook,
				OperationID: "listWebhookDeliveries", Summary: "List an endpoint's deliveries, newest first.",
				Query: []rest.Param{
					{Name: "state", Description: "pending, succeeded or failed."},
					{Name: "before", Description: "The next field of the previous page."},
					{Name: "limit", Type: "integer", Description: "1 to 500; defaults to 50."},
				},
				Response: DeliveryList{}, Handler: rest.HandleJSON(a.deliveries)},
			{Method: "GET", Pattern: "/webhooks/{webhook}/stats", Scope: ScopeWebhooksRead, Owner: webhook, OperationID: "getWebhookStats",
				Summary:  "Get an endpoint's success rate, attempts, latency percentiles, last error and circuit breaker state.",
				Query:    []rest.Param{{Name: "since", Description: "RFC 3339 start of the window; defaults to 24 hours ago."}},
				Response: StatsResponse{}, Handler: rest.HandleJSON(a.stats)},
			{Method: "GET", Pattern: "/webhooks/deliveries/{delivery}", Scope: ScopeWebhooksRead, Owner: delivery,
				OperationID: "getWebhookDelivery", Summary: "Get a delivery with all its attempts.",
				Response: DeliveryResponse{}, Handler: rest.HandleJSON(a.delivery)},
			{Method: "GET", Pattern: "/webhooks/deliveries/{delivery}/attempts", Scope: ScopeWebhooksRead, Owner: delivery,
				OperationID: "listWebhookAttempts", Summary: "List a delivery's attempts, oldest first.",
				Response: AttemptList{}, Handler: rest.HandleJSON(a.attempts)},
			{Method: "POST", Pattern: "/webhooks/deliveries/{delivery}/replay", Scope: ScopeWebhooksAdmin, Owner: delivery,
				OperationID: "replayWebhookDelivery",
				Summary:     "Send a delivery again (a dead one, or any), with the same webhook-id and a fresh schedule.",
				Response:    DeliveryResponse{}, Status: http.StatusAccepted, Handler: rest.HandleJSON(a.replay)},
		},
	}
}

// EndpointResponse is an endpoint on the wire.
type EndpointResponse struct {
	CreatedAt      time.Time         `json:"created_at"`
	Description    string            `json:"description"`
	DisabledReason string            `json:"disabled_reason,omitempty"`
	Enabled        bool              `json:"enabled"`
	Events         []string          `json:"events"`
	FailingSince   *time.Time        `json:"failing_since,omitempty"`
	FIFO           bool              `json:"fifo"`
	Headers        map[string]string `json:"headers"`
	HubSignature   bool              `json:"hub_signature"`
	ID             string            `json:"id"`
	LastError      string            `json:"last_error,omitempty"`
	Retry          *RetryPolicy      `json:"retry"`
	Secret         string            `json:"secret,omitempty"`
	Sessions       []string          `json:"sessions"`
	Tenant         string            `json:"tenant"`
	TimeoutMS      int64             `json:"timeout_ms"`
	UpdatedAt      time.Time         `json:"updated_at"`
	URL            string            `json:"url"`
}

func endpointResponse(ep *Endpoint) *EndpointResponse {
	out := &EndpointResponse{CreatedAt: ep.CreatedAt, Description: ep.Description, DisabledReason: ep.DisabledReason,
		Enabled: ep.Enabled, Events: ep.Events, FIFO: ep.FIFO, Headers: ep.Headers, HubSignature: ep.HubSignature, ID: ep.ID,
		LastError: ep.LastError,
		Retry:     ep.Retry, Secret: ep.Secret, Sessions: ep.Sessions, Tenant: ep.Tenant, TimeoutMS: ep.Timeout.Milliseconds(),
		UpdatedAt: ep.UpdatedAt, URL: ep.URL}
	if !ep.FailingSince.IsZero() {
		t := ep.FailingSince
		out.FailingSince = &t
	}
	if out.Sessions == nil {
		out.Sessions = []string{}
	}
	return out
}

// EndpointList is a page of endpoints.
type EndpointList struct {
	Endpoints []*EndpointResponse `json:"endpoints"`
}

// CreateEndpointRequest creates an endpoint.
type CreateEndpointRequest struct {
	Description string            `json:"description,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Events      []string          `json:"events,omitempty"`
	FIFO        bool              `json:"fifo,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	// HubSignature adds the GitHub/Meta-style X-Hub-Signature-256 header to
	// every delivery; off by default.
	HubSignature bool         `json:"hub_signature,omitempty"`
	Retry        *RetryPolicy `json:"retry,omitempty"`
	// RetryAttempts and RetryDelayMS are the plan's short form: this many
	// attempts in all, exponential from this delay.
	RetryAttempts int      `json:"retry_attempts,omitempty"`
	RetryDelayMS  int64    `json:"retry_delay_ms,omitempty"`
	Secret        string   `json:"secret,omitempty"`
	Sessions      []string `json:"sessions,omitempty"`
	TimeoutMS     int64    `json:"timeout_ms,omitempty"`
	URL           string   `json:"url"`
}

func shortRetry(attempts int, delayMS int64) (*RetryPolicy, error) {
	if attempts == 0 && delayMS == 0 {
		return nil, nil
	}
	if attempts < 1 || attempts > MaxRetries+1 {
		return nil, fieldErr("retry_attempts", "must be between 1 and %d", MaxRetries+1)
	}
	if delayMS < 0 || time.Duration(delayMS)*time.Millisecond > MaxRetryDelay {
		return nil, fieldErr("retry_delay_ms", "must be between 0 and %d", MaxRetryDelay.Milliseconds())
	}
	if delayMS == 0 {
		delayMS = 1000
	}
	return ExponentialRetry(attempts, time.Duration(delayMS)*time.Millisecond, 2, 0), nil
}

// UpdateEndpointRequest changes an endpoint; absent fields are kept.
type UpdateEndpointRequest struct {
	Description   *string            `json:"description,omitempty"`
	Enabled       *bool              `json:"enabled,omitempty"`
	Events        *[]string          `json:"events,omitempty"`
	FIFO          *bool              `json:"fifo,omitempty"`
	Headers       *map[string]string `json:"headers,omitempty"`
	HubSignature  *bool              `json:"hub_signature,omitempty"`
	Retry         *RetryPolicy       `json:"retry,omitempty"`
	RetryAttempts int                `json:"retry_attempts,omitempty"`
	RetryDelayMS  int64              `json:"retry_delay_ms,omitempty"`
	Sessions      *[]string          `json:"sessions,omitempty"`
	TimeoutMS     *int64             `json:"timeout_ms,omitempty"`
	URL           *string            `json:"url,omitempty"`
}

// RotateSecretRequest rotates an endpoint's secret.
type RotateSecretRequest struct {
	// GraceSeconds is how long the previous secret keeps signing; 0 or absent:
	// the service's default (24 h); negative: stop at once.
	GraceSeconds int64 `json:"grace_seconds,omitempty"`
	// Secret is the new secret; generated when absent.
	Secret string `json:"secret,omitempty"`
}

// SecretResponse carries an endpoint's secret.
type SecretResponse struct {
	Secret string `json:"secret"`
}

// DeliveryResponse is a delivery on the wire (with its attempts when read
// one by one).
type DeliveryResponse struct {
	Attempts      int                `json:"attempts"`
	AttemptLog    []*AttemptResponse `json:"attempt_log,omitempty"`
	CreatedAt     time.Time          `json:"created_at"`
	EndpointID    string             `json:"endpoint_id"`
	EventID       string             `json:"event_id"`
	EventSeq      int64              `json:"event_seq"`
	ID            string             `json:"id"`
	Kind          string             `json:"type"`
	LastError     string             `json:"last_error,omitempty"`
	LastStatus    int                `json:"last_status,omitempty"`
	NextAttemptAt *time.Time         `json:"next_attempt_at,omitempty"`
	Session       string             `json:"session"`
	State         string             `json:"state"`
	UpdatedAt     time.Time          `json:"updated_at"`
}

func deliveryResponse(d *Delivery) *DeliveryResponse {
	out := &DeliveryResponse{Attempts: d.Attempts, CreatedAt: d.CreatedAt, EndpointID: d.EndpointID, EventID: d.EventID,
		EventSeq: d.EventSeq, ID: d.ID, Kind: string(d.Kind), LastError: d.LastError, LastStatus: d.LastStatus,
		Session: d.Session, State: string(d.State), UpdatedAt: d.UpdatedAt}
	if !d.NextAttemptAt.IsZero() {
		t := d.NextAttemptAt
		out.NextAttemptAt = &t
	}
	return out
}

// DeliveryList is a page of deliveries, newest first.
type DeliveryList struct {
	Deliveries []*DeliveryResponse `json:"deliveries"`
	// Next is the before parameter of the next page; absent on the last page.
	Next string `json:"next,omitempty"`
}

// AttemptResponse is an attempt on the wire.
type AttemptResponse struct {
	DueAt             time.Time  `json:"due_at"`
	Error             string     `json:"error,omitempty"`
	LatencyMS         float64    `json:"latency_ms"`
	N                 int        `json:"n"`
	NextAttemptAt     *time.Time `json:"next_attempt_at,omitempty"`
	ResponseBody      *string    `json:"response_body,omitempty"`
	ResponseTruncated bool       `json:"response_truncated,omitempty"`
	StartedAt         time.Time  `json:"started_at"`
	StatusCode        int        `json:"status_code"`
	WebhookTimestamp  int64      `json:"webhook_timestamp"`
}

// AttemptList lists a delivery's attempts.
type AttemptList struct {
	Attempts []*AttemptResponse `json:"attempts"`
}

// StatsResponse is an endpoint's statistics.
type StatsResponse struct {
	Attempts int `json:"attempts"`
	// Breaker is the endpoint's circuit breaker in the process that answers;
	// absent when breakers are turned off.
	Breaker      *BreakerResponse `json:"breaker,omitempty"`
	Dead         int              `json:"dead"`
	EndpointID   string           `json:"endpoint_id"`
	Failed       int              `json:"failed"`
	LastError    string           `json:"last_error,omitempty"`
	LastErrorAt  *time.Time       `json:"last_error_at,omitempty"`
	LatencyP50MS float64          `json:"latency_p50_ms"`
	LatencyP95MS float64          `json:"latency_p95_ms"`
	Pending      int              `json:"pending"`
	Since        time.Time        `json:"since"`
	SuccessRate  float64          `json:"success_rate"`
	Succeeded    int              `json:"succeeded"`
}

// BreakerResponse is an endpoint's circuit breaker on the wire (see
// BreakerStatus).
type BreakerResponse struct {
	HeldBack       int64      `json:"held_back"`
	OpenedAt       *time.Time `json:"opened_at,omitempty"`
	OpenUntil      *time.Time `json:"open_until,omitempty"`
	Opens          int        `json:"opens"`
	Reopens        int        `json:"reopens"`
	State          string     `json:"state"`
	WindowFailures int        `json:"window_failures"`
	WindowRequests int        `json:"window_requests"`
}

func breakerResponse(b *BreakerStatus) *BreakerResponse {
	if b == nil {
		return nil
	}
	out := &BreakerResponse{HeldBack: b.HeldBack, Opens: b.Opens, Reopens: b.Reopens, State: string(b.State),
		WindowFailures: b.WindowFailures, WindowRequests: b.WindowRequests}
	if !b.OpenedAt.IsZero() {
		t := b.OpenedAt
		out.OpenedAt = &t
	}
	if !b.OpenUntil.IsZero() {
		t := b.OpenUntil
		out.OpenUntil = &t
	}
	return out
}

type api struct {
	s    *Service
	opts RoutesOpts
}

func principal(r *http.Request) *auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	if p == nil {
		return &auth.Principal{}
	}
	return p
}

// problem maps the package's errors to REST problems.
func problem(err error) error {
	var fe *FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return rest.NewProblem(http.StatusUnprocessableEntity, rest.TypeValidation, fe.Field+": "+fe.Reason,
			rest.FieldProblem{Field: fe.Field, Reason: fe.Reason})
	case errors.Is(err, ErrEndpointNotFound):
		return rest.NewProblem(http.StatusNotFound, rest.TypeNotFound, "webhook not found")
	case errors.Is(err, ErrDeliveryNotFound):
		return rest.NewProblem(http.StatusNotFound, rest.TypeNotFound, "delivery not found")
	case errors.Is(err, ErrEndpointDisabled):
		return rest.NewProblem(http.StatusConflict, rest.TypeConflict, "the endpoint is disabled; enable it before testing it")
	case errors.Is(err, ErrDatabase), errors.Is(err, context.DeadlineExceeded):
		return rest.NewProblem(http.StatusServiceUnavailable, rest.TypeUnavailable, "the database is unreachable")
	}
	return err
}

func (a *api) endpointOwner(r *http.Request, id string) (*rest.Ownership, error) {
	var tenant string
	err := a.s.db.sql.QueryRowContext(r.Context(), `SELECT tenant_id FROM waqtor_webhook_endpoints WHERE id = $1`, id).Scan(&tenant)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: webhook %q", rest.ErrNotFound, id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return &rest.Ownership{Tenant: tenant}, nil
}

func (a *api) deliveryOwner(r *http.Request, id string) (*rest.Ownership, error) {
	var tenant, session string
	err := a.s.db.sql.QueryRowContext(r.Context(), `SELECT tenant_id, session_id FROM waqtor_webhook_deliveries WHERE id = $1`,
		id).Scan(&tenant, &session)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: delivery %q", rest.ErrNotFound, id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return &rest.Ownership{Tenant: tenant, Session: session}, nil
}

// checkSessions refuses, for a principal narrowed to some sessions, an
// endpoint filter that would reach other sessions.
func checkSessions(p *auth.Principal, sessions []string) error {
	if len(p.Sessions) == 0 {
		return nil
	}
	if len(sessions) == 0 {
		return fieldErr("sessions", "this key is limited to sessions %v: list some of them", p.Sessions)
	}
	for _, s := range sessions {
		if !slices.Contains(p.Sessions, s) {
			return fieldErr("sessions", "this key may not use session %q", s)
		}
	}
	return nil
}

func (a *api) list(r *http.Request, _ *rest.NoBody) (*EndpointList, error) {
	eps, err := a.s.Endpoints(r.Context(), &EndpointListParams{Tenant: principal(r).Tenant})
	if err != nil {
		return nil, problem(err)
	}
	out := &EndpointList{Endpoints: []*EndpointResponse{}}
	for _, ep := range eps {
		out.Endpoints = append(out.Endpoints, endpointResponse(ep))
	}
	return out, nil
}

func (a *api) create(r *http.Request, req *CreateEndpointRequest) (*EndpointResponse, error) {
	p := principal(r)
	if err := checkSessions(p, req.Sessions); err != nil {
		return nil, problem(err)
	}
	retry := req.Retry
	if retry == nil {
		var err error
		if retry, err = shortRetry(req.RetryAttempts, req.RetryDelayMS); err != nil {
			return nil, problem(err)
		}
	}
	ep, err := a.s.CreateEndpoint(r.Context(), &EndpointParams{Tenant: p.Tenant, URL: req.URL, Description: req.Description,
		Disabled: req.Enabled != nil && !*req.Enabled, Events: req.Events, FIFO: req.FIFO, Headers: req.Headers,
		HubSignature: req.HubSignature, Retry: retry,
		Secret: req.Secret, Sessions: req.Sessions, Timeout: time.Duration(req.TimeoutMS) * time.Millisecond})
	if err != nil {
		return nil, problem(err)
	}
	return endpointResponse(ep), nil
}

func (a *api) get(r *http.Request, _ *rest.NoBody) (*EndpointResponse, error) {
	ep, err := a.s.Endpoint(r.Context(), principal(r).Tenant, r.PathValue("webhook"))
	if err != nil {
		return nil, problem(err)
	}
	return endpointResponse(ep), nil
}

func (a *api) update(r *http.Request, req *UpdateEndpointRequest) (*EndpointResponse, error) {
	p := principal(r)
	if req.Sessions != nil {
		if err := checkSessions(p, *req.Sessions); err != nil {
			return nil, problem(err)
		}
	}
	u := &EndpointUpdate{Description: req.Description, Enabled: req.Enabled, Events: req.Events, FIFO: req.FIFO,
		Headers: req.Headers, HubSignature: req.HubSignature, Retry: req.Retry, Sessions: req.Sessions, URL: req.URL}
	if u.Retry == nil {
		var err error
		if u.Retry, err = shortRetry(req.RetryAttempts, req.RetryDelayMS); err != nil {
			return nil, problem(err)
		}
	}
	if req.TimeoutMS != nil {
		d := time.Duration(*req.TimeoutMS) * time.Millisecond
		u.Timeout = &d
	}
	ep, err := a.s.UpdateEndpoint(r.Context(), p.Tenant, r.PathValue("webhook"), u)
	if err != nil {
		return nil, problem(err)
	}
	return endpointResponse(ep), nil
}

func (a *api) delete(r *http.Request, _ *rest.NoBody) (*struct{}, error) {
	return nil, problem(a.s.DeleteEndpoint(r.Context(), principal(r).Tenant, r.PathValue("webhook")))
}

func (a *api) test(r *http.Request, _ *rest.NoBody) (*DeliveryResponse, error) {
	d, err := a.s.Test(r.Context(), principal(r).Tenant, r.PathValue("webhook"))
	if err != nil {
		return nil, problem(err)
	}
	return deliveryResponse(d), nil
}

func (a *api) secret(r *http.Request, _ *rest.NoBody) (*SecretResponse, error) {
	ep, err := a.s.EndpointSecret(r.Context(), principal(r).Tenant, r.PathValue("webhook"))
	if err != nil {
		return nil, problem(err)
	}
	return &SecretResponse{Secret: ep.Secret}, nil
}

func (a *api) rotate(r *http.Request, req *RotateSecretRequest) (*EndpointResponse, error) {
	grace := time.Duration(req.GraceSeconds) * time.Second
	ep, err := a.s.RotateSecret(r.Context(), principal(r).Tenant, r.PathValue("webhook"), &RotateParams{Grace: grace, Secret: req.Secret})
	if err != nil {
		return nil, problem(err)
	}
	return endpointResponse(ep), nil
}

func (a *api) deliveries(r *http.Request, _ *rest.NoBody) (*DeliveryList, error) {
	limit, err := rest.QueryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return nil, err
	}
	state := DeliveryState(r.URL.Query().Get("state"))
	switch state {
	case "", StatePending, StateSucceeded, StateFailed:
	default:
		return nil, rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, "state: must be pending, succeeded or failed",
			rest.FieldProblem{Field: "state", Reason: "must be pending, succeeded or failed"})
	}
	res, err := a.s.Deliveries(r.Context(), &DeliveryListParams{Tenant: principal(r).Tenant, EndpointID: r.PathValue("webhook"),
		Before: r.URL.Query().Get("before"), Limit: limit, State: state})
	if err != nil {
		return nil, problem(err)
	}
	out := &DeliveryList{Deliveries: []*DeliveryResponse{}, Next: res.Next}
	for _, d := range res.Deliveries {
		out.Deliveries = append(out.Deliveries, deliveryResponse(d))
	}
	return out, nil
}

func (a *api) attemptList(r *http.Request, id string) ([]*AttemptResponse, error) {
	atts, err := a.s.Attempts(r.Context(), principal(r).Tenant, id)
	if err != nil {
		return nil, problem(err)
	}
	out := []*AttemptResponse{}
	for _, at := range atts {
		ar := &AttemptResponse{DueAt: at.DueAt, Error: at.Error, LatencyMS: float64(at.Latency.Microseconds()) / 1000, N: at.N,
			StartedAt: at.StartedAt, StatusCode: at.StatusCode, WebhookTimestamp: at.WebhookTimestamp.Unix(),
			ResponseTruncated: at.ResponseTruncated}
		if !at.NextAttemptAt.IsZero() {
			t := at.NextAttemptAt
			ar.NextAttemptAt = &t
		}
		if a.opts.ExposeResponseBodies {
			body := at.ResponseBody
			ar.ResponseBody = &body
		}
		out = append(out, ar)
	}
	return out, nil
}

func (a *api) delivery(r *http.Request, _ *rest.NoBody) (*DeliveryResponse, error) {
	id := r.PathValue("delivery")
	d, err := a.s.Delivery(r.Context(), principal(r).Tenant, id)
	if err != nil {
		return nil, problem(err)
	}
	out := deliveryResponse(d)
	if out.AttemptLog, err = a.attemptList(r, id); err != nil {
		return nil, err
	}
	return out, nil
}

func (a *api) attempts(r *http.Request, _ *rest.NoBody) (*AttemptList, error) {
	atts, err := a.attemptList(r, r.PathValue("delivery"))
	if err != nil {
		return nil, err
	}
	return &AttemptList{Attempts: atts}, nil
}

func (a *api) replay(r *http.Request, _ *rest.NoBody) (*DeliveryResponse, error) {
	d, err := a.s.Replay(r.Context(), principal(r).Tenant, r.PathValue("delivery"))
	if err != nil {
		return nil, problem(err)
	}
	return deliveryResponse(d), nil
}

func (a *api) stats(r *http.Request, _ *rest.NoBody) (*StatsResponse, error) {
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, "since: must be an RFC 3339 time",
				rest.FieldProblem{Field: "since", Reason: "must be an RFC 3339 time"})
		}
		since = t
	}
	st, err := a.s.Stats(r.Context(), principal(r).Tenant, r.PathValue("webhook"), &StatsParams{Since: since})
	if err != nil {
		return nil, problem(err)
	}
	out := &StatsResponse{Attempts: st.Attempts, Breaker: breakerResponse(st.Breaker), Dead: st.Dead, EndpointID: st.EndpointID, Failed: st.Failed,
		LastError: st.LastError, LatencyP50MS: float64(st.LatencyP50.Microseconds()) / 1000,
		LatencyP95MS: float64(st.LatencyP95.Microseconds()) / 1000, Pending: st.Pending, Since: st.Since,
		SuccessRate: st.SuccessRate, Succeeded: st.Succeeded}
	if !st.LastErrorAt.IsZero() {
		t := st.LastErrorAt
		out.LastErrorAt = &t
	}
	return out, nil
}
