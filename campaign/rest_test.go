package campaign_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/resttest"
)

type restBundle struct {
	*testBundle
	srv       *httptest.Server
	keyA      string // admin of tenant default
	keyAID    string
	keyB      string // admin of tenant other
	keyRead   string // tenant default, campaigns:read only
	keyNone   string // tenant default, no campaign scope
	keyNarrow string // tenant default, campaigns:*, narrowed to session "main"
}

// maxUpload is the upload cap of the REST tests' handler.
const maxUpload = 4 << 10

// setupREST serves the campaign routes (with the built-in ones) of a Core
// with sessions "main" and "side".
func setupREST(t testing.TB, kind dbtest.Kind) *restBundle {
	t.Helper()
	return setupRESTWith(t, kind, maxUpload)
}

// setupRESTWith is setupREST with another upload cap.
func setupRESTWith(t testing.TB, kind dbtest.Kind, upload int64) *restBundle {
	t.Helper()
	b := &restBundle{testBundle: setup(t, kind, &setupOpts{sessions: []string{"main", "side"}})}
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
	b.keyRead, _ = mk("default", nil, campaign.ScopeCampaignsRead)
	b.keyNone, _ = mk("default", nil, "unrelated:scope")
	b.keyNarrow, _ = mk("default", []string{"main"}, campaign.ScopeCampaignsRead, campaign.ScopeCampaignsWrite)
	// The rate limit is off, as in transport/rest's own matrix: the tenant
	// matrix takes many timing samples with the intruder's key.
	h, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: keys, Logger: slogtest.New(t), RateLimit: -1,
		Groups: []rest.RouteGroup{b.svc.Routes(&campaign.RoutesOpts{DefaultSession: "main", MaxUploadBytes: upload,
			SpoolDir: t.TempDir()})}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

// call sends a JSON request (body nil: none) and decodes the answer into out.
func (b *restBundle) call(t testing.TB, key, method, path string, body any, out any) int {
	t.Helper()
	var raw []byte
	ct := ""
	if body != nil {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
		ct = "application/json"
	}
	code, res, _ := b.send(t, key, method, path, ct, bytes.NewReader(raw), int64(len(raw)))
	if out != nil && len(res) > 0 {
		require.NoError(t, json.Unmarshal(res, out), "%s", res)
	}
	return code
}

// send sends body with Content-Type ct; size -1 sends it chunked.
func (b *restBundle) send(t testing.TB, key, method, path, ct string, body io.Reader, size int64) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+"/api"+path, body)
	require.NoError(t, err)
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("X-API-Key", key)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, raw, res.Header
}

// upload posts recipients as a file of media type ct.
func (b *restBundle) upload(t *testing.T, key, id, ct, body string, out any) int {
	t.Helper()
	code, raw, _ := b.send(t, key, "POST", "/campaigns/"+id+"/recipients", ct, strings.NewReader(body), int64(len(body)))
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
	}
	return code
}

func (b *restBundle) total(t *testing.T, id string) int64 {
	t.Helper()
	var st campaign.Status
	require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/status", nil, &st))
	return st.Counts.Total
}

