package rest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// fuzzBodyCap is the body cap of the fuzzed decoders, as http.MaxBytesReader
// applies it in the handler (Route.MaxBodyBytes).
const fuzzBodyCap = 4096

// fuzzAllocCap bounds what decoding one body may allocate: a few times the
// cap for the decoder's buffer and the decoded values, never the body's size.
const fuzzAllocCap = 64 * fuzzBodyCap

// bodyTypes returns a fresh value of every built-in JSON request type.
func bodyTypes() []func() any {
	return []func() any{
		func() any { return &rest.SendTextRequest{} }, func() any { return &rest.SendMediaRequest{} },
		func() any { return &rest.SendLocationRequest{} }, func() any { return &rest.SendContactRequest{} },
		func() any { return &rest.SendPollRequest{} }, func() any { return &rest.ReactRequest{} },
		func() any { return &rest.EditRequest{} }, func() any { return &rest.RevokeRequest{} },
		func() any { return &rest.MarkReadRequest{} }, func() any { return &rest.TypingRequest{} },
		func() any { return &rest.CheckNumbersRequest{} }, func() any { return &rest.CreateKeyRequest{} },
		func() any { return &rest.CreateSessionRequest{} }, func() any { return &rest.PairPhoneRequest{} },
		func() any { return &rest.SendButtonsRequest{} }, func() any { return &rest.SendListRequest{} },
		func() any { return &rest.ConsentRequest{} },
	}
}

// FuzzDecodeJSON feeds arbitrary bodies to every built-in request type behind
// the handler's body cap: no panic; every error is a problem (or a validation
// error naming a field) with a 4xx status; a body over the cap is a 413; and
// decoding never allocates more than fuzzAllocCap, however long the body.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"chat":"+15550002222","text":"hi"}`, `{"chat":5}`, `{"a":1}`, `[]`, `null`, `{"latitude":1e400}`,
		`{"chat":"+1","kind":"image","data":"AAAA"}`, `{"phones":["+15550002222"]}`, `{"scopes":["read"],"expires_at":"x"}`,
		`{"message_ids":[""],"chat":"x"}`, `{"options":["a","a"],"question":"q","chat":"x"}`, `{} {}`, "\xff",
		`{"chat":"x","body":"b","buttons":[{"id":"a","text":"A"},{"id":"a","text":"B"}]}`,
		`{"chat":"x","body":"b","button_text":"o","sections":[{"rows":[{"id":"r","title":"R"}]}],"mode":"poll"}`,
		`{"chat":"x","body":"b","button_text":"o","sections":[{"rows":[]}]}`,
		`{"text":"` + strings.Repeat("x", 2*fuzzBodyCap) + `"}`, strings.Repeat("[", 3*fuzzBodyCap),
		`{"data":"` + strings.Repeat("QUFB", fuzzBodyCap) + `"}`,
		`{"scope":"marketing","status":"opted_out","source":"crm","note":"n"}`, `{"scope":"all","status":"x"}`,
		`{"chat":"+15550002222","text":"hi","transactional":true}`, `{"transactional":"yes"}`,
	} {
		f.Add(s)
	}
	targets := bodyTypes()
	f.Fuzz(func(t *testing.T, body string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, newV := range targets {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Body = http.MaxBytesReader(w, r.Body, fuzzBodyCap)
			err := rest.DecodeJSON(r, newV())
			if err == nil {
				if len(body) > fuzzBodyCap {
					t.Fatalf("a %d-byte body passed a %d-byte cap", len(body), fuzzBodyCap)
				}
				continue
			}
			p := rest.ProblemFor(err)
			var fe *waqtor.FieldError
			var afe *api.FieldError
			if p.Status < 400 || p.Status >= 500 {
				t.Fatalf("body %q: error %v maps to %d", body, err, p.Status)
			}
			if p.Status == 422 && !errors.As(err, &fe) && !errors.As(err, &afe) && !errors.Is(err, waqtor.ErrInvalidPhone) && !errors.Is(err, waqtor.ErrInvalidSessionID) {
				t.Fatalf("body %q: a validation error without a field: %v", body, err)
			}
			if (p.Status == 422 || p.Status == 400) && len(p.Errors) > 0 && p.Errors[0].Field == "" {
				t.Fatalf("body %q: an empty field name: %v", body, err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(targets))*fuzzAllocCap {
			t.Fatalf("decoding a %d-byte body %d times allocated %d bytes, more than %d per decode", len(body), len(targets), n, fuzzAllocCap)
		}
	})
}
