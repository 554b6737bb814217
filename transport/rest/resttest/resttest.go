// Package resttest holds the test helpers every REST route group runs: the
// tenant-isolation matrix, generated from the handler's OpenAPI document (and
// so from the route metadata, see rest.Route).
//
// A feature that adds a rest.RouteGroup calls RunTenantMatrix in its tests with
// a server that mounts the handler, a key of an intruding tenant, and the IDs
// of one object of the victim tenant for every path parameter its routes take:
//
//	resttest.RunTenantMatrix(t, &resttest.MatrixConfig{
//		BaseURL:     srv.URL + "/api",
//		IntruderKey: keyOfTenantB,
//		NoScopeKey:  keyOfTenantAWithNoUsefulScope,
//		Objects:     map[string]string{"session": "a1", "webhook": hookOfA.ID},
//		Snapshot:    func(t *testing.T) string { return dumpTenantA(t) },
//	})
//
// The matrix fails for a route that takes an object ID it has no fixture for,
// so a new route is covered the moment it exists.
package resttest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/waqtor/waqtor/transport/rest"
)

// MatrixConfig configures RunTenantMatrix.
type MatrixConfig struct {
	// BaseURL is where the handler is mounted ("http://127.0.0.1:1234/api"). Required.
	BaseURL string
	// Bodies gives a request body per operationId, so that requests pass
	// validation and reach the ownership check's effects if it were missing.
	// Defaults to a body of "{}" for operations that take one.
	Bodies map[string]any
	// Client sends the requests. Defaults to http.DefaultClient.
	Client *http.Client
	// IntruderKey is an API key of another tenant than the objects', holding
	// every scope (ScopeAdmin). Required.
	IntruderKey string
	// NoScopeKey is a key of the victim tenant holding none of the routes'
	// scopes: every authenticated route must refuse it with 403. Optional.
	NoScopeKey string
	// Objects maps each path parameter to the ID of an object of the victim
	// tenant ("session" → a session ID, "message" → a message of that session).
	// Required for every parameter a route takes.
	Objects map[string]string
	// Snapshot returns a description of everything of the victim tenant (rows,
	// states, the event log position); it must not change across the matrix.
	// Required.
	Snapshot func(t *testing.T) string
	// TimingClient sends the timing samples. Defaults to Client. Give one
	// whose own work does not depend on the path: a response-validating
	// transport that caches per path makes fresh random IDs look slow.
	TimingClient *http.Client
	// TimingSamples is how many requests on the victim's object, interleaved
	// with as many on fresh random IDs, measure each owned route's response
	// time profile (see SameProfile); a negative value skips the timing
	// check. Every sample is a request of IntruderKey: leave room for them in
	// the handler's per-key rate limit. Defaults to TimingSamplesDefault.
	TimingSamples int
}

// TimingSamplesDefault is MatrixConfig.TimingSamples' default: small enough
// that a matrix over the built-in routes stays within the handler's default
// per-key rate limit (RateLimitDefault, 600 a minute).
const TimingSamplesDefault = 3

// TimingSlack is the smallest difference of median response times that
// SameProfile reports: below it, a difference is scheduling noise on a loaded
// test machine, not an oracle worth the name over a network.
const TimingSlack = 2 * time.Millisecond

// Operation is one operation of the document.
type Operation struct {
	Method, Path, OperationID, Scope, Owner string
	Session                                 bool
	FixedSession                            string
	Unowned                                 []string
	HasBody                                 bool
	// Creates names the object the operation creates under the body's "id"
	// (rest.ExtCreates), "" for other operations.
	Creates string
}

