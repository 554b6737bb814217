package rest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest"
)

// Edit, revoke and react check their target (404 unknown, 409 not ours or
// not editable, 422 not an emoji), and the message JSON shows edits and
// revocations.
func TestEditRevokeReactOverREST(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	base := "/sessions/default/messages"
	var sent waqtor.Message
	b.do(t, b.keyA, "POST", base+"/send-text", map[string]any{"chat": alicePhone, "text": "helo"}).json(t, &sent)
	in := b.inbound(t, "default", &waqtor.Text{Body: "hi there"})
	sends := len(b.net.SendLog())

	tests := map[string]struct {
		path   string
		body   map[string]any
		status int
		typ    string
		field  string
	}{
		"EditUnknown":   {"/edit", map[string]any{"chat": alicePhone, "message_id": "NOPE", "text": "x"}, 404, rest.TypeNotFound, ""},
		"EditInbound":   {"/edit", map[string]any{"chat": alicePhone, "message_id": in, "text": "x"}, 409, rest.TypeConflict, ""},
		"RevokeInbound": {"/revoke", map[string]any{"chat": alicePhone, "message_id": in}, 409, rest.TypeConflict, ""},
		"RevokeUnknown": {"/revoke", map[string]any{"chat": alicePhone, "message_id": "NOPE"}, 404, rest.TypeNotFound, ""},
		"ReactUnknown":  {"/react", map[string]any{"chat": alicePhone, "message_id": "NOPE", "emoji": "👍"}, 404, rest.TypeNotFound, ""},
		"ReactNotEmoji": {"/react", map[string]any{"chat": alicePhone, "message_id": in, "emoji": "not an emoji"}, 422, rest.TypeValidation, "emoji"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res := b.do(t, b.keyA, "POST", base+tt.path, tt.body)
			require.Equal(t, tt.status, res.status, "%s", res.body)
			p := res.problem(t)
			require.Equal(t, tt.typ, p.Type)
			if tt.field != "" {
				require.Equal(t, tt.field, p.Errors[0].Field)
			}
		})
	}
	require.Len(t, b.net.SendLog(), sends, "nothing was sent")

	res := b.do(t, b.keyA, "POST", base+"/edit", map[string]any{"chat": alicePhone, "message_id": sent.ID, "text": "hello"})
	require.Equal(t, 200, res.status, "%s", res.body)
	var msg map[string]any
	b.do(t, b.keyA, "GET", base+"/"+sent.ID, nil).json(t, &msg)
	require.Equal(t, "hello", msg["content"].(map[string]any)["body"])
	require.NotEmpty(t, msg["edited_at"])
	require.Equal(t, false, msg["revoked"])
	require.NotContains(t, msg, "revoked_at")

	res = b.do(t, b.keyA, "POST", base+"/revoke", map[string]any{"chat": alicePhone, "message_id": sent.ID})
	require.Equal(t, 200, res.status, "%s", res.body)
	b.do(t, b.keyA, "GET", base+"/"+sent.ID, nil).json(t, &msg)
	require.Equal(t, true, msg["revoked"])
	require.NotEmpty(t, msg["revoked_at"])
	res = b.do(t, b.keyA, "POST", base+"/revoke", map[string]any{"chat": alicePhone, "message_id": sent.ID})
	require.Equal(t, 409, res.status, "%s", res.body)
	require.Contains(t, res.problem(t).Detail, "revoked already")
}
