package ws

import (
	"errors"
	"net/http"
	"time"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// TokenResponse is a browser token for the WebSocket.
type TokenResponse struct {
	ExpiresAt time.Time `json:"expires_at"`
	Token     string    `json:"token" doc:"Connect with ?token=<token>; single use, short-lived."`
}

// TokenRoutes returns the REST route group that issues browser tokens
// (POST /ws-token, scope read) for the hub's HubOpts.Tokens: a page's server
// side calls it with its API key and hands only the token to the browser,
// which connects with ?token=. Pass it in rest.HandlerOpts.Groups.
func (h *Hub) TokenRoutes() (rest.RouteGroup, error) {
	if h.opts.Tokens == nil {
		return rest.RouteGroup{}, errors.New("ws: TokenRoutes needs HubOpts.Tokens")
	}
	return rest.RouteGroup{
		Name:        "websocket",
		Description: "Short-lived tokens for browsers to open the WebSocket without holding an API key.",
		Routes: []rest.Route{{
			Method: "POST", Pattern: "/ws-token", Scope: auth.ScopeRead, OperationID: "createWSToken",
			Summary:     "Issue a short-lived, single-use WebSocket token for the calling key.",
			Description: "The token carries the key's tenant, scopes and sessions. Connect with `?token=<token>` from an allowed Origin.",
			Response:    TokenResponse{}, Status: http.StatusCreated,
			Handler: rest.HandleJSON(func(r *http.Request, _ *rest.NoBody) (*TokenResponse, error) {
				p, _ := auth.PrincipalFrom(r.Context())
				tok, exp, err := h.opts.Tokens.Issue(p)
				if err != nil {
					return nil, err
				}
				return &TokenResponse{ExpiresAt: exp, Token: tok}, nil
			}),
		}},
	}, nil
}
