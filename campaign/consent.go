package campaign

import (
	"context"
	"errors"

	"github.com/waqtor/waqtor"
)

// optedOut reports whether a contact opted out of marketing messages (or of
// all), checked when its recipient is claimed. It spares the sender's turn;
// the Core checks again, in the transaction that stores the message, since
// every campaign send carries SendOpts.Consent.
func (s *Service) optedOut(ctx context.Context, c *Campaign, phone string) (bool, error) {
	out, err := s.core.OptedOut(waqtor.WithTenant(ctx, c.Tenant), phone, waqtor.ConsentMarketing)
	if err != nil && errors.Is(err, waqtor.ErrInvalidConsent) {
		return false, nil // not a contact the registry knows: the Core's send says what it is
	}
	return out, err
}

// sendOpts are the Core options of a recipient's send: its stored ID, the
// idempotency key that makes a repeated send a replay, and the marketing
// consent scope, so a contact opted out of marketing or all is refused.
func (s *Service) sendOpts(c *Campaign, cl *claimed) *waqtor.SendOpts {
	return &waqtor.SendOpts{IdempotencyKey: idempotencyKey(c.ID, cl.seq), MessageID: cl.messageID,
		Consent: waqtor.ConsentMarketing}
}

func isOptOut(err error) bool { return errors.Is(err, waqtor.ErrOptedOut) }
