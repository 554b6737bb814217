package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/plugintest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
)

func TestMain(m *testing.M) {
	if os.Getenv(gatewayChildEnv) != "" {
		os.Exit(gatewayChild())
	}
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

const echoPkg = "github.com/waqtor/waqtor/examples/echo-plugin"

func TestPluginFlag(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args []string
		env  string
		want []string
	}{
		"none":              {want: nil},
		"repeated flag":     {args: []string{"-plugin", "a", "-plugin", "/x/b"}, want: []string{"a", "/x/b"}},
		"env list":          {env: " a, b ,,", want: []string{"a", "b"}},
		"flags replace env": {args: []string{"-plugin", "c"}, env: "a,b", want: []string{"c"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, err := parseOptions(tt.args, func(k string) string {
				if k == "WAQTOR_PLUGINS" {
					return tt.env
				}
				return ""
			}, &bytes.Buffer{})
			require.NoError(t, err)
			require.Equal(t, tt.want, []string(*o.plugins))
		})
	}
	_, err := parseOptions([]string{"-plugin", " "}, func(string) string { return "" }, &bytes.Buffer{})
	require.Error(t, err)

	names := pluginNames([]string{"/bin/echo-plugin", "./Echo Plugin.exe", "/other/echo-plugin", "...", "/x/a", "/x/b", "/x/c"},
		[]string{"", "", "", "", "Echo", "echo", "--"})
	require.Equal(t, []string{"echo-plugin", "echo-plugin-2", "echo-plugin-3", "plugin", "echo", "echo-2", "c"}, names)
}

// TestStartPluginsEchoesHi runs the echo plugin through startPlugins, as
// main does, on a sandbox: a phone's "hi" is echoed.
func TestStartPluginsEchoesHi(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, echoPkg)
	ctx := context.Background()
	logger := slogtest.New(t)
	n := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true, ConnectLatency: time.Millisecond, DeliverLatency: time.Millisecond})
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: n.Factory(), Logger: logger})
	require.NoError(t, err)
	require.NoError(t, core.Start(ctx))
	host, err := startPlugins(ctx, core, []string{bin}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, errors.Join(host.Stop(ctx), core.Stop(ctx))) })
	require.NoError(t, createSession(ctx, core, "default"))
	var sess *waqtor.Session
	require.Eventually(t, func() bool {
		sess, err = core.Session(ctx, "default")
		return err == nil && sess.State == waqtor.StateReady && sess.Info.Phone != ""
	}, 30*time.Second, time.Millisecond)
	phone := n.Phone("+15550009999")
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The plugin starts with the events after it first started: wait for it,
	// so that "hi" is not older than its cursor.
	_, err = phone.SendText(ctx, sess.Info.Phone, "hi")
	require.NoError(t, err)
	_, err = phone.WaitForText(wctx, "echo: hi")
	require.NoError(t, err)

	none, err := startPlugins(ctx, core, nil, logger)
	require.NoError(t, err)
	require.Nil(t, none)
}

// TestServerRunsPlugin is the "done when": the server with -plugin
// <echo binary> echoes a sandbox phone's "hi" (driven over the REST API), the
// plugins route group answers, and shutdown stops the plugin.
func TestServerRunsPlugin(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, echoPkg)
	key := auth.NewKeySecret()
	srv := startServer(t, []string{"-plugin", bin, "-api-key", key},
		map[string]string{"WAQTOR_DB": dbtest.DSN(t, dbtest.SQLite), "WAQTOR_ENGINE": "sandbox"})
	addr, logs := srv.addr, srv.logs
	call := func(method, path, body string) (int, string) { return apiCall(t, addr, key, method, path, body) }
	require.Eventually(t, func() bool {
		code, body := call("GET", "/api/plugins/echo", "") // the name the plugin declares (B13)
		return code == http.StatusOK && strings.Contains(body, `"state":"running"`) &&
			strings.Contains(logs.String(), "status=ready")
	}, time.Minute, 20*time.Millisecond, "the plugin runs:\n%s", logs.String())

	code, body := call("POST", "/api/sandbox/sessions/default/inbound", `{"from":"+15550002222","text":"hi"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Eventually(t, func() bool {
		_, body := call("GET", "/api/sessions/default/messages?chat=%2B15550002222", "")
		return strings.Contains(body, `"body":"echo: hi"`)
	}, time.Minute, 20*time.Millisecond, "the echo is sent")
	code, body = call("POST", "/api/plugins/echo/commands/stats", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"total":1`)

	srv.stop(t)
	require.Contains(t, logs.String(), "state=stopped")
}
