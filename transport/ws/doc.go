// Package ws is waqtor's WebSocket endpoint: a [Hub] on coder/websocket that
// streams the Core's events to authenticated clients, mountable at any path
// of the host's router (outside request-timeout middleware).
//
//	hub, _ := ws.NewHub(core, &ws.HubOpts{Keys: keys})
//	_ = hub.Start(ctx)
//	r.Handle("/ws", hub)
//
// # Protocol
//
// Every frame is a JSON text message with a "type". The server sends
// "welcome" and "state" (the sessions' states and QR codes) on connect. The
// client sends:
//
//	{"type":"subscribe","topics":["message.*","session.status"],"sessions":["s1"],"after":42}
//	{"type":"unsubscribe","topics":["message.*"]}
//	{"type":"ping"}
//	{"type":"get_state"}
//
// Topics are event kinds ("message.sent"), "<area>.*" or "*"; sessions
// optionally narrows the subscription to some sessions; after resumes: every
// event after that event ID is replayed from the durable event log before the
// live ones, so a client that reconnects (even to a restarted server) misses
// nothing. The server answers "subscribed", "unsubscribed", "pong", "state",
// "error" (a refused frame; nothing changed), "rate_limit_exceeded", and
// sends events as
//
//	{"type":"event","id":43,"topic":"message.sent","event_id":"evt_…","session":"s1","tenant":"default","timestamp":"…","data":{…}}
//
// where id is the event-log sequence to pass back as after.
//
// "rate_limit_exceeded" carries retry_after, the seconds until a frame is
// accepted, and the same value as retryAfter: the seed protocol's name, the
// one camelCase field, kept as an alias for its clients (new clients read
// retry_after).
//
// # Security and limits
//
// A connection authenticates on the upgrade request with an API key
// (X-API-Key or Authorization: Bearer) or, for browsers, a single-use token
// from the REST route of [Hub.TokenRoutes] (?token=). The seed's ?apiKey=
// is accepted only with HubOpts.InsecureAllowQueryAPIKey (off by default: a
// key in a URL leaks into logs and proxies). It sees only its
// principal's tenant and sessions and needs the "read" scope; a
// subscription naming a session outside them is refused like an unknown one.
// Every credential failure gets the same 401. Browser (token) connections
// must come from an allowed Origin; API-key connections may send no Origin.
// Connections are capped in total (MaxConnections, 503 beyond), per tenant
// (MaxConnectionsPerTenant, 429) and per API key (MaxConnectionsPerKey, 429;
// token connections count against their tenant only), so that one tenant
// cannot take every slot. A token is spent only once the connection is
// admitted: one refused with 403 (Origin), 503 (hub full) or 429 (a cap) may
// be retried.
// Revoking a key through the hub's KeyStore (DELETE /keys/{id}) closes the
// key's connections at once with 1008 "key revoked", those opened with tokens
// it minted included, and the tokens it minted no longer open one (a token
// carries its key's ID, whose state is read from the database). A key revoked
// by another process sharing the database, or that expires, loses its
// connections within KeyRecheckInterval.
// The hub logs connections and refusals at debug level with the URL passed
// through [RedactURL]; hosts that log requests should do the same, or tokens
// end up in access logs.
//
// Client frames are capped in size (1009 beyond): the cap applies after
// permessage-deflate and across fragments, and inflating stops at the cap, so
// a frame's memory stays under twice MaxFrameBytes whatever the client sends.
// String fields are capped in length, and frames in rate (a token bucket per
// connection; rate_limit_exceeded, then 1008 after repeated violations, once
// the replies owed to the frames within the limit and the warnings are
// written, for at most WriteTimeout). Each
// connection has a send queue bounded in bytes: a client that falls behind is
// closed with 1008 and never slows the others. The server pings every
// PingInterval and cuts a peer whose pong does not come within PongTimeout (a
// dead link included). Authentication happens on the upgrade request only, so
// a socket that never completes one is the http.Server's to close: set its
// ReadHeaderTimeout. Stop closes every client with 1001.
package ws
