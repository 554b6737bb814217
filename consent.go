package waqtor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/waqtor/waqtor/internal/store"
	"github.com/waqtor/waqtor/internal/textnorm"
)

// ConsentScope is what a consent decision covers.
type ConsentScope string

// The consent scopes.
const (
	// ConsentAll covers every message a business starts: a contact opted out
	// of all receives only Transactional messages (and none sent with
	// SendOpts.Consent set). Opting out of all implies marketing.
	ConsentAll ConsentScope = "all"
	// ConsentMarketing covers promotional messages: campaigns and any send
	// with SendOpts.Consent set to it.
	ConsentMarketing ConsentScope = "marketing"
)

// Valid reports whether s is one of the defined scopes.
func (s ConsentScope) Valid() bool { return s == ConsentAll || s == ConsentMarketing }

// ConsentStatus is a contact's decision for a scope.
type ConsentStatus string

// The consent statuses.
const (
	// ConsentOptedIn: the contact agreed to receive messages of the scope.
	ConsentOptedIn ConsentStatus = "opted_in"
	// ConsentOptedOut: the contact asked not to receive messages of the scope.
	ConsentOptedOut ConsentStatus = "opted_out"
)

// Valid reports whether s is one of the defined statuses.
func (s ConsentStatus) Valid() bool { return s == ConsentOptedIn || s == ConsentOptedOut }

// Consent sources the Core itself records; callers may name their own.
const (
	// ConsentSourceAPI is the source of a change made through SetConsent (or
	// the REST API) without one.
	ConsentSourceAPI = "api"
	// ConsentSourceKeyword is the source of an opt-out a contact sent as a
	// message (Config.OptOutKeywords).
	ConsentSourceKeyword = "keyword"
)

// Limits of consent changes.
const (
	// MaxConsentNoteLength is the longest note, in characters.
	MaxConsentNoteLength = 500
	// MaxConsentListLimit is the largest page of ListConsent and ConsentHistory.
	MaxConsentListLimit = 500
)

// ConsentListLimitDefault is the page size of ListConsent and ConsentHistory
// when their Limit is 0.
const ConsentListLimitDefault = 50

// Consent is one consent decision of a contact for a scope: its current state
// (Core.Consent, ListConsent, SetConsent) or one change of its history
// (ConsentHistory).
type Consent struct {
	// Contact is the contact: an E.164 number ("+201001234567"), or
	// "<digits>@lid" for a contact known only by its LID.
	Contact string `json:"contact"`
	// Note is the caller's note on the change, if any.
	Note string `json:"note,omitempty"`
	// Previous is the status before the change; "" when it was the first.
	Previous ConsentStatus `json:"previous,omitempty"`
	// Scope is what the decision covers.
	Scope ConsentScope `json:"scope"`
	// Session is the session whose inbound message made the change (a
	// keyword opt-out); "" for changes made through the API.
	Session string `json:"session,omitempty"`
	// Source says where the decision came from: "api", "keyword", "import",
	// "campaign", or a name of the caller's.
	Source string `json:"source"`
	// Status is the decision.
	Status ConsentStatus `json:"status"`
	// Tenant owns the record.
	Tenant string `json:"tenant"`
	// Time is when the decision was recorded.
	Time time.Time `json:"time"`
}

// ConsentChange is a consent decision to record with SetConsent.
type ConsentChange struct {
	// Contact is a phone number (any form ParsePhone accepts), a user JID
	// ("201001234567@s.whatsapp.net", stored as its phone number) or a LID
	// ("123@lid", stored as such: a LID cannot be mapped to a number).
	// Required.
	Contact string
	// Note is a free-form note kept with the change (why, by whom), at most
	// MaxConsentNoteLength characters. Defaults to none.
	Note string
	// Scope is what the decision covers. Required.
	Scope ConsentScope
	// Source says where the decision came from: 1 to 32 characters, lower-case
	// letters, digits, "_", "-" and ".", starting with a letter ("import",
	// "campaign", "crm"). Defaults to ConsentSourceAPI ("api").
	Source string
	// Status is the decision. Required.
	Status ConsentStatus
}

