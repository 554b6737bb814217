package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"log/slog"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/store"
)

// Endpoint is a URL that receives a tenant's events.
type Endpoint struct {
	// CreatedAt is when the endpoint was created.
	CreatedAt time.Time
	// Description is free text for people.
	Description string
	// DisabledReason says why a disabled endpoint is: "manual" (through the
	// API), "gone" (the receiver answered 410), "failing" (only failures for
	// longer than Config.AutoDisableAfter) or "breaker" (its circuit breaker
	// re-opened Config.Breaker.MaxReopens times in a row). Empty while enabled.
	DisabledReason string
	// Enabled endpoints receive events; disabled ones keep their pending
	// deliveries, which resume when the endpoint is enabled again.
	Enabled bool
	// Events is the event filter: kinds ("message.received"), wildcards
	// ("message.*", "*") and the original plan's aliases ("message_received").
	Events []string
	// FailingSince is when the current run of failures began (zero after a
	// success).
	FailingSince time.Time
	// FIFO endpoints get one request at a time, in event order; a failing
	// delivery holds back the ones after it until it succeeds or is dead.
	FIFO bool
	// Headers are sent with every delivery.
	Headers map[string]string
	// HubSignature adds the GitHub/Meta-style X-Hub-Signature-256 header
	// (HeaderHubSignature) to every delivery.
	HubSignature bool
	// ID is the endpoint's ID ("ep_…").
	ID string
	// LastError describes the last failed attempt.
	LastError string
	// Retry is the endpoint's retry policy.
	Retry *RetryPolicy
	// Secret signs deliveries. It is set only in the results of
	// CreateEndpoint, RotateSecret and EndpointSecret.
	Secret string
	// Sessions restricts the endpoint to events of these sessions. Empty: all
	// of the tenant's sessions.
	Sessions []string
	// Tenant owns the endpoint; it receives only this tenant's events.
	Tenant string
	// Timeout bounds one attempt.
	Timeout time.Duration
	// UpdatedAt is when the endpoint was last changed.
	UpdatedAt time.Time
	// URL is where deliveries are POSTed.
	URL string
}

// EndpointParams describes a new endpoint.
type EndpointParams struct {
	// Description is free text for people. Optional, at most 1,000 characters.
	Description string
	// Disabled creates the endpoint disabled.
	Disabled bool
	// Events is the event filter. Defaults to every event ("*").
	Events []string
	// FIFO delivers in event order, one request at a time.
	FIFO bool
	// Headers are extra request headers (at most 20). The signature, event,
	// delivery, content and hop-by-hop headers are reserved.
	Headers map[string]string
	// HubSignature adds the GitHub/Meta-style X-Hub-Signature-256 header
	// ("sha256=" and the hex HMAC-SHA256 of the body keyed with the secret
	// string, see HeaderHubSignature), for receivers written for GitHub or
	// Meta webhooks. Defaults to false: only waqtor's and the Standard
	// Webhooks signatures are sent.
	HubSignature bool
	// Retry is the retry policy. Defaults to Config.DefaultRetry.
	Retry *RetryPolicy
	// Secret signs deliveries: "whsec_" and the base64 of 24 to 64 random
	// bytes. Defaults to a generated one.
	Secret string
	// Sessions restricts the endpoint to these sessions. Defaults to all.
	Sessions []string
	// Tenant owns the endpoint. Defaults to "default".
	Tenant string
	// Timeout bounds one attempt, at most MaxTimeout. Defaults to
	// Config.DefaultTimeout.
	Timeout time.Duration
	// URL is where deliveries are POSTed: http or https. Required.
	URL string
}

// EndpointUpdate changes an endpoint; nil fields are left as they are.
type EndpointUpdate struct {
	Description *string
	// Enabled enables or disables the endpoint. Enabling clears FailingSince
	// and DisabledReason.
	Enabled *bool
	Events  *[]string
	FIFO    *bool
	Headers *map[string]string
	// HubSignature turns the X-Hub-Signature-256 header on or off.
	HubSignature *bool
	Retry        *RetryPolicy
	Sessions     *[]string
	Timeout      *time.Duration
	URL          *string
}

