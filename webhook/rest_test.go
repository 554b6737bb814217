package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/resttest"
	"github.com/waqtor/waqtor/webhook"
)

type restBundle struct {
	*testBundle
	srv        *httptest.Server
	keyA       string // admin of tenant default
	keyB       string // admin of tenant other
	keyRead    string // tenant default, webhooks:read only
	keyNone    string // tenant default, read only (no webhook scope)
	keyAID     string
	keyNarrow  string // tenant default, webhooks:admin, narrowed to session "main"
	keyNarrowT string
}

func setupREST(t *testing.T, kind dbtest.Kind, mutate ...func(*webhook.Config)) *restBundle {
	t.Helper()
	b := &restBundle{testBundle: setup(t, kind, mutate...)}
	ctx := context.Background()
	keys, err := auth.NewKeyStore(ctx, b.core, &auth.KeyStoreConfig{Logger: slogtest.New(t)})
	require.NoError(t, err)
	mk := func(tenant string, sessions []string, scopes ...auth.Scope) (string, string) {
		k, secret, err := keys.Create(ctx, &auth.KeyCreateParams{Name: "k", Scopes: scopes, Tenant: tenant, Sessions: sessions})
		require.NoError(t, err)
		return secret, k.ID
	}
	b.keyA, b.keyAID = mk("default", nil, auth.ScopeAdmin)
	b.keyB, _ = mk("other", nil, auth.ScopeAdmin)
	b.keyRead, _ = mk("default", nil, webhook.ScopeWebhooksRead)
	b.keyNone, _ = mk("default", nil, "unrelated:scope")
	b.keyNarrow, _ = mk("default", []string{"main"}, webhook.ScopeWebhooksAdmin)
	// The rate limit is off, as in transport/rest's own matrix: the tenant
	// matrix measures response times with the intruder's key and, on a
	// loaded machine, measures again up to three times longer per route,
	// which took that key past the default 600 requests a minute (the later
	// routes answered 429 instead of the 404 under test), and its samples
	// were kept too few to separate noise from an oracle.
	h, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: keys, Logger: slogtest.New(t), RateLimit: -1,
		Groups: []rest.RouteGroup{b.svc.Routes(nil)}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

// call sends a request and decodes the JSON answer into out (when not nil).
func (b *restBundle) call(t *testing.T, key, method, path string, body any, out any) int {
	t.Helper()
	code, raw := b.callRaw(t, key, method, path, body)
	if out != nil && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
	}
	return code
}

// callRaw sends a request and returns the status and the answer's body.
func (b *restBundle) callRaw(t *testing.T, key, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, b.srv.URL+"/api"+path, rd)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, raw
}