// TestRESTCampaignTour walks a campaign through the API: create with inline
// recipients, upload CSV and NDJSON, refuse malformed, oversized and
// mistyped uploads without adding anything, preview, change, execute to
// completion, then report, export, transitions and delete.
func TestRESTCampaignTour(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			b := setupREST(t, kind)
			var created campaign.CreateResult
			require.Equal(t, http.StatusCreated, b.call(t, b.keyA, "POST", "/campaigns", map[string]any{
				"name": "Eid offer", "sessions": []string{"main"}, "content": map[string]any{"text": "Hi {{name}}, eid mubarak!"},
				"pacing":     map[string]any{"unpaced": true},
				"recipients": []map[string]any{{"phone": "+15550001001", "variables": map[string]string{"name": "Sara"}}},
			}, &created))
			id := created.ID
			require.Equal(t, campaign.StateDraft, created.State)
			require.Equal(t, int64(1), created.Added.Added)

			// Uploads: CSV with an Arabic name and an invalid phone, NDJSON.
			var added campaign.AddResult
			require.Equal(t, http.StatusOK, b.upload(t, b.keyA, id, "text/csv",
				"phone,name\n+15550001002,أحمد\n+15550001003,Omar\nnot-a-phone,X\n", &added))
			require.Equal(t, campaign.AddResult{Added: 2, Invalid: 1, MissingVariables: map[string]int64{}, Total: 4}, added)
			require.Equal(t, http.StatusOK, b.upload(t, b.keyA, id, "application/x-ndjson",
				`{"phone":"+15550001004","name":"Lina"}`+"\n", nil))
			require.Equal(t, int64(5), b.total(t, id))
			code, raw, _ := b.send(t, b.keyA, "POST", "/campaigns/"+id+"/recipients?phone_column=tel", "text/csv",
				strings.NewReader("tel,name\n+15550001005,Yara\n"), -1)
			require.Equal(t, http.StatusOK, code, "%s", raw)
			require.NoError(t, json.Unmarshal(raw, &added))
			require.Equal(t, int64(1), added.Added)

			// Refused whole, adding nothing: malformed, oversized (sized or
			// chunked), of an unknown type, or by a reader.
			var prob rest.Problem
			require.Equal(t, http.StatusBadRequest, b.upload(t, b.keyA, id, "text/csv",
				"phone,name\n+15550001006,A\n+15550001007,B\"x\n", &prob))
			require.Equal(t, rest.TypeBadRequest, prob.Type)
			require.Contains(t, prob.Detail, "line 3")
			require.Len(t, prob.Errors, 1)
			require.Contains(t, prob.Errors[0].Field, "line 3")
			big := "phone,name\n" + strings.Repeat("+15550001008,Big\n", maxUpload/16)
			require.Equal(t, http.StatusRequestEntityTooLarge, b.upload(t, b.keyA, id, "text/csv", big, &prob))
			code, raw, _ = b.send(t, b.keyA, "POST", "/campaigns/"+id+"/recipients", "text/csv", strings.NewReader(big), -1)
			require.Equal(t, http.StatusRequestEntityTooLarge, code, "%s", raw)
			require.Equal(t, http.StatusUnsupportedMediaType, b.upload(t, b.keyA, id, "text/plain", "phone\n+15550001009\n", &prob))
			require.Equal(t, rest.TypeUnsupportedMediaType, prob.Type)
			require.Equal(t, http.StatusForbidden, b.upload(t, b.keyRead, id, "text/csv", "phone\n+15550001009\n", nil))
			require.Equal(t, int64(6), b.total(t, id))

			// Preview and list.
			var pv campaign.PreviewResult
			require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/preview?n=2", nil, &pv))
			require.Len(t, pv.Previews, 2)
			require.Equal(t, "Hi Sara, eid mubarak!", pv.Previews[0].Text)
			require.Equal(t, "Hi أحمد, eid mubarak!", pv.Previews[1].Text)
			require.Equal(t, http.StatusBadRequest, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/preview?n=500", nil, nil))
			var list campaign.ListResult
			require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns?state=draft&limit=10", nil, &list))
			require.Len(t, list.Campaigns, 1)
			require.Equal(t, http.StatusBadRequest, b.call(t, b.keyRead, "GET", "/campaigns?state=asleep", nil, &prob))
			require.Equal(t, "state", prob.Errors[0].Field)

			// Change while a draft; bad values name the field.
			var c campaign.Campaign
			require.Equal(t, http.StatusOK, b.call(t, b.keyA, "PATCH", "/campaigns/"+id, map[string]any{"name": "Eid offer 2"}, &c))
			require.Equal(t, "Eid offer 2", c.Name)
			require.Equal(t, http.StatusUnprocessableEntity, b.call(t, b.keyA, "PATCH", "/campaigns/"+id,
				map[string]any{"time_zone": "Mars/Olympus"}, &prob))
			require.Equal(t, "time_zone", prob.Errors[0].Field)
			require.Equal(t, http.StatusBadRequest, b.call(t, b.keyA, "PATCH", "/campaigns/"+id, map[string]any{"colour": "red"}, &prob))

			// Execute, to completion.
			require.Equal(t, http.StatusForbidden, b.call(t, b.keyRead, "POST", "/campaigns/"+id+"/execute", nil, nil))
			require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/execute", nil, &c))
			require.Contains(t, []campaign.State{campaign.StateRunning, campaign.StateCompleted}, c.State)
			var st campaign.Status
			waitFor(t, func() bool {
				require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/status", nil, &st))
				return st.State == campaign.StateCompleted
			})
			require.Equal(t, int64(5), st.Counts.Sent)
			require.Equal(t, "Hi أحمد, eid mubarak!", b.network.Phone("+15550001002").Received()[0].Text())
			require.Equal(t, http.StatusConflict, b.call(t, b.keyA, "PATCH", "/campaigns/"+id, map[string]any{"name": "late"}, &prob))
			require.Equal(t, rest.TypeConflict, prob.Type)
			require.Equal(t, http.StatusConflict, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/pause", nil, nil))
			require.Equal(t, http.StatusConflict, b.upload(t, b.keyA, id, "text/csv", "phone\n+15550001010\n", &prob))

			var rep campaign.Report
			require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/report", nil, &rep))
			require.Equal(t, map[string]int64{"main": 5}, rep.Sessions)
			require.Equal(t, map[string]int64{campaign.ReasonInvalidPhone: 1}, rep.Skips)

			code, raw, hdr := b.send(t, b.keyRead, "GET", "/campaigns/"+id+"/export.csv", "", nil, 0)
			_ = hdr
			require.Equal(t, http.StatusOK, code)
			require.True(t, strings.HasPrefix(hdr.Get("Content-Type"), "text/csv"))
			rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 7)
			require.Equal(t, campaign.ExportHeader, rows[0])
			require.Equal(t, "+15550001002", rows[2][1])
			require.Contains(t, rows[2][11], "أحمد")

			var ts campaign.TransitionList
			require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/transitions", nil, &ts))
			var moves []campaign.State
			for _, tr := range ts.Transitions {
				moves = append(moves, tr.To)
			}
			require.Equal(t, []campaign.State{campaign.StateDraft, campaign.StateRunning, campaign.StateCompleted}, moves)
			var rl campaign.RecipientListResult
			require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/recipients?state=skipped", nil, &rl))
			require.Len(t, rl.Recipients, 1)
			require.Equal(t, http.StatusBadRequest, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/recipients?after=-1", nil, nil))

			require.Equal(t, http.StatusNoContent, b.call(t, b.keyA, "DELETE", "/campaigns/"+id, nil, nil))
			require.Equal(t, http.StatusNotFound, b.call(t, b.keyA, "GET", "/campaigns/"+id, nil, &prob))
			require.Equal(t, rest.TypeNotFound, prob.Type)
		})
	}
}

