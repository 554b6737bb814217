package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/dbtest"
)

func TestServerStartsServesHealthAndStops(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dsn := dbtest.DSN(t, kind)
			for round := range 2 { // the second start resumes the stored session
				srv := startServer(t, nil, map[string]string{"WAQTOR_DB": dsn, "WAQTOR_ENGINE": "sandbox"})
				logs := srv.logs
				res, err := http.Get("http://" + srv.addr + "/healthz")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, res.StatusCode)
				_ = res.Body.Close()
				require.Eventually(t, func() bool {
					return strings.Contains(logs.String(), "status=ready")
				}, 10*time.Second, 10*time.Millisecond, "round %d: the default session becomes ready:\n%s", round, logs.String())
				srv.stop(t)
			}
		})
	}
}

func TestServerBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out bytes.Buffer
	require.ErrorContains(t, runArgs(ctx, &out, "-engine", "telegram", "-db", filepath.Join(t.TempDir(), "x.db")), "-engine")
	require.ErrorContains(t, runArgs(ctx, &out, "-log-level", "loud"), "-log-level")
	require.Error(t, runArgs(ctx, &out, "-nope"))
	require.ErrorContains(t, runArgs(ctx, &out, "extra"), "unexpected arguments")
	require.ErrorContains(t, runArgs(ctx, &out, "-db", "postgres://x@127.0.0.1:1/x?connect_timeout=1", "-addr", "127.0.0.1:0"),
		"database unavailable")
	require.Equal(t, "postgres://u:***@h/db", redactDSN("postgres://u:secret@h/db"))
}

// TestOptions: each new flag takes its environment variable, a flag beats
// the variable, and bad values are refused naming the flag or variable.
func TestOptions(t *testing.T) {
	t.Parallel()
	parse := func(args []string, env map[string]string) (*options, error) {
		return parseOptions(args, func(k string) string { return env[k] }, &bytes.Buffer{})
	}
	o, err := parse(nil, nil)
	require.NoError(t, err)
	require.Equal(t, 600, o.rateLimit)
	require.Equal(t, wsCompressionThresholdDefault, o.wsCompression)
	require.Equal(t, maxConnsDefault, o.maxConns)
	require.Equal(t, idleTimeoutDefault, o.idleTimeout)
	require.Empty(t, o.webhookAllowCIDRs)
	require.Nil(t, o.optOutKeywords, "nil: the Core's defaults")
	require.Empty(t, o.optOutReply)
	require.Equal(t, campaign.MaxUploadBytesDefault, o.campaignMaxUpload)

	o, err = parse([]string{"-rate-limit", "5000"}, map[string]string{
		"WAQTOR_RATE_LIMIT": "100", "WAQTOR_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8, ::1", "WAQTOR_MEDIA_ALLOW_CIDRS": "10.1.2.3/8",
		"WAQTOR_WEBHOOK_ENCRYPTION_KEY": strings.Repeat("ab", 32), "WAQTOR_SANDBOX_PAIR_DELAY": "2m",
		"WAQTOR_WS_COMPRESSION_THRESHOLD": "0", "WAQTOR_MAX_CONNS": "10", "WAQTOR_IDLE_TIMEOUT": "5s",
		"WAQTOR_BODY_MIN_RATE": "100", "WAQTOR_BODY_GRACE": "1s", "WAQTOR_ALLOWED_ORIGINS": "a.example, b.example",
		"WAQTOR_OPT_OUT_KEYWORDS": "basta, إلغاء", "WAQTOR_OPT_OUT_REPLY": "bye",
		"WAQTOR_CAMPAIGN_CLAIM_LEASE": "90s", "WAQTOR_CAMPAIGN_MAX_UPLOAD": "1048576"})
	require.NoError(t, err)
	require.Equal(t, 5000, o.rateLimit, "the flag beats the variable")
	require.Equal(t, "[127.0.0.0/8 ::1/128]", fmt.Sprint(o.webhookAllowCIDRs))
	require.Equal(t, "[10.0.0.0/8]", fmt.Sprint(o.mediaAllowCIDRs))
	require.Len(t, o.webhookEncryptionKey, 32)
	require.Equal(t, 2*time.Minute, o.sandboxPairDelay)
	require.Zero(t, o.wsCompression)
	require.Equal(t, 10, o.maxConns)
	require.Equal(t, 5*time.Second, o.idleTimeout)
	require.Equal(t, 100, o.bodyMinRate)
	require.Equal(t, time.Second, o.bodyGrace)
	require.Equal(t, []string{"a.example", "b.example"}, o.allowedOrigins)
	require.Equal(t, []string{"basta", "إلغاء"}, o.optOutKeywords)
	require.Equal(t, "bye", o.optOutReply)
	require.Equal(t, 90*time.Second, o.campaignClaimLease)
	require.Equal(t, int64(1<<20), o.campaignMaxUpload)
	o, err = parse([]string{"-opt-out-keywords", "none"}, nil)
	require.NoError(t, err)
	require.NotNil(t, o.optOutKeywords)
	require.Empty(t, o.optOutKeywords, "none: keyword opt-outs off")

	bad := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"cidr flag":      {args: []string{"-webhook-allow-cidrs", "localhost"}, want: "not a CIDR prefix"},
		"cidr env":       {env: map[string]string{"WAQTOR_MEDIA_ALLOW_CIDRS": "10.0.0.0/99"}, want: "WAQTOR_MEDIA_ALLOW_CIDRS"},
		"key length":     {args: []string{"-webhook-encryption-key", "abcd"}, want: "want 16, 24 or 32"},
		"key encoding":   {env: map[string]string{"WAQTOR_WEBHOOK_ENCRYPTION_KEY": "not*a*key"}, want: "WAQTOR_WEBHOOK_ENCRYPTION_KEY"},
		"int env":        {env: map[string]string{"WAQTOR_RATE_LIMIT": "lots"}, want: "WAQTOR_RATE_LIMIT"},
		"duration env":   {env: map[string]string{"WAQTOR_IDLE_TIMEOUT": "5"}, want: "WAQTOR_IDLE_TIMEOUT"},
		"negative":       {args: []string{"-rate-limit", "-1"}, want: "-rate-limit"},
		"no connections": {args: []string{"-max-conns", "0"}, want: "-max-conns"},
		"no idle limit":  {args: []string{"-idle-timeout", "0"}, want: "-idle-timeout"},
		"negative delay": {args: []string{"-sandbox-pair-delay", "-1s"}, want: "-sandbox-pair-delay"},
		"no keywords":    {env: map[string]string{"WAQTOR_OPT_OUT_KEYWORDS": " , "}, want: "WAQTOR_OPT_OUT_KEYWORDS"},
		"send log":       {args: []string{"-sandbox-send-log", "sends.jsonl"}, want: "-sandbox-send-log needs -engine sandbox"},
		"negative lease": {args: []string{"-campaign-claim-lease", "-1s"}, want: "-campaign-claim-lease"},
		"no upload":      {args: []string{"-campaign-max-upload", "0"}, want: "-campaign-max-upload"},
		"int64 env":      {env: map[string]string{"WAQTOR_CAMPAIGN_MAX_UPLOAD": "1e9"}, want: "WAQTOR_CAMPAIGN_MAX_UPLOAD"},
	}
	for name, tt := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tt.args, tt.env)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
