package webhook

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"slices"
	"time"

	"github.com/waqtor/waqtor/internal/clock"
)

// Defaults of Config fields.
const (
	// AutoDisableAfterDefault is how long an endpoint may fail without a single
	// success before it is disabled (Svix uses the same five days).
	AutoDisableAfterDefault = 5 * 24 * time.Hour
	// BatchSizeDefault is how many events the dispatcher reads from the log at
	// once.
	BatchSizeDefault = 500
	// ConcurrencyDefault is how many requests may be in flight to one endpoint.
	ConcurrencyDefault = 32
	// CursorNameDefault names the dispatcher's event-log cursor.
	CursorNameDefault = "webhook"
	// LeaseMarginDefault is added to an endpoint's timeout to make the lease of
	// a claimed delivery: a delivery whose process died mid-attempt is tried
	// again once its lease ran out.
	LeaseMarginDefault = 30 * time.Second
	// MaxResponseBytesDefault caps the response body stored with an attempt,
	// counted after gzip decoding.
	MaxResponseBytesDefault = 20 << 10
	// MaxTimeout caps an endpoint's timeout.
	MaxTimeout = 2 * time.Minute
	// PollIntervalDefault is how often endpoints look for deliveries written by
	// other processes and for expired leases.
	PollIntervalDefault = time.Second
	// RetentionDefault is how long finished deliveries (succeeded or dead) and
	// their attempts are kept.
	RetentionDefault = 30 * 24 * time.Hour
	// RotationGraceDefault is how long the previous secret keeps signing after
	// a rotation.
	RotationGraceDefault = 24 * time.Hour
	// TimeoutDefault bounds one delivery attempt (connect, send, response).
	TimeoutDefault = 15 * time.Second
)

// Resolver resolves host names to addresses. *net.Resolver satisfies it;
// tests inject another.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Service. The zero value works: deliveries go to public
// addresses only, with the Standard Webhooks retry schedule. New never modifies
// the caller's Config.
type Config struct {
	// AllowCIDRs lets endpoint URLs reach these otherwise blocked ranges:
	// loopback (127.0.0.0/8, ::1/128) for local receivers and tests, or a LAN
	// (10.0.0.0/8). Cloud metadata addresses stay blocked. Defaults to none:
	// loopback, private, link-local and reserved addresses are refused, when an
	// endpoint is saved and again on every connection.
	AllowCIDRs []netip.Prefix
	// AutoDisableAfter disables an endpoint (and emits
	// webhook.endpoint_disabled) once it has failed without a success for this
	// long. Negative: never. Defaults to AutoDisableAfterDefault (5 days).
	AutoDisableAfter time.Duration
	// BatchSize is how many events the dispatcher reads from the log at once.
	// Defaults to BatchSizeDefault (500).
	BatchSize int
	// Breaker configures the circuit breaker of each endpoint (see
	// BreakerConfig). Defaults to the Breaker*Default constants: open at 70 %
	// failures of at least 10 attempts in 5 minutes, probe after 30 s (doubling
	// up to 1 h while probes fail), close after 3 successful probes, disable
	// after 10 failed probes in a row.
	Breaker BreakerConfig
	// Concurrency is how many requests may be in flight to one endpoint (1 for
	// FIFO endpoints). Defaults to ConcurrencyDefault (32).
	Concurrency int
	// CursorName names the dispatcher's durable cursor on the event log. Two
	// Services on one database with different names deliver independently.
	// Defaults to CursorNameDefault ("webhook").
	CursorName string
	// DefaultRetry is the retry policy of endpoints created without one.
	// Defaults to StandardRetry().
	DefaultRetry *RetryPolicy
	// DefaultTimeout is the timeout of endpoints created without one. Defaults
	// to TimeoutDefault (15 s).
	DefaultTimeout time.Duration
	// EncryptionKey encrypts endpoint secrets, previous secrets (during a
	// rotation's grace) and custom headers (often the receiver's credentials)
	// at rest with AES-GCM: 16, 24 or 32 bytes (32 recommended). Values
	// written without a key, or with a key now in OldEncryptionKeys, are
	// encrypted with this key by Start, in one transaction. Defaults to none
	// (stored as they are).
	EncryptionKey []byte
	// LeaseMargin is added to an endpoint's timeout to make a claim's lease.
	// Defaults to LeaseMarginDefault (30 s).
	LeaseMargin time.Duration
	// Logger receives the service's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// MaxResponseBytes caps the response body kept with each attempt, after
	// gzip decoding; the rest is never read. Defaults to
	// MaxResponseBytesDefault (20 KiB).
	MaxResponseBytes int64
	// OldEncryptionKeys decrypt values written with earlier keys, for key
	// rotation: Start re-encrypts them with EncryptionKey, after which the old
	// keys may be dropped. Defaults to none.
	OldEncryptionKeys [][]byte
	// PollInterval is how often endpoints check for deliveries written by
	// other processes on the same database and for expired leases. Defaults
	// to PollIntervalDefault (1 s).
	PollInterval time.Duration
	// Resolver resolves endpoint host names, when an endpoint is saved and on
	// every connection. Defaults to net.DefaultResolver.
	Resolver Resolver
	// Retention is how long finished deliveries (succeeded or dead) and their
	// attempts stay in the delivery log, counted from their last change; they
	// are pruned every PruneInterval. Pending deliveries are never pruned.
	// Defaults to RetentionDefault (30 days).
	Retention time.Duration
	// PruneInterval is how often old deliveries are pruned (real time).
	// Defaults to 10 minutes.
	PruneInterval time.Duration
	// RotationGrace is how long the previous secret keeps signing after
	// RotateSecret, unless the call says otherwise. Defaults to
	// RotationGraceDefault (24 h).
	RotationGrace time.Duration
	// Test holds knobs for tests.
	Test TestConfig
	// UserAgent is sent with every delivery. Defaults to
	// "WaQtor-Webhook/<module version>".
	UserAgent string
}

