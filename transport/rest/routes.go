package rest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// builtinGroups returns the routes for everything the Core does.
func (h *handler) builtinGroups() []RouteGroup {
	groups := []RouteGroup{
		{Name: "sessions", Description: "WhatsApp sessions: create, pair (QR or phone code), control and delete.", Routes: h.sessionRoutes()},
		{Name: "messages", Description: "Send messages and read a chat's history. Session-scoped.", Routes: h.messageRoutes()},
		{Name: "contacts", Description: "Check which numbers are on WhatsApp.", Routes: h.contactRoutes()},
		{Name: "consent", Description: "The tenant's consent registry: who opted in to or out of marketing or all messages. " +
			"Sends to a contact opted out of all are refused (409 opted-out) unless `transactional`; marketing sends to one opted out of marketing or all, always.",
			Routes: h.consentRoutes(), Scopes: map[auth.Scope]string{ScopeConsentWrite: "Record contacts' opt-ins and opt-outs."}},
	}
	if h.opts.Keys != nil {
		groups = append(groups, RouteGroup{Name: "keys", Description: "The tenant's API keys.", Routes: h.keyRoutes()})
	}
	groups = append(groups, RouteGroup{Name: "seed", Description: "The original plan's flat routes; they act on the session named " +
		strconv.Quote(h.opts.DefaultSession) + ".", Routes: h.seedRoutes()})
	return groups
}

func (h *handler) sessionRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/sessions", Scope: auth.ScopeRead, OperationID: "listSessions",
			Summary: "List the sessions the key may see.", Response: SessionList{}, Handler: HandleJSON(h.listSessions)},
		{Method: "POST", Pattern: "/sessions", Scope: auth.ScopeSessionsAdmin, OperationID: "createSession",
			Summary: "Create a session; it connects at once and shows QR codes until paired.",
			Description: "Session IDs are unique within the tenant: other tenants' sessions never conflict with the ID chosen. " +
				"Keys narrowed to some sessions cannot create sessions.",
			Request: CreateSessionRequest{}, Response: api.Session{}, Status: http.StatusCreated, Problems: []int{http.StatusConflict},
			Handler: HandleJSON(h.createSession), creates: "session"},
		{Method: "GET", Pattern: "/sessions/{session}", Scope: auth.ScopeRead, OperationID: "getSession",
			Summary: "Get a session.", Response: api.Session{}, Handler: HandleJSON(h.getSession)},
		{Method: "DELETE", Pattern: "/sessions/{session}", Scope: auth.ScopeSessionsAdmin, OperationID: "deleteSession",
			Summary: "Log a session out (when paired) and delete it with its messages.", Handler: HandleJSON(h.deleteSession)},
		{Method: "GET", Pattern: "/sessions/{session}/state", Scope: auth.ScopeRead, OperationID: "getSessionState",
			Summary: "Get a session's connection state and account.", Response: SessionState{}, Handler: HandleJSON(h.getState)},
		{Method: "GET", Pattern: "/sessions/{session}/qr", Scope: auth.ScopeRead, OperationID: "getSessionQR",
			Summary:  "Get the current login QR code as text (409 when the session is not waiting for a scan).",
			Response: api.QRCode{}, Problems: []int{http.StatusConflict}, Handler: HandleJSON(h.getQR)},
		{Method: "GET", Pattern: "/sessions/{session}/qr.png", Scope: auth.ScopeRead, OperationID: "getSessionQRPNG",
			Summary: "Get the current login QR code as a PNG image.", ResponseType: "image/png",
			Query:    []Param{{Name: "size", Type: "integer", Description: "Width and height in pixels, 128 to 1024; defaults to 256."}},
			Problems: []int{http.StatusConflict}, Handler: http.HandlerFunc(h.getQRPNG)},
		{Method: "POST", Pattern: "/sessions/{session}/pair-phone", Scope: auth.ScopeSessionsAdmin, OperationID: "pairSessionPhone",
			Summary: "Start pairing by phone number and get the code to type on the phone.",
			Request: PairPhoneRequest{}, Response: PairPhoneResponse{}, Handler: HandleJSON(h.pairPhone)},
		{Method: "POST", Pattern: "/sessions/{session}/connect", Scope: auth.ScopeSessionsAdmin, OperationID: "connectSession",
			Summary: "Connect a session (shows QR codes when unpaired).", Response: api.Session{}, Handler: HandleJSON(h.control(controlConnect))},
		{Method: "POST", Pattern: "/sessions/{session}/disconnect", Scope: auth.ScopeSessionsAdmin, OperationID: "disconnectSession",
			Summary: "Disconnect a session, keeping its pairing.", Response: api.Session{}, Handler: HandleJSON(h.control(controlDisconnect))},
		{Method: "POST", Pattern: "/sessions/{session}/restart", Scope: auth.ScopeSessionsAdmin, OperationID: "restartSession",
			Summary: "Restart a session's connection.", Response: api.Session{}, Handler: HandleJSON(h.control(controlRestart))},
		{Method: "POST", Pattern: "/sessions/{session}/logout", Scope: auth.ScopeSessionsAdmin, OperationID: "logoutSession",
			Summary: "Unpair a session; it stays and can pair again.", Response: api.Session{}, Handler: HandleJSON(h.control(controlLogout))},
	}
}

