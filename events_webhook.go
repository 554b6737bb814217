package waqtor

import "time"

// Events of the webhook package (github.com/waqtor/waqtor/webhook). They live
// here because events are sealed: only this package defines them.

// The webhook event kinds.
const (
	// KindWebhookEndpointDisabled is emitted when the webhook dispatcher disables
	// an endpoint by itself: it answered 410 Gone, it failed for longer than
	// its disable window, or its circuit breaker re-opened too often in a row.
	KindWebhookEndpointDisabled EventKind = "webhook.endpoint_disabled"
	// KindWebhookTest is the event a webhook test sends. It is delivered only to
	// the endpoint being tested, never through endpoint filters.
	KindWebhookTest EventKind = "webhook.test"
)

// WebhookEndpointDisabled is emitted when a webhook endpoint is disabled
// automatically. Its tenant is the endpoint's; its session is empty.
type WebhookEndpointDisabled struct {
	EventMeta
	// EndpointID is the disabled endpoint.
	EndpointID string `json:"endpoint_id"`
	// FailingSince is when the endpoint's current run of failures began (zero
	// when a 410 answer followed a success).
	FailingSince time.Time `json:"failing_since,omitzero"`
	// LastError describes the last failed attempt.
	LastError string `json:"last_error,omitempty"`
	// Reason says why: "gone" (the receiver answered 410), "failing" (only
	// failures for longer than the disable window) or "breaker" (its circuit
	// breaker re-opened, after a failed probe, too many times in a row).
	Reason string `json:"reason"`
	// URL is the endpoint's URL.
	URL string `json:"url"`
}

// Kind returns KindWebhookEndpointDisabled.
func (*WebhookEndpointDisabled) Kind() EventKind { return KindWebhookEndpointDisabled }
func (*WebhookEndpointDisabled) isEvent()        {}

// WebhookTest is the payload of a webhook test delivery.
type WebhookTest struct {
	EventMeta
	// EndpointID is the endpoint being tested.
	EndpointID string `json:"endpoint_id"`
	// Message is a human-readable note, e.g. "This is a test webhook from waqtor".
	Message string `json:"message"`
}

// Kind returns KindWebhookTest.
func (*WebhookTest) Kind() EventKind { return KindWebhookTest }
func (*WebhookTest) isEvent()        {}
