package rest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

func TestConsentRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	alice := url.PathEscape(alicePhone)

	// Unknown before anything is recorded.
	res := b.do(t, b.keyA, "GET", "/consent/"+alice, nil)
	require.Equal(t, http.StatusNotFound, res.status, "%s", res.body)

	var c struct {
		Contact, Note, Previous, Scope, Source, Status string
	}
	res = b.do(t, b.keyA, "PUT", "/consent/"+alice, map[string]any{"scope": "all", "status": "opted_out", "source": "crm", "note": "phoned"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	res.json(t, &c)
	require.Equal(t, alicePhone, c.Contact)
	require.Equal(t, "crm", c.Source)
	// The JID and the bare digits name the same contact.
	res = b.do(t, b.keyA, "PUT", "/consent/15550002222@s.whatsapp.net", map[string]any{"scope": "marketing", "status": "opted_in"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)

	var got rest.ContactConsent
	res = b.do(t, b.keyA, "GET", "/consent/15550002222", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	res.json(t, &got)
	require.Equal(t, alicePhone, got.Contact)
	require.Len(t, got.Current, 2)
	require.Len(t, got.History, 2)
	require.Equal(t, map[string]bool{"all": true, "marketing": true}, got.OptedOut, "an opt-out of all covers marketing")

	var list rest.ConsentList
	res = b.do(t, b.keyA, "GET", "/consent?status=opted_out", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	res.json(t, &list)
	require.Len(t, list.Consents, 1)
	require.Equal(t, "all", list.Consents[0].Scope)

	// Sends: refused with 409 naming the contact, unless transactional.
	send := "/sessions/default/messages/send-text"
	res = b.do(t, b.keyA, "POST", send, map[string]any{"chat": alicePhone, "text": "sale"})
	require.Equal(t, http.StatusConflict, res.status, "%s", res.body)
	p := res.problem(t)
	require.Equal(t, rest.TypeOptedOut, p.Type)
	require.Contains(t, p.Detail, alicePhone)
	require.Equal(t, "chat", p.Errors[0].Field)
	res = b.do(t, b.keyA, "POST", send, map[string]any{"chat": alicePhone, "text": "your code is 1234", "transactional": true})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	body, ct := multipartBody(t, map[string]string{"chat": alicePhone, "kind": "document", "transactional": "true"}, []byte("receipt"))
	res = b.do(t, b.keyA, "POST", "/sessions/default/messages/send-media", body, "Content-Type", ct)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	body, ct = multipartBody(t, map[string]string{"chat": alicePhone, "kind": "document"}, []byte("flyer"))
	res = b.do(t, b.keyA, "POST", "/sessions/default/messages/send-media", body, "Content-Type", ct)
	require.Equal(t, http.StatusConflict, res.status, "%s", res.body)

	// Bad input names the field and changes nothing.
	for name, tc := range map[string]struct {
		path   string
		body   any
		status int
		field  string
	}{
		"scope":   {"/consent/" + alice, map[string]any{"scope": "sms", "status": "opted_out"}, 422, "scope"},
		"status":  {"/consent/" + alice, map[string]any{"scope": "all", "status": "maybe"}, 422, "status"},
		"source":  {"/consent/" + alice, map[string]any{"scope": "all", "status": "opted_in", "source": "Bad Source"}, 422, "source"},
		"note":    {"/consent/" + alice, map[string]any{"scope": "all", "status": "opted_in", "note": strings.Repeat("x", 501)}, 422, "note"},
		"contact": {"/consent/not-a-phone", map[string]any{"scope": "all", "status": "opted_in"}, 422, "contact"},
		"group":   {"/consent/1-2@g.us", map[string]any{"scope": "all", "status": "opted_in"}, 422, "contact"},
		"unknown": {"/consent/" + alice, map[string]any{"scope": "all", "status": "opted_in", "extra": 1}, 400, ""},
	} {
		res := b.do(t, b.keyA, "PUT", tc.path, tc.body)
		require.Equal(t, tc.status, res.status, "%s: %s", name, res.body)
		if tc.field != "" {
			require.Equal(t, tc.field, res.problem(t).Errors[0].Field, name)
		}
	}
	for _, q := range []string{"status=x", "scope=x", "limit=0", "limit=501", "after=garbage"} {
		res := b.do(t, b.keyA, "GET", "/consent?"+q, nil)
		require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", q, res.body)
	}
	res = b.do(t, b.keyA, "GET", "/consent/"+alice+"?before=x", nil)
	require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
	h, err := b.core.ConsentHistory(context.Background(), alicePhone, nil)
	require.NoError(t, err)
	require.Len(t, h.Changes, 2, "bad requests recorded nothing")

	// A reader may read but not record.
	_, reader, err := b.keys.Create(context.Background(), &auth.KeyCreateParams{Name: "reader", Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.do(t, reader, "GET", "/consent", nil).status)
	require.Equal(t, http.StatusForbidden, b.do(t, reader, "PUT", "/consent/"+alice, map[string]any{"scope": "all", "status": "opted_in"}).status)
	_, writer, err := b.keys.Create(context.Background(), &auth.KeyCreateParams{Name: "crm", Scopes: []auth.Scope{rest.ScopeConsentWrite}, Tenant: "default"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.do(t, writer, "PUT", "/consent/"+alice, map[string]any{"scope": "all", "status": "opted_in"}).status)
}

// TestConsentTenants: tenant B neither sees nor changes tenant A's registry;
// B's records are its own.
func TestConsentTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctxA := waqtor.WithTenant(context.Background(), "default")
	_, err := b.core.SetConsent(ctxA, &waqtor.ConsentChange{Contact: alicePhone, Scope: waqtor.ConsentAll, Status: waqtor.ConsentOptedOut})
	require.NoError(t, err)
	alice := url.PathEscape(alicePhone)

	require.Equal(t, http.StatusNotFound, b.do(t, b.keyB, "GET", "/consent/"+alice, nil).status)
	var list rest.ConsentList
	res := b.do(t, b.keyB, "GET", "/consent", nil)
	require.Equal(t, http.StatusOK, res.status)
	res.json(t, &list)
	require.Empty(t, list.Consents)

	res = b.do(t, b.keyB, "PUT", "/consent/"+alice, map[string]any{"scope": "all", "status": "opted_in"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	out, err := b.core.OptedOut(ctxA, alicePhone, waqtor.ConsentAll)
	require.NoError(t, err)
	require.True(t, out, "B's opt-in is B's only")
	h, err := b.core.ConsentHistory(ctxA, alicePhone, nil)
	require.NoError(t, err)
	require.Len(t, h.Changes, 1)
	outB, err := b.core.OptedOut(waqtor.WithTenant(context.Background(), "other"), alicePhone, waqtor.ConsentAll)
	require.NoError(t, err)
	require.False(t, outB)
}