func principal(r *http.Request) *auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	return p
}

func (h *handler) listSessions(r *http.Request, _ *NoBody) (*SessionList, error) {
	p := principal(r)
	all, err := h.core.Sessions(r.Context(), &waqtor.SessionListParams{Tenant: p.Tenant})
	if err != nil {
		return nil, err
	}
	out := &SessionList{Sessions: []*api.Session{}}
	for _, s := range all {
		if p.AllowsSession(s.ID) {
			out.Sessions = append(out.Sessions, sessionOut(s))
		}
	}
	return out, nil
}

func (h *handler) createSession(r *http.Request, req *CreateSessionRequest) (*api.Session, error) {
	p := principal(r)
	if len(p.Sessions) > 0 {
		return nil, NewProblem(http.StatusForbidden, TypeForbidden, "a key narrowed to some sessions cannot create sessions")
	}
	return sessionResult(h.core.CreateSession(r.Context(), &waqtor.CreateSessionParams{ID: req.ID, Tenant: p.Tenant}))
}

func sessionResult(s *waqtor.Session, err error) (*api.Session, error) {
	if err != nil {
		return nil, err
	}
	return sessionOut(s), nil
}

func (h *handler) getSession(r *http.Request, _ *NoBody) (*api.Session, error) {
	return sessionResult(h.core.Session(r.Context(), r.PathValue("session")))
}

func (h *handler) deleteSession(r *http.Request, _ *NoBody) (*struct{}, error) {
	return nil, h.core.DeleteSession(r.Context(), r.PathValue("session"))
}

func (h *handler) getState(r *http.Request, _ *NoBody) (*SessionState, error) {
	s, err := h.core.Session(r.Context(), r.PathValue("session"))
	if err != nil {
		return nil, err
	}
	return stateOf(s), nil
}

func (h *handler) getQR(r *http.Request, _ *NoBody) (*api.QRCode, error) {
	qr, err := h.core.QR(r.Context(), r.PathValue("session"))
	if err != nil {
		return nil, err
	}
	return &api.QRCode{Code: qr.Code, Expires: qr.Expires}, nil
}

