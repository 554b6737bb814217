package plugins

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/waqtor/waqtor/plugins/internal/reason"
)

// Host errors.
var (
	// ErrBinaryNotFound reports a plugin Path that does not name an executable file.
	ErrBinaryNotFound = errors.New("plugins: plugin binary not found")
	// ErrChecksum reports a plugin binary whose SHA-256 differs from the
	// configured one. The plugin is not started again until an operator
	// restarts it (after fixing the binary or the checksum).
	ErrChecksum = errors.New("plugins: plugin binary checksum mismatch")
	// ErrConfig reports an invalid Config; the message names the field and the fix.
	ErrConfig = errors.New("plugins: invalid config")
	// ErrHandshake reports a program that did not complete the plugin handshake
	// (not a waqtor plugin, another protocol version, or it exited at start).
	ErrHandshake = errors.New("plugins: plugin handshake failed")
	// ErrNotRunning reports a command for a plugin that is not running.
	ErrNotRunning = errors.New("plugins: plugin not running")
	// ErrPluginNotFound reports an unknown plugin name.
	ErrPluginNotFound = errors.New("plugins: plugin not found")
	// ErrStartTimeout reports a plugin that did not complete its handshake
	// within StartTimeout.
	ErrStartTimeout = errors.New("plugins: plugin start timed out")
	// ErrStopped reports a call on a Host that is stopped.
	ErrStopped = errors.New("plugins: host stopped")
	// ErrTimeout reports a plugin that did not answer a call within CallTimeout.
	ErrTimeout = errors.New("plugins: plugin call timed out")
	// ErrUnhealthy reports a plugin that failed its health check.
	ErrUnhealthy = errors.New("plugins: plugin unhealthy")
)

// Errors across the protocol, returned by either side.
var (
	// ErrDeliveryOver reports a Host call made for an event delivery that has
	// ended (the handler returned, timed out, or the event was redelivered).
	ErrDeliveryOver = errors.New("plugins: event delivery is over")
	// ErrInvalidArgs reports command arguments the plugin cannot use. Plugin
	// authors return it (wrapped) from Command.
	ErrInvalidArgs = errors.New("plugins: invalid command arguments")
	// ErrKVLimit reports a key/value store limit: key or value too long, or too
	// many keys.
	ErrKVLimit = errors.New("plugins: key/value store limit")
	// ErrTooManyActions reports a delivery that sent more than MaxActions
	// messages or actions.
	ErrTooManyActions = errors.New("plugins: too many actions for one event")
	// ErrUnknownCommand reports a command the plugin does not offer.
	ErrUnknownCommand = errors.New("plugins: unknown command")
)

// reasons maps the errors that cross the plugin boundary to gRPC statuses.
var reasons = append([]reason.Reason{
	{Code: codes.FailedPrecondition, Err: ErrDeliveryOver, Name: "DELIVERY_OVER"},
	{Code: codes.InvalidArgument, Err: ErrInvalidArgs, Name: "INVALID_ARGS"},
	{Code: codes.ResourceExhausted, Err: ErrKVLimit, Name: "KV_LIMIT"},
	{Code: codes.ResourceExhausted, Err: ErrTooManyActions, Name: "TOO_MANY_ACTIONS"},
	{Code: codes.Unimplemented, Err: ErrUnknownCommand, Name: "UNKNOWN_COMMAND"},
}, reason.Core...)

// StartError reports a plugin that could not be started.
type StartError struct {
	// Err is the cause; it wraps ErrBinaryNotFound, ErrChecksum, ErrHandshake
	// or ErrStartTimeout where one applies.
	Err error
	// Plugin is the plugin's name.
	Plugin string
}

func (e *StartError) Error() string { return fmt.Sprintf("plugins: start %s: %v", e.Plugin, e.Err) }

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }
