package waqtor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/waqtor/waqtor/internal/store"
)

// The outbox: every outbound message is stored as pending before the engine is
// asked to send it. Messages still pending after a crash, a network error or a
// disconnection are retried here, with their original message ID, whenever their
// session is ready.

const outboxBatch = 100

func (c *Core) kickOutbox() {
	select {
	case c.outboxKick <- struct{}{}:
	default:
	}
}

func (c *Core) runOutbox(ctx context.Context) {
	t := time.NewTicker(c.cfg.RetryInterval)
	defer t.Stop()
	for {
		c.drainOutbox(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.outboxKick:
		}
	}
}

// drainOutbox retries the pending messages of every ready session.
func (c *Core) drainOutbox(ctx context.Context) {
	c.mu.Lock()
	sessions := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	for _, s := range sessions {
		if ctx.Err() != nil {
			return
		}
		if _, err := s.readyConn(); err != nil {
			continue
		}
		if err := c.retryPending(ctx, s); err != nil && ctx.Err() == nil {
			c.logger.WarnContext(ctx, "Retrying pending messages failed", slog.String("session", s.id), slog.Any("error", err))
		}
	}
}

// retryPending resends a session's pending messages, oldest first, until none is
// left or the session stops being ready.
func (c *Core) retryPending(ctx context.Context, s *session) error {
	if err := c.begin(); err != nil {
		return nil // stopping
	}
	defer c.ops.done()
	cutoff := c.now()
	rows, err := store.ListMessagesByStatus(ctx, c.store.DB, s.key, string(StatusPending), cutoff, outboxBatch)
	if err != nil {
		return err
	}
	for _, row := range rows {
		conn, err := s.readyConn()
		if err != nil {
			return nil
		}
		if !s.claim(row.ID) {
			continue // a Send in progress owns it
		}
		err = c.resend(ctx, s, conn, row)
		s.release(row.ID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.logger.WarnContext(ctx, "Resend failed", slog.String("session", s.id), slog.String("message_id", row.ID),
				slog.Any("error", err))
		}
	}
	return nil
}

func (c *Core) resend(ctx context.Context, s *session, conn Conn, row *store.Message) error {
	// Re-read under the claim: another process or a receipt may have moved it.
	cur, err := store.GetMessage(ctx, c.store.DB, s.key, row.ID)
	if err != nil {
		return err
	}
	if cur.Status != string(StatusPending) {
		return nil
	}
	content, err := UnmarshalContent([]byte(cur.Content))
	if err != nil {
		return c.failStored(ctx, s, cur, err)
	}
	if m, ok := content.(*Media); ok {
		data, err := store.GetOutboxMedia(ctx, c.store.DB, s.key, cur.ID)
		if errors.Is(err, store.ErrNotFound) {
			return c.failStored(ctx, s, cur, errors.New("waqtor: media bytes missing"))
		}
		if err != nil {
			return err
		}
		m.Data = data
	}
	c.logger.InfoContext(ctx, "Resending pending message", slog.String("session", s.id), slog.String("message_id", cur.ID),
		slog.Int("attempt", cur.Attempts+1))
	_, err = c.deliver(ctx, s, conn, cur, content)
	return err
}

// failStored marks a stored pending message failed without sending it.
func (c *Core) failStored(ctx context.Context, s *session, row *store.Message, cause error) error {
	_, err := c.recordOutcome(ctx, s, row, nil, Permanent(cause))
	return err
}
