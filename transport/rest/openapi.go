package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// Schemer is implemented by types that describe their own JSON Schema (for
// example types with a custom MarshalJSON). Schema returns a JSON Schema
// 2020-12 object; it may reference other components with
// {"$ref": "#/components/schemas/Name"} only for types the document already
// has.
type Schemer interface {
	JSONSchema() map[string]any
}

// OpenAPI extension fields the handler adds to every operation; the tenant
// matrix (resttest.RunTenantMatrix) reads them.
const (
	// ExtScope holds the route's scope.
	ExtScope = "x-waqtor-scope"
	// ExtOwner holds Route.Owner.Param.
	ExtOwner = "x-waqtor-owner"
	// ExtSession is true for routes that act on a session: a {session}
	// parameter, or the default session for the flat seed routes
	// (ExtFixedSession names it).
	ExtSession = "x-waqtor-session"
	// ExtFixedSession names the session a flat seed route acts on.
	ExtFixedSession = "x-waqtor-fixed-session"
	// ExtUnowned lists Route.Unowned.
	ExtUnowned = "x-waqtor-unowned"
	// ExtCreates names the kind of object a route creates under an ID the
	// client chooses in the body's "id" field ("session" for POST /sessions).
	// IDs are scoped per tenant: the tenant matrix checks that another
	// tenant's ID is as free to the intruder as a fresh one.
	ExtCreates = "x-waqtor-creates"
)

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawType     = reflect.TypeFor[json.RawMessage]()
	bytesType   = reflect.TypeFor[[]byte]()
	schemerType = reflect.TypeFor[Schemer]()
	messageType = reflect.TypeFor[waqtor.Message]()
	wireMsgType = reflect.TypeFor[api.Message]()
)

// isMessage reports whether t is a message type whose content is described by
// contentSchema.
func isMessage(t reflect.Type) bool { return t == messageType || t == wireMsgType }

// schemas builds component schemas from Go types.
type schemas struct {
	defs  map[string]any
	names map[reflect.Type]string
}

func newSchemas() *schemas {
	return &schemas{defs: map[string]any{}, names: map[reflect.Type]string{}}
}

func (s *schemas) nameFor(t reflect.Type) string {
	if n, ok := s.names[t]; ok {
		return n
	}
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 { // generic instantiation
		name = name[:i]
	}
	taken := func(n string) bool {
		for tt, nn := range s.names {
			if nn == n && tt != t {
				return true
			}
		}
		return false
	}
	if taken(name) {
		pkg := t.PkgPath()
		pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
		name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
	}
	s.names[t] = name
	return name
}

// schemaOf returns the schema of t, registering named structs as components.
func (s *schemas) schemaOf(t reflect.Type, multipart bool) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(schemerType) || reflect.PointerTo(t).Implements(schemerType) {
		v := reflect.New(t)
		if t.Implements(schemerType) {
			return v.Elem().Interface().(Schemer).JSONSchema()
		}
		return v.Interface().(Schemer).JSONSchema()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	case t == bytesType:
		if multipart {
			return map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}
		}
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": s.schemaOf(t.Elem(), multipart)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.schemaOf(t.Elem(), multipart)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return s.structSchema(t, multipart)
		}
		name := s.nameFor(t)
		if multipart && !strings.HasSuffix(name, "Form") {
			name += "Form"
		}
		if _, ok := s.defs[name]; !ok {
			s.defs[name] = map[string]any{} // break cycles
			s.defs[name] = s.structSchema(t, multipart)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (s *schemas) structSchema(t reflect.Type, multipart bool) map[string]any {
	props := map[string]any{}
	var required []string
	s.addFields(t, props, &required, multipart)
	if isMessage(t) {
		// Message.MarshalJSON adds the content with its "type" field.
		props["content"] = contentSchema
		required = append(required, "content")
	}
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		slices.Sort(required)
		out["required"] = required
	}
	return out
}

// contentSchema describes waqtor.Content on the wire (MarshalContent).
var contentSchema = map[string]any{
	"type":        "object",
	"description": "Message content, discriminated by type: text, image, video, audio, document, sticker, location, contact, poll, poll_vote, reaction, edit, revoke, buttons, list.",
	"properties": map[string]any{"type": map[string]any{"type": "string", "enum": []string{
		"audio", "buttons", "contact", "document", "edit", "image", "list", "location", "poll", "poll_vote", "reaction", "revoke", "sticker", "text", "video"}}},
	"required": []string{"type"},
}

