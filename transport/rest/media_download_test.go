package rest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/rest"
)

// Downloading the media of a message the session sent is a client error (404,
// with a detail that says why), not a 500: the Core does not keep sent bytes.
// A text message is not media (422).
func TestDownloadMediaOfSentMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	base := "/sessions/default/messages"
	var sent waqtor.Message
	res := b.do(t, b.keyA, "POST", base+"/send-media", map[string]any{"chat": alicePhone, "kind": "image", "data": pngBytes})
	require.Equal(t, 200, res.status, "%s", res.body)
	res.json(t, &sent)

	res = b.do(t, b.keyA, "GET", base+"/"+sent.ID+"/media", nil)
	require.Equal(t, 404, res.status, "%s", res.body)
	p := res.problem(t)
	require.Equal(t, rest.TypeNotFound, p.Type)
	require.Contains(t, p.Detail, "sent by this session")

	var text waqtor.Message
	b.do(t, b.keyA, "POST", base+"/send-text", map[string]any{"chat": alicePhone, "text": "hi"}).json(t, &text)
	res = b.do(t, b.keyA, "GET", base+"/"+text.ID+"/media", nil)
	require.Equal(t, 422, res.status, "%s", res.body)
	require.Equal(t, rest.TypeValidation, res.problem(t).Type)
}