func (h *handler) getQRPNG(w http.ResponseWriter, r *http.Request) {
	size, err := QueryInt(r, "size", 256, 128, 1024)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	qr, err := h.core.QR(r.Context(), r.PathValue("session"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	png, err := qrcode.Encode(qr.Code, qrcode.Medium, size)
	if err != nil {
		WriteError(w, r, fmt.Errorf("render QR code: %w", err))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
}

func (h *handler) pairPhone(r *http.Request, req *PairPhoneRequest) (*PairPhoneResponse, error) {
	if _, err := waqtor.ParsePhone(req.Phone); err != nil {
		return nil, err
	}
	code, err := h.core.PairPhone(r.Context(), r.PathValue("session"), req.Phone)
	if err != nil {
		return nil, err
	}
	return &PairPhoneResponse{Code: code}, nil
}

type controlAction int

const (
	controlConnect controlAction = iota
	controlDisconnect
	controlRestart
	controlLogout
)

func (h *handler) control(a controlAction) func(r *http.Request, _ *NoBody) (*api.Session, error) {
	return func(r *http.Request, _ *NoBody) (*api.Session, error) {
		id := r.PathValue("session")
		var err error
		switch a {
		case controlConnect:
			err = h.core.Connect(r.Context(), id)
		case controlDisconnect:
			err = h.core.Disconnect(r.Context(), id)
		case controlRestart:
			err = h.core.Restart(r.Context(), id)
		case controlLogout:
			err = h.core.Logout(r.Context(), id)
		}
		if err != nil {
			return nil, err
		}
		return sessionResult(h.core.Session(r.Context(), id))
	}
}

func (h *handler) messageRoutes() []Route {
	msgOwner := &Owner{Param: "message", LookupFunc: h.lookupMessage}
	send := func(op, pattern, summary string, req any, fn http.Handler) Route {
		return Route{Method: "POST", Pattern: "/sessions/{session}/messages/" + pattern, Scope: auth.ScopeMessagesSend,
			OperationID: op, Summary: summary, Request: req, Response: api.Message{}, Idempotent: true, Handler: fn}
	}
	routes := []Route{
		send("sendText", "send-text", "Send a text message (with an optional quote and mentions).", SendTextRequest{}, HandleJSON(h.sendText)),
		h.sendMediaRoute("/sessions/{session}/messages/send-media", "sendMedia"),
		send("sendLocation", "send-location", "Send a location.", SendLocationRequest{}, HandleJSON(h.sendLocation)),
		send("sendContact", "send-contact", "Send a contact card.", SendContactRequest{}, HandleJSON(h.sendContact)),
		send("sendPoll", "send-poll", "Send a poll; votes arrive as message.received events.", SendPollRequest{}, HandleJSON(h.sendPoll)),
		h.sendButtonsRoute("/sessions/{session}/messages/send-button", "sendButton"),
		h.sendListRoute("/sessions/{session}/messages/send-list", "sendList"),
		send("react", "react", "React to a message (an empty emoji removes the reaction).", ReactRequest{}, HandleJSON(h.react)),
		send("editMessage", "edit", "Edit the text of a message this session sent.", EditRequest{}, HandleJSON(h.edit)),
		send("revokeMessage", "revoke", "Delete a message for everyone.", RevokeRequest{}, HandleJSON(h.revoke)),
		{Method: "POST", Pattern: "/sessions/{session}/messages/mark-read", Scope: auth.ScopeMessagesSend, OperationID: "markRead",
			Summary: "Send read receipts for inbound messages.", Request: MarkReadRequest{}, Handler: HandleJSON(h.markRead)},
		{Method: "POST", Pattern: "/sessions/{session}/messages/typing", Scope: auth.ScopeMessagesSend, OperationID: "setTyping",
			Summary: "Show or clear a typing or recording indicator in a chat.", Request: TypingRequest{}, Handler: HandleJSON(h.typing)},
		{Method: "GET", Pattern: "/sessions/{session}/messages", Scope: auth.ScopeRead, OperationID: "listMessages",
			Summary: "List a chat's messages, newest first, with cursor pagination.",
			Query: []Param{
				{Name: "chat", Required: true, Description: "Phone number or JID of the chat."},
				{Name: "before", Description: "The previous page's next cursor."},
				{Name: "limit", Type: "integer", Description: "Page size, 1 to 500; defaults to 50. A larger value is refused with 400 naming limit, never silently capped."},
			},
			Response: MessageList{}, Handler: HandleJSON(h.listMessages)},
		{Method: "GET", Pattern: "/sessions/{session}/messages/{message}", Scope: auth.ScopeRead, OperationID: "getMessage",
			Summary: "Get a message and its delivery state.", Owner: msgOwner, Response: api.Message{}, Handler: HandleJSON(h.getMessage)},
		{Method: "GET", Pattern: "/sessions/{session}/messages/{message}/media", Scope: auth.ScopeRead, OperationID: "downloadMedia",
			Summary: "Download the media of an inbound message.", Owner: msgOwner, ResponseType: "*/*",
			Description: "The Content-Type is the media's own (image/jpeg, ...). A message without media is 422.",
			Problems:    []int{http.StatusUnprocessableEntity}, Handler: http.HandlerFunc(h.downloadMedia)},
	}
	return routes
}

// interactiveDescription explains the modes of send-button and send-list.
const interactiveDescription = "WhatsApp displays native buttons and lists only on some business accounts and silently drops them elsewhere, " +
	"so `mode` chooses how the choices are sent: `native`, `text` (a numbered menu, shown everywhere) or `poll` (a single-choice poll); " +
	"the engine's default when absent. Replies arrive as message.received events in every mode."

func (h *handler) sendButtonsRoute(pattern, op string) Route {
	return Route{Method: "POST", Pattern: pattern, Scope: auth.ScopeMessagesSend, OperationID: op,
		Summary: "Send a message with up to 3 reply buttons.", Description: interactiveDescription,
		Request: SendButtonsRequest{}, Response: api.Message{}, Idempotent: true, Handler: HandleJSON(h.sendButtons)}
}

func (h *handler) sendListRoute(pattern, op string) Route {
	return Route{Method: "POST", Pattern: pattern, Scope: auth.ScopeMessagesSend, OperationID: op,
		Summary: "Send a list menu (up to 10 rows in sections) opened by a button.", Description: interactiveDescription,
		Request: SendListRequest{}, Response: api.Message{}, Idempotent: true, Handler: HandleJSON(h.sendList)}
}

func (h *handler) sendMediaRoute(pattern, op string) Route {
	return Route{Method: "POST", Pattern: pattern, Scope: auth.ScopeMessagesSend, OperationID: op,
		Summary:     "Send an image, video, audio clip, document or sticker.",
		Description: "Send the media as a multipart/form-data upload (field `file`), or as JSON with base64 `data` or a `url` to fetch. Local file paths are never accepted.",
		Request:     SendMediaRequest{}, Multipart: SendMediaForm{}, MaxBodyBytes: h.opts.MaxMediaBodyBytes,
		Response: api.Message{}, Idempotent: true, Handler: http.HandlerFunc(h.sendMedia), mediaBudget: true}
}

// lookupMessage finds a message within the request's (already checked) session.
func (h *handler) lookupMessage(r *http.Request, id string) (*Ownership, error) {
	m, err := h.core.Message(r.Context(), r.PathValue("session"), id)
	if errors.Is(err, waqtor.ErrMessageNotFound) || errors.Is(err, waqtor.ErrSessionNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &Ownership{Session: m.Session, Tenant: m.Tenant}, nil
}

// sendOpts returns a send's options: the Idempotency-Key header and the
// body's transactional flag.
func sendOpts(r *http.Request, transactional bool) *waqtor.SendOpts {
	k := IdempotencyKey(r)
	if k == "" && !transactional {
		return nil
	}
	return &waqtor.SendOpts{IdempotencyKey: k, Transactional: transactional}
}

// sendResult turns a send's outcome into the response: a failed send that
// stored a failed message is a 502 problem.
func sendResult(m *waqtor.Message, err error) (*api.Message, error) {
	var fe *waqtor.FieldError
	if errors.As(err, &fe) && fe.Field == "phone" && errors.Is(fe.Err, waqtor.ErrInvalidPhone) {
		// The Core names the number it parsed; the request's field is chat.
		return nil, &waqtor.FieldError{Err: fe.Err, Field: "chat", Reason: fe.Reason}
	}
	if err != nil {
		return nil, err
	}
	return messageOut(m)
}

func (h *handler) sendText(r *http.Request, req *SendTextRequest) (*api.Message, error) {
	return sendResult(h.core.Send(r.Context(), r.PathValue("session"), req.Chat, textContent(req), sendOpts(r, req.Transactional)))
}

func (h *handler) sendLocation(r *http.Request, req *SendLocationRequest) (*api.Message, error) {
	loc := &waqtor.Location{Address: req.Address, Latitude: *req.Latitude, Longitude: *req.Longitude, Name: req.Name}
	return sendResult(h.core.SendLocation(r.Context(), r.PathValue("session"), req.Chat, loc, sendOpts(r, req.Transactional)))
}

func (h *handler) sendContact(r *http.Request, req *SendContactRequest) (*api.Message, error) {
	c := &waqtor.Contact{Name: req.Name, Phone: req.Phone, VCard: req.VCard}
	return sendResult(h.core.SendContact(r.Context(), r.PathValue("session"), req.Chat, c, sendOpts(r, req.Transactional)))
}

func (h *handler) sendPoll(r *http.Request, req *SendPollRequest) (*api.Message, error) {
	p := &waqtor.Poll{MaxSelections: req.MaxSelections, Options: req.Options, Question: req.Question}
	return sendResult(h.core.SendPoll(r.Context(), r.PathValue("session"), req.Chat, p, sendOpts(r, req.Transactional)))
}

func (h *handler) sendButtons(r *http.Request, req *SendButtonsRequest) (*api.Message, error) {
	b := &waqtor.Buttons{Body: req.Body, Footer: req.Footer, Mode: waqtor.InteractiveMode(req.Mode)}
	for _, btn := range req.Buttons {
		b.Buttons = append(b.Buttons, waqtor.Button{ID: btn.ID, Text: btn.Text})
	}
	return sendResult(h.core.Send(r.Context(), r.PathValue("session"), req.Chat, b, sendOpts(r, req.Transactional)))
}

func (h *handler) sendList(r *http.Request, req *SendListRequest) (*api.Message, error) {
	l := &waqtor.List{Body: req.Body, ButtonText: req.ButtonText, Footer: req.Footer, Mode: waqtor.InteractiveMode(req.Mode), Title: req.Title}
	for _, sec := range req.Sections {
		ws := waqtor.ListSection{Title: sec.Title}
		for _, row := range sec.Rows {
			ws.Rows = append(ws.Rows, waqtor.ListRow{Description: row.Description, ID: row.ID, Title: row.Title})
		}
		l.Sections = append(l.Sections, ws)
	}
	return sendResult(h.core.Send(r.Context(), r.PathValue("session"), req.Chat, l, sendOpts(r, req.Transactional)))
}

func (h *handler) react(r *http.Request, req *ReactRequest) (*api.Message, error) {
	return sendResult(h.core.React(r.Context(), r.PathValue("session"), req.Chat, req.MessageID, req.Emoji, sendOpts(r, false)))
}

func (h *handler) edit(r *http.Request, req *EditRequest) (*api.Message, error) {
	return sendResult(h.core.Edit(r.Context(), r.PathValue("session"), req.Chat, req.MessageID, req.Text, sendOpts(r, false)))
}

func (h *handler) revoke(r *http.Request, req *RevokeRequest) (*api.Message, error) {
	return sendResult(h.core.Revoke(r.Context(), r.PathValue("session"), req.Chat, req.MessageID, sendOpts(r, false)))
}

func (h *handler) markRead(r *http.Request, req *MarkReadRequest) (*struct{}, error) {
	return nil, h.core.MarkRead(r.Context(), r.PathValue("session"), req.Chat, req.MessageIDs, req.Sender)
}

func (h *handler) typing(r *http.Request, req *TypingRequest) (*struct{}, error) {
	return nil, h.core.SetPresence(r.Context(), r.PathValue("session"), req.Chat, waqtor.ChatPresence(req.State))
}

func (h *handler) sendMedia(w http.ResponseWriter, r *http.Request) {
	var req SendMediaRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		if err := readMediaForm(r, &req); err != nil {
			WriteError(w, r, err)
			return
		}
		if err := req.Validate(); err != nil {
			WriteError(w, r, err)
			return
		}
	} else if err := DecodeJSON(r, &req); err != nil {
		WriteError(w, r, err)
		return
	}
	m, err := sendResult(h.core.SendMedia(r.Context(), r.PathValue("session"), req.Chat, mediaParams(&req), sendOpts(r, req.Transactional)))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	Respond(w, r, m)
}

var mediaFormFields = map[string]bool{"caption": true, "chat": true, "file": true, "file_name": true, "kind": true, "mime": true,
	"transactional": true, "voice": true}

// readMediaForm reads a multipart send-media body, streaming (no temp files),
// refusing unknown fields.
func readMediaForm(r *http.Request, req *SendMediaRequest) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return NewProblem(http.StatusBadRequest, TypeBadRequest, "malformed multipart body: "+err.Error())
	}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return multipartProblem(err)
		}
		name := part.FormName()
		if name == "" {
			return NewProblem(http.StatusBadRequest, TypeBadRequest, "malformed multipart body: a part has no form-data name")
		}
		if !mediaFormFields[name] {
			return NewProblem(http.StatusBadRequest, TypeBadRequest, fmt.Sprintf("unknown field %q", name),
				FieldProblem{Field: name, Reason: "is not a known field"})
		}
		if seen[name] {
			return NewProblem(http.StatusBadRequest, TypeBadRequest, fmt.Sprintf("field %q appears twice", name),
				FieldProblem{Field: name, Reason: "appears twice"})
		}
		seen[name] = true
		limit := int64(64 << 10)
		if name == "file" {
			limit = 1 << 62 // bounded by the route's MaxBytesReader
		}
		data, err := readAllSized(io.LimitReader(part, limit+1), r.ContentLength, name == "file")
		if err != nil {
			return multipartProblem(err)
		}
		if int64(len(data)) > limit {
			return NewProblem(http.StatusRequestEntityTooLarge, TypeBodyTooLarge, fmt.Sprintf("field %q exceeds %d bytes", name, limit))
		}
		v := string(data)
		switch name {
		case "caption":
			req.Caption = v
		case "chat":
			req.Chat = v
		case "file":
			req.Data = data
			if req.FileName == "" {
				req.FileName = part.FileName()
			}
			if req.MIME == "" {
				if ct := part.Header.Get("Content-Type"); ct != "" && ct != "application/octet-stream" {
					req.MIME = ct
				}
			}
		case "file_name":
			req.FileName = v
		case "kind":
			req.Kind = v
		case "mime":
			req.MIME = v
		case "transactional", "voice":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return NewProblem(http.StatusBadRequest, TypeBadRequest, name+": must be true or false",
					FieldProblem{Field: name, Reason: "must be true or false"})
			}
			if name == "voice" {
				req.Voice = b
			} else {
				req.Transactional = b
			}
		}
	}
	if !seen["file"] {
		return fieldError("file", "is required")
	}
	return nil
}

