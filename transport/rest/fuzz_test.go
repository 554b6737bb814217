package rest_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// FuzzDecodeJSON feeds arbitrary bodies to every built-in request type: no
// panic, and every error is a problem (or a validation error) with a 4xx status.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"chat":"+15550002222","text":"hi"}`, `{"chat":5}`, `{"a":1}`, `[]`, `null`, `{"latitude":1e400}`,
		`{"chat":"+1","kind":"image","data":"AAAA"}`, `{"phones":["+15550002222"]}`, `{"scopes":["read"],"expires_at":"x"}`,
		`{"message_ids":[""],"chat":"x"}`, `{"options":["a","a"],"question":"q","chat":"x"}`, `{} {}`, "\xff",
	} {
		f.Add(s)
	}
	targets := []func() any{
		func() any { return &rest.SendTextRequest{} }, func() any { return &rest.SendMediaRequest{} },
		func() any { return &rest.SendLocationRequest{} }, func() any { return &rest.SendContactRequest{} },
		func() any { return &rest.SendPollRequest{} }, func() any { return &rest.ReactRequest{} },
		func() any { return &rest.EditRequest{} }, func() any { return &rest.RevokeRequest{} },
		func() any { return &rest.MarkReadRequest{} }, func() any { return &rest.TypingRequest{} },
		func() any { return &rest.CheckNumbersRequest{} }, func() any { return &rest.CreateKeyRequest{} },
		func() any { return &rest.CreateSessionRequest{} }, func() any { return &rest.PairPhoneRequest{} },
		func() any { return &rest.SendButtonsRequest{} }, func() any { return &rest.SendListRequest{} },
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, newV := range targets {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			err := rest.DecodeJSON(r, newV())
			if err == nil {
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
		}
	})
}
