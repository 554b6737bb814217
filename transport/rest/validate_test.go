package rest_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// Every test's responses are validated against the handler's own OpenAPI
// document by a third-party validator (pb33f/libopenapi-validator): the
// validating transport below sits in every test client.

var (
	validatorsMu sync.Mutex
	validators   = map[[32]byte]validator.Validator{}
)

func validatorFor(t *testing.T, doc []byte) validator.Validator {
	t.Helper()
	validatorsMu.Lock()
	defer validatorsMu.Unlock()
	key := sha256.Sum256(doc)
	if v, ok := validators[key]; ok {
		return v
	}
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatalf("parse OpenAPI document: %v", err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		t.Fatalf("build validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("OpenAPI document invalid: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	validators[key] = v
	return v
}

// validatingTransport validates every response against the document and
// records which operations answered with success.
type validatingTransport struct {
	t    *testing.T
	base http.RoundTripper
	v    validator.Validator
	doc  *docIndex

	mu      sync.Mutex
	covered map[string]bool // "METHOD /path/template" answered 2xx
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := vt.base.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/api/") {
		return res, err
	}
	resBody, rerr := io.ReadAll(res.Body)
	res.Body.Close()
	if rerr != nil {
		return nil, rerr
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	vres := *res
	vres.Body = io.NopCloser(bytes.NewReader(resBody))
	if vt.doc.match(req.Method, strings.TrimPrefix(req.URL.Path, "/api")) == "" {
		return res, nil // an undocumented path or method: nothing to validate against
	}
	if ok, errs := vt.v.ValidateHttpResponse(vreq, &vres); !ok {
		for _, e := range errs {
			vt.t.Errorf("response of %s %s (%d) does not match the OpenAPI document: %s: %s (%s)", req.Method, req.URL.Path,
				res.StatusCode, e.Message, e.Reason, truncate(resBody))
			for _, se := range e.SchemaValidationErrors {
				vt.t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
	}
	if op := vt.doc.op(req.Method, strings.TrimPrefix(req.URL.Path, "/api")); res.StatusCode >= 400 && res.StatusCode < 500 &&
		!op.statuses[strconv.Itoa(res.StatusCode)] {
		vt.t.Errorf("%s %s answered %d, which its operation %s does not declare (only default covers it): declare it (Route.Problems, or a rule in problemStatuses)",
			req.Method, req.URL.Path, res.StatusCode, op.template)
	}
	if res.StatusCode < 300 {
		if op := vt.doc.match(req.Method, strings.TrimPrefix(req.URL.Path, "/api")); op != "" {
			vt.mu.Lock()
			vt.covered[op] = true
			vt.mu.Unlock()
		}
	}
	return res, nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// docIndex matches request paths to the document's path templates.
type docIndex struct {
	ops []docOp
}

type docOp struct {
	method, template string
	re               *regexp.Regexp
	statuses         map[string]bool // the responses declared, "default" aside
}

func (d *docIndex) match(method, path string) string {
	if op := d.op(method, path); op != nil {
		return method + " " + op.template
	}
	return ""
}

func (d *docIndex) op(method, path string) *docOp {
	// Prefer templates with fewer parameters (literal segments win).
	var best *docOp
	bestParams := 1 << 30
	for i, op := range d.ops {
		if op.method == method && op.re.MatchString(path) {
			if n := strings.Count(op.template, "{"); n < bestParams {
				best, bestParams = &d.ops[i], n
			}
		}
	}
	return best
}

func (d *docIndex) all() []string {
	out := make([]string, len(d.ops))
	for i, op := range d.ops {
		out[i] = op.method + " " + op.template
	}
	return out
}