func (s *schemas) addFields(t reflect.Type, props map[string]any, required *[]string, multipart bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				s.addFields(ft, props, required, multipart)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if isMessage(t) && f.Name == "Content" {
			continue
		}
		sch := s.schemaOf(f.Type, multipart)
		if d := f.Tag.Get("doc"); d != "" {
			if _, isRef := sch["$ref"]; isRef {
				sch = map[string]any{"allOf": []any{sch}, "description": d}
			} else {
				sch = cloneMap(sch)
				sch["description"] = d
			}
		}
		props[name] = sch
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if !omit && !multipart {
			*required = append(*required, name)
		}
	}
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// problemSchema describes Problem.
var problemSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"type":     map[string]any{"type": "string", "format": "uri"},
		"title":    map[string]any{"type": "string"},
		"status":   map[string]any{"type": "integer"},
		"detail":   map[string]any{"type": "string"},
		"instance": map[string]any{"type": "string"},
		"errors": map[string]any{"type": "array", "items": map[string]any{
			"type":       "object",
			"properties": map[string]any{"field": map[string]any{"type": "string"}, "reason": map[string]any{"type": "string"}},
			"required":   []string{"field", "reason"},
		}},
	},
	"required": []string{"type", "title", "status"},
}

// problemDescriptions describe the problem responses an operation declares.
var problemDescriptions = map[int]string{
	http.StatusBadRequest:            "Malformed body (not one JSON object, unknown or repeated member, wrong type) or bad query parameter (" + TypeBadRequest + ").",
	http.StatusUnauthorized:          "No credentials, or a malformed, unknown, expired or revoked key (" + TypeUnauthorized + ").",
	http.StatusForbidden:             "The key lacks the route's scope (" + TypeForbidden + ").",
	http.StatusNotFound:              "No such session or object, or one the key may not see (" + TypeNotFound + ").",
	http.StatusConflict:              "The session is not ready, is banned or already paired, the object exists, or the contact opted out (" + TypeSessionNotReady + ", " + TypeAlreadyPaired + ", " + TypeConflict + ", " + TypeOptedOut + ").",
	http.StatusRequestEntityTooLarge: "The body or the media is too large (" + TypeBodyTooLarge + ", " + TypeMediaTooLarge + ").",
	http.StatusUnsupportedMediaType:  "The body is not of an accepted media type (" + TypeUnsupportedMediaType + ").",
	http.StatusUnprocessableEntity:   "A well-formed body with invalid values; errors names each field (" + TypeValidation + ", " + TypeMediaFetch + ").",
	http.StatusTooManyRequests:       "Too many requests or failed authentications; see Retry-After (" + TypeRateLimited + ").",
}

// problemStatuses returns the 4xx statuses rt answers, sorted: implied by its
// metadata (see Route.Problems) and listed in Route.Problems.
func (rt *Route) problemStatuses() []int {
	set := map[int]bool{}
	if rt.Scope != ScopeNone {
		set[http.StatusUnauthorized], set[http.StatusForbidden], set[http.StatusTooManyRequests] = true, true, true
	}
	if rt.Request != nil || rt.Multipart != nil || len(rt.RequestTypes) > 0 {
		set[http.StatusBadRequest], set[http.StatusRequestEntityTooLarge] = true, true
		set[http.StatusUnsupportedMediaType], set[http.StatusUnprocessableEntity] = true, true
	}
	if len(rt.Query) > 0 {
		set[http.StatusBadRequest] = true
	}
	if rt.Idempotent {
		set[http.StatusUnprocessableEntity] = true // a bad Idempotency-Key
	}
	if rt.hasSession || rt.Owner != nil {
		set[http.StatusNotFound] = true
	}
	if rt.hasSession && rt.Method == http.MethodPost {
		set[http.StatusConflict] = true
	}
	for _, st := range rt.Problems {
		set[st] = true
	}
	out := make([]int, 0, len(set))
	for st := range set {
		out = append(out, st)
	}
	slices.Sort(out)
	return out
}

// document builds (once) the OpenAPI document; base is the server URL.
func (h *handler) document(base string) (map[string]any, error) {
	h.docOnce.Do(func() { h.doc, h.docErr = h.buildDocument() })
	if h.docErr != nil {
		return nil, h.docErr
	}
	doc := cloneMap(h.doc)
	if base == "" {
		base = "/"
	}
	doc["servers"] = []any{map[string]any{"url": base}}
	return doc, nil
}

