package campaign

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest"
)

// Scopes of the campaign routes.
const (
	// ScopeCampaignsRead reads campaigns, their recipients, previews,
	// reports and exports.
	ScopeCampaignsRead auth.Scope = "campaigns:read"
	// ScopeCampaignsWrite creates, changes, deletes, runs, pauses, resumes
	// and cancels campaigns, and uploads their recipients.
	ScopeCampaignsWrite auth.Scope = "campaigns:write"
)

// MaxUploadBytesDefault is RoutesOpts.MaxUploadBytes' default: 512 MiB, a
// few million recipients with variables.
const MaxUploadBytesDefault int64 = 512 << 20

// RoutesOpts tunes Routes. The zero value (or nil) is ready to use.
type RoutesOpts struct {
	// DefaultSession is the sender session of a campaign created through
	// POST /campaigns/create without sessions (the original plan's shape
	// names none). Defaults to none: such a request is refused, naming
	// sessions.
	DefaultSession string
	// MaxUploadBytes caps a recipient upload (POST
	// /campaigns/{campaign}/recipients); a larger body is answered 413.
	// Defaults to MaxUploadBytesDefault (512 MiB).
	MaxUploadBytes int64
	// SpoolDir is where an upload is written before its recipients are
	// stored, so that the database transaction never waits on a slow
	// client; the file is removed when the request ends. Defaults to
	// os.TempDir().
	SpoolDir string
}

