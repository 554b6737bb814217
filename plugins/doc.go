// Package plugins runs waqtor features as separate processes: hashicorp/go-plugin
// over gRPC, supervised by a [Host] attached to a [waqtor.Core]. A plugin reacts
// to events, calls the Core's commands (sends a reply) and offers commands of its
// own. A plugin that crashes, hangs or is killed never takes the host down, and
// never loses or doubles the reply to the message it was handling.
//
// # Hosting plugins
//
//	host, err := plugins.NewHost(core, &plugins.Config{Plugins: []plugins.PluginConfig{
//		{Name: "echo", Path: "/usr/lib/waqtor/echo-plugin", SHA256: "9f86d0…"},
//	}})
//	...
//	err = host.Start(ctx)
//	defer host.Stop(ctx) // before core.Stop
//
// Each plugin is launched with AutoMTLS (only this host can talk to it), without
// the host's environment (only [PluginConfig].Env), with its binary's SHA-256
// checked when one is configured, and its stderr routed to the host's slog
// logger. [Host.Statuses], [Host.Command], [Host.Restart] and [Host.DeadLetters]
// manage the plugins; every state change is a [waqtor.PluginStatus] event
// (kind "plugin.status") in the event log.
//
// # Writing a plugin
//
// A Go plugin implements [Plugin] (Info and OnEvent), optionally [Configurer],
// [Commander] and [HealthChecker], and calls [Serve] from main; see
// examples/echo-plugin. Other languages implement the gRPC protocol in
// plugins/internal/proto/plugin.proto (version 1) with go-plugin's handshake.
//
//	func (e *echo) OnEvent(ctx context.Context, req *plugins.EventRequest) (*plugins.EventResponse, error) {
//		m, ok := req.Event.(*waqtor.MessageReceived)
//		if !ok || m.Message.FromMe {
//			return nil, nil
//		}
//		t, ok := m.Message.Content.(*waqtor.Text)
//		if !ok {
//			return nil, nil
//		}
//		return &plugins.EventResponse{Actions: []plugins.Action{plugins.ReplyText(m, "echo: "+t.Body)}}, nil
//	}
//
// # Delivery
//
// Each plugin reads the events of the kinds it asked for from the event log
// through its own durable cursor ("plugin:<name>"), one at a time, in log order
// (so in order per session), on its own goroutine: a slow plugin never blocks the
// Core or another plugin. A new plugin starts with the events after the host
// first started it ([PluginConfig].ReplayFromOldest replays the retained log).
//
// Exactly-once replies. A send made while handling an event, through
// [EventRequest].Host or as a returned [Action], gets an idempotency key derived
// by the host from (plugin, event ID, index of the send within the delivery):
// "plugin:<name>:<event ID>:c<n>" for the n-th send through the Host service,
// "a<n>" for the n-th returned action. The cursor is committed only after the
// actions ran, so an event whose delivery was interrupted is delivered again and
// the same sends carry the same keys, which the Core deduplicates: each reply
// goes out once, with no effort from the plugin's author, as long as the
// handler makes the same sends in the same order. Sends of a delivery that is
// over (timed out, or replaced by a redelivery) are refused with
// [ErrDeliveryOver]. Read receipts and presence are idempotent by nature.
//
// Failures while handling an event:
//   - The plugin returns an error, or panics (the SDK recovers the panic): the
//     event is redelivered to the same process after a backoff.
//   - The process dies (exit, unrecovered panic, lost connection) or hangs (no
//     answer within CallTimeout, a failed health check): the process is killed
//     (after KillGrace) and reaped, and a new one gets the event again.
//   - After MaxEventAttempts failed deliveries the event is recorded as a
//     [DeadLetter] and the cursor moves past it, so one poison event cannot
//     wedge a plugin. A process killed with SIGKILL from outside (kill -9, the
//     OOM killer) does not count against the event: it is redelivered whatever
//     the number of kills.
//   - A returned action that fails for a transient reason (the session is not
//     ready, the database is unavailable) is retried until it succeeds or the
//     host stops: the reply waits rather than being lost; other action errors
//     are logged and the action skipped.
//
// # Supervision
//
// A plugin's exit is detected within ExitPollInterval (100 ms) or at once by a
// call in flight; it is restarted with exponential backoff (RestartBackoff
// doubling to RestartBackoffMax, ±20 % jitter), every time with a new process.
// BreakerThreshold failures within BreakerWindow open the breaker: the plugin
// stays down for BreakerCooldown, then gets one try. While it is down its
// events wait in the log (the cursor holds them back from pruning), counted in
// [Status].Backlog, never dropped. A binary that fails its checksum is not
// retried until [Host.Restart]. Health checks run every HealthInterval; Stop
// asks each plugin to exit and kills it after KillGrace, so no process is left
// behind or unreaped. Should the host itself die (crash, kill -9), a plugin
// served by [Serve] notices within half a second that its parent is gone and
// exits; plugins in other languages should do the same.
//
// # REST
//
// [Host.Routes] returns the plugins' route group for transport/rest
// (rest.HandlerOpts.Groups): list plugins with their state, restarts, last
// error and backlog (GET /plugins, GET /plugins/{plugin}), restart one (POST
// /plugins/{plugin}/restart), run a command (POST
// /plugins/{plugin}/commands/{command}, the body being its JSON arguments) and
// list dead letters (GET /plugins/{plugin}/dead-letters). A plugin restricted
// to a tenant belongs to it; the others belong to RoutesOpts.OperatorTenant.
//
// # Data
//
// Each plugin has a key/value store ([HostClient].KVGet and friends; keys up to
// [KVKeyMax] bytes, values up to [KVValueMax], at most [KVKeysMax] keys) and a
// dead-letter table, in the Core's database (component "plugins").
package plugins