// Operations reads the operations of the OpenAPI document served at baseURL.
func Operations(t testing.TB, client *http.Client, baseURL string) []Operation {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Get(baseURL + "/openapi.json")
	if err != nil {
		t.Fatalf("resttest: get document: %v", err)
	}
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID  string          `json:"operationId"`
			Scope        string          `json:"x-waqtor-scope"`
			Owner        string          `json:"x-waqtor-owner"`
			Session      bool            `json:"x-waqtor-session"`
			FixedSession string          `json:"x-waqtor-fixed-session"`
			Unowned      []string        `json:"x-waqtor-unowned"`
			Creates      string          `json:"x-waqtor-creates"`
			RequestBody  json.RawMessage `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatalf("resttest: decode document: %v", err)
	}
	var ops []Operation
	for path, item := range doc.Paths {
		for method, op := range item {
			ops = append(ops, Operation{Method: strings.ToUpper(method), Path: path, OperationID: op.OperationID, Scope: op.Scope,
				Owner: op.Owner, Session: op.Session, FixedSession: op.FixedSession, Unowned: op.Unowned, HasBody: len(op.RequestBody) > 0, Creates: op.Creates})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path+ops[i].Method < ops[j].Path+ops[j].Method })
	return ops
}

var paramRe = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)

// RunTenantMatrix calls every operation that touches an owned object with the
// intruder's key, on the victim's objects and on random IDs, and requires 404
// not-found each time, identical in type and title; with NoScopeKey it requires
// 403 on every authenticated route. Then it calls every operation that creates
// an object under a client-chosen ID (rest.ExtCreates) with the intruder's key
// and the victim's ID: IDs are scoped per tenant, so that must succeed exactly
// like creating a fresh ID (no existence oracle, no squatting), and a second
// creation of either must be refused alike. Finally it requires the victim's
// Snapshot to be unchanged: Snapshot must describe the victim tenant only, not
// state the intruder's creations change (such as the whole event log's
// position).
func RunTenantMatrix(t *testing.T, cfg *MatrixConfig) {
	t.Helper()
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	before := cfg.Snapshot(t)
	ops := Operations(t, client, cfg.BaseURL)
	if len(ops) == 0 {
		t.Fatal("resttest: the document has no operations")
	}
	owned := 0
	for _, op := range ops {
		if op.Scope == string(rest.ScopeNone) {
			continue
		}
		name := op.Method + " " + op.Path
		if cfg.NoScopeKey != "" {
			t.Run("scope/"+name, func(t *testing.T) {
				res := call(t, client, cfg, op, cfg.NoScopeKey, fill(t, op, cfg.Objects))
				if res.status != http.StatusForbidden || res.problem.Type != rest.TypeForbidden {
					t.Errorf("%s with a key lacking %q: got %d %s, want 403 %s", name, op.Scope, res.status, res.body, rest.TypeForbidden)
				}
			})
		}
		params := paramRe.FindAllStringSubmatch(op.Path, -1)
		if !op.Session && op.Owner == "" {
			continue
		}
		owned++
		t.Run("tenant/"+name, func(t *testing.T) {
			victim := call(t, client, cfg, op, cfg.IntruderKey, fill(t, op, cfg.Objects))
			requireNotFound(t, name+" on the victim's object", victim)
			if len(params) == 0 {
				return // a fixed-session route: no ID to vary
			}
			random := map[string]string{}
			for _, p := range params {
				random[p[1]] = randomID()
			}
			res := call(t, client, cfg, op, cfg.IntruderKey, fill(t, op, random))
			requireNotFound(t, name+" on a random ID", res)
			if res.problem.Type != victim.problem.Type || res.problem.Title != victim.problem.Title {
				t.Errorf("%s: an existing foreign object (%s) and a missing one (%s) answer differently", name, victim.body, res.body)
			}
			n := cfg.TimingSamples
			if n == 0 {
				n = TimingSamplesDefault
			}
			if n < 0 || t.Failed() {
				return
			}
			// Load on a shared machine can separate two medians now and then;
			// an ownership check that does more work for existing objects
			// separates them every time. Measure up to three more times,
			// three times longer, before calling it a leak.
			v, r := ResponseTimes(t, cfg, op, n)
			err := SameProfile(v, r)
			for retry := 0; err != nil && retry < 3; retry++ {
				v, r = ResponseTimes(t, cfg, op, 3*n)
				err = SameProfile(v, r)
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	if owned == 0 {
		t.Error("resttest: no operation touches an owned object")
	}
	// Creations come last: the intruder's new objects carry the victim's IDs,
	// which the checks above probe as the victim's.
	for _, op := range ops {
		if op.Creates != "" {
			t.Run("create/"+op.Method+" "+op.Path, func(t *testing.T) { checkCreate(t, client, cfg, op) })
		}
	}
	if after := cfg.Snapshot(t); after != before {
		t.Errorf("resttest: the victim tenant changed during the matrix:\nbefore: %s\nafter:  %s", before, after)
	}
}

// checkCreate creates, with the intruder's key, an object under the victim's
// ID and one under a fresh ID, then each a second time.
func checkCreate(t *testing.T, client *http.Client, cfg *MatrixConfig, op Operation) {
	t.Helper()
	name := op.Method + " " + op.Path
	victimID, ok := cfg.Objects[op.Creates]
	if !ok {
		t.Fatalf("resttest: %s creates a %s but MatrixConfig.Objects has no ID for it", name, op.Creates)
	}
	freshID := randomID()
	create := func(id string) *result {
		body := map[string]any{}
		if v, ok := cfg.Bodies[op.OperationID]; ok {
			b, err := json.Marshal(v)
			if err == nil {
				err = json.Unmarshal(b, &body)
			}
			if err != nil {
				t.Fatalf("resttest: body of %s must be a JSON object: %v", op.OperationID, err)
			}
		}
		body["id"] = id
		return callBody(t, client, cfg, op, cfg.IntruderKey, fill(t, op, cfg.Objects), body)
	}
	taken, fresh := create(victimID), create(freshID)
	for _, c := range []struct {
		what string
		id   string
		res  *result
	}{{"the victim's ID", victimID, taken}, {"a fresh ID", freshID, fresh}} {
		if c.res.status < 200 || c.res.status > 299 {
			t.Errorf("%s with %s (%s): got %d %s, want success: IDs are scoped per tenant", name, c.what, c.id, c.res.status, c.res.body)
			continue
		}
		var out struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(c.res.body), &out); err != nil || out.ID != c.id {
			t.Errorf("%s with %s: created %q (%v), want %q", name, c.what, out.ID, err, c.id)
		}
	}
	if taken.status != fresh.status {
		t.Errorf("%s: the victim's ID answers %d, a fresh one %d: an existence oracle", name, taken.status, fresh.status)
	}
	again, freshAgain := create(victimID), create(freshID)
	if again.status != freshAgain.status || again.problem.Type != freshAgain.problem.Type || again.problem.Title != freshAgain.problem.Title {
		t.Errorf("%s: creating the victim's ID again (%d %s) and a fresh ID again (%d %s) answer differently",
			name, again.status, again.body, freshAgain.status, freshAgain.body)
	}
	if again.status < 400 {
		t.Errorf("%s: creating the same ID twice succeeded twice (%d)", name, again.status)
	}
}

// ResponseTimes calls op with cfg.IntruderKey n times on the victim's objects
// (cfg.Objects) and n times on fresh random IDs, alternating, and returns the
// response times of each. Every answer must be 404.
func ResponseTimes(t *testing.T, cfg *MatrixConfig, op Operation, n int) (victim, random []time.Duration) {
	t.Helper()
	client := cfg.TimingClient
	if client == nil {
		client = cfg.Client
	}
	if client == nil {
		client = http.DefaultClient
	}
	coin := make([]bool, n)
	for i := range coin {
		var b [1]byte
		_, _ = rand.Read(b[:])
		coin[i] = b[0]&1 == 1
	}
	params := paramRe.FindAllStringSubmatch(op.Path, -1)
	// Each pair runs in a random order, so that whatever a request's position
	// costs (the previous request still finishing on the server) falls on both
	// populations alike.
	for i := range 2 * n {
		isRandom := i%2 == 1
		if coin[i/2] {
			isRandom = !isRandom
		}
		ids := cfg.Objects
		if isRandom {
			ids = map[string]string{}
			for _, p := range params {
				ids[p[1]] = randomID()
			}
		}
		path := fill(t, op, ids)
		start := time.Now()
		res := call(t, client, cfg, op, cfg.IntruderKey, path)
		d := time.Since(start)
		requireNotFound(t, op.Method+" "+op.Path+" (timing)", res)
		if isRandom {
			random = append(random, d)
		} else {
			victim = append(victim, d)
		}
	}
	return victim, random
}

// SameProfile reports an error when the median response times of a and b
// differ by more than TimingSlack and by more than the smaller median
// (a generous bound: a test on a shared machine must not flake, and an
// ownership check that does extra work for existing objects, such as a
// second query or a sleep, still shows).
func SameProfile(a, b []time.Duration) error {
	ma, mb := median(a), median(b)
	diff := ma - mb
	if diff < 0 {
		diff = -diff
	}
	if diff > TimingSlack && diff > min(ma, mb) {
		return fmt.Errorf("another tenant's object answers in %v (median of %d), a missing one in %v (median of %d): an existence oracle",
			ma, len(a), mb, len(b))
	}
	return nil
}

func median(x []time.Duration) time.Duration {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func requireNotFound(t *testing.T, what string, res *result) {
	t.Helper()
	if res.status != http.StatusNotFound || res.problem.Type != rest.TypeNotFound {
		t.Errorf("%s: got %d %s, want 404 %s", what, res.status, res.body, rest.TypeNotFound)
	}
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "x" + hex.EncodeToString(b[:])
}

// fill substitutes the path's parameters; a parameter without an ID fails the
// test: every route must be in the matrix.
func fill(t *testing.T, op Operation, ids map[string]string) string {
	t.Helper()
	return paramRe.ReplaceAllStringFunc(op.Path, func(m string) string {
		name := m[1 : len(m)-1]
		id, ok := ids[name]
		if !ok {
			if slices.Contains(op.Unowned, name) {
				return "x"
			}
			t.Fatalf("resttest: %s %s takes {%s} but MatrixConfig.Objects has no ID for it", op.Method, op.Path, name)
		}
		return id
	})
}

type result struct {
	status  int
	body    string
	problem rest.Problem
}

func call(t *testing.T, client *http.Client, cfg *MatrixConfig, op Operation, key, path string) *result {
	t.Helper()
	var v any
	if op.HasBody {
		v = json.RawMessage("{}")
		if b, ok := cfg.Bodies[op.OperationID]; ok {
			v = b
		}
	}
	return callBody(t, client, cfg, op, key, path, v)
}

// callBody calls op with v as its JSON body (none when v is nil).
func callBody(t *testing.T, client *http.Client, cfg *MatrixConfig, op Operation, key, path string, v any) *result {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("resttest: body of %s: %v", op.OperationID, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(op.Method, cfg.BaseURL+path, body)
	if err != nil {
		t.Fatalf("resttest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-API-Key", key)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("resttest: %s %s: %v", op.Method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := &result{status: res.StatusCode, body: string(data)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal(data, &out.problem); err != nil {
			t.Errorf("resttest: %s %s: bad problem body %q: %v", op.Method, path, data, err)
		}
	}
	return out
}

// String describes an operation.
func (o Operation) String() string { return fmt.Sprintf("%s %s (%s)", o.Method, o.Path, o.OperationID) }