// Routes returns the REST route group of the campaign API, for
// rest.HandlerOpts.Groups. Every route acts within the principal's tenant;
// a principal narrowed to some sessions sees only the campaigns that send
// through those sessions alone, and creates only such campaigns.
func (s *Service) Routes(opts *RoutesOpts) rest.RouteGroup {
	o := RoutesOpts{}
	if opts != nil {
		o = *opts
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = MaxUploadBytesDefault
	}
	a := &restAPI{s: s, opts: o}
	owner := &rest.Owner{Param: "campaign", LookupFunc: a.owner}
	conflict := []int{http.StatusConflict}
	const reasonBody = 4 << 10
	return rest.RouteGroup{
		Name: "campaigns",
		Description: "Bulk messages to many recipients through a pool of sessions, paced like a person, with recipient " +
			"uploads (CSV, NDJSON, JSON), previews, progress, reports and exports. Follow progress with the campaign.* events.",
		Scopes: map[auth.Scope]string{
			ScopeCampaignsRead:  "Read campaigns, their recipients, previews, reports and exports.",
			ScopeCampaignsWrite: "Create, change, delete, run, pause, resume and cancel campaigns, and upload their recipients.",
		},
		Routes: []rest.Route{
			{Method: "GET", Pattern: "/campaigns", Scope: ScopeCampaignsRead, OperationID: "listCampaigns",
				Summary: "List the tenant's campaigns, oldest first.",
				Query: []rest.Param{
					{Name: "state", Description: "draft, scheduled, running, paused, completed, cancelled or failed."},
					{Name: "after", Description: "The next field of the previous page."},
					{Name: "limit", Type: "integer", Description: "1 to 500; defaults to 50."},
				},
				Response: ListResult{}, Handler: rest.HandleJSON(a.list)},
			{Method: "POST", Pattern: "/campaigns", Scope: ScopeCampaignsWrite, OperationID: "createCampaign",
				Summary: "Create a draft campaign, with recipients given inline if any.",
				Description: "Larger recipient lists are uploaded with uploadCampaignRecipients. Invalid and duplicate phones are " +
					"kept as skipped recipients with their reason; added counts them.",
				Request: CreateParams{}, Response: CreateResult{}, Status: http.StatusCreated, Handler: rest.HandleJSON(a.create)},
			{Method: "POST", Pattern: "/campaigns/create", Scope: ScopeCampaignsWrite, OperationID: "createCampaignSeed",
				Summary: "Create a draft campaign; also takes the original plan's shape.",
				Description: "Takes createCampaign's body, or the original plan's {name, recipients, template, variables, scheduleAt}: " +
					"recipients may be phone strings or {phone, variables} objects, template is the text (content.text), " +
					"scheduleAt is schedule_at, and sessions default to the server's default session.",
				Request: SeedCreateRequest{}, Response: CreateResult{}, Status: http.StatusCreated, Handler: rest.HandleJSON(a.createSeed)},
			{Method: "GET", Pattern: "/campaigns/{campaign}", Scope: ScopeCampaignsRead, Owner: owner, OperationID: "getCampaign",
				Summary: "Get a campaign.", Response: Campaign{}, Handler: rest.HandleJSON(a.get)},
			{Method: "PATCH", Pattern: "/campaigns/{campaign}", Scope: ScopeCampaignsWrite, Owner: owner, OperationID: "updateCampaign",
				Summary:     "Change a campaign; absent fields are left as they are.",
				Description: "Any field of a draft; only pacing once it was executed (it applies to the next send), nothing once it ended.",
				Request:     UpdateParams{}, Response: Campaign{}, Problems: conflict, Handler: rest.HandleJSON(a.update)},
			{Method: "DELETE", Pattern: "/campaigns/{campaign}", Scope: ScopeCampaignsWrite, Owner: owner, OperationID: "deleteCampaign",
				Summary:  "Delete a draft or ended campaign with its recipients and history.",
				Problems: conflict, Handler: rest.HandleJSON(a.delete)},
			{Method: "POST", Pattern: "/campaigns/{campaign}/execute", Scope: ScopeCampaignsWrite, Owner: owner, OperationID: "executeCampaign",
				Summary:     "Start a draft campaign: at once, or at its schedule_at.",
				Description: "Executing a running or scheduled campaign changes nothing, so a retried request is harmless.",
				Response:    Campaign{}, Problems: conflict, Handler: rest.HandleJSON(a.execute)},
			{Method: "POST", Pattern: "/campaigns/{campaign}/pause", Scope: ScopeCampaignsWrite, Owner: owner, OperationID: "pauseCampaign",
				Summary:     "Hold a running or scheduled campaign's sends; sends in progress finish.",
				Description: "The body is optional. Pausing a paused campaign changes nothing.",
				Request:     ReasonRequest{}, MaxBodyBytes: reasonBody, Response: Campaign{}, Problems: conflict, Handler: a.withReason(a.s.Pause)},
			{Method: "POST", Pattern: "/campaigns/{campaign}/resume", Scope: ScopeCampaignsWrite, Owner: owner, OperationID: "resumeCampaign",
				Summary:     "Run a paused campaign again.",
				Description: "Refused (409) while one of its sender sessions is banned or logged out. Resuming a running campaign changes nothing.",
				Response:    Campaign{}, Problems: conflict, Handler: rest.HandleJSON(a.resume)},
			{Method: "POST", Pattern: "/campaigns/{campaign}/cancel", Scope: ScopeCampaignsWrite, Owner: owner, OperationID: "cancelCampaign",
				Summary:     "End a campaign for good; recipients not sent yet stay pending.",
				Description: "The body is optional. Cancelling a cancelled campaign changes nothing.",
				Request:     ReasonRequest{}, MaxBodyBytes: reasonBody, Response: Campaign{}, Problems: conflict, Handler: a.withReason(a.s.Cancel)},
			{Method: "GET", Pattern: "/campaigns/{campaign}/status", Scope: ScopeCampaignsRead, Owner: owner, OperationID: "getCampaignStatus",
				Summary: "Get a campaign's state, counts and expected end.", Response: Status{}, Handler: rest.HandleJSON(a.status)},
			{Method: "POST", Pattern: "/campaigns/{campaign}/recipients", Scope: ScopeCampaignsWrite, Owner: owner,
				OperationID: "uploadCampaignRecipients", Summary: "Add recipients from a CSV, NDJSON or JSON upload.",
				Description: "The body is text/csv (a header row; the phone column is found by name, or named by phone_column; the " +
					"other columns are variables), application/x-ndjson (one {\"phone\": …, \"variables\": {…}} per line) or " +
					"application/json (an array of those). It is stored whole or not at all: a malformed record is answered 400 naming " +
					"its line and column, and adds nothing.",
				Query:        []rest.Param{{Name: "phone_column", Description: "The CSV column or JSON field holding the phone."}},
				RequestTypes: []string{"text/csv", "application/x-ndjson", "application/json"}, MaxBodyBytes: o.MaxUploadBytes,
				Response: AddResult{}, Problems: conflict, Handler: http.HandlerFunc(a.upload)},
			{Method: "GET", Pattern: "/campaigns/{campaign}/recipients", Scope: ScopeCampaignsRead, Owner: owner,
				OperationID: "listCampaignRecipients", Summary: "List a campaign's recipients by position.",
				Query: []rest.Param{
					{Name: "state", Description: "pending, sending, sent, delivered, read, failed or skipped."},
					{Name: "after", Type: "integer", Description: "The next field of the previous page."},
					{Name: "limit", Type: "integer", Description: "1 to 1000; defaults to 100."},
				},
				Response: RecipientListResult{}, Handler: rest.HandleJSON(a.recipients)},
			{Method: "GET", Pattern: "/campaigns/{campaign}/preview", Scope: ScopeCampaignsRead, Owner: owner,
				OperationID: "previewCampaign", Summary: "Render the message of the first recipients, with the variables each lacks.",
				Query:    []rest.Param{{Name: "n", Type: "integer", Description: fmt.Sprintf("1 to %d; defaults to %d.", PreviewMax, PreviewDefault)}},
				Response: PreviewResult{}, Handler: rest.HandleJSON(a.preview)},
			{Method: "GET", Pattern: "/campaigns/{campaign}/report", Scope: ScopeCampaignsRead, Owner: owner, OperationID: "getCampaignReport",
				Summary:  "Get a campaign's outcome: rates, failures and skips by reason, replies, sends per session.",
				Response: Report{}, Handler: rest.HandleJSON(a.report)},
			{Method: "GET", Pattern: "/campaigns/{campaign}/export.csv", Scope: ScopeCampaignsRead, Owner: owner,
				OperationID: "exportCampaign", Summary: "Download every recipient with its outcome as CSV.",
				Description:  "Columns: " + strings.Join(ExportHeader, ", ") + ". Times are RFC 3339; variables a JSON object. Streamed.",
				ResponseType: "text/csv", Handler: http.HandlerFunc(a.export)},
			{Method: "GET", Pattern: "/campaigns/{campaign}/transitions", Scope: ScopeCampaignsRead, Owner: owner,
				OperationID: "listCampaignTransitions", Summary: "List a campaign's state moves with their reasons, oldest first.",
				Response: TransitionList{}, Handler: rest.HandleJSON(a.transitions)},
		},
	}
}

