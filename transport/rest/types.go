package rest

import (
	"fmt"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// Request and response types of the built-in routes. They live in package
// api, which a client can import without linking the server; these aliases
// keep their names here. Every request type rejects unknown fields and
// validates each field with an error naming it.
type (
	// CreateSessionRequest is the body of POST /sessions.
	CreateSessionRequest = api.CreateSessionRequest
	// SessionList is the response of GET /sessions.
	SessionList = api.SessionList
	// SessionState is the response of GET /sessions/{session}/state.
	SessionState = api.SessionState
	// PairPhoneRequest is the body of POST /sessions/{session}/pair-phone.
	PairPhoneRequest = api.PairPhoneRequest
	// PairPhoneResponse carries the code to type on the phone.
	PairPhoneResponse = api.PairPhoneResponse
	// SendTextRequest is the body of send-text.
	SendTextRequest = api.SendTextRequest
	// SendMediaRequest is the JSON body of send-media.
	SendMediaRequest = api.SendMediaRequest
	// SendMediaForm documents the multipart/form-data body of send-media.
	SendMediaForm = api.SendMediaForm
	// SendLocationRequest is the body of send-location.
	SendLocationRequest = api.SendLocationRequest
	// SendContactRequest is the body of send-contact.
	SendContactRequest = api.SendContactRequest
	// SendPollRequest is the body of send-poll.
	SendPollRequest = api.SendPollRequest
	// SendButtonsRequest is the body of send-button.
	SendButtonsRequest = api.SendButtonsRequest
	// SendListRequest is the body of send-list.
	SendListRequest = api.SendListRequest
	// ReactRequest is the body of react.
	ReactRequest = api.ReactRequest
	// EditRequest is the body of edit.
	EditRequest = api.EditRequest
	// RevokeRequest is the body of revoke.
	RevokeRequest = api.RevokeRequest
	// MarkReadRequest is the body of mark-read.
	MarkReadRequest = api.MarkReadRequest
	// TypingRequest is the body of typing.
	TypingRequest = api.TypingRequest
	// MessageList is a page of a chat's messages, newest first.
	MessageList = api.MessageList
	// CheckNumbersRequest is the body of contacts/check.
	CheckNumbersRequest = api.CheckNumbersRequest
	// CheckNumbersResponse answers contacts/check, in the order asked.
	CheckNumbersResponse = api.CheckNumbersResponse
	// CreateKeyRequest is the body of POST /keys.
	CreateKeyRequest = api.CreateKeyRequest
	// CreatedKey is a new key with its plaintext, shown only in this response.
	CreatedKey = api.CreatedKey
	// KeyList lists the tenant's keys.
	KeyList = api.KeyList
)

func fieldError(field, format string, args ...any) error {
	return &waqtor.FieldError{Err: waqtor.ErrInvalidMessage, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Conversions from the Core's and the key store's types to the wire types.

func clientInfoOut(c waqtor.ClientInfo) api.ClientInfo {
	return api.ClientInfo{JID: c.JID, LID: c.LID, Name: c.Name, Phone: c.Phone, Platform: c.Platform}
}

func sessionOut(s *waqtor.Session) *api.Session {
	out := &api.Session{BanExpires: s.BanExpires, CreatedAt: s.CreatedAt, ID: s.ID, Info: clientInfoOut(s.Info), Reason: s.Reason,
		State: string(s.State), Tenant: s.Tenant, UpdatedAt: s.UpdatedAt}
	if s.QR != nil {
		out.QR = &api.QRCode{Code: s.QR.Code, Expires: s.QR.Expires}
	}
	return out
}

func stateOf(s *waqtor.Session) *api.SessionState {
	return &api.SessionState{BanExpires: s.BanExpires, ClientInfo: clientInfoOut(s.Info), ID: s.ID, Reason: s.Reason,
		Status: string(s.State), UpdatedAt: s.UpdatedAt}
}

func addressOut(a waqtor.Address) api.Address {
	return api.Address{JID: a.JID, LID: a.LID, Phone: a.Phone}
}

func messageOut(m *waqtor.Message) (*api.Message, error) {
	out := &api.Message{Chat: addressOut(m.Chat), CreatedAt: m.CreatedAt, Direction: string(m.Direction), EditedAt: m.EditedAt,
		Error: m.Error, FromMe: m.FromMe, ID: m.ID, IsGroup: m.IsGroup, PushName: m.PushName, Revoked: m.Revoked,
		RevokedAt: m.RevokedAt, Sender: addressOut(m.Sender), Session: m.Session,
		Status: string(m.Status), Tenant: m.Tenant, Time: m.Time, UpdatedAt: m.UpdatedAt, Content: []byte("null")}
	if m.Content != nil {
		c, err := waqtor.MarshalContent(m.Content)
		if err != nil {
			return nil, fmt.Errorf("encode message %s: %w", m.ID, err)
		}
		out.Content = c
	}
	return out, nil
}

func keyOut(k *auth.Key) *api.Key {
	out := &api.Key{CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, ID: k.ID, Name: k.Name, Prefix: k.Prefix, RevokedAt: k.RevokedAt,
		Scopes: make([]string, len(k.Scopes)), Sessions: k.Sessions, Tenant: k.Tenant}
	for i, s := range k.Scopes {
		out.Scopes[i] = string(s)
	}
	return out
}

func textContent(r *SendTextRequest) *waqtor.Text {
	t := &waqtor.Text{Body: r.Text, Mentions: r.Mentions}
	if r.QuoteID != "" {
		t.Quote = &waqtor.Quote{ID: r.QuoteID}
	}
	return t
}

func mediaParams(r *SendMediaRequest) *waqtor.MediaParams {
	p := &waqtor.MediaParams{Caption: r.Caption, FileName: r.FileName, Kind: waqtor.ContentType(r.Kind), MIME: r.MIME, URL: r.URL, Voice: r.Voice}
	if len(r.Data) > 0 {
		p.Data = r.Data
	}
	return p
}
