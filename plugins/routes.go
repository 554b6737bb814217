package plugins

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/transport/rest"
)

// ScopePluginsAdmin lets a key restart plugins and run their commands.
const ScopePluginsAdmin auth.Scope = "plugins:admin"

// OperatorTenantDefault owns the plugins that serve every tenant.
const OperatorTenantDefault = "default"

// RoutesOpts configures Routes.
type RoutesOpts struct {
	// OperatorTenant owns the plugins that serve every tenant (PluginConfig.Tenant
	// ""): only its keys see and manage them. A plugin restricted to a tenant
	// belongs to that tenant. Defaults to OperatorTenantDefault ("default").
	OperatorTenant string
}

// PluginList is the response of GET /plugins.
type PluginList struct {
	// Plugins are the plugins the caller's tenant owns, in configuration order.
	Plugins []*Status `json:"plugins"`
}

// CommandResult is the response of POST /plugins/{plugin}/commands/{command}.
type CommandResult struct {
	// Result is the command's JSON result.
	Result json.RawMessage `json:"result"`
}

// DeadLetterList is the response of GET /plugins/{plugin}/dead-letters.
type DeadLetterList struct {
	// DeadLetters are the events the plugin gave up on, in log order.
	DeadLetters []*DeadLetter `json:"dead_letters"`
	// Next continues the listing (as after_seq), 0 at the end.
	Next int64 `json:"next,omitempty"`
}

