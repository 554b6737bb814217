// Package campaign runs bulk-messaging campaigns on a waqtor Core: a message
// (text, media or poll, each field a template) to many recipients, through a
// pool of sender sessions, paced like a person, and never lost or doubled by
// a crash.
//
// Attach it with [New] and [Service.Start]; create a campaign with
// [Service.Create], add recipients with [Service.AddRecipients] (from Go, or
// streamed from CSV, NDJSON or JSON with [ReadRecipients]), then
// [Service.Execute]. Follow it with [Service.Get] or the campaign.* events,
// which the Core's event log carries to WebSocket clients and webhooks.
package campaign
