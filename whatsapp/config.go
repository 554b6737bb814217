package whatsapp

import (
	"cmp"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/waqtor/waqtor"
)

// Defaults of [Config].
const (
	ConnectTimeoutDefault    = 45 * time.Second
	ConnectWaitDefault       = 500 * time.Millisecond
	DeviceNameDefault        = "waqtor"
	InboundTimeoutDefault    = 15 * time.Second
	InteractiveModeDefault   = waqtor.InteractiveText
	KeepAliveFailuresDefault = 3
	MaxMediaBytesDefault     = 100 << 20
	PairDisplayNameDefault   = "Chrome (Linux)"
	QRFirstTimeoutDefault    = 60 * time.Second
	QRTimeoutDefault         = 20 * time.Second
	ReconnectMaxDefault      = 2 * time.Minute
	ReconnectMinDefault      = time.Second
	SQLiteMaxConnsDefault    = 4
)

// Config configures the engine. The zero value (or nil) gives the documented
// defaults.
type Config struct {
	// ConnectTimeout bounds one connection attempt from dialling until WhatsApp
	// logs the session in or shows a QR code. An attempt that takes longer is
	// abandoned and reported as disconnected (ErrLoginTimeout), so a session is
	// never stuck in "connecting". Defaults to ConnectTimeoutDefault (45 s).
	ConnectTimeout time.Duration
	// ConnectWait is how long Conn.Connect waits for the first attempt's outcome
	// before returning: a quick failure (no network) is returned as a
	// *ConnectError, a slow handshake continues in the background and reports
	// through the ConnHandler. whatsmeow's handshake can block for 20 s ignoring
	// its context; Connect never does. Defaults to ConnectWaitDefault (500 ms).
	ConnectWait time.Duration
	// DeviceName is the name the phone lists this linked device under. whatsmeow
	// keeps it in a process-wide variable: engines with different names in one
	// process overwrite each other. Defaults to DeviceNameDefault ("waqtor").
	DeviceName string
	// InboundTimeout bounds one call of ConnHandler.HandleMessage or
	// HandleReceipt. WhatsApp is acknowledged only after the call succeeds, so a
	// timeout means redelivery, not loss. Defaults to InboundTimeoutDefault (15 s).
	InboundTimeout time.Duration
	// IncludeStatusBroadcasts delivers status updates (stories, chat
	// "status@broadcast") as inbound messages. Defaults to false.
	IncludeStatusBroadcasts bool
	// InteractiveMode is how Buttons and List messages are sent when their Mode is
	// empty. WhatsApp drops native buttons and lists silently on most accounts, so
	// the default is a numbered text menu. Defaults to InteractiveModeDefault
	// (waqtor.InteractiveText).
	InteractiveMode waqtor.InteractiveMode
	// KeepAliveFailures is how many consecutive keep-alive timeouts force a
	// reconnect (the session is reported disconnected from the first one).
	// Defaults to KeepAliveFailuresDefault (3).
	KeepAliveFailures int
	// Logger receives the engine's logs and whatsmeow's (whose info-level noise is
	// demoted to debug). Defaults to EngineEnv.Logger, then slog.Default().
	Logger *slog.Logger
	// MaxMediaBytes is the largest media the engine uploads or downloads. Defaults
	// to MaxMediaBytesDefault (100 MiB, WhatsApp's limit for media other than
	// documents).
	MaxMediaBytes int64
	// PairDisplayName is the client name shown on the phone when pairing by phone
	// number. WhatsApp accepts only "<Browser> (<OS>)" with common browsers and
	// operating systems. Defaults to PairDisplayNameDefault ("Chrome (Linux)").
	PairDisplayName string
	// QRCodes caps how many QR codes one pairing attempt shows before it gives up
	// with ErrQRTimeout; 0 shows every code WhatsApp sends (six, about 160 s).
	// There is never an automatic new attempt. Defaults to 0.
	QRCodes int
	// QRFirstTimeout is how long the first QR code of an attempt is valid.
	// Defaults to QRFirstTimeoutDefault (60 s, as WhatsApp Web).
	QRFirstTimeout time.Duration
	// QRTimeout is how long each later QR code is valid. Defaults to
	// QRTimeoutDefault (20 s, as WhatsApp Web).
	QRTimeout time.Duration
	// ReconnectMax caps the reconnect backoff. Defaults to ReconnectMaxDefault
	// (2 min).
	ReconnectMax time.Duration
	// ReconnectMin is the first reconnect delay; each failure doubles it, with
	// jitter. Defaults to ReconnectMinDefault (1 s).
	ReconnectMin time.Duration
	// SQLiteMaxConns is the size of the connection pool the engine opens on an
	// SQLite database for whatsmeow's device store. Defaults to
	// SQLiteMaxConnsDefault (4).
	SQLiteMaxConns int
}

