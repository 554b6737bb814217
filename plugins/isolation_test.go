package plugins_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/plugins"
)

// TestSupplyChainAndIsolation is docs/reliability.md T22: a binary that does not match
// its checksum is refused; the plugin's environment holds nothing of the
// host's; a local client other than the host cannot talk to the plugin (the
// mTLS handshake fails for a second local process, in plaintext, with no
// certificate or with a certificate of its own); a
// reattach with AutoMTLS is refused.
func TestSupplyChainAndIsolation(t *testing.T) {
	t.Parallel()
	exe, sum := testExe(t)
	tampered := filepath.Join(t.TempDir(), "plugin")
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	data[len(data)/2] ^= 0x01 // flip one bit
	require.NoError(t, os.WriteFile(tampered, data, 0o700))
	bad := fastPlugin(t, "tampered")
	bad.Path, bad.SHA256 = tampered, sum
	good := fastPlugin(t, "good")
	good.SHA256 = sum
	good.Env = []string{"GREETING=hello"}
	b := setup(t, bad, good)

	st := b.waitState(t, "tampered", waqtor.PluginFailed)
	require.Contains(t, st.LastError, "checksum mismatch")
	require.Zero(t, st.PID)

	b.waitRunning(t, "good", 0)
	res, err := b.host.Command(context.Background(), "good", "env", nil)
	require.NoError(t, err)
	var env struct {
		N      int      `json:"n"`
		WAQTOR []string `json:"waqtor"`
	}
	require.NoError(t, json.Unmarshal(res, &env))
	require.NotEmpty(t, os.Getenv(hostSecret), "the host has the secret")
	// Only go-plugin's own handshake variable starts with WAQTOR.
	require.Equal(t, []string{plugins.Handshake.MagicCookieKey + "=" + plugins.Handshake.MagicCookieValue}, env.WAQTOR)
	require.Less(t, env.N, 12, "the plugin sees go-plugin's variables and Env only")

	rc := b.host.PluginReattach("good")
	require.NotNil(t, rc)
	require.Equal(t, "unix", rc.Addr.Network())
	ctx := context.Background()
	// A second local process (this test binary, re-executed) dials the
	// plugin's socket three ways; each must fail the mTLS handshake.
	out, err := exec.CommandContext(ctx, exe, testForeignArg, rc.Addr.String()).CombinedOutput()
	require.NoError(t, err, "foreign process: %s", out)
	var results map[string]string
	require.NoError(t, json.Unmarshal(out, &results), "foreign process output: %s", out)
	require.Len(t, results, 3)
	for how, res := range results {
		require.NotEqual(t, "accepted", res, "a foreign process talked to the plugin with %s", how)
		require.NotEmpty(t, res, how)
	}

	// A reattach with AutoMTLS has no certificate the plugin trusts.
	client := plugin.NewClient(&plugin.ClientConfig{HandshakeConfig: plugins.Handshake, Plugins: plugins.PluginSet(),
		Reattach: rc, AutoMTLS: true, AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger: plugins.HclogForTest(slogtest.New(t))})
	if rpc, err := client.Client(); err == nil {
		require.Error(t, rpc.Ping(), "the reattached client cannot talk to the plugin")
		_ = rpc.Close()
	}
	// The plugin is unharmed.
	b.say(t, "still mine")
	b.waitText(t, "ack: still mine")

	// Fixing the binary and restarting brings the refused plugin up.
	require.NoError(t, os.WriteFile(tampered+".new", mustRead(t, exe), 0o700))
	require.NoError(t, os.Rename(tampered+".new", tampered))
	require.NoError(t, b.host.Restart(ctx, "tampered"))
	b.waitRunning(t, "tampered", 0)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// runForeignDial is the foreign local process of TestSupplyChainAndIsolation:
// it calls the plugin at the unix socket addr in plaintext, with a
// certificate of its own, and with no client certificate, and prints a JSON
// object: for each, "accepted" or the error.
func runForeignDial(addr string) int {
	cert, err := selfSigned()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	attempts := map[string]credentials.TransportCredentials{
		"plaintext": insecure.NewCredentials(),
		"own certificate": credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, //nolint:gosec // the attacker's side
			Certificates: []tls.Certificate{cert}}),
		"no certificate": credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}), //nolint:gosec // the attacker's side
	}
	results := map[string]string{}
	for how, creds := range attempts {
		results[how] = "accepted"
		conn, err := grpc.NewClient("unix:"+addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			results[how] = err.Error()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
		cancel()
		_ = conn.Close()
		if err != nil {
			results[how] = err.Error()
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		return 1
	}
	return 0
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// TestHostServiceThroughProcess exercises the Host service of a real plugin
// process: the key/value store, logging, sessions and command errors.
func TestHostServiceThroughProcess(t *testing.T) {
	t.Parallel()
	b := setup(t, fastPlugin(t, "tp"))
	b.waitRunning(t, "tp", 0)
	ctx := context.Background()
	res, err := b.host.Command(ctx, "tp", "kv", nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"value":"two","found":true,"keys":["a/1","a/2"],"deleted":true,"still_there":false,
		"too_long_is_limit":true,"sessions":1,"session_not_found":true}`, string(res))

	_, err = b.host.Command(ctx, "tp", "fail", nil)
	require.ErrorIs(t, err, plugins.ErrInvalidArgs)
	_, err = b.host.Command(ctx, "tp", "unknown", nil)
	require.ErrorIs(t, err, plugins.ErrUnknownCommand)
	_, err = b.host.Command(ctx, "tp", "echo", json.RawMessage(`{bad`))
	require.ErrorIs(t, err, plugins.ErrInvalidArgs)
	_, err = b.host.Command(ctx, "nope", "echo", nil)
	require.ErrorIs(t, err, plugins.ErrPluginNotFound)
}

// TestTenantRestriction: a plugin restricted to a tenant gets only its events
// and cannot use another tenant's sessions.
func TestTenantRestriction(t *testing.T) {
	t.Parallel()
	cfg := fastPlugin(t, "acme-bot")
	cfg.Tenant = "acme"
	b := setup(t, cfg)
	ctx := context.Background()
	_, err := b.core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: "acme-main", Tenant: "acme"})
	require.NoError(t, err)
	var acme *waqtor.Session
	require.Eventually(t, func() bool {
		acme, err = b.core.Session(waqtor.WithTenant(ctx, "acme"), "acme-main") // IDs are per tenant
		return err == nil && acme.State == waqtor.StateReady && acme.Info.Phone != ""
	}, waitTimeout, 2*time.Millisecond)
	b.waitRunning(t, "acme-bot", 0)
	res, err := b.host.Command(ctx, "acme-bot", "kv", nil)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(res, &out))
	require.EqualValues(t, 1, out["sessions"], "only acme's session")

	b.say(t, "to default") // another tenant's session: not for this plugin
	_, err = b.phone.SendText(ctx, acme.Info.Phone, "to acme")
	require.NoError(t, err)
	b.waitText(t, "ack: to acme")
	require.Zero(t, b.count("ack: to default"))
}

// TestEveryTenantPluginActsInEventTenant: session IDs are unique per tenant
// only, so a plugin of every tenant answering an event of tenant "acme"'s
// session "main" answers from that session, not from the default tenant's
// "main": both through a returned action ("ack") and through the Host service
// during the delivery ("echo").
func TestEveryTenantPluginActsInEventTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, fastPlugin(t, "tp"))
	ctx := context.Background()
	acmeCtx := waqtor.WithTenant(ctx, "acme")
	_, err := b.core.CreateSession(acmeCtx, &waqtor.CreateSessionParams{ID: "main"})
	require.NoError(t, err)
	var acme *waqtor.Session
	require.Eventually(t, func() bool {
		acme, err = b.core.Session(acmeCtx, "main")
		return err == nil && acme.State == waqtor.StateReady && acme.Info.Phone != ""
	}, waitTimeout, 2*time.Millisecond)
	require.NotEqual(t, b.bot, acme.Info.Phone, "two accounts")
	b.waitRunning(t, "tp", 0)

	_, err = b.phone.SendText(ctx, acme.Info.Phone, "to acme")
	require.NoError(t, err)
	for _, text := range []string{"ack: to acme", "echo: to acme"} {
		b.waitText(t, text)
		for _, r := range b.phone.Received() {
			if r.Text() == text {
				require.Equal(t, acme.Info.JID, r.From, "%q came from acme's account", text)
			}
		}
	}
	def, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "main", Chat: b.phone.Number()})
	require.NoError(t, err)
	require.Empty(t, def.Messages, "the default tenant's main sent and received nothing")
}
