// Package client is a Go client for a remote waqtor server (examples/server or
// any host that mounts transport/rest and transport/ws): typed methods for the
// REST routes, and an event stream over the WebSocket that reconnects with
// capped exponential backoff and jitter, resubscribes and resumes from the last
// event ID it saw, so that no event is missed across reconnects or server
// restarts.
//
//	c, _ := client.New(&client.Config{BaseURL: "http://localhost:8080/api", APIKey: key})
//	m, err := c.SendText(ctx, "default", &api.SendTextRequest{Chat: "+15550002222", Text: "hi"}, nil)
//	s, _ := c.Events(ctx, &client.StreamOpts{Topics: []string{"message.*"}})
//	for { e, err := s.Next(ctx); ... }
//
// Errors from the server are *Error values carrying the problem details; use
// errors.As, or IsNotFound and friends.
//
// The request and response types are package api's, which imports only the
// standard library: a client binary links neither the server (chi, the REST
// handler, the WebSocket hub) nor any database driver. Message content and
// event payloads are raw JSON; decode them with waqtor.UnmarshalContent and
// waqtor.Envelope when you link the waqtor package anyway.
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/waqtor/waqtor/internal/retryafter"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// Config configures New.
type Config struct {
	// APIKey authenticates every request (sent as X-API-Key). Required.
	APIKey string
	// BaseURL is where the REST API is mounted ("http://localhost:8080/api").
	// Required.
	BaseURL string
	// HTTPClient sends requests. Defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// WSURL is the WebSocket endpoint. Defaults to BaseURL's scheme (ws/wss)
	// and host with the path "/ws".
	WSURL string
}

// Client talks to one waqtor server.
type Client struct {
	base  string
	key   string
	http  *http.Client
	wsURL string
}

// New returns a client.
func New(cfg *Config) (*Client, error) {
	if cfg == nil || cfg.BaseURL == "" || cfg.APIKey == "" {
		return nil, errors.New("client: Config needs BaseURL and APIKey")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("client: BaseURL %q must be an http(s) URL", cfg.BaseURL)
	}
	c := &Client{base: strings.TrimSuffix(cfg.BaseURL, "/"), key: cfg.APIKey, http: cfg.HTTPClient, wsURL: cfg.WSURL}
	if c.http == nil {
		c.http = &http.Client{Timeout: 60 * time.Second}
	}
	if c.wsURL == "" {
		scheme := "ws"
		if u.Scheme == "https" {
			scheme = "wss"
		}
		c.wsURL = scheme + "://" + u.Host + "/ws"
	}
	return c, nil
}

// Error is a problem the server answered with.
type Error struct {
	api.Problem
	// RetryAfter is the server's Retry-After (seconds or an HTTP date), if
	// any, at most an hour.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("waqtor server: %d %s", e.Status, e.Problem.Error())
}

// IsNotFound reports whether err is a 404 problem.
func IsNotFound(err error) bool { return hasType(err, api.TypeNotFound) }

// IsRateLimited reports whether err is a 429 problem.
func IsRateLimited(err error) bool { return hasType(err, api.TypeRateLimited) }

func hasType(err error, typ string) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == typ
}

// SendOpts are per-call options of the send methods.
type SendOpts struct {
	// IdempotencyKey makes the send safe to retry (Idempotency-Key header).
	IdempotencyKey string
}

