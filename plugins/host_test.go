package plugins_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins"
)

func TestEchoThroughCallbackAndAction(t *testing.T) {
	t.Parallel()
	b := setup(t, fastPlugin(t, "tp"))
	b.waitRunning(t, "tp", 0)
	b.say(t, "hello")
	b.waitText(t, "echo: hello")
	b.waitText(t, "ack: hello")
	var st *plugins.Status
	require.Eventually(t, func() bool {
		var err error
		st, err = b.host.Status(context.Background(), "tp")
		require.NoError(t, err)
		return st.Handled == 1
	}, waitTimeout, time.Millisecond)
	require.Equal(t, waqtor.PluginRunning, st.State)
	require.Equal(t, "0.0.1", st.Version)
	require.Equal(t, []waqtor.EventKind{waqtor.KindMessageReceived}, st.Kinds)

	res, err := b.host.Command(context.Background(), "tp", "echo", json.RawMessage(`{"x":1}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"x":1}`, string(res))
}
