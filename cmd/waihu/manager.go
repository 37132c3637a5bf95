package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/waihu/waihu/campaign"
	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/store"
)

// campaignManager is server.Campaigns for `waihu serve`: it runs one
// campaign.Runner per running campaign on this node, built exactly as
// `waihu campaign start` builds it (newCampaignRunner) and dialling through
// the server's own UA (sipDialer). The Runners follow the stored state:
// pause makes them wait, stop and completion end them. It also picks up,
// every poll, campaigns set running elsewhere (another node's API, the CLI),
// so a fleet sharing a PostgreSQL store dials them together.
type campaignManager struct {
	st     store.Store
	dialer *sipDialer
	node   string
	trunks *campaign.Trunks // shared by every campaign of the node
	log    *slog.Logger
	poll   time.Duration
	// finished, when set, is told of each campaign whose Runner ended
	// because the campaign completed or was stopped.
	finished func(ctx context.Context, id int64)
	// known names the trunks this node can dial through (its config's);
	// a campaign naming another is refused here rather than failing every
	// call. nil accepts any.
	known map[string]bool

	ctx  context.Context // runners' lifetime: ends at close
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	runners map[int64]*campaign.Runner
	refused map[int64]string // campaigns adopt could not start, and why: logged once
}

var _ httpapi.Campaigns = (*campaignManager)(nil)

func newCampaignManager(st store.Store, d *sipDialer, node string, log *slog.Logger) *campaignManager {
	m := &campaignManager{st: st, dialer: d, node: node, trunks: campaign.NewTrunks(nil),
		log: log.With("component", "campaigns"), poll: 2 * time.Second, runners: map[int64]*campaign.Runner{}, refused: map[int64]string{}}
	m.ctx, m.stop = context.WithCancel(context.Background())
	return m
}

// run resumes the campaigns left running (after a restart or a crash: the
// Runner recovers this node's claims first) and keeps watching for ones
// started elsewhere, until close.
func (m *campaignManager) run() {
	m.wg.Go(func() {
		t := time.NewTicker(m.poll)
		defer t.Stop()
		for {
			m.adopt()
			select {
			case <-m.ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// adopt starts a Runner for each running or paused campaign without one.
func (m *campaignManager) adopt() {
	list, err := m.st.Campaigns(m.ctx)
	if err != nil {
		if m.ctx.Err() == nil {
			m.log.Warn("list campaigns", "err", err)
		}
		return
	}
	for _, c := range list {
		if c.State != store.CampaignRunning {
			continue
		}
		err := m.Start(m.ctx, c.ID)
		if err == nil || m.ctx.Err() != nil {
			continue
		}
		m.mu.Lock()
		seen := m.refused[c.ID] == err.Error()
		m.refused[c.ID] = err.Error()
		m.mu.Unlock()
		if !seen {
			m.log.Warn("campaign not dialled on this node", "campaign_id", c.ID, "err", err)
		}
	}
}

// Start implements server.Campaigns. Starting a campaign that already dials
// here is not an error.
func (m *campaignManager) Start(ctx context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return errors.New("server is shutting down")
	}
	if _, ok := m.runners[id]; ok {
		return nil
	}
	if err := m.checkTrunks(ctx, id); err != nil {
		return err
	}
	delete(m.refused, id)
	r, err := newCampaignRunner(ctx, m.st, id, m.node, m.dialer, m.trunks, m.log)
	if err != nil {
		return fmt.Errorf("campaign %d: %w", id, err)
	}
	m.runners[id] = r
	m.log.Info("campaign dialling on this node", "campaign_id", id, "node", m.node)
	m.wg.Go(func() {
		err := r.Run(m.ctx)
		m.mu.Lock()
		delete(m.runners, id)
		m.mu.Unlock()
		switch {
		case err == nil:
			m.log.Info("campaign finished on this node", "campaign_id", id)
			if m.finished != nil {
				m.finished(context.WithoutCancel(m.ctx), id)
			}
		case m.ctx.Err() == nil:
			m.log.Error("campaign runner stopped", "campaign_id", id, "err", err)
		}
	})
	return nil
}

// checkTrunks refuses a campaign that dials through a trunk this node does
// not have.
func (m *campaignManager) checkTrunks(ctx context.Context, id int64) error {
	if m.known == nil {
		return nil
	}
	c, err := m.st.Campaign(ctx, id)
	if err != nil {
		return fmt.Errorf("campaign %d: %w", id, err)
	}
	settings, err := campaign.ParseSettings(c.Settings)
	if err != nil {
		return fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	for _, t := range settings.Trunks {
		if !m.known[t.Name] {
			return fmt.Errorf("campaign %q dials through trunk %q, which this node's config does not have (trunks:)", c.Name, t.Name)
		}
	}
	return nil
}

// Pause implements server.Campaigns: the Runner sees the stored state
// within its poll interval and lets calls in progress finish.
func (m *campaignManager) Pause(context.Context, int64) error { return nil }

// Stop implements server.Campaigns: the Runner sees the stored state, lets
// calls in progress finish and returns.
func (m *campaignManager) Stop(context.Context, int64) error { return nil }

// Status implements server.Campaigns.
func (m *campaignManager) Status(id int64) (httpapi.CampaignStatus, bool) {
	m.mu.Lock()
	r, ok := m.runners[id]
	m.mu.Unlock()
	if !ok {
		return httpapi.CampaignStatus{}, false
	}
	return httpapi.StatusFromStats(r.Stats()), true
}

// close cancels every Runner (calls in progress are hung up) and waits for
// them to record their ends.
func (m *campaignManager) close() {
	m.mu.Lock()
	m.stop()
	m.mu.Unlock()
	m.wg.Wait()
}
