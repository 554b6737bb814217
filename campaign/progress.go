package campaign

import (
	"context"
	"log/slog"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
)

// progressEvent describes a campaign's state and counts, with an estimate of
// when it ends at its pacing.
func (s *Service) progressEvent(c *Campaign) *waqtor.CampaignProgress {
	e := &waqtor.CampaignProgress{CampaignID: c.ID, Counts: c.Counts, Failed: c.Counts.Failed, Name: c.Name,
		Sent: c.Counts.Sent, State: string(c.State), Total: c.Counts.Total}
	if c.State == StateRunning && c.Counts.Pending > 0 && len(c.Sessions) > 0 {
		p := c.Pacing.WithDefaults()
		if !p.Unpaced {
			gap := (p.MinInterval.Std() + p.MaxInterval.Std()) / 2
			if p.BatchSize > 0 {
				gap += p.BatchPause.Std() / time.Duration(p.BatchSize)
			}
			per := (c.Counts.Pending + int64(len(c.Sessions)) - 1) / int64(len(c.Sessions))
			e.ETA = s.now().Add(time.Duration(per) * gap).Truncate(time.Second)
		}
	}
	return e
}

// progressLoop emits campaign.progress for campaigns whose counts changed, at
// most once per ProgressInterval each.
func (s *Service) progressLoop(ctx context.Context) {
	last := map[string]waqtor.CampaignCounts{}
	for s.sleep(ctx, s.cfg.ProgressInterval, nil) {
		s.mu.Lock()
		dirty := s.dirty
		s.dirty = map[string]bool{}
		s.mu.Unlock()
		for id := range dirty {
			r, err := s.db.getCampaign(ctx, s.db.sql, "", id)
			if err != nil {
				continue
			}
			if prev, ok := last[id]; ok && prev == r.c.Counts {
				continue
			}
			last[id] = r.c.Counts
			if err := corelink.Emit(ctx, s.core, "", r.c.Tenant, s.progressEvent(&r.c)); err != nil && ctx.Err() == nil {
				s.logger.WarnContext(ctx, "Campaign progress event failed", slog.String("campaign_id", id), slog.Any("error", err))
			}
		}
	}
}
