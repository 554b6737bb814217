package plugins

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/waqtor/waqtor"
)

// Plugin is what a plugin author implements; [Serve] serves it. A plugin may
// also implement [Configurer], [Commander] and [HealthChecker].
//
// Methods may be called concurrently (OnEvent is called for one event at a
// time, but Command and Health can arrive meanwhile).
type Plugin interface {
	// Info describes the plugin: its name, version, the event kinds it wants and
	// the commands it offers. It is called first, after every start.
	Info(ctx context.Context) (*Info, error)
	// OnEvent handles one event. Events come one at a time, in log order. The
	// same event is delivered again (with a higher Attempt) when the plugin
	// crashed, hung or returned an error while handling it: sends made through
	// req.Host and the send actions returned are deduplicated by the host, so
	// each reply goes out once as long as the handler does the same sends in
	// the same order. Return an error to have the event redelivered later; the
	// host gives up after MaxEventAttempts and records the event as a dead
	// letter.
	OnEvent(ctx context.Context, req *EventRequest) (*EventResponse, error)
}

// Configurer is implemented by plugins that take configuration. Configure is
// called once per start, after Info and before any event.
type Configurer interface {
	Configure(ctx context.Context, req *ConfigureRequest) error
}

// Commander is implemented by plugins that offer commands (listed in
// Info.Commands), which the host exposes, for example on REST.
type Commander interface {
	// Command runs the named command. Return an error wrapping
	// ErrUnknownCommand or ErrInvalidArgs when those apply.
	Command(ctx context.Context, req *CommandRequest) (*CommandResponse, error)
}

// HealthChecker is implemented by plugins with a meaningful health check. The
// host calls it every HealthInterval; an error, or no answer within
// HealthTimeout, gets the plugin restarted. Without it, a plugin that answers
// at all is healthy.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// Info describes a plugin.
type Info struct {
	// Commands are the commands the plugin offers.
	Commands []CommandInfo
	// Kinds are the event kinds the plugin wants, such as
	// waqtor.KindMessageReceived. None means the plugin gets no events.
	Kinds []waqtor.EventKind
	// Name is the plugin's own name (the host's config names each instance too).
	Name string
	// Version is the plugin's version.
	Version string
}

// CommandInfo describes a command a plugin offers.
type CommandInfo struct {
	// Description says what the command does.
	Description string `json:"description,omitempty"`
	// Name is the command's name, used in Host.Command and in the REST route.
	Name string `json:"name"`
}

// ConfigureRequest is the argument of Configure.
type ConfigureRequest struct {
	// Config is the plugin's JSON configuration from the host's config ("{}"
	// when none).
	Config json.RawMessage
	// Host is the plugin's handle on the host, valid until the process exits.
	Host HostClient
	// Name is the name the host gave this plugin instance.
	Name string
}

// EventRequest is the argument of OnEvent.
type EventRequest struct {
	// Attempt counts deliveries of this event, from 1.
	Attempt int
	// Event is the event: one of the typed events of package waqtor.
	Event waqtor.Event
	// Host is the plugin's handle on the host for this delivery: messages sent
	// through it get idempotency keys derived from the event, so a redelivered
	// event does not send them twice. It must not be used after OnEvent returns.
	Host HostClient
}

// EventResponse is the result of OnEvent.
type EventResponse struct {
	// Actions are run by the host after OnEvent returns, in order, and before
	// the event counts as handled. Each send gets an idempotency key derived
	// from (plugin, event ID, action index).
	Actions []Action
}

// Action is one thing for the host to do; exactly one field is set.
type Action struct {
	// MarkRead sends read receipts.
	MarkRead *MarkReadAction
	// Presence shows a typing or recording indicator.
	Presence *PresenceAction
	// Send sends a message.
	Send *SendAction
}

// SendAction sends a message.
type SendAction struct {
	// Chat is a phone number or a JID.
	Chat string
	// Content is the message.
	Content waqtor.Content
	// Key, when set, replaces the send's index in its derived idempotency key
	// (inside OnEvent) or is the idempotency key (elsewhere). Optional.
	Key string
	// Session is the session to send from.
	Session string
}

// MarkReadAction sends read receipts for inbound messages.
type MarkReadAction struct {
	// Chat is the conversation.
	Chat string
	// IDs are the messages read.
	IDs []string
	// Sender is the messages' author, in groups.
	Sender string
	// Session is the session.
	Session string
}

// PresenceAction shows a typing or recording indicator, or clears it.
type PresenceAction struct {
	// Chat is the conversation.
	Chat string
	// Presence is waqtor.PresenceTyping, PresenceRecording or PresencePaused.
	Presence waqtor.ChatPresence
	// Session is the session.
	Session string
}

// Reply returns an action that answers a received message in its chat.
func Reply(m *waqtor.MessageReceived, c waqtor.Content) Action {
	return Action{Send: &SendAction{Session: m.Session, Chat: m.Message.Chat.JID, Content: c}}
}

// ReplyText returns an action that answers a received message with a text.
func ReplyText(m *waqtor.MessageReceived, text string) Action {
	return Reply(m, &waqtor.Text{Body: text})
}

// CommandRequest is the argument of Command.
type CommandRequest struct {
	// Args are the command's JSON arguments ("{}" when none).
	Args json.RawMessage
	// Host is the plugin's handle on the host.
	Host HostClient
	// Name is the command.
	Name string
}

// CommandResponse is the result of Command.
type CommandResponse struct {
	// Result is the command's JSON result; nil encodes as null.
	Result json.RawMessage
}

// HostClient is a plugin's handle on the host: the Core's commands, the host's log
// and the plugin's own key/value store. Every method is a call to the host
// process.
type HostClient interface {
	// KVDelete deletes a key and reports whether it existed.
	KVDelete(ctx context.Context, key string) (bool, error)
	// KVGet returns a key's value, and false when the key does not exist.
	KVGet(ctx context.Context, key string) ([]byte, bool, error)
	// KVList lists keys with a prefix, in order, after a key (for paging), at
	// most limit (default 100, at most 1000).
	KVList(ctx context.Context, prefix, after string, limit int) ([]string, error)
	// KVSet sets a key (at most KVKeyMax bytes) to a value (at most KVValueMax
	// bytes).
	KVSet(ctx context.Context, key string, value []byte) error
	// Log writes to the host's log, tagged with the plugin's name.
	Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error
	// Logger returns a logger whose records reach the host's log through the
	// plugin's stderr (cheaper than Log: no call to the host).
	Logger() *slog.Logger
	// MarkRead sends read receipts.
	MarkRead(ctx context.Context, a *MarkReadAction) error
	// Send sends a message and returns it as stored.
	Send(ctx context.Context, a *SendAction) (*waqtor.Message, error)
	// SendText sends a text message.
	SendText(ctx context.Context, session, chat, text string) (*waqtor.Message, error)
	// Session returns a session.
	Session(ctx context.Context, id string) (*waqtor.Session, error)
	// Sessions lists the sessions the plugin may use.
	Sessions(ctx context.Context) ([]*waqtor.Session, error)
	// SetPresence shows a typing or recording indicator.
	SetPresence(ctx context.Context, a *PresenceAction) error
}

// Limits of the key/value store.
const (
	// KVKeyMax is the longest key, in bytes.
	KVKeyMax = 256
	// KVKeysMax is the most keys one plugin may store.
	KVKeysMax = 10000
	// KVValueMax is the largest value, in bytes.
	KVValueMax = 64 << 10
)