var consentSourceRe = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,31}$`)

// ParseContact normalises a consent contact: a phone number to E.164, a user
// JID ("…@s.whatsapp.net", with or without a device part) to its phone number,
// and a LID ("…@lid") to "<digits>@lid". Groups, broadcasts and newsletters
// are not contacts. Errors are FieldErrors of field "contact" wrapping
// ErrInvalidConsent.
func ParseContact(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", fieldErr(ErrInvalidConsent, "contact", "is required")
	}
	if !strings.Contains(in, "@") {
		p, err := ParsePhone(in)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return "", fieldErr(ErrInvalidConsent, "contact", "%s", fe.Reason)
			}
			return "", fieldErr(ErrInvalidConsent, "contact", "%v", err)
		}
		return p, nil
	}
	jid, err := NormalizeChat(in)
	if err != nil {
		return "", fieldErr(ErrInvalidConsent, "contact", "%q is neither a phone number nor a user JID or LID", s)
	}
	if c := consentContact(jid); c != "" {
		return c, nil
	}
	return "", fieldErr(ErrInvalidConsent, "contact", "%q is not a person (groups, broadcasts and newsletters have no consent)", s)
}

// consentContact returns the consent key of a normalised chat JID: the phone
// number of a user JID, the LID itself, or "" for chats that are not a person.
func consentContact(jid string) string {
	_, server, _ := strings.Cut(jid, "@")
	switch server {
	case ServerUser:
		return JIDPhone(jid)
	case ServerLID:
		return jid
	}
	return ""
}

func (ch *ConsentChange) validate() (*ConsentChange, error) {
	if ch == nil {
		return nil, fieldErr(ErrInvalidConsent, "change", "is required")
	}
	out := *ch
	var err error
	if out.Contact, err = ParseContact(ch.Contact); err != nil {
		return nil, err
	}
	if !out.Scope.Valid() {
		return nil, fieldErr(ErrInvalidConsent, "scope", "must be %q or %q, not %q", ConsentMarketing, ConsentAll, ch.Scope)
	}
	if !out.Status.Valid() {
		return nil, fieldErr(ErrInvalidConsent, "status", "must be %q or %q, not %q", ConsentOptedIn, ConsentOptedOut, ch.Status)
	}
	if out.Source == "" {
		out.Source = ConsentSourceAPI
	}
	if !consentSourceRe.MatchString(out.Source) {
		return nil, fieldErr(ErrInvalidConsent, "source", "must match %s", consentSourceRe)
	}
	if err := validateNote(out.Note); err != nil {
		return nil, err
	}
	return &out, nil
}

func validateNote(note string) error {
	if !utf8.ValidString(note) {
		return fieldErr(ErrInvalidConsent, "note", "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(note); n > MaxConsentNoteLength {
		return fieldErr(ErrInvalidConsent, "note", "has %d characters, more than %d", n, MaxConsentNoteLength)
	}
	for _, r := range note {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fieldErr(ErrInvalidConsent, "note", "contains a control character")
		}
	}
	return nil
}

// consentTenant returns ctx's tenant (see WithTenant), which must be a slug.
func (c *Core) consentTenant(ctx context.Context) (string, error) {
	t := c.tenantOf(ctx)
	if !slugRe.MatchString(t) {
		return "", fieldErr(ErrInvalidConsent, "tenant", "%q must match %s", t, slugRe)
	}
	return t, nil
}

// SetConsent records a consent decision of ctx's tenant (see WithTenant) and
// returns the contact's resulting consent for the scope. The change and its
// consent.changed event are committed in one transaction, and the history
// keeps every change. Recording the status the contact already has is a
// no-op: nothing is stored or emitted (the note and source of the new call
// are dropped) and the current consent is returned. Scopes are recorded
// independently: opting out of ConsentAll implies marketing when sending
// (see OptedOut), without changing the marketing record, and opting back in to
// all does not undo a separate marketing opt-out. Invalid input is a
// FieldError wrapping ErrInvalidConsent, and nothing is stored.
func (c *Core) SetConsent(ctx context.Context, ch *ConsentChange) (*Consent, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	ch, err := ch.validate()
	if err != nil {
		return nil, err
	}
	tenant, err := c.consentTenant(ctx)
	if err != nil {
		return nil, err
	}
	var out *store.Consent
	err = c.commit(ctx, func(tx *sql.Tx, em *emitter) error {
		out, _, err = c.applyConsent(ctx, tx, em, &store.Consent{TenantID: tenant, Contact: ch.Contact, Scope: string(ch.Scope),
			Status: string(ch.Status), Source: ch.Source, Note: ch.Note}, "")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: set consent: %w", ErrDatabase, err)
	}
	return consentFromRow(out, ""), nil
}

// applyConsent records a change inside tx and emits consent.changed for it;
// session is the ID (within its tenant) of the session whose message made
// it, or "". It returns the current row and whether it changed.
func (c *Core) applyConsent(ctx context.Context, tx *sql.Tx, em *emitter, ch *store.Consent, session string) (*store.Consent, bool, error) {
	if err := store.LockConsent(ctx, tx, c.store.Dialect, ch.TenantID, ch.Contact, true); err != nil {
		return nil, false, err
	}
	rows, err := store.GetConsent(ctx, tx, ch.TenantID, ch.Contact)
	if err != nil {
		return nil, false, err
	}
	for _, r := range rows {
		if r.Scope == ch.Scope {
			if r.Status == ch.Status {
				return r, false, nil
			}
			ch.Previous = r.Status
		}
	}
	ch.UpdatedAt = c.now().UTC()
	if err := store.PutConsent(ctx, tx, ch); err != nil {
		return nil, false, err
	}
	em.emit(session, ch.TenantID, &ConsentChanged{Contact: ch.Contact, Note: ch.Note, Previous: ConsentStatus(ch.Previous),
		Scope: ConsentScope(ch.Scope), Source: ch.Source, Status: ConsentStatus(ch.Status), EventMeta: EventMeta{Time: ch.UpdatedAt}})
	return ch, true, nil
}

func consentFromRow(r *store.Consent, session string) *Consent {
	if session == "" {
		session = sessionIDOf(r.SessionID, r.TenantID)
	}
	return &Consent{Contact: r.Contact, Note: r.Note, Previous: ConsentStatus(r.Previous), Scope: ConsentScope(r.Scope),
		Session: session, Source: r.Source, Status: ConsentStatus(r.Status), Tenant: r.TenantID, Time: r.UpdatedAt}
}

// Consent returns the current consent of a contact of ctx's tenant, one entry
// per scope it has a record for, sorted by scope; none when the contact never
// gave or withdrew consent.
func (c *Core) Consent(ctx context.Context, contact string) ([]*Consent, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	tenant, key, err := c.consentKey(ctx, contact)
	if err != nil {
		return nil, err
	}
	rows, err := store.GetConsent(ctx, c.store.DB, tenant, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	out := make([]*Consent, len(rows))
	for i, r := range rows {
		out[i] = consentFromRow(r, "")
	}
	return out, nil
}

func (c *Core) consentKey(ctx context.Context, contact string) (tenant, key string, err error) {
	if key, err = ParseContact(contact); err != nil {
		return "", "", err
	}
	if tenant, err = c.consentTenant(ctx); err != nil {
		return "", "", err
	}
	return tenant, key, nil
}

// ConsentHistoryParams selects changes for ConsentHistory.
type ConsentHistoryParams struct {
	// Before continues a listing: pass the previous result's Next. Defaults
	// to the newest change.
	Before string
	// Limit caps the page. Defaults to ConsentListLimitDefault (50); at most
	// MaxConsentListLimit (500).
	Limit int
	// Scope keeps only changes of this scope. Defaults to all scopes.
	Scope ConsentScope
}

// ConsentHistoryResult is a page of consent changes, newest first.
type ConsentHistoryResult struct {
	// Changes are the page's changes.
	Changes []*Consent
	// Next is the cursor of the following (older) page, "" at the end.
	Next string
}

// ConsentHistory lists the consent changes of a contact of ctx's tenant,
// newest first, with cursor pagination. p may be nil.
func (c *Core) ConsentHistory(ctx context.Context, contact string, p *ConsentHistoryParams) (*ConsentHistoryResult, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	if p == nil {
		p = &ConsentHistoryParams{}
	}
	tenant, key, err := c.consentKey(ctx, contact)
	if err != nil {
		return nil, err
	}
	if p.Scope != "" && !p.Scope.Valid() {
		return nil, fieldErr(ErrInvalidConsent, "scope", "must be %q or %q, not %q", ConsentMarketing, ConsentAll, p.Scope)
	}
	limit, err := consentLimit(p.Limit)
	if err != nil {
		return nil, err
	}
	var before int64
	if p.Before != "" {
		if before, err = strconv.ParseInt(p.Before, 10, 64); err != nil || before <= 0 {
			return nil, fieldErr(ErrInvalidConsent, "before", "is not a cursor returned by ConsentHistory")
		}
	}
	rows, err := store.ListConsentHistory(ctx, c.store.DB, tenant, key, string(p.Scope), before, limit+1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	res := &ConsentHistoryResult{Changes: []*Consent{}}
	if len(rows) > limit {
		rows = rows[:limit]
		res.Next = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	for _, r := range rows {
		res.Changes = append(res.Changes, consentFromRow(r, ""))
	}
	return res, nil
}

func consentLimit(n int) (int, error) {
	switch {
	case n == 0:
		return ConsentListLimitDefault, nil
	case n < 0 || n > MaxConsentListLimit:
		return 0, fieldErr(ErrInvalidConsent, "limit", "must be 1 to %d", MaxConsentListLimit)
	}
	return n, nil
}

// ConsentListParams selects consent records for ListConsent.
type ConsentListParams struct {
	// After continues a listing: pass the previous result's Next. Defaults to
	// the first record.
	After string
	// Limit caps the page. Defaults to ConsentListLimitDefault (50); at most
	// MaxConsentListLimit (500).
	Limit int
	// Scope keeps only records of this scope. Defaults to all scopes.
	Scope ConsentScope
	// Status keeps only records of this status. Defaults to all statuses.
	Status ConsentStatus
}

// ConsentListResult is a page of current consent records, ordered by contact
// and scope.
type ConsentListResult struct {
	// Consents are the page's records.
	Consents []*Consent
	// Next is the cursor of the following page, "" at the end.
	Next string
}

// ListConsent lists the current consent records of ctx's tenant, ordered by
// contact and scope (an order changes do not disturb, so a listing never
// skips or repeats a record), with filters and cursor pagination. p may be
// nil.
func (c *Core) ListConsent(ctx context.Context, p *ConsentListParams) (*ConsentListResult, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	if p == nil {
		p = &ConsentListParams{}
	}
	tenant, err := c.consentTenant(ctx)
	if err != nil {
		return nil, err
	}
	if p.Scope != "" && !p.Scope.Valid() {
		return nil, fieldErr(ErrInvalidConsent, "scope", "must be %q or %q, not %q", ConsentMarketing, ConsentAll, p.Scope)
	}
	if p.Status != "" && !p.Status.Valid() {
		return nil, fieldErr(ErrInvalidConsent, "status", "must be %q or %q, not %q", ConsentOptedIn, ConsentOptedOut, p.Status)
	}
	limit, err := consentLimit(p.Limit)
	if err != nil {
		return nil, err
	}
	q := store.ListConsentParams{Tenant: tenant, Status: string(p.Status), Scope: string(p.Scope), Limit: limit + 1}
	if p.After != "" {
		contact, scope, ok := strings.Cut(p.After, "|")
		if !ok || !ConsentScope(scope).Valid() {
			return nil, fieldErr(ErrInvalidConsent, "after", "is not a cursor returned by ListConsent")
		}
		if q.AfterContact, err = ParseContact(contact); err != nil || q.AfterContact != contact {
			return nil, fieldErr(ErrInvalidConsent, "after", "is not a cursor returned by ListConsent")
		}
		q.AfterScope = scope
	}
	rows, err := store.ListConsent(ctx, c.store.DB, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	res := &ConsentListResult{Consents: []*Consent{}}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		res.Next = last.Contact + "|" + last.Scope
	}
	for _, r := range rows {
		res.Consents = append(res.Consents, consentFromRow(r, ""))
	}
	return res, nil
}

// OptedOut reports whether a contact of ctx's tenant may not receive messages
// of scope: for ConsentMarketing, whether it opted out of marketing or of
// all; for ConsentAll, whether it opted out of all. It is one indexed query,
// for campaign code to call per recipient; sends check the same rule again in
// the transaction that stores the message (SendOpts.Consent).
func (c *Core) OptedOut(ctx context.Context, contact string, scope ConsentScope) (bool, error) {
	if err := c.begin(); err != nil {
		return false, err
	}
	defer c.ops.done()
	if !scope.Valid() {
		return false, fieldErr(ErrInvalidConsent, "scope", "must be %q or %q, not %q", ConsentMarketing, ConsentAll, scope)
	}
	tenant, key, err := c.consentKey(ctx, contact)
	if err != nil {
		return false, err
	}
	a, b := consentScopes(scope)
	got, err := store.OptedOutScope(ctx, c.store.Q(nil), tenant, key, a, b)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	return got != "", nil
}

// consentScopes returns the scopes an opt-out of which refuses messages of
// scope.
func consentScopes(scope ConsentScope) (string, string) {
	if scope == ConsentMarketing {
		return string(ConsentMarketing), string(ConsentAll)
	}
	return string(ConsentAll), string(ConsentAll)
}

// sendConsentScope returns the scope a send must have consent for, or ""
// when it needs none: amendments of existing messages (reactions, edits,
// revocations, poll votes) and messages to chats that are not a person need
// none; SendOpts.Consent names one; otherwise a send needs ConsentAll unless
// it is Transactional.
func (r *sendRequest) consentScope(typ ContentType) ConsentScope {
	if r.contact == "" || isAmendment(string(typ)) {
		return ""
	}
	if r.consent != "" {
		return r.consent
	}
	if r.transactional {
		return ""
	}
	return ConsentAll
}

// checkConsent refuses a send to a contact opted out of scope with an
// *OptedOutError. In a transaction it first takes the contact's consent lock
// (see store.LockConsent).
func (c *Core) checkConsent(ctx context.Context, tx *sql.Tx, tenant, contact string, scope ConsentScope) error {
	if scope == "" {
		return nil
	}
	if tx != nil {
		if err := store.LockConsent(ctx, tx, c.store.Dialect, tenant, contact, false); err != nil {
			return err
		}
	}
	a, b := consentScopes(scope)
	got, err := store.OptedOutScope(ctx, c.store.Q(tx), tenant, contact, a, b)
	if err != nil {
		return err
	}
	if got != "" {
		return &OptedOutError{Contact: contact, Scope: ConsentScope(got)}
	}
	return nil
}

// OptOutKeywordsDefault returns the default Config.OptOutKeywords: English
// and Arabic words customers send to stop messages. Each matches a whole
// message after normalisation (case, Arabic letter variants, diacritics,
// punctuation), so "STOP", " stop! " and "Stop." all match "stop", and
// "إلغاء", "الغاء" and "إلغاء!" all match "إلغاء"; "please stop" does not.
func OptOutKeywordsDefault() []string {
	return []string{
		"STOP", "STOPALL", "UNSUBSCRIBE", "OPT OUT", "OPTOUT",
		"إلغاء", "إلغاء الاشتراك", "توقف", "إيقاف", "ايقاف", "الغاء",
	}
}

// maxKeywordInput bounds the messages checked for opt-out keywords: no
// keyword is near this long, so longer messages are never one.
const maxKeywordInput = 256

// optOutKeyword reports whether text, as a whole, is one of the keywords.
func optOutKeyword(keywords map[string]struct{}, text string) bool {
	if len(keywords) == 0 || len(text) > maxKeywordInput {
		return false
	}
	_, ok := keywords[textnorm.Normalize(text)]
	return ok
}

// keywordOptOut opts the author of an inbound 1:1 text that is an opt-out
// keyword out of Config.OptOutScope, inside the transaction that stores the
// message, with the note "message <ID>". It reports whether the consent
// changed.
func (c *Core) keywordOptOut(ctx context.Context, tx *sql.Tx, em *emitter, s *session, m *InboundMessage) (bool, error) {
	if m.FromMe || m.IsGroup || IsGroupJID(m.Chat.JID) {
		return false, nil
	}
	t, ok := m.Content.(*Text)
	if !ok || !optOutKeyword(c.optOutKeywords, t.Body) {
		return false, nil
	}
	contact := inboundContact(m)
	if contact == "" {
		return false, nil
	}
	_, changed, err := c.applyConsent(ctx, tx, em, &store.Consent{TenantID: s.tenant, Contact: contact,
		Scope: string(c.cfg.OptOutScope), Status: string(ConsentOptedOut), Source: ConsentSourceKeyword, SessionID: s.key,
		Note: "message " + m.ID}, s.id)
	return changed, err
}

// inboundContact returns the consent key of a 1:1 message's author: its phone
// number when known, else its LID.
func inboundContact(m *InboundMessage) string {
	for _, jid := range []string{m.Sender.JID, m.Chat.JID, m.Sender.LID, m.Chat.LID} {
		if n, err := NormalizeChat(jid); err == nil && strings.HasSuffix(n, "@"+ServerUser) {
			return consentContact(n)
		}
	}
	for _, jid := range []string{m.Sender.LID, m.Chat.LID, m.Sender.JID, m.Chat.JID} {
		if n, err := NormalizeChat(jid); err == nil && strings.HasSuffix(n, "@"+ServerLID) {
			return n
		}
	}
	return ""
}

// sendOptOutReply sends Config.OptOutReply to chat as a transactional
// message, in the background: the engine handler that stored the opt-out
// must not wait for a send. A Core that is stopping sends nothing.
func (c *Core) sendOptOutReply(s *session, chat, inboundID string) {
	if c.cfg.OptOutReply == "" || c.begin() != nil {
		return
	}
	go func() {
		defer c.ops.done()
		ctx := WithTenant(c.lifeCtx, s.tenant)
		_, err := c.send(ctx, s.id, chat, &Text{Body: c.cfg.OptOutReply},
			&SendOpts{IdempotencyKey: "opt-out-reply:" + inboundID, Transactional: true})
		if err != nil {
			c.logger.WarnContext(ctx, "Opt-out confirmation not sent", slog.String("session", s.id), slog.Any("error", err))
		}
	}()
}

// consentErr passes an *OptedOutError on and wraps other errors of
// checkConsent as database errors.
func consentErr(err error) error {
	if errors.Is(err, ErrOptedOut) {
		return err
	}
	return fmt.Errorf("%w: check consent: %w", ErrDatabase, err)
}