var (
	tenantRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	headerRe  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
	reserved  = []string{"connection", "content-encoding", "content-length", "content-type", "host", "keep-alive", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-hub-signature", "x-hub-signature-256"}
	maxURLLen = 2048
)

func validTenant(t string) error {
	if !tenantRe.MatchString(t) {
		return fieldErr("tenant", "%q must match %s", t, tenantRe)
	}
	return nil
}

// validateURL checks an endpoint URL now, including its DNS answers; every
// connection is checked again at delivery time. endpointID is empty for a
// new endpoint. A refusal names the class of a blocked address, never the
// addresses or the resolver (see refusal); the detail is logged.
func (s *Service) validateURL(ctx context.Context, endpointID, raw string) error {
	if raw == "" {
		return fieldErr("url", "required, e.g. https://example.com/hooks/waqtor")
	}
	if len(raw) > maxURLLen {
		return fieldErr("url", "longer than %d characters", maxURLLen)
	}
	if err := s.policy.ValidateURL(ctx, raw); err != nil {
		reason, ok := refusal(err)
		if !ok {
			return &FieldError{Err: ErrInvalidEndpoint, Field: "url", Reason: netguardReason(err)}
		}
		s.logRefusal(ctx, "Webhook endpoint URL refused", endpointID, raw, err)
		return &FieldError{Err: ErrInvalidEndpoint, Field: "url", Reason: reason}
	}
	return nil
}

func netguardReason(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "see Config.AllowedSchemes", "webhooks use http or https")
	msg = strings.ReplaceAll(msg, "add it to AllowCIDRs", "add it to webhook Config.AllowCIDRs")
	return strings.TrimPrefix(msg, "netguard: ")
}

func validateHeaders(h map[string]string) error {
	if len(h) > 20 {
		return fieldErr("headers", "%d headers; at most 20", len(h))
	}
	for k, v := range h {
		if !headerRe.MatchString(k) {
			return fieldErr("headers", "%q is not a valid header name", k)
		}
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-waqtor-") || strings.HasPrefix(lk, "webhook-") || strings.HasPrefix(lk, "proxy-") {
			return fieldErr("headers", "%q is reserved for waqtor's own headers", k)
		}
		for _, r := range reserved {
			if lk == r {
				return fieldErr("headers", "%q is set by waqtor and cannot be overridden", k)
			}
		}
		if len(v) > 4096 || strings.ContainsAny(v, "\r\n\x00") {
			return fieldErr("headers", "value of %q must be one line of at most 4096 bytes", k)
		}
	}
	return nil
}

