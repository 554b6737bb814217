package sandbox

import "errors"

// Errors of the simulated network. Sends that cannot succeed by retrying wrap
// theirs with [waqtor.Permanent]; commands on a session that is not ready also
// wrap [waqtor.ErrNotReady].
var (
	// ErrClosed reports a call on a closed Network or Conn.
	ErrClosed = errors.New("sandbox: closed")
	// ErrConnectionLost is the Err of the StateDisconnected status that
	// [Network.Disconnect] causes.
	ErrConnectionLost = errors.New("sandbox: connection lost (simulated)")
	// ErrLoggedOut is the Err of the StateLoggedOut status that
	// [Network.LogoutRemote] causes.
	ErrLoggedOut = errors.New("sandbox: logged out from another device (simulated)")
	// ErrMediaNotFound reports a download of media the network does not hold.
	ErrMediaNotFound = errors.New("sandbox: media not found")
	// ErrNetwork is the transient error [Network.FailSends] injects by default.
	ErrNetwork = errors.New("sandbox: network error (simulated)")
	// ErrNotConnected reports a fault injected into a session that is not connected.
	ErrNotConnected = errors.New("sandbox: session not connected")
	// ErrNotOnWhatsApp reports a number without a WhatsApp account (see
	// Config.RequireRegistered) or an unknown LID.
	ErrNotOnWhatsApp = errors.New("sandbox: not on WhatsApp")
	// ErrNotPaired reports a call that needs a paired session.
	ErrNotPaired = errors.New("sandbox: session not paired")
	// ErrNotPairing reports a pairing call on a session that is not showing QR
	// codes (not connected, or already paired).
	ErrNotPairing = errors.New("sandbox: session is not waiting to pair")
	// ErrNotParticipant reports a send to a group the sender is not a member of.
	ErrNotParticipant = errors.New("sandbox: not a group participant")
	// ErrQRTimeout is the Err of the StateDisconnected status reported when every
	// QR code expired without a scan.
	ErrQRTimeout = errors.New("sandbox: QR code timed out")
	// ErrUnknownCode reports a QR or pairing code that no session is showing
	// (mistyped, expired or already used).
	ErrUnknownCode = errors.New("sandbox: unknown or expired code")
	// ErrUnknownGroup reports a group JID the network does not know.
	ErrUnknownGroup = errors.New("sandbox: unknown group")
	// ErrUnknownMessage reports a message ID a phone does not have.
	ErrUnknownMessage = errors.New("sandbox: unknown message")
	// ErrUnknownSession reports a session ID that was never opened on the network.
	ErrUnknownSession = errors.New("sandbox: unknown session")
)
