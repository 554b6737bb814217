package rest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

func TestSmokeSendText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", "+15550001111")
	res := b.do(t, b.keyA, "POST", "/sessions/default/messages/send-text", map[string]any{"chat": "+15550002222", "text": "hi"})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var m waqtor.Message
	res.json(t, &m)
	// The sandbox delivers within a millisecond: the receipt may beat the response.
	require.Contains(t, []waqtor.MessageStatus{waqtor.StatusSent, waqtor.StatusDelivered, waqtor.StatusRead}, m.Status)
	res = b.do(t, b.keyB, "POST", "/sessions/default/messages/send-text", map[string]any{"chat": "+15550002222", "text": "hi"})
	require.Equal(t, http.StatusNotFound, res.status, "%s", res.body)
	res = b.do(t, "", "GET", "/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
}
