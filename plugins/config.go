package plugins

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of PluginConfig fields.
const (
	// BreakerCooldownDefault is how long an open breaker keeps a plugin down.
	BreakerCooldownDefault = time.Minute
	// BreakerThresholdDefault is how many failures within BreakerWindow open the breaker.
	BreakerThresholdDefault = 5
	// BreakerWindowDefault is the window in which failures are counted.
	BreakerWindowDefault = time.Minute
	// CallTimeoutDefault bounds each call to a plugin.
	CallTimeoutDefault = 10 * time.Second
	// HealthIntervalDefault is how often a running plugin's health is checked.
	HealthIntervalDefault = 5 * time.Second
	// HealthTimeoutDefault bounds a health check.
	HealthTimeoutDefault = 2 * time.Second
	// KillGraceDefault is how long a plugin gets to exit after it is asked to,
	// before it is killed with SIGKILL.
	KillGraceDefault = 2 * time.Second
	// MaxActionsDefault caps the sends and actions of one event delivery.
	MaxActionsDefault = 100
	// MaxEventAttemptsDefault is how many deliveries of one event fail (crash,
	// hang or error) before the event is recorded as a dead letter and skipped.
	MaxEventAttemptsDefault = 3
	// RestartBackoffDefault is the first restart delay; it doubles with each
	// consecutive failure.
	RestartBackoffDefault = 200 * time.Millisecond
	// RestartBackoffMaxDefault caps the restart delay.
	RestartBackoffMaxDefault = 30 * time.Second
	// StableAfterDefault is how long a plugin must run before its failures are
	// forgotten (handling an event successfully forgets them too).
	StableAfterDefault = 30 * time.Second
	// StartTimeoutDefault bounds a plugin's start: the handshake, Info and
	// Configure.
	StartTimeoutDefault = 10 * time.Second
)

// Config configures a Host. NewHost never modifies the caller's Config.
type Config struct {
	// Logger receives the host's logs, and the plugins' (their stderr and Log
	// calls), with a "plugin" attribute. Defaults to slog.Default().
	Logger *slog.Logger
	// Plugins are the plugins to run. Names must be unique.
	Plugins []PluginConfig
	// Test holds knobs for tests.
	Test TestConfig
}

// TestConfig holds settings meant for tests only.
type TestConfig struct {
	// ExitPollInterval is how often a running plugin's process is checked for
	// an exit. Defaults to 100 ms.
	ExitPollInterval time.Duration
}

// PluginConfig declares one plugin.
type PluginConfig struct {
	// Args are the program's arguments. Defaults to none.
	Args []string
	// BreakerCooldown is how long an open breaker keeps the plugin down before
	// one more try. Defaults to BreakerCooldownDefault (1 min).
	BreakerCooldown time.Duration
	// BreakerThreshold is how many failures (exits, hangs, failed starts) within
	// BreakerWindow open the breaker. Defaults to BreakerThresholdDefault (5).
	BreakerThreshold int
	// BreakerWindow is the window in which failures are counted. Defaults to
	// BreakerWindowDefault (1 min).
	BreakerWindow time.Duration
	// CallTimeout bounds each call to the plugin (OnEvent, Command, ...); a
	// plugin that does not answer OnEvent in time is killed and restarted.
	// Defaults to CallTimeoutDefault (10 s).
	CallTimeout time.Duration
	// Config is the plugin's JSON configuration, passed to Configure. Defaults
	// to {}.
	Config json.RawMessage
	// Env is the plugin's environment, as "KEY=value". The host's own
	// environment is never passed on. Defaults to none.
	Env []string
	// HealthInterval is how often the plugin's health is checked. Defaults to
	// HealthIntervalDefault (5 s).
	HealthInterval time.Duration
	// HealthTimeout bounds a health check. Defaults to HealthTimeoutDefault (2 s).
	HealthTimeout time.Duration
	// KillGrace is how long the plugin gets to exit when asked to, before
	// SIGKILL. Defaults to KillGraceDefault (2 s).
	KillGrace time.Duration
	// MaxActions caps the sends and actions of one event delivery. Defaults to
	// MaxActionsDefault (100).
	MaxActions int
	// MaxEventAttempts is how many failed deliveries of one event are tolerated
	// before it is recorded as a dead letter and skipped. Failures are
	// counted in the database, across host restarts; a plugin killed with
	// SIGKILL from outside does not count against the event. Defaults to
	// MaxEventAttemptsDefault (3).
	MaxEventAttempts int
	// Name names the plugin instance: in the host's API, its log, its cursor
	// ("plugin:<name>"), its idempotency keys and its key/value store. A slug:
	// [a-z0-9][a-z0-9_-]{0,63}. Required.
	Name string
	// Path is the plugin's executable. Required.
	Path string
	// ReplayFromOldest makes a plugin that never ran start with the oldest event
	// the log retains. Defaults to false: it starts with the events after the
	// host first starts it.
	ReplayFromOldest bool
	// RestartBackoff is the first restart delay; it doubles with each
	// consecutive failure, with ±20 % jitter. Defaults to RestartBackoffDefault
	// (200 ms).
	RestartBackoff time.Duration
	// RestartBackoffMax caps the restart delay. Defaults to
	// RestartBackoffMaxDefault (30 s).
	RestartBackoffMax time.Duration
	// SHA256 is the hex SHA-256 of the executable. When set, a binary that does
	// not match is refused (state failed). Defaults to no check.
	SHA256 string
	// StableAfter is how long the plugin must run before its failures are
	// forgotten. Defaults to StableAfterDefault (30 s).
	StableAfter time.Duration
	// StartTimeout bounds the plugin's start (handshake, Info and Configure).
	// Defaults to StartTimeoutDefault (10 s).
	StartTimeout time.Duration
	// Tenant restricts the plugin to one tenant: it receives only that tenant's
	// events and may use only its sessions. Defaults to every tenant.
	Tenant string
}