// TestRESTCampaignControl pauses (with and without a reason), resumes and
// cancels a running campaign, and refuses deleting it while it runs.
func TestRESTCampaignControl(t *testing.T) {
	t.Parallel()
	b := setupREST(t, dbtest.SQLite)
	var created campaign.CreateResult
	require.Equal(t, http.StatusCreated, b.call(t, b.keyA, "POST", "/campaigns", map[string]any{
		"name": "Slow", "sessions": []string{"main"}, "content": map[string]any{"text": "Hello"},
		"pacing":     map[string]any{"min_interval": "1h", "max_interval": "2h"},
		"recipients": []map[string]any{{"phone": "+15550002001"}, {"phone": "+15550002002"}},
	}, &created))
	id := created.ID
	var c campaign.Campaign
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/execute", nil, &c))
	require.Equal(t, campaign.StateRunning, c.State)
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/execute", nil, &c), "a retried execute is harmless")
	var prob rest.Problem
	require.Equal(t, http.StatusConflict, b.call(t, b.keyA, "DELETE", "/campaigns/"+id, nil, &prob))
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "PATCH", "/campaigns/"+id,
		map[string]any{"pacing": map[string]any{"min_interval": "2h", "max_interval": "3h"}}, &c), "pacing may change while running")
	require.Equal(t, time.Duration(2*time.Hour), c.Pacing.MinInterval.Std())

	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/pause", map[string]any{"reason": "lunch"}, &c))
	require.Equal(t, campaign.StatePaused, c.State)
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/pause", nil, &c))
	require.Equal(t, http.StatusBadRequest, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/pause", map[string]any{"why": "x"}, nil))
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+id+"/resume", nil, &c))
	require.Equal(t, campaign.StateRunning, c.State)
	code, raw, _ := b.send(t, b.keyA, "POST", "/campaigns/"+id+"/cancel", "", nil, 0)
	require.Equal(t, http.StatusOK, code, "%s", raw)
	var st campaign.Status
	require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/status", nil, &st))
	require.Equal(t, campaign.StateCancelled, st.State)

	var ts campaign.TransitionList
	require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns/"+id+"/transitions", nil, &ts))
	require.Len(t, ts.Transitions, 5)
	require.Equal(t, "lunch", ts.Transitions[2].Detail)
	require.Equal(t, http.StatusNoContent, b.call(t, b.keyA, "DELETE", "/campaigns/"+id, nil, nil), "an ended campaign may go")
}

