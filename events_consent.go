package waqtor

// KindConsentChanged is emitted when a contact's consent changes.
const KindConsentChanged EventKind = "consent.changed"

// ConsentChanged reports a change of a contact's consent, committed in the
// same transaction as the change. Its tenant is the consent record's; its
// session is the session whose inbound message made the change (a keyword
// opt-out), empty for changes made through the API. Recording the status a
// contact already has emits nothing.
type ConsentChanged struct {
	EventMeta
	// Contact is the contact (E.164, or "<digits>@lid").
	Contact string `json:"contact"`
	// Note is the change's note, if any.
	Note string `json:"note,omitempty"`
	// Previous is the status before the change; "" when it is the first.
	Previous ConsentStatus `json:"previous,omitempty"`
	// Scope is what the decision covers.
	Scope ConsentScope `json:"scope"`
	// Source says where the decision came from ("api", "keyword", ...).
	Source string `json:"source"`
	// Status is the new status.
	Status ConsentStatus `json:"status"`
}

// Kind returns KindConsentChanged.
func (*ConsentChanged) Kind() EventKind { return KindConsentChanged }
func (*ConsentChanged) isEvent()        {}