// WithDefaults returns a copy of c with every unset field set to its default.
func (c *Config) WithDefaults() *Config {
	out := *c
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	out.Test.ExitPollInterval = cmp.Or(c.Test.ExitPollInterval, 100*time.Millisecond)
	out.Plugins = make([]PluginConfig, len(c.Plugins))
	for i := range c.Plugins {
		out.Plugins[i] = *c.Plugins[i].WithDefaults()
	}
	return &out
}

// WithDefaults returns a copy of c with every unset field set to its default.
func (c *PluginConfig) WithDefaults() *PluginConfig {
	out := *c
	out.Args = slices.Clone(c.Args)
	out.Env = slices.Clone(c.Env)
	out.Config = slices.Clone(c.Config)
	if len(out.Config) == 0 {
		out.Config = json.RawMessage("{}")
	}
	out.BreakerCooldown = cmp.Or(c.BreakerCooldown, BreakerCooldownDefault)
	out.BreakerThreshold = cmp.Or(c.BreakerThreshold, BreakerThresholdDefault)
	out.BreakerWindow = cmp.Or(c.BreakerWindow, BreakerWindowDefault)
	out.CallTimeout = cmp.Or(c.CallTimeout, CallTimeoutDefault)
	out.HealthInterval = cmp.Or(c.HealthInterval, HealthIntervalDefault)
	out.HealthTimeout = cmp.Or(c.HealthTimeout, HealthTimeoutDefault)
	out.KillGrace = cmp.Or(c.KillGrace, KillGraceDefault)
	out.MaxActions = cmp.Or(c.MaxActions, MaxActionsDefault)
	out.MaxEventAttempts = cmp.Or(c.MaxEventAttempts, MaxEventAttemptsDefault)
	out.RestartBackoff = cmp.Or(c.RestartBackoff, RestartBackoffDefault)
	out.RestartBackoffMax = cmp.Or(c.RestartBackoffMax, RestartBackoffMaxDefault)
	out.StableAfter = cmp.Or(c.StableAfter, StableAfterDefault)
	out.StartTimeout = cmp.Or(c.StartTimeout, StartTimeoutDefault)
	out.SHA256 = strings.ToLower(strings.TrimSpace(c.SHA256))
	return &out
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (c *Config) validate() error {
	seen := map[string]bool{}
	for i := range c.Plugins {
		p := &c.Plugins[i]
		if err := p.validate(); err != nil {
			return fmt.Errorf("Plugins[%d]: %w", i, err)
		}
		if seen[p.Name] {
			return fmt.Errorf("%w: Plugins[%d]: duplicate Name %q (give each instance its own name)", ErrConfig, i, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

func (c *PluginConfig) validate() error {
	if !nameRe.MatchString(c.Name) {
		return fmt.Errorf("%w: Name %q must match %s (try \"echo\")", ErrConfig, c.Name, nameRe)
	}
	if c.Path == "" {
		return fmt.Errorf("%w: plugin %q: missing Path (the plugin's executable)", ErrConfig, c.Name)
	}
	if !json.Valid(c.Config) {
		return fmt.Errorf("%w: plugin %q: Config is not valid JSON", ErrConfig, c.Name)
	}
	if c.SHA256 != "" {
		if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("%w: plugin %q: SHA256 must be 64 hex digits (try sha256sum %s)", ErrConfig, c.Name, c.Path)
		}
	}
	if c.Tenant != "" && !nameRe.MatchString(c.Tenant) {
		return fmt.Errorf("%w: plugin %q: Tenant %q must match %s", ErrConfig, c.Name, c.Tenant, nameRe)
	}
	for _, e := range c.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("%w: plugin %q: Env entry %q must be KEY=value", ErrConfig, c.Name, e)
		}
	}
	for name, d := range map[string]time.Duration{"BreakerCooldown": c.BreakerCooldown, "BreakerWindow": c.BreakerWindow,
		"CallTimeout": c.CallTimeout, "HealthInterval": c.HealthInterval, "HealthTimeout": c.HealthTimeout,
		"KillGrace": c.KillGrace, "RestartBackoff": c.RestartBackoff, "RestartBackoffMax": c.RestartBackoffMax,
		"StableAfter": c.StableAfter, "StartTimeout": c.StartTimeout} {
		if d < 0 {
			return fmt.Errorf("%w: plugin %q: %s must not be negative", ErrConfig, c.Name, name)
		}
	}
	if c.BreakerThreshold < 0 || c.MaxActions < 0 || c.MaxEventAttempts < 0 {
		return fmt.Errorf("%w: plugin %q: BreakerThreshold, MaxActions and MaxEventAttempts must not be negative", ErrConfig, c.Name)
	}
	return nil
}

// cursorName is the name of a plugin's event-log cursor.
func cursorName(plugin string) string { return "plugin:" + plugin }
