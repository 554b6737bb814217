package whatsapp

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// client is the part of *whatsmeow.Client the engine uses. It is implemented by
// waClient (the real client) and by a fake in the tests, so that everything
// except the network itself is tested offline.
//
// Deliberately absent: GetQRChannel (the engine renders events.QR itself, so it
// works the same for fed events and has no "call before Connect" trap),
// IsConnected (it takes whatsmeow's socket lock, which a slow handshake holds for
// up to 20 s) and the legacy context-free Connect.
type client interface {
	AddEventHandlerWithSuccessStatus(h whatsmeow.EventHandlerWithSuccessStatus) uint32
	ConnectContext(ctx context.Context) error
	DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error)
	Disconnect()
	DownloadMediaWithPath(ctx context.Context, directPath string, encFileHash, fileHash, mediaKey []byte, fileLength int, mediaType whatsmeow.MediaType, mmsType string) ([]byte, error)
	IsLoggedIn() bool
	IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error)
	Logout(ctx context.Context) error
	MarkRead(ctx context.Context, ids []types.MessageID, timestamp time.Time, chat, sender types.JID, receiptTypeExtra ...types.ReceiptType) error
	PairPhone(ctx context.Context, phone string, showPushNotification bool, clientType whatsmeow.PairClientType, clientDisplayName string) (string, error)
	RemoveEventHandlers()
	SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	SendMessage(ctx context.Context, to types.JID, message *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, plaintext []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)

	// Device store accessors (on Client.Store in whatsmeow).

	// DeleteDevice deletes the device's keys from the store.
	DeleteDevice(ctx context.Context) error
	// Identity returns the account the device is paired with (empty when unpaired).
	Identity() identity
	// LIDMigrated reports whether the account addresses one-to-one chats by LID
	// (whatsmeow then sends DMs to the LID of a phone JID).
	LIDMigrated() bool
	// LIDForPN and PNForLID look up whatsmeow's LID map; an empty JID means unknown.
	LIDForPN(ctx context.Context, pn types.JID) (types.JID, error)
	PNForLID(ctx context.Context, lid types.JID) (types.JID, error)
}

// identity is the account a device is paired with.
type identity struct {
	// JID is the device's AD JID ("201001234567:12@s.whatsapp.net").
	JID types.JID
	// LID is the account's LID.
	LID      types.JID
	Platform string
	PushName string
}

// waClient adapts *whatsmeow.Client to client.
type waClient struct{ *whatsmeow.Client }

// newWAClient creates the real client for a device, configured for durable
// inbound handling:
//
//   - SynchronousAck: WhatsApp is acknowledged only after every event handler
//     returned, and not at all when one reports failure;
//   - EnableDecryptedEventBuffer: decrypted plaintext is kept until the handlers
//     succeed, so a redelivered message can be decrypted again (Signal ratchets
//     only move forward);
//   - AutomaticMessageRerequestFromPhone: messages that fail to decrypt are asked
//     for again from the phone;
//   - EnableAutoReconnect off: the engine reconnects itself, with capped,
//     jittered backoff and honest states.
func newWAClient(dev *store.Device, log waLog.Logger) client {
	cli := whatsmeow.NewClient(dev, log)
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.AutomaticMessageRerequestFromPhone = true
	cli.EnableAutoReconnect = false
	cli.InitialAutoReconnect = false
	return waClient{cli}
}

func (c waClient) DeleteDevice(ctx context.Context) error {
	if c.Store.ID == nil {
		return nil
	}
	return c.Store.Delete(ctx)
}

func (c waClient) Identity() identity {
	id := identity{LID: c.Store.LID, Platform: c.Store.Platform, PushName: c.Store.PushName}
	if c.Store.ID != nil {
		id.JID = *c.Store.ID
	}
	return id
}

func (c waClient) LIDMigrated() bool { return c.Store.LIDMigrationTimestamp > 0 }

func (c waClient) LIDForPN(ctx context.Context, pn types.JID) (types.JID, error) {
	if c.Store.LIDs == nil { // an unpaired device is not attached to the store yet
		return types.EmptyJID, nil
	}
	return c.Store.LIDs.GetLIDForPN(ctx, pn)
}

func (c waClient) PNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	if c.Store.LIDs == nil {
		return types.EmptyJID, nil
	}
	return c.Store.LIDs.GetPNForLID(ctx, lid)
}