// WithDefaults returns a copy of c (which may be nil) with every unset field set
// to its default.
func (c *Config) WithDefaults() *Config {
	var out Config
	if c != nil {
		out = *c
	}
	out.ConnectTimeout = cmp.Or(out.ConnectTimeout, ConnectTimeoutDefault)
	out.ConnectWait = cmp.Or(out.ConnectWait, ConnectWaitDefault)
	out.DeviceName = cmp.Or(out.DeviceName, DeviceNameDefault)
	out.InboundTimeout = cmp.Or(out.InboundTimeout, InboundTimeoutDefault)
	out.InteractiveMode = cmp.Or(out.InteractiveMode, InteractiveModeDefault)
	out.KeepAliveFailures = cmp.Or(out.KeepAliveFailures, KeepAliveFailuresDefault)
	out.MaxMediaBytes = cmp.Or(out.MaxMediaBytes, MaxMediaBytesDefault)
	out.PairDisplayName = cmp.Or(out.PairDisplayName, PairDisplayNameDefault)
	out.QRFirstTimeout = cmp.Or(out.QRFirstTimeout, QRFirstTimeoutDefault)
	out.QRTimeout = cmp.Or(out.QRTimeout, QRTimeoutDefault)
	out.ReconnectMax = cmp.Or(out.ReconnectMax, ReconnectMaxDefault)
	out.ReconnectMin = cmp.Or(out.ReconnectMin, ReconnectMinDefault)
	out.SQLiteMaxConns = cmp.Or(out.SQLiteMaxConns, SQLiteMaxConnsDefault)
	return &out
}

func (c *Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: whatsapp.Config.%s %s", waqtor.ErrConfig, field, fmt.Sprintf(format, args...))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ConnectTimeout", c.ConnectTimeout}, {"ConnectWait", c.ConnectWait}, {"InboundTimeout", c.InboundTimeout},
		{"QRFirstTimeout", c.QRFirstTimeout}, {"QRTimeout", c.QRTimeout}, {"ReconnectMax", c.ReconnectMax}, {"ReconnectMin", c.ReconnectMin},
	} {
		if d.v < 0 {
			return bad(d.name, "is negative (%s); leave it zero for the default", d.v)
		}
	}
	if c.ReconnectMin > c.ReconnectMax {
		return bad("ReconnectMin", "(%s) is above ReconnectMax (%s)", c.ReconnectMin, c.ReconnectMax)
	}
	if c.KeepAliveFailures < 0 || c.QRCodes < 0 || c.MaxMediaBytes < 0 || c.SQLiteMaxConns < 0 {
		return bad("KeepAliveFailures/QRCodes/MaxMediaBytes/SQLiteMaxConns", "must not be negative")
	}
	switch c.InteractiveMode {
	case waqtor.InteractiveNative, waqtor.InteractivePoll, waqtor.InteractiveText:
	default:
		return bad("InteractiveMode", "is %q; use waqtor.InteractiveText, InteractivePoll or InteractiveNative", c.InteractiveMode)
	}
	if strings.TrimSpace(c.DeviceName) == "" {
		return bad("DeviceName", "is blank")
	}
	if !strings.HasSuffix(c.PairDisplayName, ")") || !strings.Contains(c.PairDisplayName, " (") {
		return bad("PairDisplayName", "is %q; WhatsApp wants \"<Browser> (<OS>)\", such as %q", c.PairDisplayName, PairDisplayNameDefault)
	}
	return nil
}
