// Package rest is waqtor's REST API: an http.Handler (chi inside, nothing
// chi-specific exported) that a host mounts at any prefix, behind any
// middleware:
//
//	keys, _ := auth.NewKeyStore(ctx, core, nil)
//	h, _ := rest.NewHandler(core, &rest.HandlerOpts{Keys: keys})
//	r.Mount("/api", h)                               // chi
//	mux.Handle("/api/", http.StripPrefix("/api", h))  // net/http
//
// It serves every Core command and query (sessions, messages, contacts), the
// API-key admin routes (/keys), the seed's flat routes acting on the default
// session (POST /messages/send-text, GET /session/state, ...), the routes of
// feature route groups, and the OpenAPI 3.1 document of all of them at
// /openapi.json.
//
// # Route groups: how features add routes
//
// A feature (webhooks, plugins, campaigns, SmartBot) exports a [RouteGroup]
// and the host passes it in [HandlerOpts].Groups. Each [Route] declares its
// method, pattern, required scope, the path parameter naming an owned object
// ([Owner]), its request and response types, operationId and summary. From
// that metadata alone the handler
//
//   - authenticates (API key or the host's [auth.AuthenticateFunc]; 401),
//   - checks the scope (403) and the per-key rate limit (429, Retry-After),
//   - checks that a {session} parameter names a session of the principal's
//     tenant and sessions, and that the Owner's object belongs to them (404,
//     never 403: no existence oracle),
//   - caps the body (413),
//   - documents the route in /openapi.json (with x-waqtor-scope,
//     x-waqtor-owner and x-waqtor-session extensions),
//
// and [resttest.RunTenantMatrix] generates the tenant-isolation test of
// every owned route from the same document. NewHandler refuses a route whose
// metadata is incomplete, in particular a path parameter without an Owner.
// See ExampleRouteGroup for a complete group.
//
// Handlers stay plain http.Handlers: read path values with r.PathValue, the
// principal with [auth.PrincipalFrom], decode with [DecodeJSON] (strict:
// unknown fields and trailing data refused, Validate called) or use the
// typed adapter [HandleJSON], and answer errors with [WriteError], which maps
// waqtor and auth errors to RFC 9457 problem+json with a stable type (the
// Type constants).
//
// # Wire types
//
// The request and response bodies of the built-in routes are package api's
// (the names here are aliases), so that a client can share them without
// linking this package, chi or a database driver: see package client.
//
// # Errors
//
// Every error is application/problem+json with a "type" from the Type
// constants, a fixed "title", the "status", a "detail", and for input errors
// an "errors" list naming each field ({"field":"text","reason":"is
// required"}). Nothing is stored or sent when a request is refused.
package rest
