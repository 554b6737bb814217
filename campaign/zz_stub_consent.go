package campaign

// TEMPORARY: until the Core's consent registry lands.

import (
	"context"

	"github.com/waqtor/waqtor"
)

func (s *Service) optedOut(ctx context.Context, c *Campaign, phone string) (bool, error) {
	return false, nil
}

func (s *Service) sendOpts(c *Campaign, cl *claimed) *waqtor.SendOpts {
	return &waqtor.SendOpts{IdempotencyKey: idempotencyKey(c.ID, cl.seq), MessageID: cl.messageID}
}

func isOptOut(err error) bool { return false }
