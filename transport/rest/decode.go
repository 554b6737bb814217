package rest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/waqtor/waqtor"
)

// Validator is implemented by request types that check their fields after
// decoding. Validate returns a *waqtor.FieldError, a *Problem or an error
// wrapping a waqtor input sentinel; DecodeJSON calls it.
type Validator interface {
	Validate() error
}

// DecodeJSON reads the request body as JSON into v, strictly: the body must be
// application/json, hold exactly one JSON value, use only known fields and the
// right types, and fit the route's size limit. Then it calls v.Validate when v
// implements Validator. Errors are *Problem values ready for WriteError: 400
// TypeBadRequest (naming the field where known), 413 TypeBodyTooLarge, 415
// TypeUnsupportedMediaType, or the validation error.
func DecodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return NewProblem(http.StatusUnsupportedMediaType, TypeUnsupportedMediaType,
				fmt.Sprintf("Content-Type %q is not application/json", ct))
		}
	}
	if err := decodeStrict(r.Body, r.ContentLength, v); err != nil {
		return err
	}
	if val, ok := v.(Validator); ok {
		if err := val.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// decodeStrict decodes one JSON object with unknown and repeated members
// refused. Anything but an object ([], null, "x", 5) is refused alike: 400
// naming "(body)".
func decodeStrict(body io.Reader, contentLength int64, v any) error {
	data, err := readAllSized(body, contentLength, true)
	if err != nil {
		return jsonProblem(err)
	}
	if first := bytes.TrimLeft(data, " \t\r\n"); len(first) > 0 && first[0] != '{' && json.Valid(data) {
		return notAnObject()
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var cie base64.CorruptInputError
		if errors.As(err, &cie) {
			field := base64Field(data, v)
			reason := fmt.Sprintf("is not valid base64 (at byte %d of the value)", int64(cie))
			return NewProblem(http.StatusBadRequest, TypeBadRequest, field+": "+reason, FieldProblem{Field: field, Reason: reason})
		}
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewProblem(http.StatusBadRequest, TypeBadRequest, "the body holds data after the JSON value")
	}
	if path, dup := duplicateKey(data); dup {
		if path == "" {
			path = `""`
		}
		return NewProblem(http.StatusBadRequest, TypeBadRequest, fmt.Sprintf("%s: appears twice", path),
			FieldProblem{Field: path, Reason: "appears twice"})
	}
	return nil
}

func notAnObject() *Problem {
	return NewProblem(http.StatusBadRequest, TypeBadRequest, "the body must be a JSON object",
		FieldProblem{Field: "(body)", Reason: "must be a JSON object"})
}

// base64Field names the member of data that failed base64 decoding into v
// (encoding/json's error does not): the first top-level []byte field whose
// value does not decode. It returns "(body)" when none is found.
func base64Field(data []byte, v any) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return "(body)"
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "(body)"
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type != reflect.TypeFor[[]byte]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		for k, raw := range members {
			var b []byte
			if strings.EqualFold(k, name) && json.Unmarshal(raw, &b) != nil {
				return name
			}
		}
	}
	return "(body)"
}

// jsonProblem describes a decoding error.
func jsonProblem(err error) *Problem {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return NewProblem(http.StatusRequestEntityTooLarge, TypeBodyTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
	case errors.Is(err, io.EOF):
		return NewProblem(http.StatusBadRequest, TypeBadRequest, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, TypeBadRequest, "malformed JSON: unexpected end of input")
	case errors.As(err, &se):
		return NewProblem(http.StatusBadRequest, TypeBadRequest, fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			return notAnObject()
		}
		reason := fmt.Sprintf("must be %s, not %s", jsonTypeName(ute.Type.String()), ute.Value)
		return NewProblem(http.StatusBadRequest, TypeBadRequest, field+": "+reason, FieldProblem{Field: field, Reason: reason})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		field := name
		if field == "" {
			field = `""` // a member with an empty name: still name it
		}
		return NewProblem(http.StatusBadRequest, TypeBadRequest, fmt.Sprintf("unknown field %q", name),
			FieldProblem{Field: field, Reason: "is not a known field"})
	}
	var fe *waqtor.FieldError
	if errors.As(err, &fe) {
		return NewProblem(http.StatusBadRequest, TypeBadRequest, fe.Field+": "+fe.Reason, FieldProblem{Field: fe.Field, Reason: fe.Reason})
	}
	return NewProblem(http.StatusBadRequest, TypeBadRequest, "malformed JSON: "+err.Error())
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	}
	return "an object"
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		WriteProblem(w, nil, NewProblem(http.StatusInternalServerError, TypeInternal, ""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Respond writes v with the route's success status (Route.Status), or 204
// without a body when v is nil.
func Respond(w http.ResponseWriter, r *http.Request, v any) {
	status := http.StatusOK
	if rt := routeFrom(r.Context()); rt != nil {
		status = rt.Status
	}
	if v == nil || status == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	WriteJSON(w, status, v)
}

// NoBody is the request type of HandleJSON routes without a body.
type NoBody struct{}

// HandleJSON adapts a typed function to an http.Handler: it decodes the body
// into Req with DecodeJSON (skipped when Req is NoBody), calls fn, and answers
// the result with Respond or the error with WriteError. A nil *Resp answers 204.
func HandleJSON[Req, Resp any](fn func(r *http.Request, req *Req) (*Resp, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := new(Req)
		if _, none := any(req).(*NoBody); !none {
			if err := DecodeJSON(r, req); err != nil {
				WriteError(w, r, err)
				return
			}
		}
		resp, err := fn(r, req)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		if resp == nil {
			Respond(w, r, nil)
			return
		}
		Respond(w, r, resp)
	})
}

// HeaderIdempotencyKey is the header that makes a POST safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// IdempotencyKey returns the request's Idempotency-Key header.
func IdempotencyKey(r *http.Request) string { return r.Header.Get(HeaderIdempotencyKey) }

// QueryInt parses an integer query parameter between lo and hi, returning def
// when it is absent; errors are 400 problems naming the parameter.
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		reason := fmt.Sprintf("must be an integer from %d to %d", lo, hi)
		return 0, NewProblem(http.StatusBadRequest, TypeBadRequest, name+": "+reason, FieldProblem{Field: name, Reason: reason})
	}
	return n, nil
}

type ctxKey int

const (
	routeCtxKey ctxKey = iota
	handlerCtxKey
)

func routeFrom(ctx context.Context) *Route {
	rt, _ := ctx.Value(routeCtxKey).(*Route)
	return rt
}

func handlerFrom(ctx context.Context) *handler {
	h, _ := ctx.Value(handlerCtxKey).(*handler)
	return h
}
