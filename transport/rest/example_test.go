package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// Note is the object of the example feature below.
type Note struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Text   string `json:"text"`
}

// CreateNoteRequest is its create body.
type CreateNoteRequest struct {
	Text string `json:"text"`
}

// Validate names the offending field, as every request type should.
func (r *CreateNoteRequest) Validate() error {
	if r.Text == "" {
		return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: "text", Reason: "is required"}
	}
	return nil
}

// notes is a tiny feature that owns tenant-scoped objects.
type notes struct {
	mu   sync.Mutex
	byID map[string]*Note
}

// Routes is what a feature package exports: its route group.
func (n *notes) Routes() rest.RouteGroup {
	owner := &rest.Owner{Param: "note", LookupFunc: func(r *http.Request, id string) (*rest.Ownership, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if note, ok := n.byID[id]; ok {
			return &rest.Ownership{Tenant: note.Tenant}, nil
		}
		return nil, rest.ErrNotFound
	}}
	return rest.RouteGroup{
		Name:   "notes",
		Scopes: map[auth.Scope]string{"notes:write": "Create notes."},
		Routes: []rest.Route{
			{Method: "POST", Pattern: "/notes", Scope: "notes:write", OperationID: "createNote", Summary: "Create a note.",
				Request: CreateNoteRequest{}, Response: Note{}, Status: http.StatusCreated,
				Handler: rest.HandleJSON(func(r *http.Request, req *CreateNoteRequest) (*Note, error) {
					p, _ := auth.PrincipalFrom(r.Context())
					n.mu.Lock()
					defer n.mu.Unlock()
					note := &Note{ID: fmt.Sprintf("n%d", len(n.byID)+1), Tenant: p.Tenant, Text: req.Text}
					n.byID[note.ID] = note
					return note, nil
				})},
			// The handler checks the note's owner before this runs: a note of
			// another tenant answers 404, exactly like a missing one.
			{Method: "GET", Pattern: "/notes/{note}", Scope: auth.ScopeRead, OperationID: "getNote", Summary: "Get a note.",
				Owner: owner, Response: Note{},
				Handler: rest.HandleJSON(func(r *http.Request, _ *rest.NoBody) (*Note, error) {
					n.mu.Lock()
					defer n.mu.Unlock()
					return n.byID[r.PathValue("note")], nil
				})},
		},
	}
}

// A feature plugs its routes into the REST handler with a RouteGroup: the
// handler authenticates, checks scopes and ownership, limits bodies, maps
// errors to problem+json and documents the routes in /openapi.json.
func ExampleRouteGroup() {
	ctx := context.Background()
	var core *waqtor.Core // from waqtor.NewCore
	keys, err := auth.NewKeyStore(ctx, core, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	feature := &notes{byID: map[string]*Note{}}
	h, err := rest.NewHandler(core, &rest.HandlerOpts{Keys: keys, Groups: []rest.RouteGroup{feature.Routes()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
}