// Routes returns the plugins' REST route group, for rest.HandlerOpts.Groups:
//
//	GET  /plugins                              list plugins with state, restarts, last error, backlog
//	GET  /plugins/{plugin}                     one plugin
//	POST /plugins/{plugin}/restart             restart now (and reset the breaker)
//	POST /plugins/{plugin}/commands/{command}  run a plugin command; the body is its JSON arguments
//	GET  /plugins/{plugin}/dead-letters        the events the plugin gave up on
//
// Reading needs the read scope; restarting and commands need
// ScopePluginsAdmin.
func (h *Host) Routes(opts *RoutesOpts) rest.RouteGroup {
	operator := OperatorTenantDefault
	if opts != nil {
		operator = cmp.Or(opts.OperatorTenant, OperatorTenantDefault)
	}
	owner := func(s *supervisor) string { return cmp.Or(s.cfg.Tenant, operator) }
	lookup := &rest.Owner{Param: "plugin", LookupFunc: func(_ *http.Request, id string) (*rest.Ownership, error) {
		s, ok := h.sups[id]
		if !ok {
			return nil, fmt.Errorf("%w: plugin %q", rest.ErrNotFound, id)
		}
		return &rest.Ownership{Tenant: owner(s)}, nil
	}}
	return rest.RouteGroup{
		Name:        "plugins",
		Description: "Plugins: supervised plugin processes, their state, commands and dead letters.",
		Scopes:      map[auth.Scope]string{ScopePluginsAdmin: "Restart plugins and run their commands."},
		Routes: []rest.Route{
			{
				Method: http.MethodGet, Pattern: "/plugins", Scope: auth.ScopeRead,
				OperationID: "listPlugins", Summary: "List plugins",
				Description: "Every plugin of the caller's tenant with its state (starting, running, restarting, " +
					"breaker_open, failed, stopped), restarts, last error, backlog and dead letters.",
				Response: PluginList{},
				Handler: rest.HandleJSON(func(r *http.Request, _ *rest.NoBody) (*PluginList, error) {
					p, _ := auth.PrincipalFrom(r.Context())
					out := &PluginList{Plugins: []*Status{}}
					for _, name := range h.order {
						if s := h.sups[name]; p != nil && owner(s) == p.Tenant {
							out.Plugins = append(out.Plugins, h.snapshot(r.Context(), s))
						}
					}
					return out, nil
				}),
			},
			{
				Method: http.MethodGet, Pattern: "/plugins/{plugin}", Scope: auth.ScopeRead, Owner: lookup,
				OperationID: "getPlugin", Summary: "Get a plugin", Response: Status{},
				Handler: rest.HandleJSON(func(r *http.Request, _ *rest.NoBody) (*Status, error) {
					st, err := h.Status(r.Context(), r.PathValue("plugin"))
					return st, routeError(err)
				}),
			},
			{
				Method: http.MethodPost, Pattern: "/plugins/{plugin}/restart", Scope: ScopePluginsAdmin, Owner: lookup,
				OperationID: "restartPlugin", Summary: "Restart a plugin",
				Description: "Stops the plugin's process (if any) and starts it again at once, resetting its breaker. " +
					"Answers 202 with the state at the time of the request; follow plugin.status events.",
				Response: Status{}, Status: http.StatusAccepted,
				Handler: rest.HandleJSON(func(r *http.Request, _ *rest.NoBody) (*Status, error) {
					name := r.PathValue("plugin")
					if err := h.Restart(r.Context(), name); err != nil {
						return nil, routeError(err)
					}
					st, err := h.Status(r.Context(), name)
					return st, routeError(err)
				}),
			},
			{
				Method: http.MethodPost, Pattern: "/plugins/{plugin}/commands/{command}", Scope: ScopePluginsAdmin,
				Owner: lookup, Unowned: []string{"command"},
				OperationID: "runPluginCommand", Summary: "Run a plugin command",
				Description: "The body is the command's JSON arguments (an empty body is {}); the plugin's JSON result " +
					"is returned as result. A plugin that is not running answers 503.",
				Request: json.RawMessage{}, Response: CommandResult{},
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, err := io.ReadAll(r.Body)
					if err != nil {
						var mbe *http.MaxBytesError
						if errors.As(err, &mbe) {
							rest.WriteError(w, r, rest.NewProblem(http.StatusRequestEntityTooLarge, rest.TypeBodyTooLarge,
								fmt.Sprintf("the body exceeds %d bytes", mbe.Limit)))
							return
						}
						rest.WriteError(w, r, rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, "could not read the body"))
						return
					}
					if len(body) > 0 && !json.Valid(body) {
						rest.WriteError(w, r, rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, "the body is not JSON"))
						return
					}
					res, err := h.Command(r.Context(), r.PathValue("plugin"), r.PathValue("command"), body)
					if err != nil {
						rest.WriteError(w, r, routeError(err))
						return
					}
					if len(res) == 0 {
						res = json.RawMessage("null")
					}
					rest.Respond(w, r, &CommandResult{Result: res})
				}),
			},
			{
				Method: http.MethodGet, Pattern: "/plugins/{plugin}/dead-letters", Scope: auth.ScopeRead, Owner: lookup,
				OperationID: "listPluginDeadLetters", Summary: "List a plugin's dead letters",
				Description: "Events the plugin failed on MaxEventAttempts times (crash, hang or error); the host " +
					"recorded them and moved on. A SIGKILL from outside never counts.",
				Query: []rest.Param{
					{Name: "after_seq", Type: "integer", Description: "continue after this event sequence number"},
					{Name: "limit", Type: "integer", Description: "page size, 1 to 1000 (default 100)"},
				},
				Response: DeadLetterList{},
				Handler: rest.HandleJSON(func(r *http.Request, _ *rest.NoBody) (*DeadLetterList, error) {
					after, err := rest.QueryInt(r, "after_seq", 0, 0, 1<<62)
					if err != nil {
						return nil, err
					}
					limit, err := rest.QueryInt(r, "limit", 100, 1, 1000)
					if err != nil {
						return nil, err
					}
					dls, err := h.DeadLetters(r.Context(), r.PathValue("plugin"), &DeadLetterListParams{AfterSeq: int64(after), Limit: limit})
					if err != nil {
						return nil, routeError(err)
					}
					out := &DeadLetterList{DeadLetters: dls}
					if out.DeadLetters == nil {
						out.DeadLetters = []*DeadLetter{}
					}
					if len(dls) == limit {
						out.Next = dls[len(dls)-1].Seq
					}
					return out, nil
				}),
			},
		},
	}
}

// routeError maps this package's errors to problems; others go to
// rest.WriteError's own mapping.
func routeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPluginNotFound):
		return rest.NewProblem(http.StatusNotFound, rest.TypeNotFound, "plugin not found")
	case errors.Is(err, ErrUnknownCommand):
		return rest.NewProblem(http.StatusNotFound, rest.TypeNotFound, "the plugin offers no such command")
	case errors.Is(err, ErrInvalidArgs):
		return rest.NewProblem(http.StatusUnprocessableEntity, rest.TypeValidation, trim(err))
	case errors.Is(err, ErrNotRunning), errors.Is(err, ErrStopped):
		return rest.NewProblem(http.StatusServiceUnavailable, rest.TypeUnavailable, trim(err))
	case errors.Is(err, ErrTimeout):
		return rest.NewProblem(http.StatusGatewayTimeout, rest.TypeUnavailable, trim(err))
	case isPluginError(err):
		return rest.NewProblem(http.StatusBadGateway, rest.TypeInternal, "the plugin failed: "+trim(err))
	}
	return err
}

// isPluginError reports an error the plugin returned that maps to none of
// waqtor's.
func isPluginError(err error) bool {
	var re *fromproto.RemoteError
	return errors.As(err, &re) && re.Sentinel == nil
}

func trim(err error) string { return strings.ReplaceAll(err.Error(), "plugins: ", "") }
