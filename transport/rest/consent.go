package rest

import (
	"net/http"
	"net/url"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// ScopeConsentWrite records contacts' consent (PUT /consent/{contact}).
// Reading the registry needs auth.ScopeRead.
const ScopeConsentWrite auth.Scope = "consent:write"

// Request and response types of the consent routes (package api's).
type (
	// ConsentRequest is the body of PUT /consent/{contact}.
	ConsentRequest = api.ConsentRequest
	// ConsentList is the response of GET /consent.
	ConsentList = api.ConsentList
	// ContactConsent is the response of GET /consent/{contact}.
	ContactConsent = api.ContactConsent
)

func (h *handler) consentRoutes() []Route {
	contactDoc := "The contact in the path is a phone number (`+201001234567`, URL-encoded as `%2B201001234567` or written without the `+`), " +
		"a user JID (`201001234567@s.whatsapp.net`, recorded as its number) or a LID (`123@lid`, recorded as such)."
	return []Route{
		{Method: "GET", Pattern: "/consent", Scope: auth.ScopeRead, OperationID: "listConsent",
			Summary: "List the tenant's current consent records, ordered by contact and scope, with cursor pagination.",
			Query: []Param{
				{Name: "status", Description: "opted_in or opted_out; all when absent."},
				{Name: "scope", Description: "marketing or all; all scopes when absent."},
				{Name: "after", Description: "The previous page's next cursor."},
				{Name: "limit", Type: "integer", Description: "Page size, 1 to 500; defaults to 50."},
			},
			Response: ConsentList{}, Handler: HandleJSON(h.listConsent)},
		{Method: "GET", Pattern: "/consent/{contact}", Scope: auth.ScopeRead, OperationID: "getConsent",
			Summary:     "Get a contact's current consent and its history, newest first.",
			Description: contactDoc + " A contact the tenant never recorded consent for (or an invalid one) is 404.",
			Owner:       &Owner{Param: "contact", LookupFunc: h.lookupConsent},
			Query: []Param{
				{Name: "scope", Description: "Keep only history of this scope (marketing or all)."},
				{Name: "before", Description: "The previous page's next cursor."},
				{Name: "limit", Type: "integer", Description: "History page size, 1 to 500; defaults to 50."},
			},
			Response: ContactConsent{}, Handler: HandleJSON(h.getConsent)},
		{Method: "PUT", Pattern: "/consent/{contact}", Scope: ScopeConsentWrite, OperationID: "setConsent",
			Summary: "Record a contact's opt-in or opt-out for a scope; answers the contact's consent for it.",
			Description: contactDoc + " The contact names no object of another tenant: each tenant has its own registry, " +
				"and a key records consent in its own tenant's only. Recording the status a contact already has changes nothing " +
				"and emits no event. Every change is kept in the history and emitted as consent.changed.",
			Unowned: []string{"contact"}, Request: ConsentRequest{}, Response: api.Consent{}, Handler: HandleJSON(h.setConsent)},
	}
}

// contactParam returns the {contact} path parameter, percent-decoded (a
// router matching on the raw path leaves "%2B" for "+").
func contactParam(r *http.Request) string {
	v := r.PathValue("contact")
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

func consentOut(c *waqtor.Consent) *api.Consent {
	return &api.Consent{Contact: c.Contact, Note: c.Note, Previous: string(c.Previous), Scope: string(c.Scope),
		Session: c.Session, Source: c.Source, Status: string(c.Status), Time: c.Time}
}

// unknownContact is a valid contact looked up in place of an invalid one.
const unknownContact = "+999000000000"

// lookupConsent finds a contact in the principal's tenant's registry: one
// with no record there (or an invalid one) does not exist. An invalid contact
// is answered after the same query a valid one costs, so that the answer's
// timing tells neither validity nor existence.
func (h *handler) lookupConsent(r *http.Request, _ string) (*Ownership, error) {
	contact := contactParam(r)
	if _, err := waqtor.ParseContact(contact); err != nil {
		_, _ = h.core.Consent(r.Context(), unknownContact)
		return nil, ErrNotFound
	}
	cur, err := h.core.Consent(r.Context(), contact)
	if err == nil && len(cur) == 0 {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &Ownership{Tenant: cur[0].Tenant}, nil
}

func (h *handler) listConsent(r *http.Request, _ *NoBody) (*ConsentList, error) {
	q := r.URL.Query()
	limit, err := QueryInt(r, "limit", waqtor.ConsentListLimitDefault, 1, waqtor.MaxConsentListLimit)
	if err != nil {
		return nil, err
	}
	res, err := h.core.ListConsent(r.Context(), &waqtor.ConsentListParams{After: q.Get("after"), Limit: limit,
		Scope: waqtor.ConsentScope(q.Get("scope")), Status: waqtor.ConsentStatus(q.Get("status"))})
	if err != nil {
		return nil, queryProblem(err, map[string]string{"after": "after", "scope": "scope", "status": "status"})
	}
	out := &ConsentList{Consents: make([]*api.Consent, 0, len(res.Consents)), Next: res.Next}
	for _, c := range res.Consents {
		out.Consents = append(out.Consents, consentOut(c))
	}
	return out, nil
}

func (h *handler) getConsent(r *http.Request, _ *NoBody) (*ContactConsent, error) {
	contact := contactParam(r)
	limit, err := QueryInt(r, "limit", waqtor.ConsentListLimitDefault, 1, waqtor.MaxConsentListLimit)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	hist, err := h.core.ConsentHistory(r.Context(), contact, &waqtor.ConsentHistoryParams{Before: q.Get("before"), Limit: limit,
		Scope: waqtor.ConsentScope(q.Get("scope"))})
	if err != nil {
		return nil, queryProblem(err, map[string]string{"before": "before", "scope": "scope"})
	}
	cur, err := h.core.Consent(r.Context(), contact)
	if err != nil {
		return nil, err
	}
	out := &ContactConsent{Current: make([]*api.Consent, 0, len(cur)), History: make([]*api.Consent, 0, len(hist.Changes)),
		Next: hist.Next, OptedOut: map[string]bool{api.ConsentAll: false, api.ConsentMarketing: false}}
	for _, c := range cur {
		out.Contact = c.Contact
		out.Current = append(out.Current, consentOut(c))
		if c.Status == waqtor.ConsentOptedOut {
			out.OptedOut[string(c.Scope)] = true
			if c.Scope == waqtor.ConsentAll {
				out.OptedOut[api.ConsentMarketing] = true
			}
		}
	}
	for _, c := range hist.Changes {
		out.History = append(out.History, consentOut(c))
	}
	return out, nil
}

func (h *handler) setConsent(r *http.Request, req *ConsentRequest) (*api.Consent, error) {
	c, err := h.core.SetConsent(r.Context(), &waqtor.ConsentChange{Contact: contactParam(r), Note: req.Note,
		Scope: waqtor.ConsentScope(req.Scope), Source: req.Source, Status: waqtor.ConsentStatus(req.Status)})
	if err != nil {
		return nil, err
	}
	return consentOut(c), nil
}