// readAllSized reads rd to the end. With sized, the buffer starts at
// contentLength (the request's, bounded by the route's MaxBytesReader): a
// 16 MiB file is then read into one allocation instead of io.ReadAll's
// doublings, which leave about as much garbage again per upload.
func readAllSized(rd io.Reader, contentLength int64, sized bool) ([]byte, error) {
	if !sized || contentLength <= 0 || contentLength > 1<<31 {
		return io.ReadAll(rd)
	}
	var buf bytes.Buffer
	buf.Grow(int(contentLength) + bytes.MinRead)
	_, err := buf.ReadFrom(rd)
	return buf.Bytes(), err
}

func multipartProblem(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return NewProblem(http.StatusRequestEntityTooLarge, TypeBodyTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
	}
	return NewProblem(http.StatusBadRequest, TypeBadRequest, "malformed multipart body: "+err.Error())
}

func (h *handler) listMessages(r *http.Request, _ *NoBody) (*MessageList, error) {
	q := r.URL.Query()
	chat := q.Get("chat")
	if chat == "" {
		return nil, NewProblem(http.StatusBadRequest, TypeBadRequest, "chat: is required", FieldProblem{Field: "chat", Reason: "is required"})
	}
	limit, err := QueryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return nil, err
	}
	res, err := h.core.Messages(r.Context(), &waqtor.MessageListParams{Session: r.PathValue("session"), Chat: chat, Before: q.Get("before"), Limit: limit})
	if err != nil {
		return nil, queryProblem(err, map[string]string{"before": "before", "chat": "chat", "phone": "chat"})
	}
	out := &MessageList{Messages: make([]*api.Message, 0, len(res.Messages)), Next: res.Next}
	for _, m := range res.Messages {
		wm, err := messageOut(m)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, wm)
	}
	return out, nil
}

