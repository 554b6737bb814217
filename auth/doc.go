// Package auth is waqtor's API-key authentication and authorization, shared by
// the HTTP transports (transport/rest, transport/ws) and the features that plug
// routes into them (webhooks, plugins, ...).
//
// # Principals
//
// Every authenticated request carries a [Principal]: the tenant it acts for,
// its scopes, and optionally the tenant's sessions it may touch. A principal
// never sees another tenant's objects: the transports answer 404 for them, the
// same as for objects that do not exist.
//
// # API keys
//
// A [KeyStore] keeps API keys in the Core's database (its own tables, migrated
// as the "auth" component). A key looks like
//
//	wqt_3fK9aLq0ZbX7yT2mN8pQ4rS6uV1wC5dE0gH2jK7_1a2B3c
//
// "wqt_" and 40 base62 characters (a 10-character public ID and a 30-character
// secret) followed by a 6-character CRC-32 checksum, so a key is recognisable in
// logs and by secret scanners, and a mistyped key is refused before any
// database lookup. Only the SHA-256 digest is stored; digests are compared with
// [crypto/subtle.ConstantTimeCompare]. [KeyStore.Create] returns the plaintext
// once.
//
// # Host authentication
//
// A host that has its own users plugs in an [AuthenticateFunc] instead of (or
// on top of) API keys: it maps a request to a Principal.
//
// # Browser tokens
//
// Browsers must not hold API keys. [Tokens] issues short-lived, single-use,
// HMAC-signed tokens for a principal (the REST route POST /ws-token returns
// one); the WebSocket accepts them in place of a key.
package auth