func (c *Client) do(ctx context.Context, method, path string, in, out any, hdr http.Header) error {
	var body io.Reader
	ct := ""
	switch v := in.(type) {
	case nil:
	case *multipartBody:
		body, ct = v.buf, v.contentType
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set(api.HeaderAPIKey, c.key)
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return responseError(res)
	}
	switch v := out.(type) {
	case nil:
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	case *[]byte:
		*v, err = io.ReadAll(res.Body)
		return err
	default:
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return fmt.Errorf("client: decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// maxRetryAfter caps the server's Retry-After in [Error.RetryAfter].
const maxRetryAfter = time.Hour

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 1 << 20

// responseError turns a response with an error status into an *Error. The
// status is always the response's: a problem body (or a proxy's page)
// claiming another one does not change it. A body that is not a problem
// becomes the detail, cut at maxErrorBody.
func responseError(res *http.Response) *Error {
	e := &Error{}
	data, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	if json.Unmarshal(data, &e.Problem) != nil || e.Problem.Status == 0 {
		e.Problem = api.Problem{Title: http.StatusText(res.StatusCode), Detail: strings.ToValidUTF8(string(data), "\uFFFD")}
	}
	e.Status = res.StatusCode
	if d, ok := retryafter.Parse(res.Header.Get("Retry-After"), time.Now(), maxRetryAfter); ok {
		e.RetryAfter = d
	}
	return e
}

func sendHeader(o *SendOpts) http.Header {
	if o == nil || o.IdempotencyKey == "" {
		return nil
	}
	return http.Header{api.HeaderIdempotencyKey: {o.IdempotencyKey}}
}

func sessionPath(id string, rest ...string) string {
	return "/sessions/" + url.PathEscape(id) + strings.Join(rest, "")
}

// Sessions lists the sessions the key may see.
func (c *Client) Sessions(ctx context.Context) ([]*api.Session, error) {
	var out api.SessionList
	return out.Sessions, c.do(ctx, "GET", "/sessions", nil, &out, nil)
}

// CreateSession creates a session ("" for a generated ID).
func (c *Client) CreateSession(ctx context.Context, id string) (*api.Session, error) {
	var out api.Session
	return &out, c.do(ctx, "POST", "/sessions", &api.CreateSessionRequest{ID: id}, &out, nil)
}

// Session returns one session.
func (c *Client) Session(ctx context.Context, id string) (*api.Session, error) {
	var out api.Session
	return &out, c.do(ctx, "GET", sessionPath(id), nil, &out, nil)
}

// DeleteSession deletes a session.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", sessionPath(id), nil, nil, nil)
}

// SessionState returns a session's state.
func (c *Client) SessionState(ctx context.Context, id string) (*api.SessionState, error) {
	var out api.SessionState
	return &out, c.do(ctx, "GET", sessionPath(id, "/state"), nil, &out, nil)
}

// QR returns the session's current QR code.
func (c *Client) QR(ctx context.Context, id string) (*api.QRCode, error) {
	var out api.QRCode
	return &out, c.do(ctx, "GET", sessionPath(id, "/qr"), nil, &out, nil)
}

// QRPNG returns the session's current QR code as a PNG image of size pixels
// (0 for the server's default).
func (c *Client) QRPNG(ctx context.Context, id string, size int) ([]byte, error) {
	p := sessionPath(id, "/qr.png")
	if size > 0 {
		p += "?size=" + strconv.Itoa(size)
	}
	var out []byte
	return out, c.do(ctx, "GET", p, nil, &out, nil)
}

// PairPhone starts pairing by phone number and returns the code to type.
func (c *Client) PairPhone(ctx context.Context, id, phone string) (string, error) {
	var out api.PairPhoneResponse
	return out.Code, c.do(ctx, "POST", sessionPath(id, "/pair-phone"), &api.PairPhoneRequest{Phone: phone}, &out, nil)
}

// Control actions of a session.
const (
	ActionConnect    = "connect"
	ActionDisconnect = "disconnect"
	ActionLogout     = "logout"
	ActionRestart    = "restart"
)

// Control connects, disconnects, restarts or logs out a session.
func (c *Client) Control(ctx context.Context, id, action string) (*api.Session, error) {
	var out api.Session
	return &out, c.do(ctx, "POST", sessionPath(id, "/", action), nil, &out, nil)
}

func (c *Client) send(ctx context.Context, session, op string, in any, o *SendOpts) (*api.Message, error) {
	var out api.Message
	if err := c.do(ctx, "POST", sessionPath(session, "/messages/", op), in, &out, sendHeader(o)); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendText sends a text message.
func (c *Client) SendText(ctx context.Context, session string, r *api.SendTextRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-text", r, o)
}

// SendMedia sends media given as bytes (Data) or a URL, in JSON.
func (c *Client) SendMedia(ctx context.Context, session string, r *api.SendMediaRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-media", r, o)
}

type multipartBody struct {
	buf         *bytes.Buffer
	contentType string
}

// SendMediaFile uploads media as multipart/form-data (no base64 overhead).
func (c *Client) SendMediaFile(ctx context.Context, session string, r *api.SendMediaRequest, file io.Reader, o *SendOpts) (*api.Message, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"caption": r.Caption, "chat": r.Chat, "file_name": r.FileName, "kind": r.Kind, "mime": r.MIME} {
		if v != "" {
			_ = mw.WriteField(k, v)
		}
	}
	if r.Voice {
		_ = mw.WriteField("voice", "true")
	}
	if r.Transactional {
		_ = mw.WriteField("transactional", "true")
	}
	fw, err := mw.CreateFormFile("file", cmp.Or(r.FileName, "file"))
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(fw, file); err != nil {
		return nil, fmt.Errorf("client: read media: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return c.send(ctx, session, "send-media", &multipartBody{buf: &buf, contentType: mw.FormDataContentType()}, o)
}

// SendLocation sends a location.
func (c *Client) SendLocation(ctx context.Context, session string, r *api.SendLocationRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-location", r, o)
}

// SendContact sends a contact card.
func (c *Client) SendContact(ctx context.Context, session string, r *api.SendContactRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-contact", r, o)
}

// SendPoll sends a poll.
func (c *Client) SendPoll(ctx context.Context, session string, r *api.SendPollRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-poll", r, o)
}

// SendButtons sends a message with reply buttons (POST .../send-button).
func (c *Client) SendButtons(ctx context.Context, session string, r *api.SendButtonsRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-button", r, o)
}

// SendList sends a list menu (POST .../send-list).
func (c *Client) SendList(ctx context.Context, session string, r *api.SendListRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "send-list", r, o)
}

// React reacts to a message.
func (c *Client) React(ctx context.Context, session string, r *api.ReactRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "react", r, o)
}

// Edit edits a message's text.
func (c *Client) Edit(ctx context.Context, session string, r *api.EditRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "edit", r, o)
}

// Revoke deletes a message for everyone.
func (c *Client) Revoke(ctx context.Context, session string, r *api.RevokeRequest, o *SendOpts) (*api.Message, error) {
	return c.send(ctx, session, "revoke", r, o)
}

// MarkRead sends read receipts.
func (c *Client) MarkRead(ctx context.Context, session string, r *api.MarkReadRequest) error {
	return c.do(ctx, "POST", sessionPath(session, "/messages/mark-read"), r, nil, nil)
}

// Typing shows or clears a typing indicator.
func (c *Client) Typing(ctx context.Context, session string, r *api.TypingRequest) error {
	return c.do(ctx, "POST", sessionPath(session, "/messages/typing"), r, nil, nil)
}

// MessagesParams selects a page of a chat's messages.
type MessagesParams struct {
	// Before is the previous page's Next cursor.
	Before string
	// Chat is the chat's phone number or JID. Required.
	Chat string
	// Limit is the page size (1 to 500; 0 for the server's default).
	Limit int
}

// Messages lists a chat's messages, newest first.
func (c *Client) Messages(ctx context.Context, session string, p *MessagesParams) (*api.MessageList, error) {
	q := url.Values{"chat": {p.Chat}}
	if p.Before != "" {
		q.Set("before", p.Before)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out api.MessageList
	return &out, c.do(ctx, "GET", sessionPath(session, "/messages?", q.Encode()), nil, &out, nil)
}

// Message returns a message and its state.
func (c *Client) Message(ctx context.Context, session, id string) (*api.Message, error) {
	var out api.Message
	return &out, c.do(ctx, "GET", sessionPath(session, "/messages/", url.PathEscape(id)), nil, &out, nil)
}

// DownloadMedia returns the bytes of an inbound media message.
func (c *Client) DownloadMedia(ctx context.Context, session, id string) ([]byte, error) {
	var out []byte
	return out, c.do(ctx, "GET", sessionPath(session, "/messages/", url.PathEscape(id), "/media"), nil, &out, nil)
}

// CheckNumbers reports which numbers are on WhatsApp.
func (c *Client) CheckNumbers(ctx context.Context, session string, phones []string) ([]api.NumberCheck, error) {
	var out api.CheckNumbersResponse
	return out.Results, c.do(ctx, "POST", sessionPath(session, "/contacts/check"), &api.CheckNumbersRequest{Phones: phones}, &out, nil)
}

// SetConsent records a contact's opt-in or opt-out for a scope (PUT
// /consent/{contact}); contact is a phone number, a user JID or a LID.
func (c *Client) SetConsent(ctx context.Context, contact string, r *api.ConsentRequest) (*api.Consent, error) {
	var out api.Consent
	return &out, c.do(ctx, "PUT", "/consent/"+url.PathEscape(contact), r, &out, nil)
}

// ConsentParams selects a page of consent records (ListConsent) or of a
// contact's history (Consent).
type ConsentParams struct {
	// Cursor is the previous page's Next (the after or before parameter).
	Cursor string
	// Limit is the page size (1 to 500; 0 for the server's default).
	Limit int
	// Scope keeps one scope ("marketing" or "all").
	Scope string
	// Status keeps one status ("opted_in" or "opted_out"); ListConsent only.
	Status string
}

func (p *ConsentParams) query(cursorName string) string {
	q := url.Values{}
	if p == nil {
		return ""
	}
	for k, v := range map[string]string{cursorName: p.Cursor, "scope": p.Scope, "status": p.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// Consent returns a contact's current consent and a page of its history,
// newest first; a contact the tenant has no record of is a not-found error
// (IsNotFound).
func (c *Client) Consent(ctx context.Context, contact string, p *ConsentParams) (*api.ContactConsent, error) {
	if p != nil {
		cp := *p
		cp.Status = "" // not a parameter of this route
		p = &cp
	}
	var out api.ContactConsent
	return &out, c.do(ctx, "GET", "/consent/"+url.PathEscape(contact)+p.query("before"), nil, &out, nil)
}

// ListConsent lists the tenant's current consent records, by contact and
// scope.
func (c *Client) ListConsent(ctx context.Context, p *ConsentParams) (*api.ConsentList, error) {
	var out api.ConsentList
	return &out, c.do(ctx, "GET", "/consent"+p.query("after"), nil, &out, nil)
}

// CreateKey creates an API key; the result holds its secret.
func (c *Client) CreateKey(ctx context.Context, r *api.CreateKeyRequest) (*api.CreatedKey, error) {
	var out api.CreatedKey
	return &out, c.do(ctx, "POST", "/keys", r, &out, nil)
}

// Keys lists the tenant's keys.
func (c *Client) Keys(ctx context.Context) ([]*api.Key, error) {
	var out api.KeyList
	return out.Keys, c.do(ctx, "GET", "/keys", nil, &out, nil)
}

// RevokeKey revokes a key.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/keys/"+url.PathEscape(id), nil, nil, nil)
}
