package waqtor

// KindPluginStatus is the kind of [PluginStatus] events, emitted by the plugin
// host (package plugins) on every change of a plugin's state.
const KindPluginStatus EventKind = "plugin.status"

// PluginState is the state of a plugin process supervised by the plugin host.
type PluginState string

// The plugin states.
const (
	// PluginBreakerOpen: the plugin failed too often in a short time; it is not
	// restarted until the breaker's cooldown ends (or an operator restarts it).
	// Its events wait in the event log, counted in Backlog.
	PluginBreakerOpen PluginState = "breaker_open"
	// PluginFailed: the plugin cannot be started until an operator restarts it
	// (for example, its binary does not match the configured checksum).
	PluginFailed PluginState = "failed"
	// PluginRestarting: the plugin exited, hung or failed to start, and waits
	// for its restart backoff.
	PluginRestarting PluginState = "restarting"
	// PluginRunning: the plugin process is up and receives its events.
	PluginRunning PluginState = "running"
	// PluginStarting: the plugin process is being launched and configured.
	PluginStarting PluginState = "starting"
	// PluginStopped: the host stopped the plugin.
	PluginStopped PluginState = "stopped"
)

// PluginStatus is emitted when a plugin's state changes. It belongs to no
// session; its Tenant is the plugin's tenant ("" for a plugin that serves every
// tenant).
type PluginStatus struct {
	EventMeta
	// Backlog is how far the plugin's cursor is behind the newest event of the
	// log (an upper bound of the events waiting for it).
	Backlog int64 `json:"backlog"`
	// DeadLetters counts the events the plugin gave up on (see package plugins).
	DeadLetters int64 `json:"dead_letters"`
	// Error is the cause of the change (an exit, a failed health check, ...).
	Error string `json:"error,omitempty"`
	// PID is the plugin's process ID while it runs.
	PID int `json:"pid,omitempty"`
	// Plugin is the plugin's configured name.
	Plugin string `json:"plugin"`
	// Previous is the state before the change.
	Previous PluginState `json:"previous,omitempty"`
	// Restarts counts the plugin's restarts since the host started.
	Restarts int `json:"restarts"`
	// State is the new state.
	State PluginState `json:"state"`
	// Version is the version the plugin reported, once known.
	Version string `json:"version,omitempty"`
}

// Kind returns KindPluginStatus.
func (*PluginStatus) Kind() EventKind { return KindPluginStatus }
func (*PluginStatus) isEvent()        {}
