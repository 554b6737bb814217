// Package campaign runs bulk-messaging campaigns.
package campaign
