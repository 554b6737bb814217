package rest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/waqtor/waqtor/auth"
)

// RouteGroup is a set of routes a feature adds to the REST handler (webhooks,
// plugins, campaigns, ...). A feature exposes a function returning its group
// and the host passes it in HandlerOpts.Groups:
//
//	h, err := rest.NewHandler(core, &rest.HandlerOpts{
//		Keys:   keys,
//		Groups: []rest.RouteGroup{webhooks.Routes()},
//	})
//
// The handler routes, authenticates, authorizes and documents every route from
// this metadata alone: the OpenAPI document (GET /openapi.json) and the
// tenant-isolation test matrix (resttest.RunTenantMatrix) are generated from
// it, so a route cannot exist without both.
//
// Nothing here depends on chi: handlers are plain http.Handlers and read path
// parameters with r.PathValue.
type RouteGroup struct {
	// Name is the group's OpenAPI tag ("webhooks"). Required.
	Name string
	// Description documents the tag.
	Description string
	// Routes are the group's routes. Required.
	Routes []Route
	// Scopes lists the scopes the group's routes introduce besides the built-in
	// ones (auth.BuiltinScopes), with a description each, so that keys can be
	// granted them (POST /keys refuses unknown scopes) and the document lists them.
	Scopes map[auth.Scope]string
}

// Route is one operation: a method on a path pattern, the scope it needs, the
// objects it touches, its request and response types, and its handler.
//
// Authorization is enforced by the handler before Handler runs, in this order:
//
//  1. authentication (API key or the host's AuthenticateFunc): 401;
//  2. Scope: 403 when the principal lacks it;
//  3. per-key rate limit: 429 with Retry-After;
//  4. "{session}" in Pattern: the session must exist, belong to the principal's
//     tenant and be one of the principal's sessions, else 404;
//  5. Owner: Owner.LookupFunc reports the tenant (and session) owning the object
//     named by the path parameter Owner.Param; an object that does not exist,
//     or that the principal does not own, is answered 404 — never 403, so that
//     a key cannot learn that another tenant's object exists.
//
// Every path parameter other than "session" must be Owner.Param or listed in
// Unowned (with a reason to be there): NewHandler refuses a route that takes an
// object ID without saying how its ownership is checked.
type Route struct {
	// Method is the HTTP method ("GET", "POST", "PUT", "PATCH", "DELETE"). Required.
	Method string
	// Pattern is the path relative to the handler's mount point, with
	// "{name}" parameters ("/webhooks/{webhook}"). A "{session}" parameter names
	// a waqtor session and is checked by the handler itself. Required.
	Pattern string
	// Scope is the scope the principal must hold. Required; use ScopeNone only
	// for routes that must work without credentials.
	Scope auth.Scope
	// Owner checks the object named by a path parameter. Required when Pattern
	// has a parameter besides "{session}" that names an owned object.
	Owner *Owner
	// Unowned lists path parameters that do not name an owned object (for example
	// an enum such as "{format}"); the tenant matrix skips them.
	Unowned []string

	// OperationID is the OpenAPI operationId, unique in the document; camelCase.
	// Required.
	OperationID string
	// Summary is a one-line description. Required.
	Summary string
	// Description is a longer description (CommonMark).
	Description string
	// Query documents the query parameters.
	Query []Param
	// Idempotent says the route honours an Idempotency-Key header (documented
	// as a header parameter).
	Idempotent bool

	// Request is a value of the JSON request body's type (for example
	// SendTextRequest{}), or nil when the route takes no body. Its schema is
	// derived from exported fields and json tags; a type may describe itself by
	// implementing Schemer.
	Request any
	// Multipart is a value of a struct type describing a multipart/form-data
	// body accepted as an alternative to Request; []byte fields are files.
	Multipart any
	// RequestTypes are the media types of a body the handler reads itself
	// rather than as JSON ("text/csv", "application/x-ndjson"); each is
	// documented as a body of that type, beside Request's
	// application/json when Request is set too.
	RequestTypes []string
	// MaxBodyBytes caps the request body. Defaults to HandlerOpts.MaxBodyBytes.
	MaxBodyBytes int64
	// Response is a value of the JSON response body's type, or nil for a
	// response without a body (Status 204) or with ResponseType.
	Response any
	// ResponseType is the media type of a non-JSON response ("image/png",
	// "application/octet-stream"); the body is then documented as binary.
	ResponseType string
	// Status is the success status code. Defaults to 200 (204 when Response and
	// ResponseType are both empty).
	Status int
	// Problems lists the 4xx statuses the handler itself answers besides
	// those the metadata implies, for the OpenAPI document to declare (409
	// for an object that already exists, for example). Implied and declared
	// without listing: 401, 403 and 429 for an authenticated route; 400,
	// 413, 415 and 422 for a body; 400 for query parameters; 404 for a
	// {session} or an Owner; 409 for a POST on a session (not ready, banned,
	// already paired).
	Problems []int

	// Handler serves the route once every check above passed. The principal is
	// in the request context (auth.PrincipalFrom). Use DecodeJSON, WriteJSON
	// and WriteError, or HandleJSON, to keep errors and limits consistent.
	// Required.
	Handler http.Handler

	group        string      // the group's name, set by NewHandler
	fixedSession string      // set on the flat seed routes: the session they act on
	seedAliases  []seedAlias // the seed's field names a flat seed route accepts
	mediaBudget  bool        // the body counts against HandlerOpts.MediaMemoryBudget
	hasSession   bool        // the route acts on a {session} (or fixedSession)
	creates      string      // the object the route creates under the body's "id" (ExtCreates)
}

