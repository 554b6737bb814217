// Package api holds the wire types of waqtor's REST API: the request and
// response bodies of every built-in route, the RFC 9457 problem details, and
// the event frames of the WebSocket stream.
//
// It exists so that a program talking to a remote waqtor server (the client
// package, or your own) can use the same types as the server without linking
// the server: api imports only the standard library. Package rest serves these
// types (its request and response names are aliases of the ones here), so
// the OpenAPI document at /openapi.json describes exactly these structs.
//
// Request types validate themselves (Validate) with the server's own limits,
// and report the first invalid field as a *FieldError naming it. The server
// checks the same rules again, plus those that need its state (a session that
// exists, a phone number's country code).
//
// Message content is carried as raw JSON with a "type" member ("text",
// "image", "buttons", ...): decode it with waqtor.UnmarshalContent when you
// link the waqtor package, or read the fields you need.
//
// All types are plain data and safe to share between goroutines once built.
package api