// queryProblem answers a Core field error about a query parameter as 400,
// like every other bad query parameter (QueryInt): 422 is for the fields of a
// body. params maps the Core's field names to the parameters'.
func queryProblem(err error, params map[string]string) error {
	var fe *waqtor.FieldError
	if errors.As(err, &fe) {
		if name, ok := params[fe.Field]; ok {
			return NewProblem(http.StatusBadRequest, TypeBadRequest, name+": "+fe.Reason, FieldProblem{Field: name, Reason: fe.Reason})
		}
	}
	return err
}

func (h *handler) getMessage(r *http.Request, _ *NoBody) (*api.Message, error) {
	return sendResult(h.core.Message(r.Context(), r.PathValue("session"), r.PathValue("message")))
}

func (h *handler) downloadMedia(w http.ResponseWriter, r *http.Request) {
	data, m, err := h.core.DownloadMedia(r.Context(), r.PathValue("session"), r.PathValue("message"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	ct := m.MIME
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	disp := "attachment"
	if m.FileName != "" {
		disp = mime.FormatMediaType("attachment", map[string]string{"filename": m.FileName})
	}
	w.Header().Set("Content-Disposition", disp)
	_, _ = w.Write(data)
}

func (h *handler) contactRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/sessions/{session}/contacts/check", Scope: auth.ScopeRead, OperationID: "checkNumbers",
			Summary: "Check which phone numbers have WhatsApp accounts.", Request: CheckNumbersRequest{}, Response: CheckNumbersResponse{},
			Handler: HandleJSON(h.checkNumbers)},
	}
}