// ScopeNone marks a route that needs no credentials (Route.Scope).
const ScopeNone auth.Scope = "-"

// Owner says how to find who owns the object named by a path parameter.
type Owner struct {
	// Param is the path parameter naming the object ("webhook" for
	// "/webhooks/{webhook}"). Required.
	Param string
	// LookupFunc returns the owner of the object with this ID. It must return
	// an error wrapping ErrNotFound when there is no such object; any other
	// error is answered 500. r carries the path values, so an object nested in a
	// session can be looked up within it (r.PathValue("session")). Required.
	LookupFunc func(r *http.Request, id string) (*Ownership, error)
}

// Ownership is who owns an object.
type Ownership struct {
	// Session is the session the object belongs to, or "" for objects owned by
	// the tenant as a whole (keys, webhook endpoints). A principal narrowed to
	// some sessions sees only objects of those sessions (or of none).
	Session string
	// Tenant owns the object. Required.
	Tenant string
}

// Param documents a query parameter.
type Param struct {
	// Name is the parameter's name. Required.
	Name string
	// Description documents it.
	Description string
	// Required says the request must carry it.
	Required bool
	// Type is the JSON Schema type: "string" (the default), "integer" or "boolean".
	Type string
}

var (
	paramRe       = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)
	operationIDRe = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	tagRe         = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// pathParams returns the parameters of a pattern in order.
func pathParams(pattern string) []string {
	var out []string
	for _, m := range paramRe.FindAllStringSubmatch(pattern, -1) {
		out = append(out, m[1])
	}
	return out
}

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// validate checks a route's metadata; knownScopes are the scopes keys may hold.
func (rt *Route) validate(group string, knownScopes map[auth.Scope]string) error {
	where := fmt.Sprintf("rest: group %q: %s %s", group, rt.Method, rt.Pattern)
	switch {
	case !slices.Contains(methods, rt.Method):
		return fmt.Errorf("%s: Method must be one of %v", where, methods)
	case !strings.HasPrefix(rt.Pattern, "/") || strings.Contains(rt.Pattern, "//") || strings.ContainsAny(rt.Pattern, "*?#"):
		return fmt.Errorf("%s: Pattern must start with / and hold no //, *, ? or #", where)
	case rt.Handler == nil:
		return fmt.Errorf("%s: missing Handler", where)
	case strings.TrimSpace(rt.Summary) == "":
		return fmt.Errorf("%s: missing Summary (it is the OpenAPI summary)", where)
	case !operationIDRe.MatchString(rt.OperationID):
		return fmt.Errorf("%s: OperationID %q must be camelCase (%s)", where, rt.OperationID, operationIDRe)
	case rt.Scope == "":
		return fmt.Errorf("%s: missing Scope (use rest.ScopeNone for a public route)", where)
	}
	if rt.Scope != ScopeNone {
		if _, ok := knownScopes[rt.Scope]; !ok {
			return fmt.Errorf("%s: Scope %q is neither built in nor declared in the group's Scopes", where, rt.Scope)
		}
	}
	params := pathParams(rt.Pattern)
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p] {
			return fmt.Errorf("%s: path parameter {%s} appears twice", where, p)
		}
		seen[p] = true
		switch {
		case p == "session":
		case rt.Owner != nil && rt.Owner.Param == p:
		case slices.Contains(rt.Unowned, p):
		default:
			return fmt.Errorf("%s: path parameter {%s} names an object but the route has no Owner for it "+
				"(set Owner{Param: %q, LookupFunc: ...}, or list it in Unowned if it names no object)", where, p, p)
		}
	}
	if rt.Owner != nil {
		if !seen[rt.Owner.Param] || rt.Owner.Param == "session" {
			return fmt.Errorf("%s: Owner.Param %q is not a path parameter of the pattern (other than session)", where, rt.Owner.Param)
		}
		if rt.Owner.LookupFunc == nil {
			return fmt.Errorf("%s: Owner.LookupFunc is required", where)
		}
	}
	for _, st := range rt.Problems {
		if st < 400 || st > 499 {
			return fmt.Errorf("%s: Problems holds %d; list 4xx statuses (5xx are documented by the default response)", where, st)
		}
	}
	for _, q := range rt.Query {
		switch q.Type {
		case "", "string", "integer", "boolean":
		default:
			return fmt.Errorf("%s: query parameter %q has Type %q, want string, integer or boolean", where, q.Name, q.Type)
		}
	}
	if rt.Scope == ScopeNone && (slices.Contains(params, "session") || rt.Owner != nil) {
		return fmt.Errorf("%s: a public route (ScopeNone) cannot take owned objects", where)
	}
	return nil
}

func (g *RouteGroup) validate() error {
	if !tagRe.MatchString(g.Name) {
		return fmt.Errorf("rest: group name %q must match %s", g.Name, tagRe)
	}
	if len(g.Routes) == 0 {
		return fmt.Errorf("rest: group %q has no routes", g.Name)
	}
	for s := range g.Scopes {
		if !s.Valid() {
			return fmt.Errorf("rest: group %q declares invalid scope %q", g.Name, s)
		}
	}
	return nil
}