// TestConfig holds settings meant for tests only.
type TestConfig struct {
	// Clock replaces the real clock, e.g. with ScaledClock(1000). Defaults to
	// the real clock.
	Clock Clock
}

// WithDefaults returns a copy of c with every unset field set to its default.
func (c *Config) WithDefaults() *Config {
	if c == nil {
		c = &Config{}
	}
	out := *c
	out.AllowCIDRs = slices.Clone(c.AllowCIDRs)
	out.AutoDisableAfter = cmp.Or(c.AutoDisableAfter, AutoDisableAfterDefault)
	out.BatchSize = cmp.Or(c.BatchSize, BatchSizeDefault)
	out.Breaker = c.Breaker.withDefaults()
	out.Concurrency = cmp.Or(c.Concurrency, ConcurrencyDefault)
	out.CursorName = cmp.Or(c.CursorName, CursorNameDefault)
	if out.DefaultRetry == nil {
		out.DefaultRetry = StandardRetry()
	} else {
		out.DefaultRetry = c.DefaultRetry.clone()
	}
	out.DefaultTimeout = cmp.Or(c.DefaultTimeout, TimeoutDefault)
	out.EncryptionKey = slices.Clone(c.EncryptionKey)
	out.LeaseMargin = cmp.Or(c.LeaseMargin, LeaseMarginDefault)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	out.MaxResponseBytes = cmp.Or(c.MaxResponseBytes, MaxResponseBytesDefault)
	out.OldEncryptionKeys = slices.Clone(c.OldEncryptionKeys)
	out.PollInterval = cmp.Or(c.PollInterval, PollIntervalDefault)
	out.Retention = cmp.Or(c.Retention, RetentionDefault)
	out.PruneInterval = cmp.Or(c.PruneInterval, 10*time.Minute)
	out.RotationGrace = cmp.Or(c.RotationGrace, RotationGraceDefault)
	if out.Test.Clock == nil {
		out.Test.Clock = clock.Real{}
	}
	out.UserAgent = cmp.Or(c.UserAgent, "WaQtor-Webhook/"+moduleVersion())
	return &out
}

func (c *Config) validate() error {
	if c.BatchSize < 0 || c.BatchSize > 10000 {
		return fmt.Errorf("%w: BatchSize %d must be between 1 and 10000 (or 0 for the default)", ErrConfig, c.BatchSize)
	}
	if c.Concurrency < 0 || c.Concurrency > 1024 {
		return fmt.Errorf("%w: Concurrency %d must be between 1 and 1024 (or 0 for the default)", ErrConfig, c.Concurrency)
	}
	if c.DefaultTimeout < 0 || c.DefaultTimeout > MaxTimeout {
		return fmt.Errorf("%w: DefaultTimeout %s must be between 0 and %s", ErrConfig, c.DefaultTimeout, MaxTimeout)
	}
	if c.MaxResponseBytes < 0 {
		return fmt.Errorf("%w: MaxResponseBytes must not be negative", ErrConfig)
	}
	for name, d := range map[string]time.Duration{"LeaseMargin": c.LeaseMargin, "PollInterval": c.PollInterval,
		"RotationGrace": c.RotationGrace, "Retention": c.Retention, "PruneInterval": c.PruneInterval} {
		if d < 0 {
			return fmt.Errorf("%w: %s must not be negative", ErrConfig, name)
		}
	}
	if err := c.Breaker.validate(); err != nil {
		return err
	}
	if err := c.DefaultRetry.validate(); err != nil {
		return fmt.Errorf("%w: DefaultRetry: %w", ErrConfig, err)
	}
	return nil
}

// moduleVersion is waqtor's module version as the host binary records it, or
// "dev" in a build of the module itself.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/waqtor/waqtor" && m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return "dev"
}