func validateSessions(ss []string) ([]string, error) {
	if len(ss) > 1000 {
		return nil, fieldErr("sessions", "%d sessions; at most 1000", len(ss))
	}
	var out []string
	for _, s := range ss {
		if !tenantRe.MatchString(s) {
			return nil, fieldErr("sessions", "%q is not a session ID ([a-z0-9][a-z0-9_-]{0,63})", s)
		}
		if !containsStr(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Service) validateTimeout(d time.Duration) error {
	if d < 0 || d > MaxTimeout {
		return fieldErr("timeout", "%s must be between 1ms and %s", d, MaxTimeout)
	}
	return nil
}

// CreateEndpoint validates p, checks the URL (including its DNS answers)
// against the SSRF guard, and stores the endpoint. The result carries the
// secret. The endpoint receives events appended to the log after it was
// created. Errors wrap ErrInvalidEndpoint (a *FieldError).
func (s *Service) CreateEndpoint(ctx context.Context, p *EndpointParams) (*Endpoint, error) {
	if p == nil {
		return nil, fieldErr("url", "required")
	}
	ep := &Endpoint{Tenant: p.Tenant, URL: strings.TrimSpace(p.URL), Description: p.Description, FIFO: p.FIFO,
		Enabled: !p.Disabled, Secret: p.Secret, Timeout: p.Timeout, Retry: p.Retry, HubSignature: p.HubSignature}
	if ep.Tenant == "" {
		ep.Tenant = waqtor.DefaultTenantDefault
	}
	if !ep.Enabled {
		ep.DisabledReason = "manual"
	}
	if err := validTenant(ep.Tenant); err != nil {
		return nil, err
	}
	if err := s.validateURL(ctx, "", ep.URL); err != nil {
		return nil, err
	}
	var err error
	if ep.Events, err = normalizeEvents(p.Events); err != nil {
		return nil, err
	}
	if ep.Sessions, err = validateSessions(p.Sessions); err != nil {
		return nil, err
	}
	if err := validateHeaders(p.Headers); err != nil {
		return nil, err
	}
	ep.Headers = map[string]string{}
	for k, v := range p.Headers {
		ep.Headers[http.CanonicalHeaderKey(k)] = v
	}
	if len(ep.Description) > 1000 {
		return nil, fieldErr("description", "longer than 1000 characters")
	}
	if ep.Secret == "" {
		ep.Secret = GenerateSecret()
	} else if _, err := ParseSecret(ep.Secret); err != nil {
		return nil, &FieldError{Err: ErrInvalidEndpoint, Field: "secret", Reason: strings.TrimPrefix(err.Error(), "webhook: ")}
	}
	if ep.Timeout == 0 {
		ep.Timeout = s.cfg.DefaultTimeout
	}
	if err := s.validateTimeout(ep.Timeout); err != nil {
		return nil, err
	}
	if ep.Retry == nil {
		ep.Retry = s.cfg.DefaultRetry.clone()
	} else {
		ep.Retry = ep.Retry.clone()
	}
	if err := ep.Retry.validate(); err != nil {
		return nil, err
	}
	now := s.now()
	ep.ID = store.NewID("ep_", now)
	ep.CreatedAt, ep.UpdatedAt = now, now
	sealed, err := s.sealer.seal(ep.Secret)
	if err != nil {
		return nil, err
	}
	headers, err := s.sealer.sealHeaders(ep.Headers)
	if err != nil {
		return nil, err
	}
	if err := s.db.insertEndpoint(ctx, ep, sealed, headers); err != nil {
		return nil, err
	}
	s.syncNow(ctx)
	s.logger.InfoContext(ctx, "Webhook endpoint created", slog.String("endpoint_id", ep.ID), slog.String("tenant", ep.Tenant))
	return ep, nil
}

// Endpoint returns one of tenant's endpoints (without its secret).
func (s *Service) Endpoint(ctx context.Context, tenant, id string) (*Endpoint, error) {
	ep, _, err := s.db.getEndpoint(ctx, s.db.sql, tenant, id)
	return ep, err
}

// EndpointSecret returns one of tenant's endpoints with its current secret.
func (s *Service) EndpointSecret(ctx context.Context, tenant, id string) (*Endpoint, error) {
	ep, row, err := s.db.getEndpoint(ctx, s.db.sql, tenant, id)
	if err != nil {
		return nil, err
	}
	if ep.Secret, err = s.sealer.open(row.secret); err != nil {
		return nil, err
	}
	return ep, nil
}

// EndpointListParams selects endpoints for Endpoints.
type EndpointListParams struct {
	// Tenant whose endpoints to list. Defaults to "default".
	Tenant string
}

// Endpoints lists a tenant's endpoints, oldest first (without secrets).
func (s *Service) Endpoints(ctx context.Context, p *EndpointListParams) ([]*Endpoint, error) {
	tenant := waqtor.DefaultTenantDefault
	if p != nil && p.Tenant != "" {
		tenant = p.Tenant
	}
	return s.db.listEndpoints(ctx, tenant)
}

// UpdateEndpoint changes one of tenant's endpoints. A new URL is checked like
// at creation. Errors wrap ErrEndpointNotFound or ErrInvalidEndpoint.
func (s *Service) UpdateEndpoint(ctx context.Context, tenant, id string, u *EndpointUpdate) (*Endpoint, error) {
	if u == nil {
		u = &EndpointUpdate{}
	}
	if u.URL != nil {
		if err := s.validateURL(ctx, id, strings.TrimSpace(*u.URL)); err != nil {
			return nil, err
		}
	}
	var out *Endpoint
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		ep, row, err := s.db.getEndpoint(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		// Headers that cannot be decrypted (a missing key) are kept as they
		// are stored unless this update replaces them.
		headers := row.headers
		if u.URL != nil {
			ep.URL = strings.TrimSpace(*u.URL)
		}
		if u.Description != nil {
			if len(*u.Description) > 1000 {
				return fieldErr("description", "longer than 1000 characters")
			}
			ep.Description = *u.Description
		}
		if u.Events != nil {
			if ep.Events, err = normalizeEvents(*u.Events); err != nil {
				return err
			}
		}
		if u.Sessions != nil {
			if ep.Sessions, err = validateSessions(*u.Sessions); err != nil {
				return err
			}
		}
		if u.Headers != nil {
			if err := validateHeaders(*u.Headers); err != nil {
				return err
			}
			ep.Headers = map[string]string{}
			for k, v := range *u.Headers {
				ep.Headers[http.CanonicalHeaderKey(k)] = v
			}
		}
		if u.Headers != nil || row.headersErr == nil {
			if headers, err = s.sealer.sealHeaders(ep.Headers); err != nil {
				return err
			}
		}
		if u.FIFO != nil {
			ep.FIFO = *u.FIFO
		}
		if u.HubSignature != nil {
			ep.HubSignature = *u.HubSignature
		}
		if u.Timeout != nil {
			t := *u.Timeout
			if t == 0 {
				t = s.cfg.DefaultTimeout
			}
			if err := s.validateTimeout(t); err != nil {
				return err
			}
			ep.Timeout = t
		}
		if u.Retry != nil {
			if err := u.Retry.validate(); err != nil {
				return err
			}
			ep.Retry = u.Retry.clone()
		}
		if u.Enabled != nil && *u.Enabled != ep.Enabled {
			ep.Enabled = *u.Enabled
			if ep.Enabled {
				ep.DisabledReason, ep.FailingSince, ep.LastError = "", time.Time{}, ""
			} else {
				ep.DisabledReason = "manual"
			}
		}
		ep.UpdatedAt = s.now()
		out = ep
		return s.db.updateEndpoint(ctx, tx, ep, headers)
	})
	if err != nil {
		return nil, err
	}
	s.syncNow(ctx)
	return out, nil
}

// DeleteEndpoint deletes one of tenant's endpoints with its deliveries and
// their attempts. Errors wrap ErrEndpointNotFound.
func (s *Service) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	if err := s.db.deleteEndpoint(ctx, tenant, id); err != nil {
		return err
	}
	s.syncNow(ctx)
	return nil
}

