package rest

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"runtime"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// mediaFormBoundary is the boundary of the fuzzed multipart bodies.
const mediaFormBoundary = "fuzzboundary"

// mediaFormCap is the body cap of the fuzzed requests (the route's
// MaxBodyBytes in the handler).
const mediaFormCap = 8192

// mediaFormBody builds a send-media multipart body from (name, filename,
// content) parts.
func mediaFormBody(parts ...[3]string) []byte {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary(mediaFormBoundary)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + p[0] + `"`
		if p[1] != "" {
			disp += `; filename="` + p[1] + `"`
			h.Set("Content-Type", "image/png")
		}
		h.Set("Content-Disposition", disp)
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write([]byte(p[2]))
	}
	_ = w.Close()
	return b.Bytes()
}

// FuzzReadMediaForm feeds arbitrary multipart bodies to the send-media form
// reader behind the route's body cap: no panic; every error is a 4xx problem
// (a validation error names its field); a body over the cap never passes;
// an accepted form has a file and passes Validate only with a chat and a
// kind; and reading never allocates far beyond the body's size.
func FuzzReadMediaForm(f *testing.F) {
	for _, body := range [][]byte{
		mediaFormBody([3]string{"chat", "", "+15550002222"}, [3]string{"kind", "", "image"}, [3]string{"file", "a.png", "\x89PNG...."}),
		mediaFormBody([3]string{"chat", "", "+15550002222"}, [3]string{"kind", "", "audio"}, [3]string{"voice", "", "true"}, [3]string{"file", "v.ogg", "OggS"}),
		mediaFormBody([3]string{"file", "a", "x"}, [3]string{"file", "b", "y"}),
		mediaFormBody([3]string{"evil", "", "x"}),
		mediaFormBody([3]string{"voice", "", "maybe"}, [3]string{"file", "a", "x"}),
		mediaFormBody([3]string{"caption", "", string(make([]byte, 2*mediaFormCap))}),
		mediaFormBody(),
		[]byte("--" + mediaFormBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated"),
		[]byte("not multipart at all"),
		{},
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+mediaFormBoundary)
		r.Body = http.MaxBytesReader(w, r.Body, mediaFormCap)
		var req SendMediaRequest
		err := readMediaForm(r, &req)
		if err == nil {
			if len(body) > mediaFormCap {
				t.Fatalf("a %d-byte body passed a %d-byte cap", len(body), mediaFormCap)
			}
			if req.URL != "" {
				t.Fatalf("a form set the URL field: %q", req.URL)
			}
			err = req.Validate()
			if err == nil && (req.Chat == "" || req.Kind == "") {
				t.Fatalf("a form without chat or kind passed validation: %+v", req)
			}
		}
		if err != nil {
			p := ProblemFor(err)
			if p.Status < 400 || p.Status >= 500 {
				t.Fatalf("body %q: error %v maps to %d", body, err, p.Status)
			}
			var fe *waqtor.FieldError
			var afe *api.FieldError
			if p.Status == 422 && !errors.As(err, &fe) && !errors.As(err, &afe) {
				t.Fatalf("body %q: a validation error without a field: %v", body, err)
			}
			if len(p.Errors) > 0 && p.Errors[0].Field == "" {
				t.Fatalf("body %q: an empty field name: %v", body, err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64*mediaFormCap+16*uint64(len(body)) {
			t.Fatalf("reading a %d-byte form allocated %d bytes", len(body), n)
		}
	})
}