func (h *handler) buildDocument() (map[string]any, error) {
	s := newSchemas()
	paths := map[string]any{}
	problemRef := map[string]any{"$ref": "#/components/schemas/Problem"}
	problemResp := map[string]any{
		"description": "An error, as RFC 9457 problem details; see the type URIs under components.x-waqtor-problem-types.",
		"content":     map[string]any{"application/problem+json": map[string]any{"schema": problemRef}},
	}
	for _, rt := range h.routes {
		op := map[string]any{
			"operationId": rt.OperationID,
			"summary":     rt.Summary,
			"tags":        []string{rt.group},
			ExtScope:      string(rt.Scope),
		}
		if rt.Description != "" {
			op["description"] = rt.Description
		}
		if rt.Scope == ScopeNone {
			op["security"] = []any{}
		} else if desc, ok := h.knownScopes[rt.Scope]; ok {
			d := rt.Description
			if d != "" {
				d += "\n\n"
			}
			op["description"] = d + fmt.Sprintf("Requires the `%s` scope (%s)", rt.Scope, strings.TrimSuffix(desc, "."))
		}
		if rt.Owner != nil {
			op[ExtOwner] = rt.Owner.Param
		}
		if rt.hasSession {
			op[ExtSession] = true
		}
		if rt.fixedSession != "" {
			op[ExtFixedSession] = rt.fixedSession
		}
		if len(rt.Unowned) > 0 {
			op[ExtUnowned] = rt.Unowned
		}
		if rt.creates != "" {
			op[ExtCreates] = rt.creates
		}
		var params []any
		for _, p := range pathParams(rt.Pattern) {
			d := "ID of the " + p + "."
			if p == "session" {
				d = "Session ID."
			}
			params = append(params, map[string]any{"name": p, "in": "path", "required": true, "description": d,
				"schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			typ := q.Type
			if typ == "" {
				typ = "string"
			}
			params = append(params, map[string]any{"name": q.Name, "in": "query", "required": q.Required,
				"description": q.Description, "schema": map[string]any{"type": typ}})
		}
		if rt.Idempotent {
			params = append(params, map[string]any{"name": HeaderIdempotencyKey, "in": "header", "required": false,
				"description": "Makes the request safe to retry: a repeated key returns the first result and sends nothing (at most 255 printable characters).",
				"schema":      map[string]any{"type": "string", "maxLength": 255}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Request != nil || rt.Multipart != nil || len(rt.RequestTypes) > 0 {
			content := map[string]any{}
			for _, mt := range rt.RequestTypes {
				content[mt] = map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": mt}}
			}
			if rt.Request != nil {
				sch := s.schemaOf(reflect.TypeOf(rt.Request), false)
				if ref, ok := sch["$ref"].(string); ok && rt.seedAliases != nil {
					name := strings.TrimPrefix(ref, "#/components/schemas/")
					seedName := "Seed" + name
					if _, done := s.defs[seedName]; !done {
						s.defs[seedName] = seedSchema(s.defs[name].(map[string]any), rt.seedAliases)
					}
					sch = map[string]any{"$ref": "#/components/schemas/" + seedName}
				}
				content["application/json"] = map[string]any{"schema": sch}
			}
			if rt.Multipart != nil {
				content["multipart/form-data"] = map[string]any{"schema": s.schemaOf(reflect.TypeOf(rt.Multipart), true)}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		ok := map[string]any{"description": http.StatusText(rt.Status)}
		switch {
		case rt.ResponseType != "":
			ok["content"] = map[string]any{rt.ResponseType: map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": rt.ResponseType}}}
		case rt.Response != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s.schemaOf(reflect.TypeOf(rt.Response), false)}}
		}
		responses := map[string]any{fmt.Sprint(rt.Status): ok, "default": problemResp}
		for _, st := range rt.problemStatuses() {
			responses[strconv.Itoa(st)] = map[string]any{"description": problemDescriptions[st],
				"content": map[string]any{"application/problem+json": map[string]any{"schema": problemRef}}}
		}
		op["responses"] = responses
		item, _ := paths[rt.Pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Pattern] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	paths["/openapi.json"] = map[string]any{"get": map[string]any{
		"operationId": "getOpenAPI", "summary": "This OpenAPI document.", "tags": []string{"meta"}, "security": []any{},
		ExtScope: string(ScopeNone),
		"responses": map[string]any{"200": map[string]any{"description": "OK",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}},
	}}
	s.defs["Problem"] = problemSchema
	var tags []any
	for _, g := range h.groups {
		t := map[string]any{"name": g.Name}
		if g.Description != "" {
			t["description"] = g.Description
		}
		tags = append(tags, t)
	}
	tags = append(tags, map[string]any{"name": "meta", "description": "The API's own description."})
	scopes := map[string]any{}
	for sc, d := range h.knownScopes {
		scopes[string(sc)] = d
	}
	types := map[string]any{}
	for typ, title := range titles {
		types[typ] = title
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   h.opts.Title,
			"version": "1.0.0",
			"description": "waqtor's REST API. Authenticate with an API key in `X-API-Key` or `Authorization: Bearer`. " +
				"Objects of other tenants answer 404, exactly like missing ones. Errors are RFC 9457 problem details.",
		},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas": s.defs,
			"securitySchemes": map[string]any{
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": auth.HeaderAPIKey},
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security":               []any{map[string]any{"apiKey": []any{}}, map[string]any{"bearer": []any{}}},
		"x-waqtor-scopes":        scopes,
		"x-waqtor-problem-types": types,
	}
	// Round-trip through JSON once, so that the served document is plain data.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("rest: build OpenAPI document: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (h *handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := h.document(basePath(r, "/openapi.json"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	WriteJSON(w, http.StatusOK, doc)
}
