package campaign

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/waqtor/waqtor/internal/clock"
)

// Defaults of Config fields.
const (
	// ClaimLeaseDefault is how long a claimed recipient belongs to the sender
	// that claimed it. A recipient whose sender died mid-send is sent again,
	// under the same message ID, once its lease ran out.
	ClaimLeaseDefault = time.Minute
	// CursorNameDefault names the runner's event-log cursor.
	CursorNameDefault = "campaign"
	// PollIntervalDefault is how often the runner looks for work it was not
	// told about: schedules coming due, campaigns started by another process,
	// expired leases.
	PollIntervalDefault = time.Second
	// ProgressIntervalDefault is the least time between two campaign.progress
	// events of one campaign while its counts change.
	ProgressIntervalDefault = time.Second
	// ReplyWindowDefault is how long after its send a recipient's message
	// counts as a reply in the campaign report.
	ReplyWindowDefault = 72 * time.Hour
)

// Clock is the time source of a Service: pacing gaps, schedules, leases and
// progress events run on it. Tests replace it (Config.Test.Clock) with one
// that runs faster than real time. Implementations must be safe for
// concurrent use.
type Clock = clock.Clock

// Config configures a Service. The zero value works. New never modifies the
// caller's Config.
type Config struct {
	// ClaimLease is how long a claimed recipient belongs to its sender; see
	// ClaimLeaseDefault. It must exceed the Core's SendTimeout. Defaults to
	// ClaimLeaseDefault (1 min).
	ClaimLease time.Duration
	// CursorName names the event-log cursor through which the runner follows
	// sends, receipts, replies and session states. Defaults to
	// CursorNameDefault ("campaign").
	CursorName string
	// Logger receives the service's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// MaxRecipients caps the recipients of one campaign; an upload beyond it
	// is refused whole. Defaults to MaxRecipientsDefault (1,000,000).
	MaxRecipients int64
	// NodeID names this process in recipient claims, for operators reading the
	// database. Defaults to a random ID per Service.
	NodeID string
	// PollInterval is how often the runner looks for work it was not told
	// about. Defaults to PollIntervalDefault (1 s).
	PollInterval time.Duration
	// ProgressInterval is the least time between two campaign.progress events
	// of one campaign. Defaults to ProgressIntervalDefault (1 s).
	ProgressInterval time.Duration
	// ReplyWindow is how long after its send a recipient's inbound message
	// counts as a reply. Defaults to ReplyWindowDefault (72 h).
	ReplyWindow time.Duration
	// Test holds knobs for tests.
	Test TestConfig
}

// TestConfig holds settings meant for tests only.
type TestConfig struct {
	// Clock replaces the real clock. Defaults to the real clock.
	Clock Clock
	// Seed seeds pacing jitter; 0 picks a random seed.
	Seed uint64
}

// WithDefaults returns a copy of c (which may be nil) with every unset field
// set to its default.
func (c *Config) WithDefaults() *Config {
	var out Config
	if c != nil {
		out = *c
	}
	out.ClaimLease = cmp.Or(out.ClaimLease, ClaimLeaseDefault)
	out.CursorName = cmp.Or(out.CursorName, CursorNameDefault)
	out.MaxRecipients = cmp.Or(out.MaxRecipients, MaxRecipientsDefault)
	out.PollInterval = cmp.Or(out.PollInterval, PollIntervalDefault)
	out.ProgressInterval = cmp.Or(out.ProgressInterval, ProgressIntervalDefault)
	out.ReplyWindow = cmp.Or(out.ReplyWindow, ReplyWindowDefault)
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.NodeID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		out.NodeID = "node-" + hex.EncodeToString(b[:])
	}
	if out.Test.Clock == nil {
		out.Test.Clock = clock.Real{}
	}
	return &out
}

func (c *Config) validate() error {
	for name, d := range map[string]time.Duration{"ClaimLease": c.ClaimLease, "PollInterval": c.PollInterval,
		"ProgressInterval": c.ProgressInterval, "ReplyWindow": c.ReplyWindow} {
		if d < 0 {
			return fmt.Errorf("%w: %s must not be negative", ErrConfig, name)
		}
	}
	if c.MaxRecipients < 0 {
		return fmt.Errorf("%w: MaxRecipients must not be negative", ErrConfig)
	}
	if len(c.CursorName) > 64 {
		return fmt.Errorf("%w: CursorName is longer than 64 characters", ErrConfig)
	}
	return nil
}