// TestRESTSeedCreate takes the original plan's body on /campaigns/create:
// phone strings and objects, template, scheduleAt, and the default session.
func TestRESTSeedCreate(t *testing.T) {
	t.Parallel()
	b := setupREST(t, dbtest.SQLite)
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var created campaign.CreateResult
	require.Equal(t, http.StatusCreated, b.call(t, b.keyA, "POST", "/campaigns/create", map[string]any{
		"name": "Seed", "template": "Hi {{name}}", "variables": map[string]string{"name": "friend"}, "scheduleAt": at,
		"recipients": []any{"+15550003001", map[string]any{"phone": "+15550003002", "variables": map[string]string{"name": "Ali"}}},
	}, &created))
	require.Equal(t, "Hi {{name}}", created.Content.Text)
	require.Equal(t, []string{"main"}, created.Sessions)
	require.True(t, at.Equal(created.ScheduleAt))
	require.Equal(t, int64(2), created.Added.Added)
	var c campaign.Campaign
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "POST", "/campaigns/"+created.ID+"/execute", nil, &c))
	require.Equal(t, campaign.StateScheduled, c.State)

	var prob rest.Problem
	for name, tc := range map[string]struct {
		body  map[string]any
		code  int
		field string
	}{
		"template and content":  {map[string]any{"name": "x", "template": "a", "content": map[string]any{"text": "b"}}, 422, "template"},
		"both schedules":        {map[string]any{"name": "x", "template": "a", "scheduleAt": at, "schedule_at": at}, 422, "scheduleAt"},
		"no text":               {map[string]any{"name": "x"}, 422, "content"},
		"unknown field":         {map[string]any{"name": "x", "template": "a", "colour": 1}, 400, "colour"},
		"recipient of a number": {map[string]any{"name": "x", "template": "a", "recipients": []any{15550003003}}, 400, ""},
		"recipient field":       {map[string]any{"name": "x", "template": "a", "recipients": []any{map[string]any{"tel": "1"}}}, 400, ""},
	} {
		t.Run(name, func(t *testing.T) {
			prob = rest.Problem{}
			require.Equal(t, tc.code, b.call(t, b.keyA, "POST", "/campaigns/create", tc.body, &prob))
			if tc.field != "" {
				require.Equal(t, tc.field, prob.Errors[0].Field, "%+v", prob)
			}
		})
	}
	var list campaign.ListResult
	require.Equal(t, http.StatusOK, b.call(t, b.keyRead, "GET", "/campaigns", nil, &list))
	require.Len(t, list.Campaigns, 1, "refused requests created nothing")
}

