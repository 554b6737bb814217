package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor/client"
)

// fuzzResponse is a RoundTripper that answers every request with one canned
// response.
type fuzzResponse struct {
	status     int
	body       []byte
	retryAfter string
}

func (f *fuzzResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if f.retryAfter != "" {
		h.Set("Retry-After", f.retryAfter)
	}
	return &http.Response{StatusCode: f.status, Header: h, Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
}

// FuzzResponses feeds arbitrary server answers to the client: no panic; an
// error status is always an *Error carrying the response's own status
// (whatever the body claims), valid UTF-8 text and a Retry-After within
// [0, 1h]; a success status either decodes or fails without an *Error.
func FuzzResponses(f *testing.F) {
	for _, s := range []struct {
		status   uint16
		body, ra string
	}{
		{200, `{"id":"s1","status":"connected"}`, ""},
		{200, `garbage`, ""},
		{404, `{"type":"https://waqtor.dev/problems/not-found","title":"Not Found","status":404}`, ""},
		{500, `{"status":200,"title":"lies"}`, ""},
		{502, "<html>bad gateway</html>", ""},
		{429, `{"status":429}`, "30"},
		{503, "", "99999999999999999999"},
		{503, "", "-5"},
		{429, "", "Wed, 21 Oct 2015 07:28:00 GMT"},
		{418, "\xff\xfe", "soon"},
	} {
		f.Add(s.status, []byte(s.body), s.ra)
	}
	rt := &fuzzResponse{}
	c, err := client.New(&client.Config{BaseURL: "http://waqtor.invalid", APIKey: "k", HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte, retryAfter string) {
		rt.status, rt.body, rt.retryAfter = 200+int(status)%400, body, retryAfter
		_, err := c.Session(context.Background(), "s1")
		var e *client.Error
		isErr := errors.As(err, &e)
		if rt.status < 300 {
			if isErr {
				t.Fatalf("status %d became a server error: %v", rt.status, e)
			}
			return
		}
		if !isErr {
			t.Fatalf("status %d: %v is not an *Error", rt.status, err)
		}
		if e.Status != rt.status {
			t.Fatalf("status %d reported as %d", rt.status, e.Status)
		}
		if e.RetryAfter < 0 || e.RetryAfter > time.Hour {
			t.Fatalf("Retry-After %q gave %s", retryAfter, e.RetryAfter)
		}
		if !utf8.ValidString(e.Error()) {
			t.Fatalf("error text is not UTF-8: %q", e.Error())
		}
	})
}
