package rest_test

import (
	"context"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// TestBadInput sends every kind of bad request; each gets its documented
// problem and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) { o.MaxBodyBytes = 2048; o.MaxMediaBodyBytes = 4096 }})
	b.session(t, "default", "default", sessionPhone)
	b.session(t, "unpaired", "default", "")
	ctx := context.Background()
	_, readOnly, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"})
	require.NoError(t, err)
	revokedKey, revoked, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: "default"})
	require.NoError(t, err)
	require.NoError(t, b.keys.Revoke(ctx, "default", revokedKey.ID))
	_, narrowed, err := b.keys.Create(ctx, &auth.KeyCreateParams{Scopes: []auth.Scope{auth.ScopeAdmin}, Sessions: []string{"default"}, Tenant: "default"})
	require.NoError(t, err)

	send := "/sessions/default/messages/send-text"
	type tc struct {
		key, method, path string
		body              any
		hdr               []string
		status            int
		typ               string
		field             string
	}
	tests := map[string]tc{
		"malformed JSON":       {b.keyA, "POST", send, `{"chat": "+1555`, nil, 400, rest.TypeBadRequest, ""},
		"not JSON":             {b.keyA, "POST", send, `hello`, nil, 400, rest.TypeBadRequest, ""},
		"empty body":           {b.keyA, "POST", send, ``, nil, 400, rest.TypeBadRequest, ""},
		"wrong type":           {b.keyA, "POST", send, `{"chat": 5, "text": "x"}`, nil, 400, rest.TypeBadRequest, "chat"},
		"unknown field":        {b.keyA, "POST", send, `{"chat": "+15550002222", "text": "x", "admin": true}`, nil, 400, rest.TypeBadRequest, "admin"},
		"trailing data":        {b.keyA, "POST", send, `{"chat": "+15550002222", "text": "x"} {}`, nil, 400, rest.TypeBadRequest, ""},
		"array body":           {b.keyA, "POST", send, `[]`, nil, 400, rest.TypeBadRequest, "(body)"},
		"oversized body":       {b.keyA, "POST", send, `{"chat": "+15550002222", "text": "` + strings.Repeat("x", 4000) + `"}`, nil, 413, rest.TypeBodyTooLarge, ""},
		"oversized media":      {b.keyA, "POST", "/sessions/default/messages/send-media", `{"chat": "+15550002222", "kind": "image", "data": "` + strings.Repeat("A", 8000) + `"}`, nil, 413, rest.TypeBodyTooLarge, ""},
		"wrong content type":   {b.keyA, "POST", send, `chat=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, rest.TypeUnsupportedMediaType, ""},
		"missing field":        {b.keyA, "POST", send, `{"chat": "+15550002222"}`, nil, 422, rest.TypeValidation, "text"},
		"bad phone":            {b.keyA, "POST", send, `{"chat": "0123", "text": "x"}`, nil, 422, rest.TypeValidation, "chat"},
		"bad poll":             {b.keyA, "POST", "/sessions/default/messages/send-poll", `{"chat": "+15550002222", "question": "q", "options": ["a"]}`, nil, 422, rest.TypeValidation, "options"},
		"no latitude":          {b.keyA, "POST", "/sessions/default/messages/send-location", `{"chat": "+15550002222", "longitude": 1}`, nil, 422, rest.TypeValidation, "latitude"},
		"bad latitude":         {b.keyA, "POST", "/sessions/default/messages/send-location", `{"chat": "+15550002222", "latitude": 91, "longitude": 1}`, nil, 422, rest.TypeValidation, "latitude"},
		"path refused":         {b.keyA, "POST", "/sessions/default/messages/send-media", `{"chat": "+15550002222", "kind": "image", "path": "/etc/passwd"}`, nil, 400, rest.TypeBadRequest, "path"},
		"data and url":         {b.keyA, "POST", "/sessions/default/messages/send-media", `{"chat": "+15550002222", "kind": "image", "data": "AAAA", "url": "https://example.com/x.png"}`, nil, 422, rest.TypeValidation, "data"},
		"ssrf url":             {b.keyA, "POST", "/sessions/default/messages/send-media", `{"chat": "+15550002222", "kind": "image", "url": "http://127.0.0.1:1/x.png"}`, nil, 422, rest.TypeMediaFetch, "url"},
		"bad typing state":     {b.keyA, "POST", "/sessions/default/messages/typing", `{"chat": "+15550002222", "state": "dancing"}`, nil, 422, rest.TypeValidation, "state"},
		"long idempotency key": {b.keyA, "POST", send, `{"chat": "+15550002222", "text": "x"}`, []string{"Idempotency-Key", strings.Repeat("k", 300)}, 422, rest.TypeValidation, "Idempotency-Key"},
		"bad limit":            {b.keyA, "GET", "/sessions/default/messages?chat=%2B15550002222&limit=100000", nil, nil, 400, rest.TypeBadRequest, "limit"},
		"page size 10^6":       {b.keyA, "GET", "/sessions/default/messages?chat=%2B15550002222&limit=1000000", nil, nil, 400, rest.TypeBadRequest, "limit"},
		"missing chat query":   {b.keyA, "GET", "/sessions/default/messages", nil, nil, 400, rest.TypeBadRequest, "chat"},
		"bad cursor":           {b.keyA, "GET", "/sessions/default/messages?chat=%2B15550002222&before=zzz", nil, nil, 400, rest.TypeBadRequest, "before"},
		"bad chat query":       {b.keyA, "GET", "/sessions/default/messages?chat=0123", nil, nil, 400, rest.TypeBadRequest, "chat"},
		"null body":            {b.keyA, "POST", send, `null`, nil, 400, rest.TypeBadRequest, "(body)"},
		"string body":          {b.keyA, "POST", send, ` "x"`, nil, 400, rest.TypeBadRequest, "(body)"},
		"duplicate key":        {b.keyA, "POST", send, `{"chat": "+15550002222", "text": "x", "chat": "+15550003333"}`, nil, 400, rest.TypeBadRequest, "chat"},
		"nested duplicate key": {b.keyA, "POST", "/sessions/default/messages/send-button", `{"chat": "+15550002222", "body": "b", "buttons": [{"id": "1", "text": "a", "id": "2"}]}`, nil, 400, rest.TypeBadRequest, "buttons[0].id"},
		"bad base64":           {b.keyA, "POST", "/sessions/default/messages/send-media", `{"chat": "+15550002222", "kind": "image", "data": "not base64!"}`, nil, 400, rest.TypeBadRequest, "data"},
		"unknown session":      {b.keyA, "POST", "/sessions/nope/messages/send-text", `{"chat": "+15550002222", "text": "x"}`, nil, 404, rest.TypeNotFound, ""},
		"invalid session id":   {b.keyA, "GET", "/sessions/NOT..VALID", nil, nil, 404, rest.TypeNotFound, ""},
		"unknown message":      {b.keyA, "GET", "/sessions/default/messages/NOPE", nil, nil, 404, rest.TypeNotFound, ""},
		"unknown key id":       {b.keyA, "GET", "/keys/nope", nil, nil, 404, rest.TypeNotFound, ""},
		"not ready":            {b.keyA, "POST", "/sessions/unpaired/messages/send-text", `{"chat": "+15550002222", "text": "x"}`, nil, 409, rest.TypeSessionNotReady, ""},
		"no QR when ready":     {b.keyA, "GET", "/sessions/default/qr", nil, nil, 409, rest.TypeSessionNotReady, ""},
		"already paired":       {b.keyA, "POST", "/sessions/default/pair-phone", `{"phone": "+15550003333"}`, nil, 409, rest.TypeAlreadyPaired, ""},
		"session exists":       {b.keyA, "POST", "/sessions", `{"id": "default"}`, nil, 409, rest.TypeConflict, ""},
		"bad session id":       {b.keyA, "POST", "/sessions", `{"id": "Bad ID"}`, nil, 422, rest.TypeValidation, "id"},
		"no key":               {"", "GET", "/sessions", nil, nil, 401, rest.TypeUnauthorized, ""},
		"malformed key":        {"wqt_nope", "GET", "/sessions", nil, nil, 401, rest.TypeUnauthorized, ""},
		"unknown key":          {auth.NewKeySecret(), "GET", "/sessions", nil, nil, 401, rest.TypeUnauthorized, ""},
		"revoked key":          {revoked, "GET", "/sessions", nil, nil, 401, rest.TypeUnauthorized, ""},
		"missing scope":        {readOnly, "POST", send, `{"chat": "+15550002222", "text": "x"}`, nil, 403, rest.TypeForbidden, ""},
		"admin route":          {readOnly, "GET", "/keys", nil, nil, 403, rest.TypeForbidden, ""},
		"escalation":           {narrowed, "POST", "/keys", `{"scopes": ["read"], "sessions": ["unpaired"]}`, nil, 403, rest.TypeForbidden, ""},
		"narrowed create":      {narrowed, "POST", "/sessions", `{"id": "new1"}`, nil, 403, rest.TypeForbidden, ""},
		"narrowed other":       {narrowed, "GET", "/sessions/unpaired", nil, nil, 404, rest.TypeNotFound, ""},
		"unknown scope":        {b.keyA, "POST", "/keys", `{"scopes": ["root"]}`, nil, 422, rest.TypeValidation, "scopes[0]"},
		"no route":             {b.keyA, "GET", "/nowhere", nil, nil, 404, rest.TypeNotFound, ""},
		"bad method":           {b.keyA, "PUT", "/sessions", `{}`, nil, 405, rest.TypeMethodNotAllowed, ""},
		"multipart no file":    {b.keyA, "POST", "/sessions/default/messages/send-media", "--x\r\nContent-Disposition: form-data; name=\"chat\"\r\n\r\n+15550002222\r\n--x--\r\n", []string{"Content-Type", "multipart/form-data; boundary=x"}, 422, rest.TypeValidation, "file"},
		"multipart unknown":    {b.keyA, "POST", "/sessions/default/messages/send-media", "--x\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/etc/passwd\r\n--x--\r\n", []string{"Content-Type", "multipart/form-data; boundary=x"}, 400, rest.TypeBadRequest, "path"},
	}
	before := b.snapshotTenant(t)
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res := b.do(t, tt.key, tt.method, tt.path, tt.body, tt.hdr...)
			require.Equal(t, tt.status, res.status, "%s", res.body)
			p := res.problem(t)
			require.Equal(t, tt.typ, p.Type)
			require.Equal(t, tt.status, p.Status)
			require.NotEmpty(t, p.Title)
			if tt.field != "" {
				require.NotEmpty(t, p.Errors, "%s", res.body)
				require.Equal(t, tt.field, p.Errors[0].Field, "%s", res.body)
			}
			if tt.status == 401 {
				require.NotEmpty(t, res.header.Get("WWW-Authenticate"))
			}
		})
	}
	require.Equal(t, before, b.snapshotTenant(t), "bad requests changed nothing")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	body := map[string]any{"chat": alicePhone, "text": "once"}
	var first, second waqtor.Message
	b.do(t, b.keyA, "POST", "/messages/send-text", body, "Idempotency-Key", "k-1").json(t, &first)
	b.do(t, b.keyA, "POST", "/messages/send-text", body, "Idempotency-Key", "k-1").json(t, &second)
	require.Equal(t, first.ID, second.ID)
	n := 0
	for _, r := range b.net.SendLog() {
		if r.ID == first.ID {
			n++
		}
	}
	require.Equal(t, 1, n, "sent once")

	// The key is bound to its first request: another body is refused (the
	// IETF Idempotency-Key draft's 422), and the first request still replays.
	res := b.do(t, b.keyA, "POST", "/messages/send-text", map[string]any{"chat": alicePhone, "text": "twice"}, "Idempotency-Key", "k-1")
	require.Equal(t, 422, res.status, "%s", res.body)
	p := res.problem(t)
	require.Equal(t, rest.TypeIdempotencyKeyReused, p.Type)
	require.Equal(t, "Idempotency-Key", p.Errors[0].Field)
	require.Contains(t, p.Detail, first.ID, "names the message the key belongs to")
	var third waqtor.Message
	b.do(t, b.keyA, "POST", "/messages/send-text", body, "Idempotency-Key", "k-1").json(t, &third)
	require.Equal(t, first.ID, third.ID)
	require.Len(t, b.net.SendLog(), 1, "nothing else was sent")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) { o.RateLimit = 3; o.AuthFailureLimit = 2 }})
	for range 3 {
		require.Equal(t, 200, b.do(t, b.keyA, "GET", "/sessions", nil).status)
	}
	res := b.do(t, b.keyA, "GET", "/sessions", nil)
	require.Equal(t, 429, res.status)
	require.Equal(t, rest.TypeRateLimited, res.problem(t).Type)
	require.NotEmpty(t, res.header.Get("Retry-After"))
	require.Equal(t, 200, b.do(t, b.keyB, "GET", "/sessions", nil).status, "limits are per key")

	// Brute force: failed authentications per address.
	for range 2 {
		require.Equal(t, 401, b.do(t, auth.NewKeySecret(), "GET", "/sessions", nil).status)
	}
	res = b.do(t, auth.NewKeySecret(), "GET", "/sessions", nil)
	require.Equal(t, 429, res.status)
	require.NotEmpty(t, res.header.Get("Retry-After"))
}

func TestForeignMessageInOwnSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	b.session(t, "intruder", "other", "+15550009999")
	m, err := b.core.SendText(context.Background(), "default", alicePhone, "secret", nil)
	require.NoError(t, err)
	res := b.do(t, b.keyB, "GET", "/sessions/intruder/messages/"+m.ID, nil)
	require.Equal(t, 404, res.status)
	res = b.do(t, b.keyB, "GET", "/sessions/intruder/messages?chat="+strings.ReplaceAll(alicePhone, "+", "%2B"), nil)
	require.Equal(t, 200, res.status)
	require.NotContains(t, string(res.body), m.ID)
	var list rest.SessionList
	b.do(t, b.keyB, "GET", "/sessions", nil).json(t, &list)
	require.Len(t, list.Sessions, 1)
	require.Equal(t, "intruder", list.Sessions[0].ID)
}

// TestMountChi mounts the handler on a chi router, as hosts do.
func TestMountChi(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys})
	require.NoError(t, err)
	r := chi.NewRouter()
	r.Route("/v1", func(r chi.Router) { r.Mount("/api", h) })
	req, _ := http.NewRequest("GET", "/v1/api/openapi.json", nil)
	req.RequestURI = "/v1/api/openapi.json"
	rec := &recorder{header: http.Header{}}
	r.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.status)
	require.Contains(t, rec.body.String(), `"url":"/v1/api"`)
	req, _ = http.NewRequest("GET", "/v1/api/sessions", nil)
	req.Header.Set("X-API-Key", b.keyA)
	rec = &recorder{header: http.Header{}}
	r.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.status, rec.body.String())
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

func TestNewHandlerRefusesIncompleteRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	good := rest.Route{Method: "GET", Pattern: "/things/{thing}", Scope: auth.ScopeRead, OperationID: "getThing", Summary: "s", Handler: ok,
		Owner: &rest.Owner{Param: "thing", LookupFunc: func(*http.Request, string) (*rest.Ownership, error) { return nil, rest.ErrNotFound }}}
	tests := map[string]func(r *rest.Route){
		"no owner":         func(r *rest.Route) { r.Owner = nil },
		"no summary":       func(r *rest.Route) { r.Summary = "" },
		"no scope":         func(r *rest.Route) { r.Scope = "" },
		"unknown scope":    func(r *rest.Route) { r.Scope = "things:admin" },
		"no handler":       func(r *rest.Route) { r.Handler = nil },
		"bad method":       func(r *rest.Route) { r.Method = "TRACE" },
		"bad operation":    func(r *rest.Route) { r.OperationID = "Get-Thing" },
		"owner elsewhere":  func(r *rest.Route) { r.Owner.Param = "other" },
		"public owned":     func(r *rest.Route) { r.Scope = rest.ScopeNone },
		"conflict builtin": func(r *rest.Route) { r.Pattern = "/sessions/{thing}"; r.Owner.Param = "thing" },
		"duplicate opid":   func(r *rest.Route) { r.OperationID = "getSession" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			rt := good
			o := *good.Owner
			rt.Owner = &o
			mutate(&rt)
			_, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys, Groups: []rest.RouteGroup{{Name: "things", Routes: []rest.Route{rt}}}})
			require.Error(t, err)
		})
	}
	_, err := rest.NewHandler(b.core, &rest.HandlerOpts{Keys: b.keys, Groups: []rest.RouteGroup{{Name: "things", Routes: []rest.Route{good}}}})
	require.NoError(t, err)
	_, err = rest.NewHandler(b.core, nil)
	require.ErrorContains(t, err, "Keys")
}

// TestHostAuthenticateFunc plugs in the host's own authentication.
func TestHostAuthenticateFunc(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) {
		o.Keys = nil
		o.AuthenticateFunc = func(r *http.Request) (*auth.Principal, error) {
			if r.Header.Get("X-User") == "alice" {
				return &auth.Principal{Name: "alice", Scopes: []auth.Scope{auth.ScopeRead}, Tenant: "default"}, nil
			}
			return nil, auth.ErrUnauthenticated
		}
	}})
	b.session(t, "default", "default", "")
	require.Equal(t, 200, b.do(t, "", "GET", "/sessions/default", nil, "X-User", "alice").status)
	require.Equal(t, 401, b.do(t, "", "GET", "/sessions/default", nil, "X-User", "mallory").status)
	require.Equal(t, 404, b.do(t, "", "GET", "/keys", nil, "X-User", "alice").status, "no key routes without a KeyStore")
	_ = time.Second
}

// TestKeyFailureThrottle (docs/reliability.md T24): failed authentications that
// present one key ID are counted across addresses; past the limit that key ID
// is refused with 429 before verification, other keys are not affected.
func TestKeyFailureThrottle(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{mutate: func(o *rest.HandlerOpts) { o.AuthFailureLimit = -1; o.KeyFailureLimit = 3 }})
	withID := func(secret string) string { // a well-formed key with secret's ID and another secret
		body := secret[4:14] + auth.NewKeySecret()[14:44]
		v := crc32.ChecksumIEEE([]byte(body)) // the key format's checksum: CRC-32 in 6 base62 digits
		const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		sum := make([]byte, 6)
		for i := 5; i >= 0; i-- {
			sum[i], v = base62[v%62], v/62
		}
		k := "wqt_" + body + string(sum)
		_, err := auth.ParseKey(k)
		require.NoError(t, err)
		return k
	}
	for range 3 {
		res := b.do(t, withID(b.keyA), "GET", "/sessions", nil)
		require.Equal(t, 401, res.status, "%s", res.body)
	}
	res := b.do(t, withID(b.keyA), "GET", "/sessions", nil)
	require.Equal(t, 429, res.status, "%s", res.body)
	require.Equal(t, rest.TypeRateLimited, res.problem(t).Type)
	require.NotEmpty(t, res.header.Get("Retry-After"))
	require.Equal(t, 429, b.do(t, b.keyA, "GET", "/sessions", nil).status, "the key ID is held off for the window")
	require.Equal(t, 200, b.do(t, b.keyB, "GET", "/sessions", nil).status, "other keys are not")
	for range 5 { // malformed keys have no ID: only the per-address limit (off here) counts them
		require.Equal(t, 401, b.do(t, "wqt_nonsense", "GET", "/sessions", nil).status)
	}
	require.Equal(t, 200, b.do(t, b.keyB, "GET", "/sessions", nil).status)
}