// TestRESTNarrowedKey: a key narrowed to a session sees, and creates, only
// campaigns that send through its sessions alone.
func TestRESTNarrowedKey(t *testing.T) {
	t.Parallel()
	b := setupREST(t, dbtest.SQLite)
	mk := func(key string, sessions ...string) (int, string) {
		var out campaign.CreateResult
		code := b.call(t, key, "POST", "/campaigns", map[string]any{"name": "n", "sessions": sessions,
			"content": map[string]any{"text": "x"}}, &out)
		if out.Campaign == nil {
			return code, ""
		}
		return code, out.ID
	}
	code, side := mk(b.keyA, "side")
	require.Equal(t, http.StatusCreated, code)
	code, both := mk(b.keyA, "main", "side")
	require.Equal(t, http.StatusCreated, code)
	code, mine := mk(b.keyNarrow, "main")
	require.Equal(t, http.StatusCreated, code)
	code, _ = mk(b.keyNarrow, "main", "side")
	require.Equal(t, http.StatusUnprocessableEntity, code)

	for _, id := range []string{side, both} {
		require.Equal(t, http.StatusNotFound, b.call(t, b.keyNarrow, "GET", "/campaigns/"+id, nil, nil))
		require.Equal(t, http.StatusNotFound, b.call(t, b.keyNarrow, "POST", "/campaigns/"+id+"/cancel", nil, nil))
	}
	require.Equal(t, http.StatusOK, b.call(t, b.keyNarrow, "GET", "/campaigns/"+mine, nil, nil))
	require.Equal(t, http.StatusUnprocessableEntity, b.call(t, b.keyNarrow, "PATCH", "/campaigns/"+mine,
		map[string]any{"sessions": []string{"side"}}, nil))
	var list campaign.ListResult
	require.Equal(t, http.StatusOK, b.call(t, b.keyNarrow, "GET", "/campaigns", nil, &list))
	require.Len(t, list.Campaigns, 1)
	require.Equal(t, mine, list.Campaigns[0].ID)
	require.Equal(t, http.StatusOK, b.call(t, b.keyA, "GET", "/campaigns", nil, &list))
	require.Len(t, list.Campaigns, 3)
}

// TestRESTTenantMatrix runs the tenant-isolation matrix over every route of
// a handler with the campaign routes: another tenant's campaign is 404 on
// each, exactly like a missing one, and nothing of it changes.
func TestRESTTenantMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupREST(t, dbtest.SQLite)
	var created campaign.CreateResult
	require.Equal(t, http.StatusCreated, b.call(t, b.keyA, "POST", "/campaigns", map[string]any{
		"name": "Victim", "sessions": []string{"main"}, "content": map[string]any{"text": "x"},
		"recipients": []map[string]any{{"phone": "+15550004001"}},
	}, &created))
	sess, err := b.core.Session(ctx, "main")
	require.NoError(t, err)
	_, err = b.network.Phone("+15550004002").SendText(ctx, sess.Info.JID, "hello")
	require.NoError(t, err)
	_, err = b.core.SetConsent(ctx, &waqtor.ConsentChange{Contact: "+15550004002", Scope: waqtor.ConsentMarketing,
		Status: waqtor.ConsentOptedIn})
	require.NoError(t, err)
	var msgID string
	waitFor(t, func() bool {
		res, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: "+15550004002"})
		if err == nil && len(res.Messages) > 0 {
			msgID = res.Messages[0].ID
		}
		return msgID != ""
	})
	resttest.RunTenantMatrix(t, &resttest.MatrixConfig{
		BaseURL:       b.srv.URL + "/api",
		IntruderKey:   b.keyB,
		NoScopeKey:    b.keyNone,
		TimingSamples: 9,
		Objects: map[string]string{"campaign": created.ID, "session": "main", "message": msgID, "key": b.keyAID,
			"contact": "+15550004002"},
		Snapshot: func(t *testing.T) string {
			res, err := b.svc.List(ctx, nil)
			require.NoError(t, err)
			var sb strings.Builder
			for _, c := range res.Campaigns {
				fmt.Fprintf(&sb, "%s %s %s %+v %s|", c.ID, c.Name, c.State, c.Counts, c.UpdatedAt)
			}
			return sb.String()
		},
	})
}

