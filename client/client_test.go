package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/client"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/api"
	"github.com/waqtor/waqtor/transport/ws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

type bundle struct {
	core *waqtor.Core
	keys *auth.KeyStore
	hub  atomic.Pointer[ws.Hub]
	srv  *httptest.Server
	c    *client.Client
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	n := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true, ConnectLatency: time.Millisecond, DeliverLatency: time.Millisecond})
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: n.Factory(), Logger: slogtest.New(t)})
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	t.Cleanup(func() { _ = core.Stop(context.Background()) })
	b := &bundle{core: core}
	b.keys, err = auth.NewKeyStore(ctx, core, nil)
	require.NoError(t, err)
	_, key, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
	require.NoError(t, err)
	apiH, err := rest.NewHandler(core, &rest.HandlerOpts{Keys: b.keys})
	require.NoError(t, err)
	b.startHub(t)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", apiH))
	mux.Handle("/ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.hub.Load().ServeHTTP(w, r) }))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	b.c, err = client.New(&client.Config{BaseURL: b.srv.URL + "/api", APIKey: key})
	require.NoError(t, err)
	_, err = core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "default"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := b.c.Session(ctx, "default")
		return err == nil && s.State == api.StateReady
	}, 5*time.Second, 5*time.Millisecond)
	return b
}

func (b *bundle) startHub(t *testing.T) {
	t.Helper()
	h, err := ws.NewHub(b.core, &ws.HubOpts{Keys: b.keys, Logger: slogtest.New(t)})
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	b.hub.Store(h)
}

func TestClientREST(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m, err := b.c.SendText(ctx, "default", &api.SendTextRequest{Chat: "+15550002222", Text: "hi"}, &client.SendOpts{IdempotencyKey: "k"})
	require.NoError(t, err)
	again, err := b.c.SendText(ctx, "default", &api.SendTextRequest{Chat: "+15550002222", Text: "hi"}, &client.SendOpts{IdempotencyKey: "k"})
	require.NoError(t, err)
	require.Equal(t, m.ID, again.ID)
	got, err := b.c.Message(ctx, "default", m.ID)
	require.NoError(t, err)
	content, err := waqtor.UnmarshalContent(got.Content)
	require.NoError(t, err)
	require.Equal(t, "hi", content.(*waqtor.Text).Body)
	page, err := b.c.Messages(ctx, "default", &client.MessagesParams{Chat: "+15550002222"})
	require.NoError(t, err)
	require.Len(t, page.Messages, 1)
	sessions, err := b.c.Sessions(ctx)
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	_, err = b.c.Session(ctx, "nope")
	require.True(t, client.IsNotFound(err), "%v", err)
	_, err = b.c.SendText(ctx, "default", &api.SendTextRequest{Chat: "+15550002222"}, nil)
	var e *client.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "text", e.Errors[0].Field)
	btn, err := b.c.SendButtons(ctx, "default", &api.SendButtonsRequest{Chat: "+15550002222", Body: "Pick",
		Buttons: []api.Button{{ID: "y", Text: "Yes"}, {ID: "n", Text: "No"}}}, &client.SendOpts{IdempotencyKey: "b"})
	require.NoError(t, err)
	require.Equal(t, "buttons", btn.ContentType())
	again, err = b.c.SendButtons(ctx, "default", &api.SendButtonsRequest{Chat: "+15550002222", Body: "Pick",
		Buttons: []api.Button{{ID: "y", Text: "Yes"}, {ID: "n", Text: "No"}}}, &client.SendOpts{IdempotencyKey: "b"})
	require.NoError(t, err)
	require.Equal(t, btn.ID, again.ID)
	list, err := b.c.SendList(ctx, "default", &api.SendListRequest{Chat: "+15550002222", Body: "Menu", ButtonText: "Open",
		Sections: []api.ListSection{{Rows: []api.ListRow{{ID: "a", Title: "A"}}}}}, nil)
	require.NoError(t, err)
	require.Equal(t, "list", list.ContentType())
	_, err = b.c.SendList(ctx, "default", &api.SendListRequest{Chat: "+15550002222", Body: "Menu", ButtonText: "Open"}, nil)
	require.ErrorAs(t, err, &e)
	require.Equal(t, "sections", e.Errors[0].Field)
	// Consent: an opt-out of all refuses plain sends, not transactional ones.
	_, err = b.c.Consent(ctx, "+15550002222", nil)
	require.True(t, client.IsNotFound(err), "%v", err)
	rec, err := b.c.SetConsent(ctx, "+15550002222", &api.ConsentRequest{Scope: api.ConsentAll, Status: api.ConsentOptedOut, Source: "crm"})
	require.NoError(t, err)
	require.Equal(t, "+15550002222", rec.Contact)
	cc, err := b.c.Consent(ctx, "15550002222@s.whatsapp.net", &client.ConsentParams{Limit: 5})
	require.NoError(t, err)
	require.True(t, cc.OptedOut[api.ConsentMarketing])
	require.Len(t, cc.History, 1)
	cl, err := b.c.ListConsent(ctx, &client.ConsentParams{Status: api.ConsentOptedOut, Scope: api.ConsentAll})
	require.NoError(t, err)
	require.Len(t, cl.Consents, 1)
	_, err = b.c.SendText(ctx, "default", &api.SendTextRequest{Chat: "+15550002222", Text: "sale"}, nil)
	require.ErrorAs(t, err, &e)
	require.Equal(t, api.TypeOptedOut, e.Type)
	_, err = b.c.SendText(ctx, "default", &api.SendTextRequest{Chat: "+15550002222", Text: "code 1", Transactional: true}, nil)
	require.NoError(t, err)
	_, err = b.c.SendMediaFile(ctx, "default", &api.SendMediaRequest{Chat: "+15550002222", Kind: api.KindDocument, FileName: "r.txt",
		Transactional: true}, strings.NewReader("receipt"), nil)
	require.NoError(t, err)
	_, err = b.c.SetConsent(ctx, "+15550002222", &api.ConsentRequest{Scope: "sms", Status: api.ConsentOptedIn})
	require.ErrorAs(t, err, &e)
	require.Equal(t, "scope", e.Errors[0].Field)

	k, err := b.c.CreateKey(ctx, &api.CreateKeyRequest{Scopes: []string{string(auth.ScopeRead)}})
	require.NoError(t, err)
	require.NoError(t, b.c.RevokeKey(ctx, k.ID))
}

