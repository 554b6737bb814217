package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

const (
	sessionPhone = "+15550001111"
	alicePhone   = "+15550002222"
)

// inbound makes alice send content to the session's account and waits until
// the Core has stored it; it returns the message ID.
func (b *testBundle) inbound(t *testing.T, session string, c waqtor.Content) string {
	t.Helper()
	ctx := context.Background()
	s, err := b.core.Session(ctx, session)
	require.NoError(t, err)
	id, err := b.net.Phone(alicePhone).Send(ctx, s.Info.JID, c, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := b.core.Message(ctx, session, id)
		return err == nil
	}, 5*time.Second, 2*time.Millisecond)
	return id
}

func multipartBody(t *testing.T, fields map[string]string, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		require.NoError(t, mw.WriteField(k, fields[k]))
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "photo.png")
		require.NoError(t, err)
		_, err = fw.Write(file)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde")

// TestTour calls every route of the document with success; the validating
// transport checks each response against the document, and the test requires
// that every operation answered 2xx at least once.
func TestTour(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	key := b.keyA
	ok := func(res *response, want int) {
		t.Helper()
		require.Equal(t, want, res.status, "%s", res.body)
	}

	// Sessions.
	ok(b.do(t, key, "GET", "/sessions", nil), 200)
	ok(b.do(t, key, "POST", "/sessions", map[string]any{"id": "made"}), 201)
	waitState(t, b.core, "made", waqtor.StateQR)
	ok(b.do(t, key, "GET", "/sessions/made", nil), 200)
	ok(b.do(t, key, "GET", "/sessions/made/state", nil), 200)
	var qr waqtor.QRCode
	res := b.do(t, key, "GET", "/sessions/made/qr", nil)
	ok(res, 200)
	res.json(t, &qr)
	require.NotEmpty(t, qr.Code)
	res = b.do(t, key, "GET", "/sessions/made/qr.png?size=128", nil)
	ok(res, 200)
	require.Equal(t, "image/png", res.header.Get("Content-Type"))
	require.True(t, bytes.HasPrefix(res.body, []byte("\x89PNG")))
	var code rest.PairPhoneResponse
	res = b.do(t, key, "POST", "/sessions/made/pair-phone", map[string]any{"phone": "+15550003333"})
	ok(res, 200)
	res.json(t, &code)
	require.NotEmpty(t, code.Code)
	ok(b.do(t, key, "POST", "/sessions/made/disconnect", nil), 200)
	ok(b.do(t, key, "POST", "/sessions/made/connect", nil), 200)
	ok(b.do(t, key, "POST", "/sessions/made/restart", nil), 200)
	ok(b.do(t, key, "POST", "/sessions/made/logout", nil), 200)
	ok(b.do(t, key, "DELETE", "/sessions/made", nil), 204)
	_, err := b.core.Session(context.Background(), "made")
	require.ErrorIs(t, err, waqtor.ErrSessionNotFound)

	// Messages.
	base := "/sessions/default/messages"
	var sent waqtor.Message
	res = b.do(t, key, "POST", base+"/send-text", map[string]any{"chat": alicePhone, "text": "hello", "mentions": []string{alicePhone}})
	ok(res, 200)
	res.json(t, &sent)
	require.Contains(t, []waqtor.MessageStatus{waqtor.StatusSent, waqtor.StatusDelivered, waqtor.StatusRead}, sent.Status)
	ok(b.do(t, key, "POST", base+"/send-media", map[string]any{"chat": alicePhone, "kind": "image", "data": pngBytes, "caption": "c"}), 200)
	body, ct := multipartBody(t, map[string]string{"chat": alicePhone, "kind": "document", "caption": "doc", "voice": "false"}, []byte("hello doc"))
	ok(b.do(t, key, "POST", base+"/send-media", body, "Content-Type", ct), 200)
	ok(b.do(t, key, "POST", base+"/send-location", map[string]any{"chat": alicePhone, "latitude": 30.0, "longitude": 31.2, "name": "Cairo"}), 200)
	ok(b.do(t, key, "POST", base+"/send-contact", map[string]any{"chat": alicePhone, "name": "Bob", "phone": "+15550004444"}), 200)
	ok(b.do(t, key, "POST", base+"/send-poll", map[string]any{"chat": alicePhone, "question": "Q?", "options": []string{"a", "b"}}), 200)
	ok(b.do(t, key, "POST", base+"/send-button", validButtons()), 200)
	ok(b.do(t, key, "POST", base+"/send-list", validList()), 200)
	ok(b.do(t, key, "POST", base+"/react", map[string]any{"chat": alicePhone, "message_id": sent.ID, "emoji": "👍"}), 200)
	ok(b.do(t, key, "POST", base+"/edit", map[string]any{"chat": alicePhone, "message_id": sent.ID, "text": "hello!"}), 200)
	ok(b.do(t, key, "POST", base+"/revoke", map[string]any{"chat": alicePhone, "message_id": sent.ID}), 200)
	in := b.inbound(t, "default", &waqtor.Text{Body: "hi there"})
	ok(b.do(t, key, "POST", base+"/mark-read", map[string]any{"chat": alicePhone, "message_ids": []string{in}}), 204)
	ok(b.do(t, key, "POST", base+"/typing", map[string]any{"chat": alicePhone, "state": "typing"}), 204)
	var page rest.MessageList
	res = b.do(t, key, "GET", base+"?chat="+url.QueryEscape(alicePhone)+"&limit=2", nil)
	ok(res, 200)
	res.json(t, &page)
	require.Len(t, page.Messages, 2)
	require.NotEmpty(t, page.Next)
	res = b.do(t, key, "GET", base+"?chat="+url.QueryEscape(alicePhone)+"&limit=500&before="+url.QueryEscape(page.Next), nil)
	ok(res, 200)
	var got waqtor.Message
	res = b.do(t, key, "GET", base+"/"+sent.ID, nil)
	ok(res, 200)
	res.json(t, &got)
	require.Equal(t, sent.ID, got.ID)
	media := b.inbound(t, "default", &waqtor.Media{Kind: waqtor.ContentImage, Data: pngBytes, MIME: "image/png"})
	res = b.do(t, key, "GET", base+"/"+media+"/media", nil)
	ok(res, 200)
	require.Equal(t, pngBytes, res.body)
	require.Equal(t, "image/png", res.header.Get("Content-Type"))

	// Contacts.
	var checks rest.CheckNumbersResponse
	res = b.do(t, key, "POST", "/sessions/default/contacts/check", map[string]any{"phones": []string{alicePhone}})
	ok(res, 200)
	res.json(t, &checks)
	require.True(t, checks.Results[0].OnWhatsApp)

	// Consent.
	bob := url.PathEscape("+15550005555")
	ok(b.do(t, key, "PUT", "/consent/"+bob, map[string]any{"scope": "marketing", "status": "opted_out", "note": "asked"}), 200)
	ok(b.do(t, key, "GET", "/consent?status=opted_out&scope=marketing&limit=10", nil), 200)
	ok(b.do(t, key, "GET", "/consent/"+bob+"?limit=5", nil), 200)

	// Keys.
	var created rest.CreatedKey
	res = b.do(t, key, "POST", "/keys", map[string]any{"name": "reader", "scopes": []string{"read"}, "sessions": []string{"default"}})
	ok(res, 201)
	res.json(t, &created)
	require.NotEmpty(t, created.Secret)
	ok(b.do(t, key, "GET", "/keys", nil), 200)
	ok(b.do(t, key, "GET", "/keys/"+created.ID, nil), 200)
	ok(b.do(t, created.Secret, "GET", "/sessions/default", nil), 200)
	ok(b.do(t, key, "DELETE", "/keys/"+created.ID, nil), 204)
	require.Equal(t, 401, b.do(t, created.Secret, "GET", "/sessions/default", nil).status)

	// The seed's flat routes act on "default".
	ok(b.do(t, key, "POST", "/messages/send-text", map[string]any{"chat": alicePhone, "text": "flat"}), 200)
	ok(b.do(t, key, "POST", "/messages/send-media", map[string]any{"chat": alicePhone, "kind": "image", "data": pngBytes}), 200)
	ok(b.do(t, key, "POST", "/messages/send-button", validButtons()), 200)
	ok(b.do(t, key, "POST", "/messages/send-list", validList()), 200)
	ok(b.do(t, key, "GET", "/session/state", nil), 200)
	ok(b.do(t, key, "POST", "/session/restart", nil), 200)
	ok(b.do(t, key, "POST", "/session/logout", nil), 200)
	ok(b.do(t, "", "GET", "/openapi.json", nil), 200)

	var missing []string
	for _, op := range b.vt.doc.all() {
		if !b.vt.covered[op] {
			missing = append(missing, op)
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "operations the tour did not call with success")
}

// TestTenantMatrix is the generated tenant-isolation matrix: every route that
// takes an object, called with another tenant's admin key on tenant A's
// objects and on random IDs, answers 404, and tenant A is untouched.
func TestTenantMatrix(t *testing.T) {
	t.Parallel()
	// The matrix's timing samples (resttest.MatrixConfig.TimingSamples) would
	// exceed the default per-key rate limit.
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) { o.RateLimit = -1 }})
	b.session(t, "default", "default", sessionPhone)
	b.session(t, "intruder", "other", "+15550009999")
	ctx := context.Background()
	sent, err := b.core.SendText(ctx, "default", alicePhone, "secret", nil)
	require.NoError(t, err)
	// Its delivery receipt must not land during the matrix, which requires
	// the victim's tenant to be unchanged.
	require.Eventually(t, func() bool {
		m, err := b.core.Message(ctx, "default", sent.ID)
		return err == nil && m.Status == waqtor.StatusDelivered
	}, 10*time.Second, 5*time.Millisecond)
	media := b.inbound(t, "default", &waqtor.Media{Kind: waqtor.ContentImage, Data: pngBytes, MIME: "image/png"})
	keyOfA, _, err := b.keys.Create(ctx, &auth.KeyCreateParams{Name: "victim", Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	_, noScope, err := b.keys.Create(ctx, &auth.KeyCreateParams{Name: "no scope", Scopes: []auth.Scope{"matrix:none"}, Tenant: "default"})
	require.NoError(t, err)
	_ = media
	_, err = b.core.SetConsent(ctx, &waqtor.ConsentChange{Contact: alicePhone, Scope: waqtor.ConsentMarketing, Status: waqtor.ConsentOptedOut})
	require.NoError(t, err)
	resttestRun(t, b, map[string]string{"session": "default", "message": sent.ID, "key": keyOfA.ID, "contact": alicePhone}, noScope)
}

// snapshotTenant describes everything of tenant "default", and the position of
// the whole event log.
func (b *testBundle) snapshotTenant(t *testing.T) string {
	t.Helper()
	seq, err := b.core.LastSeq(context.Background())
	require.NoError(t, err)
	return fmt.Sprintf("seq=%d", seq) + b.snapshotVictim(t)
}

// snapshotVictim describes everything of tenant "default" (its sessions,
// messages, keys and events) and nothing of other tenants: the tenant matrix's
// intruder creates sessions of its own.
func (b *testBundle) snapshotVictim(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	sessions, err := b.core.Sessions(ctx, &waqtor.SessionListParams{Tenant: "default"})
	require.NoError(t, err)
	msgs, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "default", Chat: alicePhone, Limit: 500})
	require.NoError(t, err)
	keys, err := b.keys.List(ctx, &auth.KeyListParams{Tenant: "default", IncludeRevoked: true})
	require.NoError(t, err)
	var seq int64
	for {
		evs, err := b.core.ReadLog(ctx, &waqtor.LogReadParams{After: seq, Tenant: "default", Limit: waqtor.LogReadLimitMax})
		require.NoError(t, err)
		if len(evs) == 0 {
			break
		}
		seq = evs[len(evs)-1].Meta().Seq
	}
	out := fmt.Sprintf(" default-seq=%d", seq)
	for _, s := range sessions {
		out += fmt.Sprintf(" session=%s/%s/%s", s.ID, s.State, s.UpdatedAt)
	}
	for _, m := range msgs.Messages {
		out += fmt.Sprintf(" msg=%s/%s", m.ID, m.Status)
	}
	for _, k := range keys {
		out += fmt.Sprintf(" key=%s/%s", k.ID, k.RevokedAt)
	}
	consent, err := b.core.ListConsent(waqtor.WithTenant(ctx, "default"), &waqtor.ConsentListParams{Limit: waqtor.MaxConsentListLimit})
	require.NoError(t, err)
	for _, c := range consent.Consents {
		out += fmt.Sprintf(" consent=%s/%s/%s/%s", c.Contact, c.Scope, c.Status, c.Time)
	}
	return out
}