// TestRESTOpenAPI: the document with the campaign routes is valid OpenAPI
// (pb33f/libopenapi-validator), documents the uploads' media types, and the
// campaign routes' real answers, successes and problems alike, match it.
func TestRESTOpenAPI(t *testing.T) {
	t.Parallel()
	b := setupREST(t, dbtest.SQLite)
	code, doc, _ := b.send(t, b.keyRead, "GET", "/openapi.json", "", nil, 0)
	require.Equal(t, http.StatusOK, code)
	d, err := libopenapi.NewDocument(doc)
	require.NoError(t, err)
	v, errs := validator.NewValidator(d)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	for _, e := range verrs {
		t.Errorf("OpenAPI document invalid: %s: %s", e.Message, e.Reason)
	}
	require.True(t, ok)
	var parsed struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
		Scopes map[string]string `json:"x-waqtor-scopes"`
	}
	require.NoError(t, json.Unmarshal(doc, &parsed))
	up := parsed.Paths["/campaigns/{campaign}/recipients"]["post"]
	require.Contains(t, up.RequestBody.Content, "text/csv")
	require.Contains(t, up.RequestBody.Content, "application/x-ndjson")
	require.Contains(t, up.Responses, "409")
	require.Contains(t, parsed.Scopes, string(campaign.ScopeCampaignsWrite))

	check := func(method, path, ct, body string, want int) []byte {
		t.Helper()
		req, err := http.NewRequest(method, b.srv.URL+"/api"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-API-Key", b.keyA)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, want, res.StatusCode, "%s %s: %s", method, path, raw)
		res.Body = io.NopCloser(bytes.NewReader(raw))
		vreq, err := http.NewRequest(method, "/api"+path, strings.NewReader(body))
		require.NoError(t, err)
		vreq.Header = req.Header
		if ok, errs := v.ValidateHttpResponse(vreq, res); !ok {
			for _, e := range errs {
				t.Errorf("%s %s (%d) does not match the document: %s: %s (%s)", method, path, res.StatusCode, e.Message, e.Reason, raw)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
				}
			}
		}
		return raw
	}
	raw := check("POST", "/campaigns/create", "application/json",
		`{"name":"Doc","template":"Hi {{name}}","recipients":["+15550005001",{"phone":"+15550005002","variables":{"name":"Hana"}}]}`, 201)
	var c campaign.CreateResult
	require.NoError(t, json.Unmarshal(raw, &c))
	id := c.ID
	check("POST", "/campaigns/"+id+"/recipients", "text/csv", "phone,name\n+15550005003,Reem\nbad,x\n", 200)
	check("POST", "/campaigns/"+id+"/recipients", "text/csv", "phone,name\n+1555,\"x\n", 400)
	check("PATCH", "/campaigns/"+id, "application/json", `{"pacing":{"unpaced":true}}`, 200)
	check("PATCH", "/campaigns/"+id, "application/json", `{"time_zone":"Nowhere/Else"}`, 422)
	for _, p := range []string{"", "/status", "/preview?n=3", "/report", "/transitions", "/recipients?limit=2"} {
		check("GET", "/campaigns/"+id+p, "", "", 200)
	}
	check("GET", "/campaigns?limit=1", "", "", 200)
	check("GET", "/campaigns/cmp_missing/status", "", "", 404)
	check("POST", "/campaigns/"+id+"/resume", "", "", 409)
	check("POST", "/campaigns/"+id+"/execute", "", "", 200)
	waitFor(t, func() bool {
		st, err := b.svc.Status(context.Background(), id)
		require.NoError(t, err)
		return st.State == campaign.StateCompleted
	})
	check("POST", "/campaigns/"+id+"/cancel", "application/json", `{"reason":"late"}`, 409)
	check("GET", "/campaigns/"+id+"/report", "", "", 200)
	check("GET", "/campaigns/"+id+"/export.csv", "", "", 200)
	check("DELETE", "/campaigns/"+id, "", "", 204)
}