// TestStreamResumesAcrossReconnect: the server's hub restarts; the stream
// reconnects, resubscribes and replays what it missed, without duplicates.
func TestStreamResumesAcrossReconnect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s, err := b.c.Events(ctx, &client.StreamOpts{Topics: []string{"message.sent"}, BackoffMin: 5 * time.Millisecond,
		BackoffMax: 50 * time.Millisecond, BackoffJitter: 5 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	text := func(body string) string {
		m, err := b.core.SendText(ctx, "default", "+15550002222", body, nil)
		require.NoError(t, err)
		return m.ID
	}
	next := func() string {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		e, err := s.Next(nctx)
		require.NoError(t, err)
		require.Equal(t, "message.sent", e.Topic)
		env := waqtor.Envelope{Data: e.Data, ID: e.EventID, Seq: e.ID, Session: e.Session, Tenant: e.Tenant, Time: e.Timestamp, Type: waqtor.EventKind(e.Topic)}
		typed, err := env.Event()
		require.NoError(t, err)
		return typed.(*waqtor.MessageSent).Message.ID
	}
	first := text("one")
	require.Equal(t, first, next())

	old := b.hub.Load()
	require.NoError(t, old.Stop(ctx)) // clients get 1001 and reconnect
	missed := []string{text("two"), text("three")}
	b.startHub(t)
	require.Equal(t, missed[0], next())
	require.Equal(t, missed[1], next())
	live := text("four")
	require.Equal(t, live, next())
	require.GreaterOrEqual(t, s.Reconnects(), 1)
	require.NoError(t, s.Close())
	_, err = s.Next(ctx)
	require.ErrorIs(t, err, client.ErrStreamClosed)
}
