package auth

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/waqtor/waqtor"
)

// Scope names a permission a key may hold. Built-in scopes are below; features
// define their own ("webhooks:admin") in the same "area:action" form.
type Scope string

// The built-in scopes.
const (
	// ScopeAdmin holds every scope, within the key's tenant.
	ScopeAdmin Scope = "admin"
	// ScopeKeysAdmin creates, lists and revokes the tenant's API keys (never
	// granting more than the creating key holds).
	ScopeKeysAdmin Scope = "keys:admin"
	// ScopeMessagesSend sends messages, reactions, edits, revokes, read receipts
	// and typing indicators.
	ScopeMessagesSend Scope = "messages:send"
	// ScopeRead reads sessions, messages, media and events, and checks numbers.
	ScopeRead Scope = "read"
	// ScopeSessionsAdmin creates, pairs, restarts, logs out and deletes sessions.
	ScopeSessionsAdmin Scope = "sessions:admin"
)

// BuiltinScopes returns the scopes this package defines, sorted.
func BuiltinScopes() []Scope {
	return []Scope{ScopeAdmin, ScopeKeysAdmin, ScopeMessagesSend, ScopeRead, ScopeSessionsAdmin}
}

var (
	scopeRe  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}(:[a-z][a-z0-9_]{0,31})?$`)
	tenantRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// Valid reports whether s has the form of a scope: "area" or "area:action" in
// lower-case letters, digits and "_".
func (s Scope) Valid() bool { return scopeRe.MatchString(string(s)) }

// ValidTenant reports whether t is a valid tenant ID (the same slug form as
// session IDs).
func ValidTenant(t string) bool { return tenantRe.MatchString(t) }

// Principal is who a request acts for.
type Principal struct {
	// KeyID is the API key's ID, or "" for principals from a host's
	// AuthenticateFunc or a token not tied to a key.
	KeyID string `json:"key_id,omitempty"`
	// Name describes the principal for logs (the key's name, a user name).
	Name string `json:"name,omitempty"`
	// Scopes are the permissions held.
	Scopes []Scope `json:"scopes"`
	// Sessions narrows the principal to these sessions of its tenant; empty
	// means every session of the tenant.
	Sessions []string `json:"sessions,omitempty"`
	// Tenant owns everything the principal may see. Required.
	Tenant string `json:"tenant"`
}

// Allows reports whether p holds scope s (ScopeAdmin holds every scope).
func (p *Principal) Allows(s Scope) bool {
	if p == nil {
		return false
	}
	return slices.Contains(p.Scopes, s) || slices.Contains(p.Scopes, ScopeAdmin)
}

// AllowsSession reports whether p may touch the session with this ID, given
// that the session belongs to p's tenant (the caller checks that).
func (p *Principal) AllowsSession(id string) bool {
	if p == nil {
		return false
	}
	return len(p.Sessions) == 0 || slices.Contains(p.Sessions, id)
}

// Owns reports whether an object of tenant and session (session "" for objects
// not tied to a session) is visible to p.
func (p *Principal) Owns(tenant, session string) bool {
	if p == nil || tenant != p.Tenant {
		return false
	}
	return session == "" || p.AllowsSession(session)
}

// Subject is a stable identifier of the principal for rate limiting and logs:
// "key:<id>" or "name:<tenant>/<name>".
func (p *Principal) Subject() string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return "name:" + p.Tenant + "/" + p.Name
}

// Validate checks that p is usable: a valid tenant, valid scopes and session IDs.
func (p *Principal) Validate() error {
	if p == nil {
		return fmt.Errorf("%w: nil principal", ErrInvalidKey)
	}
	if !ValidTenant(p.Tenant) {
		return fmt.Errorf("%w: tenant %q must match %s", ErrInvalidKey, p.Tenant, tenantRe)
	}
	for i, s := range p.Scopes {
		if !s.Valid() {
			return fmt.Errorf("%w: scopes[%d]: %q must match %s", ErrInvalidKey, i, s, scopeRe)
		}
	}
	for i, s := range p.Sessions {
		if !tenantRe.MatchString(s) {
			return fmt.Errorf("%w: sessions[%d]: %q is not a session ID", ErrInvalidKey, i, s)
		}
	}
	return nil
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p, and p's tenant for the Core
// (waqtor.WithTenant): session IDs in calls made with the returned context are
// resolved within p's tenant, never another tenant's.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, p)
	if p != nil {
		ctx = waqtor.WithTenant(ctx, p.Tenant)
	}
	return ctx
}

// PrincipalFrom returns the principal the transports stored in ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// AuthenticateFunc maps a request to its principal. It returns an error
// wrapping ErrUnauthenticated when the request carries no valid credentials;
// transports answer 401 (other errors are answered 500 and logged). It must not
// write to w and must be safe for concurrent use.
type AuthenticateFunc func(r *http.Request) (*Principal, error)

// Header names that carry API keys.
const (
	// HeaderAPIKey carries a key: "X-API-Key: wqt_…".
	HeaderAPIKey = "X-API-Key"
)

// KeyFromRequest returns the credential of r from the X-API-Key header or an
// "Authorization: Bearer" header, or "" when there is none. Keys in the query
// string are deliberately not read: URLs end up in logs.
func KeyFromRequest(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get(HeaderAPIKey)); k != "" {
		return k
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Chain returns an AuthenticateFunc that tries each function in order and
// returns the first principal; a function that finds no credentials it
// understands returns ErrUnauthenticated to pass to the next.
func Chain(fns ...AuthenticateFunc) AuthenticateFunc {
	return func(r *http.Request) (*Principal, error) {
		var last error = ErrUnauthenticated
		for _, fn := range fns {
			if fn == nil {
				continue
			}
			p, err := fn(r)
			if err == nil {
				return p, nil
			}
			last = err
		}
		return nil, last
	}
}
