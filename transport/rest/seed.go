package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// seedAlias is a field name of the original plan's API (the seed) accepted on
// the flat seed routes besides waqtor's own name.
type seedAlias struct {
	// Canonical is waqtor's name of the field.
	Canonical string
	// Name is the seed's name ("chatId").
	Name string
	// Options says the seed nested the field in an "options" object
	// (sendText's options.quotedMessageId), where it is accepted too.
	Options bool
	// Schema documents the alias.
	Schema map[string]any
}

var (
	seedChatAlias = seedAlias{Canonical: "chat", Name: "chatId",
		Schema: map[string]any{"type": "string", "deprecated": true, "description": "Deprecated: the seed's name of `chat`; a `…@c.us` ID is read as `…@s.whatsapp.net`."}}
	seedTextAliases = []seedAlias{seedChatAlias,
		{Canonical: "quote_id", Name: "quotedMessageId", Options: true,
			Schema: map[string]any{"type": "string", "deprecated": true, "description": "Deprecated: the seed's name of `quote_id` (also accepted in `options`)."}},
		{Canonical: "mentions", Name: "mentionedIds", Options: true,
			Schema: map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "deprecated": true,
				"description": "Deprecated: the seed's name of `mentions` (also accepted in `options`); `…@c.us` IDs are read as `…@s.whatsapp.net`."}},
	}
)

// seedCUSSuffix and its replacement: whatsapp-web.js writes user JIDs with the
// legacy server c.us; WhatsApp's protocol (and whatsmeow) names it s.whatsapp.net.
const (
	seedCUSSuffix  = "@c.us"
	userJIDSuffix  = "@s.whatsapp.net"
	seedOptionsKey = "options"
)

// withSeedAliases rewrites a JSON body written with the seed's field names to
// waqtor's before next decodes it: an alias moves to its canonical name (a
// request setting both to different values is refused with 422 naming the
// alias), and chat and mention IDs ending in @c.us end in @s.whatsapp.net.
// Other bodies (multipart, malformed JSON, not an object) pass unchanged, for
// next to refuse as usual.
func withSeedAliases(aliases []seedAlias, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && mt != "" || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			WriteError(w, r, jsonProblem(err))
			return
		}
		out, err := rewriteSeedBody(data, aliases)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(out))
		r.ContentLength = int64(len(out))
		next.ServeHTTP(w, r)
	})
}

func rewriteSeedBody(data []byte, aliases []seedAlias) ([]byte, error) {
	if !bytes.Contains(data, []byte(seedCUSSuffix)) && !slices.ContainsFunc(aliases, func(a seedAlias) bool {
		return bytes.Contains(data, []byte(a.Name)) || a.Options && bytes.Contains(data, []byte(seedOptionsKey))
	}) {
		return data, nil // nothing to rewrite: spare a media body the copies
	}
	var members map[string]json.RawMessage
	if !json.Valid(data) || json.Unmarshal(data, &members) != nil || members == nil {
		return data, nil // not an object: the decoder says why
	}
	if path, dup := duplicateKey(data); dup {
		return nil, NewProblem(http.StatusBadRequest, TypeBadRequest, path+": appears twice", FieldProblem{Field: path, Reason: "appears twice"})
	}
	changed := false
	if raw, ok := members[seedOptionsKey]; ok && slices.ContainsFunc(aliases, func(a seedAlias) bool { return a.Options }) {
		var opts map[string]json.RawMessage
		if json.Unmarshal(raw, &opts) != nil || opts == nil {
			return nil, NewProblem(http.StatusBadRequest, TypeBadRequest, "options: must be an object", FieldProblem{Field: "options", Reason: "must be an object"})
		}
		delete(members, seedOptionsKey)
		for name, v := range opts {
			i := slices.IndexFunc(aliases, func(a seedAlias) bool { return a.Options && a.Name == name })
			if i < 0 {
				field := "options." + name
				return nil, NewProblem(http.StatusBadRequest, TypeBadRequest, fmt.Sprintf("unknown field %q", field),
					FieldProblem{Field: field, Reason: "is not a known field"})
			}
			if err := moveAlias(members, "options."+name, aliases[i].Canonical, v); err != nil {
				return nil, err
			}
		}
		changed = true
	}
	for _, a := range aliases {
		if v, ok := members[a.Name]; ok {
			delete(members, a.Name)
			if err := moveAlias(members, a.Name, a.Canonical, v); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	if v, ok := members["chat"]; ok {
		var chat string
		if json.Unmarshal(v, &chat) == nil && strings.HasSuffix(chat, seedCUSSuffix) {
			members["chat"], _ = json.Marshal(strings.TrimSuffix(chat, seedCUSSuffix) + userJIDSuffix)
			changed = true
		}
	}
	if v, ok := members["mentions"]; ok {
		var ms []string
		if json.Unmarshal(v, &ms) == nil && slices.ContainsFunc(ms, func(m string) bool { return strings.HasSuffix(m, seedCUSSuffix) }) {
			for i, m := range ms {
				if strings.HasSuffix(m, seedCUSSuffix) {
					ms[i] = strings.TrimSuffix(m, seedCUSSuffix) + userJIDSuffix
				}
			}
			members["mentions"], _ = json.Marshal(ms)
			changed = true
		}
	}
	if !changed {
		return data, nil
	}
	return json.Marshal(members)
}

// moveAlias sets members[canonical] to the alias's value v, refusing a
// different value already there.
func moveAlias(members map[string]json.RawMessage, alias, canonical string, v json.RawMessage) error {
	if prev, ok := members[canonical]; ok {
		var a, b any
		if json.Unmarshal(prev, &a) != nil || json.Unmarshal(v, &b) != nil || !reflect.DeepEqual(a, b) {
			reason := fmt.Sprintf("conflicts with %s: set one of them", canonical)
			return NewProblem(http.StatusUnprocessableEntity, TypeValidation, alias+": "+reason, FieldProblem{Field: alias, Reason: reason})
		}
	}
	members[canonical] = v
	return nil
}

// seedSchema returns the schema of a seed route's body: the canonical
// schema def with the aliases added (deprecated), and the canonical names of
// aliased fields no longer required.
func seedSchema(def map[string]any, aliases []seedAlias) map[string]any {
	out := cloneMap(def)
	props := cloneMap(def["properties"].(map[string]any))
	opts := map[string]any{}
	for _, a := range aliases {
		props[a.Name] = a.Schema
		if a.Options {
			opts[a.Name] = a.Schema
		}
	}
	if len(opts) > 0 {
		props[seedOptionsKey] = map[string]any{"type": "object", "deprecated": true, "properties": opts, "additionalProperties": false,
			"description": "Deprecated: the seed's options of sendText."}
	}
	out["properties"] = props
	if req, ok := def["required"].([]string); ok {
		var keep []string
		for _, name := range req {
			if !slices.ContainsFunc(aliases, func(a seedAlias) bool { return a.Canonical == name }) {
				keep = append(keep, name)
			}
		}
		if len(keep) > 0 {
			out["required"] = keep
		} else {
			delete(out, "required")
		}
	}
	out["description"] = "Also accepts the seed's field names (deprecated): set either name of a field, or both to the same value."
	return out
}
