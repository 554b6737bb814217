package sandbox

import (
	"cmp"
	"log/slog"
	"time"
)

// Defaults of [Config]. They suit a demo (visible but quick receipts, QR codes
// that rotate like WhatsApp's) and are short enough for tests; tests usually
// shorten them further to a few milliseconds.
const (
	// ConnectLatencyDefault is how long a connection handshake takes.
	ConnectLatencyDefault = 20 * time.Millisecond
	// DeliverLatencyDefault is how long after a send a phone's delivered receipt comes.
	DeliverLatencyDefault = 50 * time.Millisecond
	// QRCodesDefault is how many QR codes a session shows before pairing times out
	// (whatsmeow gives about six).
	QRCodesDefault = 6
	// QRIntervalDefault is how long each QR code is valid.
	QRIntervalDefault = 20 * time.Second
	// ReadLatencyDefault is how long after delivery an automatic read receipt comes.
	ReadLatencyDefault = 200 * time.Millisecond
	// ReconnectDelayDefault is how long a dropped connection waits before it
	// reconnects by itself.
	ReconnectDelayDefault = 500 * time.Millisecond
	// RedeliverDelayDefault is how long an unacknowledged message or receipt waits
	// before it is delivered again.
	RedeliverDelayDefault = 500 * time.Millisecond
	// WaitTimeoutDefault bounds the Require helpers of [Phone].
	WaitTimeoutDefault = 5 * time.Second
)

// Config configures a [Network]. The zero value (or a nil *Config) is a usable
// deterministic network with the defaults below.
//
// Durations of zero take their default. For the latencies and delays, a negative
// value means "none": the step happens immediately (still asynchronously).
type Config struct {
	// AutoPair pairs every session as soon as it shows its first QR code, as a
	// phone number derived from Seed and the session ID ("+1555…"),
	// AutoPairDelay after the code. Meant for demos without a person to scan
	// codes. Defaults to false.
	AutoPair bool

	// AutoPairDelay is how long AutoPair waits after a session's first QR code
	// before it pairs the session, so that a demo can show the QR code (in a
	// terminal, or as qr.png over REST) before it goes away. A delay longer than
	// QRCodes × QRInterval lets the codes time out first. Defaults to
	// ConnectLatency.
	AutoPairDelay time.Duration

	// AutoRead makes every phone read each message it receives ReadLatency after
	// delivering it, except the phones of accounts that sessions are paired as
	// (those sessions read with Conn.MarkRead). Without it a phone reads only
	// when told to ([Phone.Read]). Defaults to false.
	AutoRead bool

	// ConnectLatency is how long Conn.Connect's handshake takes before the
	// session reports ready or shows a QR code, and how long AutoPair waits.
	// Defaults to ConnectLatencyDefault (20 ms).
	ConnectLatency time.Duration

	// DeliverLatency is how long after a message reaches an online phone its
	// delivered receipt is sent. Defaults to DeliverLatencyDefault (50 ms).
	DeliverLatency time.Duration

	// Logger receives the network's debug logs and handler panics. Defaults to
	// slog.Default().
	Logger *slog.Logger

	// NowFunc is the clock for every timestamp the network hands out (message and
	// receipt times, QR and ban expiry). Timers always run on real time. Defaults
	// to time.Now.
	NowFunc func() time.Time

	// QRCodes is how many QR codes an unpaired session shows, one per QRInterval,
	// before it gives up with StateDisconnected ("QR code timed out"). It does not
	// start again by itself. Zero or less takes the default. Defaults to
	// QRCodesDefault (6).
	QRCodes int

	// QRInterval is how long each QR code is valid before the next one replaces
	// it. Zero or less takes the default. Defaults to QRIntervalDefault (20 s).
	QRInterval time.Duration

	// ReadLatency is how long after delivery an AutoRead phone sends its read
	// receipt. Defaults to ReadLatencyDefault (200 ms).
	ReadLatency time.Duration

	// ReconnectDelay is how long a connection dropped by [Network.Disconnect]
	// waits before reconnecting, as whatsmeow's auto-reconnect does. Defaults to
	// ReconnectDelayDefault (500 ms).
	ReconnectDelay time.Duration

	// RedeliverDelay is how long a message or receipt whose ConnHandler call
	// returned an error waits before it is delivered again. Defaults to
	// RedeliverDelayDefault (500 ms).
	RedeliverDelay time.Duration

	// RequireRegistered makes numbers without a [Phone] unknown to WhatsApp:
	// sending to one fails with a permanent error ([waqtor.Permanent] wrapping
	// ErrNotOnWhatsApp) and CheckNumbers reports them absent. Without it every
	// valid number is on WhatsApp and a send to a new number creates its Phone.
	// Defaults to false.
	RequireRegistered bool

	// Seed seeds every generated value: QR codes, pairing codes, LIDs,
	// AutoPair numbers, message and group IDs. The same non-zero seed and the
	// same calls give the same values. Defaults to 0, which keeps the
	// identities (LIDs and AutoPair numbers) of seed 0 but picks a random seed
	// for the values of each run (message and group IDs, QR and pairing codes;
	// see [Network.RunSeed]): a network restarted on the same database must
	// not hand out the message IDs of its last run again, which the Core would
	// drop as duplicates.
	Seed int64

	// SendLogFunc, when set, is called with every record appended to
	// [Network.SendLog], synchronously and outside the network's lock, for
	// example to append it to a file a crash test reads after killing the
	// process. A sent message's receipts wait until it returns, so the
	// session learns nothing of the message (not even that it was delivered)
	// before its record is logged. Defaults to nil.
	SendLogFunc func(SendRecord)

	// WaitTimeout bounds [Phone.RequireReceived] and [Phone.RequireText]. Zero or
	// less takes the default. Defaults to WaitTimeoutDefault (5 s).
	WaitTimeout time.Duration
}

// WithDefaults returns a copy of c (which may be nil) with every unset field
// given its default. Negative latencies and delays become zero.
func (c *Config) WithDefaults() *Config {
	var out Config
	if c != nil {
		out = *c
	}
	out.ConnectLatency = durationOr(out.ConnectLatency, ConnectLatencyDefault)
	out.AutoPairDelay = durationOr(out.AutoPairDelay, out.ConnectLatency)
	out.DeliverLatency = durationOr(out.DeliverLatency, DeliverLatencyDefault)
	out.ReadLatency = durationOr(out.ReadLatency, ReadLatencyDefault)
	out.ReconnectDelay = durationOr(out.ReconnectDelay, ReconnectDelayDefault)
	out.RedeliverDelay = durationOr(out.RedeliverDelay, RedeliverDelayDefault)
	out.QRCodes = max(0, out.QRCodes)
	out.QRCodes = cmp.Or(out.QRCodes, QRCodesDefault)
	out.QRInterval = max(0, out.QRInterval)
	out.QRInterval = cmp.Or(out.QRInterval, QRIntervalDefault)
	out.WaitTimeout = max(0, out.WaitTimeout)
	out.WaitTimeout = cmp.Or(out.WaitTimeout, WaitTimeoutDefault)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.NowFunc == nil {
		out.NowFunc = time.Now
	}
	return &out
}

// durationOr returns def for zero and zero for negative durations.
func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def
	}
	return d
}
