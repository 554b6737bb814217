package auth

import "errors"

// Errors of this package.
var (
	// ErrUnauthenticated reports a request without valid credentials: no key, a
	// malformed, unknown, expired or revoked key, or a bad token. The transports
	// answer 401 and never say which.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrForbidden reports a principal that lacks the scope or session an action
	// needs.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrInvalidKey reports a key parameter that fails validation (scopes,
	// sessions, name); the message names the field.
	ErrInvalidKey = errors.New("auth: invalid key parameters")
	// ErrKeyNotFound reports an unknown key ID (or one of another tenant).
	ErrKeyNotFound = errors.New("auth: key not found")
	// ErrKeyExists reports an imported key that is already stored.
	ErrKeyExists = errors.New("auth: key already exists")
	// ErrKeyExpired reports a key past its expiry (KeyStore.CheckActive).
	ErrKeyExpired = errors.New("auth: key expired")
	// ErrKeyRevoked reports a revoked key (KeyStore.CheckActive).
	ErrKeyRevoked = errors.New("auth: key revoked")
)
