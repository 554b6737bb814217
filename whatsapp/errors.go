package whatsapp

import (
	"errors"
	"fmt"
)

// Errors reported in ConnStatus.Err or returned by the engine. They say why a
// session is not ready; ConnStatus.Reason carries the same in words.
var (
	// ErrClientOutdated reports that WhatsApp refused this whatsmeow version.
	// Upgrade waqtor; retrying cannot help, so the engine does not.
	ErrClientOutdated = errors.New("whatsapp: WhatsApp rejected this client version as outdated")
	// ErrClosed reports a call on a closed connection or engine.
	ErrClosed = errors.New("whatsapp: closed")
	// ErrConnectionLost reports that an established connection dropped; the engine
	// reconnects with backoff.
	ErrConnectionLost = errors.New("whatsapp: connection lost")
	// ErrDeviceCorrupt reports device keys in the store that cannot be read; the
	// session is logged out and must pair again.
	ErrDeviceCorrupt = errors.New("whatsapp: device keys in the store are corrupt")
	// ErrDeviceNotFound reports a paired session whose device keys are missing from
	// the store (deleted, or the database was restored from an older backup); the
	// session is logged out and must pair again.
	ErrDeviceNotFound = errors.New("whatsapp: device keys not found in the store")
	// ErrKeepAliveTimeout reports that WhatsApp stopped answering keep-alive pings.
	ErrKeepAliveTimeout = errors.New("whatsapp: keep-alive timed out")
	// ErrLoggedOut reports that the device was unlinked (from the phone, or by
	// WhatsApp).
	ErrLoggedOut = errors.New("whatsapp: logged out")
	// ErrLoginTimeout reports a connection attempt that opened a socket but was not
	// logged in within Config.ConnectTimeout.
	ErrLoginTimeout = errors.New("whatsapp: login timed out")
	// ErrPairing reports a failed pairing (QR or phone code).
	ErrPairing = errors.New("whatsapp: pairing failed")
	// ErrQRTimeout reports that no QR code was scanned before they ran out. Call
	// Connect again for new codes; the engine never restarts pairing by itself.
	ErrQRTimeout = errors.New("whatsapp: QR code expired before it was scanned")
	// ErrSessionOpen reports an Engine.Open for a session that is already open.
	ErrSessionOpen = errors.New("whatsapp: session already open")
	// ErrStreamReplaced reports that another client connected with this session's
	// keys (another process running the same session). The engine does not fight
	// it: call Connect to take the session back.
	ErrStreamReplaced = errors.New("whatsapp: another client connected with this session (stream replaced)")
)

// ConnectError is a failed connection attempt: the network or WhatsApp's server
// refused it. It wraps the cause, so errors.As finds a *net.DNSError or
// *net.OpError when offline.
type ConnectError struct {
	// Err is the cause.
	Err error
}

func (e *ConnectError) Error() string { return fmt.Sprintf("whatsapp: connect: %v", e.Err) }

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }
