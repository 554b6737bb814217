// Package webhook delivers waqtor events to HTTP endpoints durably, signed,
// with retries, a delivery log, replay and an SSRF guard.
//
//	svc, err := webhook.New(ctx, core, &webhook.Config{EncryptionKey: key})
//	...
//	if err := svc.Start(ctx); err != nil { ... }
//	defer svc.Stop(ctx)
//	ep, err := svc.CreateEndpoint(ctx, &webhook.EndpointParams{
//		Tenant: "default",
//		URL:    "https://example.com/hooks/waqtor",
//		Events: []string{"message.*", "session.status"},
//	})
//	fmt.Println(ep.Secret) // give it to the receiver
//
// # Durability
//
// The dispatcher reads the Core's event log through a durable cursor
// (Config.CursorName). For each batch of events it writes one delivery row per
// matching endpoint and the new cursor position in the same transaction, so
// the cursor only moves past an event once all its deliveries are recorded as
// due. Deliveries are then claimed with a lease, attempted, and their outcome
// (the attempt row, and the delivery's next state) written in batches. A
// process killed at any point leaves at worst a claimed delivery whose lease
// runs out (the endpoint's timeout plus Config.LeaseMargin, times the queue
// depth), after which it is attempted again: every delivery arrives at least
// once, and receivers make that exactly once by deduplicating on the
// webhook-id header (the event's ID, the same on every retry and replay).
//
// Retries wait in the same table: a failed delivery stays pending with a due
// time (next_at) and is claimed again when due. This "due-time table" was
// chosen over River after measuring both; docs/decisions.md in the repository
// has the numbers. In short: River's SQLite driver did 556–776 trivial
// jobs/s here (below the 1,000/s floor before any HTTP), Postgres needed a
// 1 ms FetchCooldown to reach 1,900/s; and the delivery rows are needed
// anyway as the delivery log, so River would double the writes.
//
// # Isolation
//
// Each enabled endpoint has a worker with its own request slots
// (Config.Concurrency, one in FIFO mode) and a bounded queue of claimed
// deliveries; a slow, hanging or failing endpoint only ever holds up itself.
// FIFO endpoints get one request at a time in event order; a failing delivery
// holds back the later ones until it succeeds or is dead.
//
// # Signatures
//
// Every request carries the original plan's X-Waqtor-Signature
// ("sha256=" + hex HMAC-SHA256 of the body keyed with the secret string as
// shown, reproducible with openssl dgst -sha256 -hmac "$SECRET"),
// X-Waqtor-Event, X-Waqtor-Delivery and User-Agent WaQtor-Webhook/<version>,
// and the Standard Webhooks headers webhook-id, webhook-timestamp and
// webhook-signature ("v1," + base64 HMAC of "id.timestamp.body" keyed with the
// base64-decoded secret after "whsec_"). Endpoints created with
// EndpointParams.HubSignature also get GitHub/Meta's X-Hub-Signature-256
// ("sha256=" + hex HMAC of the body keyed with the secret string, current
// secret only). [Verify] and [VerifySeed] check them
// in receivers written in Go; WEBHOOKS.md at the repository root shows
// receivers in other languages and with curl and openssl. [Service.RotateSecret]
// signs with both secrets during a grace period. With Config.EncryptionKey the
// secrets are encrypted at rest with AES-GCM.
//
// # Retries
//
// [StandardRetry] (the default) retries after 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h and 10 h, with ±20 % jitter; [ExponentialRetry] expresses other
// schedules, such as the plan's 3 attempts from 1 s. 2xx succeeds. Redirects
// are never followed and count as failures. 410 Gone fails the delivery and
// disables the endpoint. With Retry-After the next delay is
// max(scheduled, min(Retry-After, 1 h)); a 429 or a timeout without it waits
// max(scheduled, 60 s). Exhausted deliveries are dead (state failed) and can
// be replayed ([Service.Replay]). An endpoint that fails without a single
// success for Config.AutoDisableAfter (5 days) is disabled, and a
// webhook.endpoint_disabled event is emitted.
//
// # Circuit breaker
//
// Each endpoint has a circuit breaker (Config.Breaker, [BreakerConfig]), with
// Convoy's defaults: when at least 10 attempts in a sliding 5 minute window
// failed 70 % of the time or more, it opens, and for 30 s the endpoint's due
// deliveries are not attempted (they stay pending and due, are not counted as
// attempts, and are never lost). Then it lets one probe at a time through;
// 3 successful probes in a row close it, a failed probe re-opens it for twice
// as long (up to 1 h), and 10 failed probes in a row, about four hours,
// disable the endpoint (reason "breaker", with a webhook.endpoint_disabled
// event). Breakers are per endpoint, so an open one
// never holds up another endpoint. Their state lives in memory, per process:
// a restart starts them closed (see BreakerConfig). [Service.Stats] and the
// metrics show each breaker.
//
// # SSRF
//
// URLs are checked when saved (including their DNS answers) and every
// connection is checked again at dial time by internal/netguard: loopback,
// private, link-local, metadata and reserved addresses are refused, in every
// encoding, and DNS rebinding is caught. Config.AllowCIDRs opens ranges
// explicitly (tests allow loopback). Response bodies are read up to
// Config.MaxResponseBytes after gzip decoding; the REST API does not echo them
// unless RoutesOpts.ExposeResponseBodies is set.
//
// # REST and metrics
//
// [Service.Routes] returns the route group for transport/rest;
// [Service.Collector] returns Prometheus metrics for the host's registry.
//
// # Events and filters
//
// Filters name kinds ("message.received"), wildcards ("message.*", "*") or
// the plan's aliases ("message_received", "client_connected", ...; see
// [Aliases]). Only kinds this build emits are accepted ([KnownKinds], which
// is waqtor.AllKinds: the WebSocket hub's topics accept the same list); a
// kind, area or alias nothing emits yet is refused with an error naming the
// "events" field and listing the known kinds. An endpoint receives only its tenant's events, created after
// the endpoint, optionally only of some sessions. webhook.test is sent only by
// [Service.Test], to the endpoint tested.
package webhook
