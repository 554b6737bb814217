package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/waqtor/waqtor/campaign"
)

// Defaults of the server's flags.
const (
	// bodyGraceDefault is how long a request body may take before the minimum
	// rate applies.
	bodyGraceDefault = 10 * time.Second
	// bodyMinRateDefault is the slowest a request body may arrive, in bytes a
	// second after the grace: a 24 MiB upload at that rate takes under two
	// hours, a trickle of a byte a second is cut after the grace.
	bodyMinRateDefault = 4 << 10
	// idleTimeoutDefault is how long a keep-alive connection may sit idle
	// between requests.
	idleTimeoutDefault = time.Minute
	// maxConnsDefault caps open HTTP connections (WebSocket ones included):
	// well under the usual file-descriptor limits, well over what one gateway
	// serves.
	maxConnsDefault = 4096
	// wsCompressionThresholdDefault is the smallest WebSocket message
	// compressed (permessage-deflate): 0, off, as the hub's own default.
	// BenchmarkWSCompression measured that deflate without context takeover
	// saves 39 % of a 1 KiB event's bytes and 75 % of a 4 KiB one's, but
	// costs about 0.3 ms of CPU per message and connection against 0.02 ms:
	// a hub fanning each event out to a thousand clients would spend 0.3 s of
	// CPU per event. Turn it on for few clients on slow links.
	wsCompressionThresholdDefault = 0
)

// options are the server's settings, from flags and environment variables.
type options struct {
	addr                 string
	allowedOrigins       []string
	apiKey               string
	bodyGrace            time.Duration
	bodyMinRate          int
	campaignClaimLease   time.Duration
	campaignMaxUpload    int64
	db                   string
	engine               string
	idleTimeout          time.Duration
	logLevel             string
	maxConns             int
	mediaAllowCIDRs      []netip.Prefix
	optOutKeywords       []string // nil: the Core's defaults; empty: off
	optOutReply          string
	plugins              *pluginPaths
	rateLimit            int
	nodeID               string
	sandboxPairDelay     time.Duration
	sandboxSendLog       string
	session              string
	tenantSendLimit      int
	trustedProxies       []netip.Prefix
	webhookAllowCIDRs    []netip.Prefix
	webhookEncryptionKey []byte
	wsCompression        int
	wsQueryAPIKey        bool
}

// envFlags registers flags whose defaults come from environment variables.
// A malformed variable is reported by parse, naming it.
type envFlags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

func (e *envFlags) env(name string) (string, bool) {
	v := strings.TrimSpace(e.getenv(name))
	return v, v != ""
}

func (e *envFlags) string(p *string, name, env, def, usage string) {
	if v, ok := e.env(env); ok {
		def = v
	}
	e.fs.StringVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) int(p *int, name, env string, def int, usage string) {
	if v, ok := e.env(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not a whole number", env, v))
		}
		def = n
	}
	e.fs.IntVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) int64(p *int64, name, env string, def int64, usage string) {
	if v, ok := e.env(env); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not a whole number", env, v))
		}
		def = n
	}
	e.fs.Int64Var(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) bool(p *bool, name, env string, usage string) {
	def := false
	if v, ok := e.env(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not true or false", env, v))
		}
		def = b
	}
	e.fs.BoolVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := e.env(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not a duration (try 30s or 2m)", env, v))
		}
		def = d
	}
	e.fs.DurationVar(p, name, def, usage+" (env "+env+")")
}

// value registers a flag parsed by set, from the flag or else the variable.
func (e *envFlags) value(name, env, usage string, set func(string) error) {
	if v, ok := e.env(env); ok {
		if err := set(v); err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s: %w", env, err))
		}
	}
	e.fs.Func(name, usage+" (env "+env+")", set)
}