// RotateParams tunes RotateSecret.
type RotateParams struct {
	// Grace is how long the previous secret keeps signing, beside the new one.
	// Negative: stop at once. Defaults to Config.RotationGrace (24 h).
	Grace time.Duration
	// Secret is the new secret. Defaults to a generated one.
	Secret string
}

// RotateSecret replaces an endpoint's secret. During the grace period every
// delivery carries signatures made with both secrets (webhook-signature lists
// two "v1," entries, X-Waqtor-Signature two "sha256=" values), so the receiver
// can switch to the new secret at any moment within it. Attempts started
// after it returns use the new secret (in other processes on the same
// database, within Config.PollInterval). The result carries the new secret.
func (s *Service) RotateSecret(ctx context.Context, tenant, id string, p *RotateParams) (*Endpoint, error) {
	if p == nil {
		p = &RotateParams{}
	}
	secret := p.Secret
	if secret == "" {
		secret = GenerateSecret()
	} else if _, err := ParseSecret(secret); err != nil {
		return nil, &FieldError{Err: ErrInvalidEndpoint, Field: "secret", Reason: strings.TrimPrefix(err.Error(), "webhook: ")}
	}
	grace := p.Grace
	if grace == 0 {
		grace = s.cfg.RotationGrace
	}
	var out *Endpoint
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		ep, row, err := s.db.getEndpoint(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		old, until := "", time.Time{}
		if grace > 0 {
			// The previous secret is stored sealed with the current key, however
			// it was stored before (plaintext from before a key was configured,
			// or sealed with an old key). One that no key opens is kept as
			// stored: it is sealed already, and cannot sign anyway.
			old, until = row.secret, s.now().Add(grace)
			if re, ok, err := s.sealer.resealed(row.secret, aadSecret); err == nil && ok {
				old = re
			}
		}
		sealed, err := s.sealer.seal(secret)
		if err != nil {
			return err
		}
		ep.UpdatedAt = s.now()
		ep.Secret = secret
		out = ep
		return s.db.setSecret(ctx, tx, ep, sealed, old, until)
	})
	if err != nil {
		return nil, err
	}
	s.syncNow(ctx)
	return out, nil
}

// encodeList encodes a string list for the database.
func encodeJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