// CreateResult is a created campaign with what became of its recipients.
type CreateResult struct {
	*Campaign
	// Added reports the recipients given with the campaign.
	Added *AddResult `json:"added"`
}

// ReasonRequest is the optional body of a pause or a cancel.
type ReasonRequest struct {
	// Reason is kept with the state move, for people (at most 500 characters).
	Reason string `json:"reason,omitempty"`
}

// PreviewResult lists rendered messages.
type PreviewResult struct {
	// Previews are the recipients' messages, pending recipients first.
	Previews []PreviewItem `json:"previews"`
}

// TransitionList lists a campaign's state moves.
type TransitionList struct {
	// Transitions are the moves, oldest first.
	Transitions []Transition `json:"transitions"`
}

// SeedCreateRequest is the body of POST /campaigns/create: CreateParams, or
// the original plan's {name, recipients, template, variables, scheduleAt}.
type SeedCreateRequest struct {
	// CheckNumbers is CreateParams.CheckNumbers.
	CheckNumbers bool `json:"check_numbers,omitempty"`
	// Content is CreateParams.Content; give it or Template.
	Content *Content `json:"content,omitempty"`
	// Name is CreateParams.Name.
	Name string `json:"name"`
	// Pacing is CreateParams.Pacing.
	Pacing *Pacing `json:"pacing,omitempty"`
	// Recipients are phone strings or {phone, variables} objects.
	Recipients []SeedRecipient `json:"recipients,omitempty"`
	// ScheduleAt is CreateParams.ScheduleAt.
	ScheduleAt *time.Time `json:"schedule_at,omitempty"`
	// ScheduleAtSeed is the original plan's name of ScheduleAt.
	ScheduleAtSeed *time.Time `json:"scheduleAt,omitempty"`
	// Sessions are CreateParams.Sessions; they default to
	// RoutesOpts.DefaultSession.
	Sessions []string `json:"sessions,omitempty"`
	// Template is the text of a text message: content.text.
	Template string `json:"template,omitempty"`
	// TimeZone is CreateParams.TimeZone.
	TimeZone string `json:"time_zone,omitempty"`
	// Variables are CreateParams.Variables.
	Variables map[string]string `json:"variables,omitempty"`
}