// parsePrefixes reads a comma-separated list of CIDR prefixes ("127.0.0.0/8,
// ::1/128"); a bare address is taken as its own /32 or /128.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix (try 127.0.0.0/8 or 10.0.0.0/8)", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// parseEncryptionKey reads an AES key of 16, 24 or 32 bytes written in hex or
// base64.
func parseEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var key []byte
	if b, err := hex.DecodeString(s); err == nil {
		key = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		key = b
	} else if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		key = b
	} else {
		return nil, errors.New("not hex or base64 (try: openssl rand -hex 32)")
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes; want 16, 24 or 32 (try: openssl rand -hex 32)", len(key))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

const usageHeader = `Usage: server [flags]
       server keys create|list|revoke [flags]   (manage API keys; server keys -help)

waqtor's WhatsApp gateway: REST at /api (OpenAPI at /api/openapi.json), WebSocket
at /ws, Prometheus metrics at /metrics, the WebSocket monitor at /ws-monitor and
/healthz. Requests authenticate with an API key, sent as "X-API-Key: wqt_…" or
"Authorization: Bearer wqt_…". While no key was ever used, every start prints a
new bootstrap admin key; "server keys create" makes one at any time.

Every flag can be set with the environment variable named after it.

Flags:
`

// parseOptions reads the flags, with defaults from the environment. -help
// prints the usage to out and returns flag.ErrHelp.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageHeader)
		fs.PrintDefaults()
	}
	e := &envFlags{fs: fs, getenv: getenv}
	o := &options{}
	e.string(&o.addr, "addr", "WAQTOR_ADDR", ":8080", "listen address")
	e.value("allowed-origins", "WAQTOR_ALLOWED_ORIGINS",
		"comma-separated host patterns of browser pages allowed to open the WebSocket", func(v string) error {
			o.allowedOrigins = splitList(v)
			return nil
		})
	e.string(&o.apiKey, "api-key", "WAQTOR_API_KEY", "",
		"an admin API key (wqt_…) to store at start, for scripted setups; without it a key is printed while none was used")
	e.duration(&o.bodyGrace, "body-grace", "WAQTOR_BODY_GRACE", bodyGraceDefault,
		"how long a request body may take before -body-min-rate applies")
	e.int(&o.bodyMinRate, "body-min-rate", "WAQTOR_BODY_MIN_RATE", bodyMinRateDefault,
		"slowest request body accepted, in bytes/s after -body-grace (slower ones are cut); 0: no limit")
	e.duration(&o.campaignClaimLease, "campaign-claim-lease", "WAQTOR_CAMPAIGN_CLAIM_LEASE", campaign.ClaimLeaseDefault,
		"how long a campaign recipient being sent belongs to this process; after a crash it is sent again (same message ID) once this ran out")
	e.int64(&o.campaignMaxUpload, "campaign-max-upload", "WAQTOR_CAMPAIGN_MAX_UPLOAD", campaign.MaxUploadBytesDefault,
		"largest campaign recipient upload in bytes (413 beyond); it is spooled to a temporary file first")
	e.string(&o.db, "db", "WAQTOR_DB", "waqtor-data/waqtor.db", "SQLite path or postgres:// URL")
	e.string(&o.engine, "engine", "WAQTOR_ENGINE", "whatsapp", "WhatsApp engine: whatsapp, or sandbox for the simulated network (no phone, no internet)")
	e.duration(&o.idleTimeout, "idle-timeout", "WAQTOR_IDLE_TIMEOUT", idleTimeoutDefault,
		"how long an idle keep-alive connection stays open")
	e.string(&o.logLevel, "log-level", "WAQTOR_LOG_LEVEL", "info", "debug, info, warn or error")
	e.int(&o.maxConns, "max-conns", "WAQTOR_MAX_CONNS", maxConnsDefault,
		"most HTTP connections open at once (WebSockets included); more wait to be accepted")
	e.value("media-allow-cidrs", "WAQTOR_MEDIA_ALLOW_CIDRS",
		"comma-separated CIDR prefixes that media URLs may reach although private or loopback (e.g. a LAN file server)", func(v string) (err error) {
			o.mediaAllowCIDRs, err = parsePrefixes(v)
			return err
		})
	e.value("opt-out-keywords", "WAQTOR_OPT_OUT_KEYWORDS",
		"comma-separated messages with which a contact opts out of marketing (matched whole, ignoring case, Arabic letter variants and punctuation); "+
			"\"none\" turns keyword opt-outs off; default STOP, STOPALL, UNSUBSCRIBE, OPT OUT, OPTOUT, إلغاء, الغاء, إلغاء الاشتراك, توقف, إيقاف, ايقاف",
		func(v string) error {
			o.optOutKeywords = splitList(v)
			if len(o.optOutKeywords) == 1 && strings.EqualFold(o.optOutKeywords[0], "none") {
				o.optOutKeywords = []string{}
			}
			if o.optOutKeywords == nil {
				return errors.New(`no keyword given (use "none" to turn keyword opt-outs off)`)
			}
			return nil
		})
	e.string(&o.optOutReply, "opt-out-reply", "WAQTOR_OPT_OUT_REPLY", "",
		"confirmation sent to a contact whose keyword opted it out; empty: no reply")
	o.plugins = addPluginFlag(fs, getenv)
	e.int(&o.rateLimit, "rate-limit", "WAQTOR_RATE_LIMIT", 600, "REST requests per minute per API key (429 beyond); 0: no limit")
	e.duration(&o.sandboxPairDelay, "sandbox-pair-delay", "WAQTOR_SANDBOX_PAIR_DELAY", 0,
		"-engine sandbox: how long a new session shows its QR code before it pairs by itself (0: at once; try 2m to scan /api/session/qr.png)")
	e.string(&o.sandboxSendLog, "sandbox-send-log", "WAQTOR_SANDBOX_SEND_LOG", "",
		"-engine sandbox: append every send the simulated network is asked to make to this file, one JSON line each (to audit that nothing is sent twice)")
	e.string(&o.nodeID, "node-id", "WAQTOR_NODE_ID", "",
		"this process's name in campaign claims; a restart with the same name resends its interrupted sends at once instead of after -campaign-claim-lease (default: the host name; give each process on one host its own)")
	e.string(&o.session, "session", "WAQTOR_SESSION", "default", "session created on first start")
	e.int(&o.tenantSendLimit, "tenant-send-limit", "WAQTOR_TENANT_SEND_LIMIT", 0,
		"messages one tenant may send per minute over all its sessions (429 beyond); 0: no limit")
	e.value("trusted-proxies", "WAQTOR_TRUSTED_PROXIES",
		"comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-For names the REST client (for rate limits and the auth throttle); default none: the TCP peer is the client", func(v string) (err error) {
			o.trustedProxies, err = parsePrefixes(v)
			return err
		})
	e.value("webhook-allow-cidrs", "WAQTOR_WEBHOOK_ALLOW_CIDRS",
		"comma-separated CIDR prefixes webhook endpoints may target although private or loopback (e.g. 127.0.0.0/8 for a local receiver)", func(v string) (err error) {
			o.webhookAllowCIDRs, err = parsePrefixes(v)
			return err
		})
	e.value("webhook-encryption-key", "WAQTOR_WEBHOOK_ENCRYPTION_KEY",
		"AES key (16, 24 or 32 bytes in hex or base64) encrypting webhook secrets at rest; e.g. $(openssl rand -hex 32)", func(v string) (err error) {
			o.webhookEncryptionKey, err = parseEncryptionKey(v)
			return err
		})
	e.int(&o.wsCompression, "ws-compression-threshold", "WAQTOR_WS_COMPRESSION_THRESHOLD", wsCompressionThresholdDefault,
		"compress WebSocket messages of at least this many bytes (permessage-deflate: ~75% fewer bytes for 4 KiB events, ~15x the CPU per message and client); 0: off")
	e.bool(&o.wsQueryAPIKey, "ws-query-api-key", "WAQTOR_WS_QUERY_API_KEY",
		"also accept the API key as the seed's /ws?apiKey= query parameter; insecure: keys in URLs leak into access logs, proxies and browser history")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := errors.Join(e.errs...); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for name, v := range map[string]int{"-body-min-rate": o.bodyMinRate, "-max-conns": o.maxConns, "-rate-limit": o.rateLimit,
		"-tenant-send-limit":        o.tenantSendLimit,
		"-ws-compression-threshold": o.wsCompression} {
		if v < 0 {
			return nil, fmt.Errorf("%s %d: must not be negative", name, v)
		}
	}
	if o.nodeID == "" {
		if o.nodeID, _ = os.Hostname(); o.nodeID == "" {
			o.nodeID = "waqtor"
		}
	}
	if o.sandboxSendLog != "" && o.engine != "sandbox" {
		return nil, errors.New("-sandbox-send-log needs -engine sandbox")
	}
	if o.campaignMaxUpload <= 0 {
		return nil, fmt.Errorf("-campaign-max-upload %d: must be positive (try %d)", o.campaignMaxUpload, campaign.MaxUploadBytesDefault)
	}
	if o.idleTimeout == 0 {
		return nil, errors.New("-idle-timeout 0: idle connections would never close (try 1m)")
	}
	if o.maxConns == 0 {
		return nil, errors.New("-max-conns 0: the server could accept no connection (try 4096)")
	}
	for name, d := range map[string]time.Duration{"-body-grace": o.bodyGrace, "-campaign-claim-lease": o.campaignClaimLease, "-idle-timeout": o.idleTimeout,
		"-sandbox-pair-delay": o.sandboxPairDelay} {
		if d < 0 {
			return nil, fmt.Errorf("%s %s: must not be negative", name, d)
		}
	}
	return o, nil
}