func (h *handler) checkNumbers(r *http.Request, req *CheckNumbersRequest) (*CheckNumbersResponse, error) {
	res, err := h.core.CheckNumbers(r.Context(), r.PathValue("session"), req.Phones)
	if err != nil {
		return nil, err
	}
	out := &CheckNumbersResponse{Results: make([]api.NumberCheck, len(res))}
	for i, c := range res {
		out.Results[i] = api.NumberCheck{JID: c.JID, LID: c.LID, OnWhatsApp: c.OnWhatsApp, Phone: c.Phone}
	}
	return out, nil
}

func (h *handler) keyRoutes() []Route {
	owner := &Owner{Param: "key", LookupFunc: h.lookupKey}
	return []Route{
		{Method: "GET", Pattern: "/keys", Scope: auth.ScopeKeysAdmin, OperationID: "listKeys", Summary: "List the tenant's active API keys.",
			Response: KeyList{}, Handler: HandleJSON(h.listKeys)},
		{Method: "POST", Pattern: "/keys", Scope: auth.ScopeKeysAdmin, OperationID: "createKey",
			Summary:     "Create an API key for the tenant; the response shows its secret once.",
			Description: "The new key's scopes must all be held by the key making the request, and its sessions must be among that key's sessions.",
			Request:     CreateKeyRequest{}, Response: CreatedKey{}, Status: http.StatusCreated, Handler: HandleJSON(h.createKey)},
		{Method: "GET", Pattern: "/keys/{key}", Scope: auth.ScopeKeysAdmin, OperationID: "getKey", Summary: "Get an API key (never its secret).",
			Owner: owner, Response: api.Key{}, Handler: HandleJSON(h.getKey)},
		{Method: "DELETE", Pattern: "/keys/{key}", Scope: auth.ScopeKeysAdmin, OperationID: "revokeKey", Summary: "Revoke an API key at once.",
			Owner: owner, Handler: HandleJSON(h.revokeKey)},
	}
}

