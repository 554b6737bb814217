package waqtor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// EnsureSession returns session p.ID, creating it when it does not exist yet:
// the call a program that manages a fixed session makes on every start. Start
// connects only paired sessions, so a session that exists but was never paired
// is connected here and shows QR codes again. As with CreateSession, a failed
// connection attempt is logged, not returned; follow session.status events.
// p.ID is required; errors wrap ErrInvalidSessionID, or ErrSessionExists when
// the session belongs to another tenant than p.Tenant.
func (c *Core) EnsureSession(ctx context.Context, p *CreateSessionParams) (*Session, error) {
	if p == nil || p.ID == "" {
		return nil, fieldErr(ErrInvalidSessionID, "id", "is required")
	}
	s, err := c.Session(ctx, p.ID)
	if errors.Is(err, ErrSessionNotFound) {
		s, err = c.CreateSession(ctx, p)
		if !errors.Is(err, ErrSessionExists) {
			return s, err
		}
		s, err = c.Session(ctx, p.ID) // created concurrently
	}
	if err != nil {
		return nil, err
	}
	if tenant := cmp.Or(p.Tenant, c.cfg.DefaultTenant); s.Tenant != tenant {
		return nil, fmt.Errorf("%w: %q belongs to another tenant", ErrSessionExists, p.ID)
	}
	if s.Info.JID == "" && s.State != StateQR && s.State != StateConnecting {
		if err := c.Connect(ctx, p.ID); err != nil {
			c.logger.WarnContext(ctx, "Session failed to connect", slog.String("session", p.ID), slog.Any("error", err))
		}
	}
	return c.Session(ctx, p.ID)
}
