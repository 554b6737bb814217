package rest_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSeedAliases: the flat seed routes accept the seed's field names
// (chatId, options.quotedMessageId, options.mentionedIds) and whatsapp-web.js
// chat IDs (…@c.us), refuse an alias that contradicts its canonical field,
// and only there: the session routes keep their strict names.
func TestSeedAliases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	aliceCUS, aliceJID := alicePhone[1:]+"@c.us", alicePhone[1:]+"@s.whatsapp.net"

	res := b.do(t, b.keyA, "POST", "/messages/send-text", map[string]any{"chatId": aliceCUS, "text": "hello"})
	require.Equal(t, 200, res.status, "%s", res.body)
	var quoted struct {
		ID   string `json:"id"`
		Chat struct {
			JID string `json:"jid"`
		} `json:"chat"`
		Content struct {
			Mentions []string `json:"mentions"`
			Quote    *struct {
				ID string `json:"id"`
			} `json:"quote"`
		} `json:"content"`
	}
	res.json(t, &quoted)
	require.Equal(t, aliceJID, quoted.Chat.JID)

	reply := map[string]any{"chatId": aliceCUS, "text": "re", "options": map[string]any{"quotedMessageId": quoted.ID, "mentionedIds": []string{aliceCUS}}}
	res = b.do(t, b.keyA, "POST", "/messages/send-text", reply)
	require.Equal(t, 200, res.status, "%s", res.body)
	var got = quoted
	res.json(t, &got)
	require.NotNil(t, got.Content.Quote)
	require.Equal(t, quoted.ID, got.Content.Quote.ID)
	require.Equal(t, []string{aliceJID}, got.Content.Mentions)

	top := map[string]any{"chatId": aliceCUS, "chat": aliceCUS, "text": "re", "quotedMessageId": quoted.ID, "mentionedIds": []string{aliceJID}}
	require.Equal(t, 200, b.do(t, b.keyA, "POST", "/messages/send-text", top).status, "alias and canonical name with the same value")

	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n0000"))
	for path, body := range map[string]map[string]any{
		"/messages/send-media":  {"chatId": aliceCUS, "kind": "image", "data": png},
		"/messages/send-button": {"chatId": aliceCUS, "body": "pick", "buttons": []map[string]string{{"id": "a", "text": "A"}}},
		"/messages/send-list": {"chatId": aliceCUS, "body": "pick", "button_text": "open",
			"sections": []map[string]any{{"rows": []map[string]string{{"id": "a", "title": "A"}}}}},
	} {
		res := b.do(t, b.keyA, "POST", path, body)
		require.Equal(t, 200, res.status, "%s: %s", path, res.body)
	}

	bad := map[string]struct {
		path   string
		body   string
		status int
		field  string
	}{
		"chatId contradicts chat":   {"/messages/send-text", `{"chatId": "` + aliceCUS + `", "chat": "+15550009999", "text": "x"}`, 422, "chatId"},
		"quote contradicts":         {"/messages/send-text", `{"chat": "` + alicePhone + `", "text": "x", "quote_id": "A", "options": {"quotedMessageId": "B"}}`, 422, "options.quotedMessageId"},
		"unknown option":            {"/messages/send-text", `{"chat": "` + alicePhone + `", "text": "x", "options": {"linkPreview": true}}`, 400, "options.linkPreview"},
		"options not an object":     {"/messages/send-text", `{"chat": "` + alicePhone + `", "text": "x", "options": 5}`, 400, "options"},
		"alias twice":               {"/messages/send-text", `{"chatId": "` + aliceCUS + `", "chatId": "+15550009999", "text": "x"}`, 400, "chatId"},
		"options on send-button":    {"/messages/send-button", `{"chatId": "` + aliceCUS + `", "body": "b", "buttons": [{"id": "a", "text": "A"}], "options": {}}`, 400, "options"},
		"alias on a session route":  {"/sessions/default/messages/send-text", `{"chatId": "` + aliceCUS + `", "text": "x"}`, 400, "chatId"},
		"quote alias on send-media": {"/messages/send-media", `{"chatId": "` + aliceCUS + `", "kind": "image", "data": "` + png + `", "quotedMessageId": "A"}`, 400, "quotedMessageId"},
	}
	before := len(b.net.SendLog())
	for name, tt := range bad {
		t.Run(name, func(t *testing.T) {
			res := b.do(t, b.keyA, "POST", tt.path, tt.body)
			require.Equal(t, tt.status, res.status, "%s", res.body)
			p := res.problem(t)
			require.NotEmpty(t, p.Errors, "%s", res.body)
			require.Equal(t, tt.field, p.Errors[0].Field, "%s", res.body)
		})
	}
	require.Len(t, b.net.SendLog(), before, "refused requests sent nothing")

	// The document shows the aliases as deprecated; chat is no longer required.
	res = b.do(t, "", "GET", "/openapi.json", nil)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Deprecated bool `json:"deprecated"`
				} `json:"properties"`
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	seed := doc.Components.Schemas["SeedSendTextRequest"]
	for _, alias := range []string{"chatId", "quotedMessageId", "mentionedIds", "options"} {
		require.True(t, seed.Properties[alias].Deprecated, alias)
	}
	require.NotContains(t, seed.Required, "chat")
	require.Contains(t, seed.Required, "text")
	require.Contains(t, doc.Components.Schemas["SendTextRequest"].Required, "chat", "the session route's schema is unchanged")
}