func (h *handler) lookupKey(r *http.Request, id string) (*Ownership, error) {
	k, err := h.opts.Keys.Get(r.Context(), "", id)
	if errors.Is(err, auth.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	// A key narrowed to sessions is owned by the tenant as a whole; a caller
	// narrowed to sessions sees only keys narrowed within its own sessions.
	own := &Ownership{Tenant: k.Tenant}
	if p := principal(r); p != nil && len(p.Sessions) > 0 {
		if len(k.Sessions) == 0 {
			own.Session = "\x00unrestricted" // never one of p's sessions
		} else {
			for _, s := range k.Sessions {
				if !p.AllowsSession(s) {
					own.Session = s
					break
				}
			}
			if own.Session == "" {
				own.Session = k.Sessions[0]
			}
		}
	}
	return own, nil
}

func (h *handler) listKeys(r *http.Request, _ *NoBody) (*KeyList, error) {
	p := principal(r)
	keys, err := h.opts.Keys.List(r.Context(), &auth.KeyListParams{Tenant: p.Tenant})
	if err != nil {
		return nil, err
	}
	out := &KeyList{Keys: []*api.Key{}}
	for _, k := range keys {
		if len(p.Sessions) > 0 && !subset(k.Sessions, p) {
			continue
		}
		out.Keys = append(out.Keys, keyOut(k))
	}
	return out, nil
}

func subset(sessions []string, p *auth.Principal) bool {
	if len(sessions) == 0 {
		return len(p.Sessions) == 0
	}
	for _, s := range sessions {
		if !p.AllowsSession(s) {
			return false
		}
	}
	return true
}

func (h *handler) createKey(r *http.Request, req *CreateKeyRequest) (*CreatedKey, error) {
	p := principal(r)
	scopes := make([]auth.Scope, len(req.Scopes))
	for i, str := range req.Scopes {
		s := auth.Scope(str)
		scopes[i] = s
		if _, known := h.knownScopes[s]; !known {
			return nil, fieldError(fmt.Sprintf("scopes[%d]", i), "unknown scope %q", s)
		}
		if !p.Allows(s) {
			return nil, NewProblem(http.StatusForbidden, TypeForbidden, fmt.Sprintf("scopes[%d]: this key cannot grant %q, which it does not hold", i, s))
		}
	}
	sessions := req.Sessions
	if len(p.Sessions) > 0 {
		if len(sessions) == 0 {
			sessions = p.Sessions
		}
		for i, s := range sessions {
			if !p.AllowsSession(s) {
				return nil, NewProblem(http.StatusForbidden, TypeForbidden, fmt.Sprintf("sessions[%d]: this key cannot grant session %q", i, s))
			}
		}
	}
	k, secret, err := h.opts.Keys.Create(r.Context(), &auth.KeyCreateParams{ExpiresAt: req.ExpiresAt, Name: req.Name,
		Scopes: scopes, Sessions: sessions, Tenant: p.Tenant})
	if err != nil {
		return nil, err
	}
	return &CreatedKey{Key: *keyOut(k), Secret: secret}, nil
}

func (h *handler) getKey(r *http.Request, _ *NoBody) (*api.Key, error) {
	k, err := h.opts.Keys.Get(r.Context(), principal(r).Tenant, r.PathValue("key"))
	if err != nil {
		return nil, err
	}
	return keyOut(k), nil
}

func (h *handler) revokeKey(r *http.Request, _ *NoBody) (*struct{}, error) {
	return nil, h.opts.Keys.Revoke(r.Context(), principal(r).Tenant, r.PathValue("key"))
}

// seedRoutes are the original plan's flat routes, acting on DefaultSession.
func (h *handler) seedRoutes() []Route {
	def := h.opts.DefaultSession
	media := h.sendMediaRoute("/messages/send-media", "seedSendMedia")
	media.fixedSession = def
	buttons := h.sendButtonsRoute("/messages/send-button", "seedSendButton")
	buttons.Summary = "Send a message with reply buttons from the default session."
	buttons.fixedSession = def
	list := h.sendListRoute("/messages/send-list", "seedSendList")
	list.Summary = "Send a list menu from the default session."
	list.fixedSession = def
	chatOnly := []seedAlias{seedChatAlias}
	media.seedAliases, buttons.seedAliases, list.seedAliases = chatOnly, chatOnly, chatOnly
	routes := []Route{
		{Method: "POST", Pattern: "/messages/send-text", Scope: auth.ScopeMessagesSend, OperationID: "seedSendText",
			Summary: "Send a text message from the default session.", Request: SendTextRequest{}, Response: api.Message{},
			Idempotent: true, Handler: HandleJSON(h.sendText), fixedSession: def, seedAliases: seedTextAliases},
		media,
		buttons,
		list,
		{Method: "GET", Pattern: "/session/state", Scope: auth.ScopeRead, OperationID: "seedSessionState",
			Summary: "Get the default session's state.", Response: SessionState{}, Handler: HandleJSON(h.getState), fixedSession: def},
		{Method: "POST", Pattern: "/session/logout", Scope: auth.ScopeSessionsAdmin, OperationID: "seedLogout",
			Summary: "Log the default session out.", Response: api.Session{}, Handler: HandleJSON(h.control(controlLogout)), fixedSession: def},
		{Method: "POST", Pattern: "/session/restart", Scope: auth.ScopeSessionsAdmin, OperationID: "seedRestart",
			Summary: "Restart the default session.", Response: api.Session{}, Handler: HandleJSON(h.control(controlRestart)), fixedSession: def},
	}
	for i := range routes {
		routes[i].Description = strings.TrimSpace(routes[i].Description + " Acts on the session " + strconv.Quote(def) + ".")
		if a := routes[i].seedAliases; a != nil {
			routes[i].Handler = withSeedAliases(a, routes[i].Handler)
			routes[i].Description += " Accepts the seed's field names (`chatId`, ...) as deprecated aliases, and `…@c.us` chat IDs."
		}
	}
	return routes
}