// SeedRecipient is a recipient of SeedCreateRequest: a phone string, or a
// {phone, variables} object.
type SeedRecipient RecipientInput

// UnmarshalJSON reads a phone string or a {phone, variables} object, refusing
// unknown fields.
func (r *SeedRecipient) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &r.Phone)
	}
	var in struct {
		Phone     string            `json:"phone"`
		Variables map[string]string `json:"variables"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("a recipient must be a phone string or a {phone, variables} object: %w", err)
	}
	r.Phone, r.Variables = in.Phone, in.Variables
	return nil
}

// JSONSchema describes a SeedRecipient for the OpenAPI document.
func (SeedRecipient) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "string", "description": "A phone number."},
		map[string]any{"type": "object", "properties": map[string]any{
			"phone":     map[string]any{"type": "string"},
			"variables": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
		}, "required": []string{"phone"}},
	}}
}

// JSONSchema describes a Duration for the OpenAPI document: a Go duration
// string ("4s", "1m30s") or a number of milliseconds.
func (Duration) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "string", "description": "A duration such as \"4s\" or \"1m30s\"."},
		map[string]any{"type": "integer", "description": "Milliseconds."},
	}}
}

// params turns the request into CreateParams.
func (q *SeedCreateRequest) params(defaultSession string) (*CreateParams, error) {
	p := &CreateParams{CheckNumbers: q.CheckNumbers, Name: q.Name, Pacing: q.Pacing, Sessions: q.Sessions,
		TimeZone: q.TimeZone, Variables: q.Variables}
	switch {
	case q.Content != nil && q.Template != "":
		return nil, fieldErr("template", "give template or content, not both")
	case q.Content != nil:
		p.Content = *q.Content
	default:
		p.Content = Content{Text: q.Template}
	}
	switch {
	case q.ScheduleAt != nil && q.ScheduleAtSeed != nil:
		return nil, fieldErr("scheduleAt", "give schedule_at or scheduleAt, not both")
	case q.ScheduleAt != nil:
		p.ScheduleAt = *q.ScheduleAt
	case q.ScheduleAtSeed != nil:
		p.ScheduleAt = *q.ScheduleAtSeed
	}
	if len(p.Sessions) == 0 && defaultSession != "" {
		p.Sessions = []string{defaultSession}
	}
	for _, r := range q.Recipients {
		p.Recipients = append(p.Recipients, RecipientInput(r))
	}
	return p, nil
}

type restAPI struct {
	s    *Service
	opts RoutesOpts
}

func restPrincipal(r *http.Request) *auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	if p == nil {
		return &auth.Principal{}
	}
	return p
}

// tenantCtx is the request's context in the principal's tenant.
func tenantCtx(r *http.Request) context.Context {
	return waqtor.WithTenant(r.Context(), restPrincipal(r).Tenant)
}

// restProblem maps the package's errors to REST problems.
func restProblem(err error) error {
	var se *SourceError
	var fe *FieldError
	var ste *StateError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		field := "(body)"
		if se.Line > 0 {
			field = "line " + strconv.FormatInt(se.Line, 10)
		}
		if se.Column != "" {
			field += ", column " + strconv.Quote(se.Column)
		}
		return rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, strings.TrimPrefix(se.Error(), "campaign: "),
			rest.FieldProblem{Field: field, Reason: se.Reason})
	case errors.Is(err, ErrUnsupportedFormat):
		return rest.NewProblem(http.StatusUnsupportedMediaType, rest.TypeUnsupportedMediaType, strings.TrimPrefix(err.Error(), "campaign: "))
	case errors.Is(err, ErrInvalidRecipients):
		return rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, strings.TrimPrefix(err.Error(), "campaign: "))
	case errors.As(err, &fe):
		return rest.NewProblem(http.StatusUnprocessableEntity, rest.TypeValidation, fe.Field+": "+fe.Reason,
			rest.FieldProblem{Field: fe.Field, Reason: fe.Reason})
	case errors.Is(err, ErrNotFound):
		return rest.NewProblem(http.StatusNotFound, rest.TypeNotFound, "campaign not found")
	case errors.As(err, &ste):
		return rest.NewProblem(http.StatusConflict, rest.TypeConflict, strings.TrimPrefix(ste.Error(), "campaign: "))
	case errors.Is(err, ErrSessionUnavailable):
		return rest.NewProblem(http.StatusConflict, rest.TypeSessionNotReady, strings.TrimPrefix(err.Error(), "campaign: "))
	case errors.Is(err, ErrDatabase), errors.Is(err, ErrStopped), errors.Is(err, context.DeadlineExceeded):
		return rest.NewProblem(http.StatusServiceUnavailable, rest.TypeUnavailable, "the database is unreachable or the service stopped")
	}
	return err
}

// owner reports a campaign's tenant. For a principal narrowed to some
// sessions, a campaign sending through any other session does not exist.
func (a *restAPI) owner(r *http.Request, id string) (*rest.Ownership, error) {
	var tenant, sessions string
	err := a.s.db.sql.QueryRowContext(r.Context(), `SELECT tenant_id, sessions FROM waqtor_campaigns WHERE id = $1`, id).
		Scan(&tenant, &sessions)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: campaign %q", rest.ErrNotFound, id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	if p := restPrincipal(r); len(p.Sessions) > 0 {
		var ids []string
		if err := json.Unmarshal([]byte(sessions), &ids); err != nil || !allowsAll(p, ids) {
			return nil, fmt.Errorf("%w: campaign %q", rest.ErrNotFound, id)
		}
	}
	return &rest.Ownership{Tenant: tenant}, nil
}

func allowsAll(p *auth.Principal, sessions []string) bool {
	for _, s := range sessions {
		if !p.AllowsSession(s) {
			return false
		}
	}
	return true
}

// checkSessions refuses, for a principal narrowed to some sessions, a
// campaign that would send through another.
func checkSessions(p *auth.Principal, sessions []string) error {
	for i, s := range sessions {
		if !p.AllowsSession(s) {
			return fieldErr(fmt.Sprintf("sessions[%d]", i), "this key may not use session %q", s)
		}
	}
	return nil
}

func (a *restAPI) list(r *http.Request, _ *rest.NoBody) (*ListResult, error) {
	limit, err := rest.QueryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return nil, err
	}
	state := State(r.URL.Query().Get("state"))
	if state != "" && !validState(state) {
		return nil, queryProblem("state", "must be draft, scheduled, running, paused, completed, cancelled or failed")
	}
	res, err := a.s.List(tenantCtx(r), &ListParams{After: r.URL.Query().Get("after"), Limit: limit, State: state})
	if err != nil {
		return nil, restProblem(err)
	}
	if p := restPrincipal(r); len(p.Sessions) > 0 {
		res.Campaigns = slices.DeleteFunc(res.Campaigns, func(c *Campaign) bool { return !allowsAll(p, c.Sessions) })
	}
	return res, nil
}

func queryProblem(name, reason string) error {
	return rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, name+": "+reason, rest.FieldProblem{Field: name, Reason: reason})
}

func (a *restAPI) create(r *http.Request, req *CreateParams) (*CreateResult, error) {
	if err := checkSessions(restPrincipal(r), req.Sessions); err != nil {
		return nil, restProblem(err)
	}
	c, res, err := a.s.Create(tenantCtx(r), req)
	if err != nil {
		return nil, restProblem(err)
	}
	return &CreateResult{Campaign: c, Added: res}, nil
}

func (a *restAPI) createSeed(r *http.Request, req *SeedCreateRequest) (*CreateResult, error) {
	p, err := req.params(a.opts.DefaultSession)
	if err != nil {
		return nil, restProblem(err)
	}
	return a.create(r, p)
}

func (a *restAPI) get(r *http.Request, _ *rest.NoBody) (*Campaign, error) {
	c, err := a.s.Get(tenantCtx(r), r.PathValue("campaign"))
	return c, restProblem(err)
}

func (a *restAPI) update(r *http.Request, req *UpdateParams) (*Campaign, error) {
	if err := checkSessions(restPrincipal(r), req.Sessions); err != nil {
		return nil, restProblem(err)
	}
	c, err := a.s.Update(tenantCtx(r), r.PathValue("campaign"), req)
	return c, restProblem(err)
}

func (a *restAPI) delete(r *http.Request, _ *rest.NoBody) (*struct{}, error) {
	return nil, restProblem(a.s.Delete(tenantCtx(r), r.PathValue("campaign")))
}

func (a *restAPI) execute(r *http.Request, _ *rest.NoBody) (*Campaign, error) {
	c, err := a.s.Execute(tenantCtx(r), r.PathValue("campaign"))
	return c, restProblem(err)
}

func (a *restAPI) resume(r *http.Request, _ *rest.NoBody) (*Campaign, error) {
	c, err := a.s.Resume(tenantCtx(r), r.PathValue("campaign"))
	return c, restProblem(err)
}

// withReason serves a move whose JSON body {reason} is optional.
func (a *restAPI) withReason(move func(ctx context.Context, id, reason string) (*Campaign, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ReasonRequest
		data, err := io.ReadAll(r.Body)
		if err != nil {
			rest.WriteError(w, r, readProblem(err))
			return
		}
		if len(bytes.TrimSpace(data)) > 0 {
			r.Body = io.NopCloser(bytes.NewReader(data))
			if err := rest.DecodeJSON(r, &req); err != nil {
				rest.WriteError(w, r, err)
				return
			}
		}
		c, err := move(tenantCtx(r), r.PathValue("campaign"), req.Reason)
		if err != nil {
			rest.WriteError(w, r, restProblem(err))
			return
		}
		rest.Respond(w, r, c)
	})
}

// readProblem describes a failure reading a request body.
func readProblem(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return rest.NewProblem(http.StatusRequestEntityTooLarge, rest.TypeBodyTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
	}
	return rest.NewProblem(http.StatusBadRequest, rest.TypeBadRequest, "the body could not be read: "+err.Error())
}

func (a *restAPI) status(r *http.Request, _ *rest.NoBody) (*Status, error) {
	st, err := a.s.Status(tenantCtx(r), r.PathValue("campaign"))
	return st, restProblem(err)
}

// upload spools the body to a file, then adds its recipients in one
// transaction.
func (a *restAPI) upload(w http.ResponseWriter, r *http.Request) {
	ctx, id := tenantCtx(r), r.PathValue("campaign")
	f, err := FormatFromContentType(r.Header.Get("Content-Type"))
	if err != nil {
		rest.WriteError(w, r, restProblem(err))
		return
	}
	// An ended campaign refuses recipients: say so before reading the body.
	c, err := a.s.Get(ctx, id)
	if err == nil && c.State.Final() {
		err = &StateError{Action: "add recipients to", State: c.State}
	}
	if err != nil {
		rest.WriteError(w, r, restProblem(err))
		return
	}
	spool, err := os.CreateTemp(a.opts.SpoolDir, "waqtor-recipients-*")
	if err != nil {
		a.s.logger.ErrorContext(ctx, "Spooling an upload failed", slog.Any("error", err))
		rest.WriteError(w, r, rest.NewProblem(http.StatusServiceUnavailable, rest.TypeUnavailable, "the upload could not be stored"))
		return
	}
	defer func() {
		_ = spool.Close()
		_ = os.Remove(spool.Name())
	}()
	if _, err := io.Copy(spool, r.Body); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) { // the disk, not the client
			a.s.logger.ErrorContext(ctx, "Spooling an upload failed", slog.Any("error", err))
			rest.WriteError(w, r, rest.NewProblem(http.StatusServiceUnavailable, rest.TypeUnavailable, "the upload could not be stored"))
			return
		}
		rest.WriteError(w, r, readProblem(err))
		return
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		rest.WriteError(w, r, err)
		return
	}
	src := ReadRecipients(bufio.NewReaderSize(spool, 64<<10), f, &SourceOpts{PhoneColumn: r.URL.Query().Get("phone_column")})
	res, err := a.s.AddRecipients(ctx, id, src)
	if err != nil {
		rest.WriteError(w, r, restProblem(err))
		return
	}
	rest.Respond(w, r, res)
}

func (a *restAPI) recipients(r *http.Request, _ *rest.NoBody) (*RecipientListResult, error) {
	limit, err := rest.QueryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return nil, queryProblem("after", "must be a whole number, 0 or more")
		}
	}
	state := RecipientState(r.URL.Query().Get("state"))
	if state != "" && state.level() < 0 && state != RecipientFailed && state != RecipientSkipped {
		return nil, queryProblem("state", "must be pending, sending, sent, delivered, read, failed or skipped")
	}
	res, err := a.s.Recipients(tenantCtx(r), r.PathValue("campaign"), &RecipientListParams{After: after, Limit: limit, State: state})
	return res, restProblem(err)
}

func (a *restAPI) preview(r *http.Request, _ *rest.NoBody) (*PreviewResult, error) {
	n, err := rest.QueryInt(r, "n", PreviewDefault, 1, PreviewMax)
	if err != nil {
		return nil, err
	}
	items, err := a.s.Preview(tenantCtx(r), r.PathValue("campaign"), n)
	if err != nil {
		return nil, restProblem(err)
	}
	return &PreviewResult{Previews: items}, nil
}

func (a *restAPI) report(r *http.Request, _ *rest.NoBody) (*Report, error) {
	rep, err := a.s.Report(tenantCtx(r), r.PathValue("campaign"))
	return rep, restProblem(err)
}

func (a *restAPI) transitions(r *http.Request, _ *rest.NoBody) (*TransitionList, error) {
	ts, err := a.s.Transitions(tenantCtx(r), r.PathValue("campaign"))
	if err != nil {
		return nil, restProblem(err)
	}
	return &TransitionList{Transitions: ts}, nil
}

// export streams the CSV export. A failure after the first byte cannot be
// answered as a problem: the connection is cut, so the client sees a
// truncated transfer rather than a short file that looks whole.
func (a *restAPI) export(w http.ResponseWriter, r *http.Request) {
	ctx, id := tenantCtx(r), r.PathValue("campaign")
	c, err := a.s.Get(ctx, id)
	if err != nil {
		rest.WriteError(w, r, restProblem(err))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+c.ID+`.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	bw := bufio.NewWriterSize(w, 32<<10)
	err = a.s.ExportCSV(ctx, id, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && ctx.Err() == nil {
		a.s.logger.ErrorContext(ctx, "Campaign export failed", slog.String("campaign_id", id), slog.Any("error", err))
		panic(http.ErrAbortHandler)
	}
}