func TestRESTWebhookTour(t *testing.T) {
	t.Parallel()
	kinds(t, func(t *testing.T, kind dbtest.Kind) {
		b := setupREST(t, kind)
		ctx := context.Background()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(500)
				_, _ = io.WriteString(w, "internal secret stack trace")
			}
		})

		// The OpenAPI document describes the new fields from the route metadata.
		var doc struct {
			Components struct {
				Schemas map[string]struct {
					Properties map[string]any `json:"properties"`
				} `json:"schemas"`
			} `json:"components"`
		}
		require.Equal(t, http.StatusOK, b.call(t, b.keyA, "GET", "/openapi.json", nil, &doc))
		for schema, prop := range map[string]string{"CreateEndpointRequest": "hub_signature", "UpdateEndpointRequest": "hub_signature",
			"EndpointResponse": "hub_signature", "StatsResponse": "breaker", "BreakerResponse": "state"} {
			require.Contains(t, doc.Components.Schemas[schema].Properties, prop, schema)
		}

		// Bad input: clear 422s naming the field, nothing stored.
		var prob rest.Problem
		for field, body := range map[string]map[string]any{
			"url":     {"url": "ftp://example.com"},
			"events":  {"url": rc.URL, "events": []string{"message.nope"}},
			"secret":  {"url": rc.URL, "secret": "whsec_c2hvcnQ="},
			"headers": {"url": rc.URL, "headers": map[string]string{"X-Waqtor-Event": "x"}},
		} {
			require.Equal(t, http.StatusUnprocessableEntity, b.call(t, b.keyA, "POST", "/webhooks", body, &prob), field)
			require.Equal(t, rest.TypeValidation, prob.Type)
			require.Equal(t, field, prob.Errors[0].Field)
		}
		require.Equal(t, http.StatusBadRequest, b.call(t, b.keyA, "POST", "/webhooks", map[string]any{"url": rc.URL, "bogus": 1}, &prob))

		// Create with the plan's short retry form.
		var ep webhook.EndpointResponse
		require.Equal(t, http.StatusCreated, b.call(t, b.keyA, "POST", "/webhooks", map[string]any{"url": rc.URL,
			"events": []string{"message_received"}, "retry_attempts": 3, "retry_delay_ms": 1, "hub_signature": true}, &ep))
		require.True(t, strings.HasPrefix(ep.Secret, "whsec_"))
		require.True(t, ep.HubSignature)
		require.Equal(t, 3, ep.Retry.Attempts())
		var got webhook.EndpointResponse
		require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/webhooks/"+ep.ID, nil, &got))
		require.Empty(t, got.Secret)
		var list webhook.EndpointList
		require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/webhooks", nil, &list))
		require.Len(t, list.Endpoints, 1)
		require.Equal(t, http.StatusForbidden, b.call(t, b.keyRead, "POST", "/webhooks/"+ep.ID+"/test", nil, nil))
		require.Equal(t, http.StatusOK, b.call(t, b.keyA, "PATCH", "/webhooks/"+ep.ID,
			map[string]any{"description": "orders", "timeout_ms": 5000}, &got))
		require.Equal(t, "orders", got.Description)
		require.EqualValues(t, 5000, got.TimeoutMS)
		require.True(t, got.HubSignature, "absent fields are kept")
		require.Equal(t, http.StatusOK, b.call(t, b.keyA, "PATCH", "/webhooks/"+ep.ID, map[string]any{"hub_signature": false}, &got))
		require.False(t, got.HubSignature)
		require.Equal(t, http.StatusOK, b.call(t, b.keyA, "PATCH", "/webhooks/"+ep.ID, map[string]any{"hub_signature": true}, &got))
		require.True(t, got.HubSignature)

		// Test: fails once (500), then succeeds on the retry; the log shows both
		// attempts, without the receiver's body.
		var d webhook.DeliveryResponse
		require.Equal(t, http.StatusAccepted, b.call(t, b.keyA, "POST", "/webhooks/"+ep.ID+"/test", nil, &d))
		require.Equal(t, "webhook.test", d.Kind)
		require.NoError(t, waitFor(ctx, func() bool {
			b.call(t, b.keyRead, "GET", "/webhooks/deliveries/"+d.ID, nil, &d)
			return d.State == "succeeded"
		}))
		require.Len(t, d.AttemptLog, 2)
		require.Equal(t, 500, d.AttemptLog[0].StatusCode)
		require.Nil(t, d.AttemptLog[0].ResponseBody, "receiver bodies are not echoed")
		require.Equal(t, 200, d.AttemptLog[1].StatusCode)
		var atts webhook.AttemptList
		require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/webhooks/deliveries/"+d.ID+"/attempts", nil, &atts))
		require.Len(t, atts.Attempts, 2)
		var dl webhook.DeliveryList
		require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/webhooks/"+ep.ID+"/deliveries?state=succeeded&limit=10", nil, &dl))
		require.Len(t, dl.Deliveries, 1)
		require.Equal(t, http.StatusBadRequest, b.call(t, b.keyRead, "GET", "/webhooks/"+ep.ID+"/deliveries?state=weird", nil, nil))

		// Replay: same webhook-id, a third attempt.
		require.Equal(t, http.StatusAccepted, b.call(t, b.keyA, "POST", "/webhooks/deliveries/"+d.ID+"/replay", nil, &d))
		require.NoError(t, waitFor(ctx, func() bool {
			b.call(t, b.keyRead, "GET", "/webhooks/deliveries/"+d.ID, nil, &d)
			return d.State == "succeeded" && d.Attempts == 3
		}))
		reqs := rc.requests()
		require.Len(t, reqs, 3)
		for _, r := range reqs {
			require.Equal(t, d.EventID, r.Header.Get(webhook.HeaderWebhookID))
		}

		var st webhook.StatsResponse
		require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/webhooks/"+ep.ID+"/stats", nil, &st))
		require.Equal(t, 3, st.Attempts)
		require.Equal(t, 2, st.Succeeded)
		require.InDelta(t, 2.0/3, st.SuccessRate, 0.001)
		require.Equal(t, "HTTP 500", st.LastError)
		require.Positive(t, st.LatencyP95MS)
		require.NotNil(t, st.Breaker)
		require.Equal(t, "closed", st.Breaker.State)
		require.Equal(t, 3, st.Breaker.WindowRequests)
		require.Equal(t, 1, st.Breaker.WindowFailures)
		require.Zero(t, st.Breaker.Opens)
		for _, r := range rc.requests() {
			require.True(t, githubVerify(ep.Secret, r.Header.Get(webhook.HeaderHubSignature), r.Body))
		}

		// Secrets: read and rotate.
		var sec webhook.SecretResponse
		require.Equal(t, http.StatusForbidden, b.call(t, b.keyRead, "GET", "/webhooks/"+ep.ID+"/secret", nil, nil))
		require.Equal(t, http.StatusOK, b.call(t, b.keyA, "GET", "/webhooks/"+ep.ID+"/secret", nil, &sec))
		require.Equal(t, ep.Secret, sec.Secret)
		var rot webhook.EndpointResponse
		require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/webhooks/"+ep.ID+"/secret/rotate", map[string]any{"grace_seconds": 60}, &rot))
		require.NotEqual(t, ep.Secret, rot.Secret)

		// A key narrowed to a session manages only endpoints within it.
		require.Equal(t, http.StatusUnprocessableEntity, b.call(t, b.keyNarrow, "POST", "/webhooks", map[string]any{"url": rc.URL}, &prob))
		require.Equal(t, http.StatusUnprocessableEntity, b.call(t, b.keyNarrow, "POST", "/webhooks",
			map[string]any{"url": rc.URL, "sessions": []string{"other"}}, &prob))
		var narrow webhook.EndpointResponse
		require.Equal(t, http.StatusCreated, b.call(t, b.keyNarrow, "POST", "/webhooks",
			map[string]any{"url": rc.URL, "sessions": []string{"main"}, "enabled": false}, &narrow))

		// The tenant-isolation matrix over every route of the handler.
		_, err := b.network.Phone("+201001234567").SendText(ctx, b.botJID, "hello")
		require.NoError(t, err)
		var msgID string
		require.NoError(t, waitFor(ctx, func() bool {
			res, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: "+201001234567"})
			if err == nil && res != nil && len(res.Messages) > 0 {
				msgID = res.Messages[0].ID
				return true
			}
			return false
		}))
		resttest.RunTenantMatrix(t, &resttest.MatrixConfig{
			BaseURL:     b.srv.URL + "/api",
			IntruderKey: b.keyB,
			NoScopeKey:  b.keyNone,
			// The handler's rate limit is off (setupREST): as many timing
			// samples as transport/rest's own matrix takes, so that a loaded
			// machine's noise does not separate two medians of 3.
			TimingSamples: 9,
			Objects: map[string]string{"webhook": ep.ID, "delivery": d.ID, "session": "main", "message": msgID, "key": b.keyAID,
				"contact": "+201001234567"},
			Snapshot: func(t *testing.T) string {
				eps, err := b.svc.Endpoints(ctx, nil)
				require.NoError(t, err)
				var sb strings.Builder
				for _, e := range eps {
					fmt.Fprintf(&sb, "%s %s %v %s|", e.ID, e.URL, e.Enabled, e.UpdatedAt)
				}
				dd, err := b.svc.Delivery(ctx, "default", d.ID)
				require.NoError(t, err)
				fmt.Fprintf(&sb, "%s %s %d", dd.ID, dd.State, dd.Attempts)
				return sb.String()
			},
		})

		require.Equal(t, http.StatusNoContent, b.call(t, b.keyA, "DELETE", "/webhooks/"+ep.ID, nil, nil))
		require.Equal(t, http.StatusNotFound, b.call(t, b.keyA, "GET", "/webhooks/"+ep.ID, nil, &prob))
		require.Equal(t, rest.TypeNotFound, prob.Type)
		require.Equal(t, http.StatusNotFound, b.call(t, b.keyA, "GET", "/webhooks/deliveries/"+d.ID, nil, nil))
		_ = time.Second
	})
}
