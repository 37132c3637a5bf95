package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/store"
)

// campaignView is a campaign as the API shows it.
type campaignView struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	// Settings is the campaign's settings document (docs/campaigns.md).
	Settings  json.RawMessage `json:"settings"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Contacts counts the campaign's contacts per state; ContactsTotal all.
	Contacts      map[string]int `json:"contacts"`
	ContactsTotal int            `json:"contacts_total"`
	// Live is the campaign's load on this node while it dials here.
	Live *CampaignStatus `json:"live,omitempty"`
}

// createCampaignRequest creates a campaign.
type createCampaignRequest struct {
	Name string `json:"name"`
	// Settings is the settings document; absent means every default.
	Settings json.RawMessage `json:"settings,omitempty"`
}

// patchCampaignRequest changes a campaign's settings.
type patchCampaignRequest struct {
	// Settings is merged into the stored settings (RFC 7396: a null removes
	// a key, an object merges, anything else replaces).
	Settings json.RawMessage `json:"settings"`
}

// previewBody is what a campaign would do if started now.
type previewBody struct {
	Total int `json:"total"`
	// Dial is how many will be called, now or at their next window.
	Dial int `json:"dial"`
	// Skipped counts the contacts that will not be called, by reason.
	Skipped       map[string]int `json:"skipped"`
	OutsideWindow int            `json:"outside_window"`
	// Summary says it in one sentence.
	Summary string `json:"summary"`
}

// listBody is a list response: {"items": [...]}.
type listBody[T any] struct {
	Items []T `json:"items"`
}

// pageBody is a paged list response.
type pageBody[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// campaignFor loads campaign id if the request's principal may see it; one
// it may not see is reported as missing, so ids are not probed.
func (s *Server) campaignFor(r *http.Request, id int64) (store.Campaign, error) {
	if !principal(r).SeesCampaign(id) {
		return store.Campaign{}, notFound("id", "campaign %d not found", id)
	}
	c, err := s.cfg.Store.Campaign(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Campaign{}, notFound("id", "campaign %d not found", id)
	}
	if err != nil {
		return store.Campaign{}, fmt.Errorf("load campaign %d: %w", id, err)
	}
	return c, nil
}

func (s *Server) view(ctx context.Context, c store.Campaign) (campaignView, error) {
	counts, err := s.cfg.Store.CountContacts(ctx, c.ID)
	if err != nil {
		return campaignView{}, fmt.Errorf("count contacts of campaign %d: %w", c.ID, err)
	}
	v := campaignView{ID: c.ID, Name: c.Name, State: string(c.State), Settings: c.Settings,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Contacts: map[string]int{}}
	if len(v.Settings) == 0 {
		v.Settings = json.RawMessage("{}")
	}
	for st, n := range counts {
		v.Contacts[string(st)] = n
		v.ContactsTotal += n
	}
	if s.cfg.Campaigns != nil {
		if st, ok := s.cfg.Campaigns.Status(c.ID); ok {
			v.Live = &st
		}
	}
	return v, nil
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.Store.Campaigns(r.Context())
	if err != nil {
		return fmt.Errorf("list campaigns: %w", err)
	}
	p := principal(r)
	out := listBody[campaignView]{Items: []campaignView{}}
	for _, c := range list {
		if !p.SeesCampaign(c.ID) {
			continue
		}
		v, err := s.view(r.Context(), c)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.campaignFor(r, id)
	if err != nil {
		return err
	}
	v, err := s.view(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// settingsError reports a settings document the campaign package refused;
// its message already names the setting.
func settingsError(err error) error {
	return &apiError{Status: http.StatusUnprocessableEntity, Msg: err.Error(), Field: "settings"}
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) error {
	if p := principal(r); p.Campaigns != nil {
		return &apiError{Status: http.StatusForbidden, Msg: "a user limited to some campaigns cannot create one"}
	}
	var req createCampaignRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" {
		return badInput("name", "name is required")
	}
	if len(req.Name) > 200 {
		return badInput("name", "name is longer than 200 bytes")
	}
	raw := req.Settings
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	settings, err := campaign.ParseSettings(raw)
	if err != nil {
		return settingsError(err)
	}
	c, err := campaign.Create(r.Context(), s.cfg.Store, req.Name, settings)
	if errors.Is(err, store.ErrExists) {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("a campaign named %q already exists", req.Name), Field: "name"}
	}
	if err != nil {
		return fmt.Errorf("create campaign %q: %w", req.Name, err)
	}
	if err := s.auditReq(r, "campaign.create", fmt.Sprintf("campaign:%d", c.ID), "name "+req.Name); err != nil {
		return err
	}
	v, err := s.view(r.Context(), c)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/campaigns/%d", c.ID))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) patchCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req patchCampaignRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Settings) == 0 {
		return badInput("settings", "settings is required")
	}
	var patch any
	if err := json.Unmarshal(req.Settings, &patch); err != nil {
		return badInput("settings", "settings: %v", err)
	}
	if _, ok := patch.(map[string]any); !ok {
		return badInput("settings", "settings must be an object")
	}
	c, err := s.campaignFor(r, id)
	if err != nil {
		return err
	}
	if c.State == store.CampaignStopped || c.State == store.CampaignCompleted {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("campaign %q is %s: its settings no longer change", c.Name, c.State)}
	}
	var cur any = map[string]any{}
	if len(c.Settings) > 0 {
		if err := json.Unmarshal(c.Settings, &cur); err != nil {
			return fmt.Errorf("campaign %d: stored settings: %w", id, err)
		}
	}
	merged, err := json.Marshal(mergePatch(cur, patch))
	if err != nil {
		return fmt.Errorf("campaign %d: encode settings: %w", id, err)
	}
	settings, err := campaign.ParseSettings(merged)
	if err != nil {
		return settingsError(err)
	}
	// Stored as the campaign package writes it, so every reader sees one form.
	doc, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("campaign %d: encode settings: %w", id, err)
	}
	if err := s.cfg.Store.SetCampaignSettings(r.Context(), id, doc); err != nil {
		return fmt.Errorf("campaign %d: store settings: %w", id, err)
	}
	if err := s.auditReq(r, "campaign.update", fmt.Sprintf("campaign:%d", id), "settings "+string(req.Settings)); err != nil {
		return err
	}
	return s.getCampaign(w, r)
}

// mergePatch applies an RFC 7396 JSON merge patch.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// campaignCommand serves start, pause and stop: the stored state moves
// through campaign.SetState (which refuses moves out of a final state), then
// this node's Campaigns is told.
func (s *Server) campaignCommand(cmd string) func(http.ResponseWriter, *http.Request) error {
	to := map[string]store.CampaignState{"start": store.CampaignRunning, "pause": store.CampaignPaused, "stop": store.CampaignStopped}[cmd]
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		c, err := s.campaignFor(r, id)
		if err != nil {
			return err
		}
		ctx := r.Context()
		if err := campaign.SetState(ctx, s.cfg.Store, id, to); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("id", "campaign %d not found", id)
			}
			return &apiError{Status: http.StatusConflict, Msg: err.Error()}
		}
		if ctl := s.cfg.Campaigns; ctl != nil {
			switch cmd {
			case "start":
				err = ctl.Start(ctx, id)
			case "pause":
				err = ctl.Pause(ctx, id)
			case "stop":
				err = ctl.Stop(ctx, id)
			}
			if err != nil {
				if cmd == "start" {
					if rerr := s.cfg.Store.SetCampaignState(context.WithoutCancel(ctx), id, c.State); rerr != nil {
						s.log.Error("restore campaign state after a refused start", "campaign", id, "err", rerr)
					}
				}
				return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("%s campaign %q: %v", cmd, c.Name, err)}
			}
		}
		if err := s.auditReq(r, "campaign."+cmd, fmt.Sprintf("campaign:%d", id), fmt.Sprintf("%s → %s", c.State, to)); err != nil {
			return err
		}
		return s.getCampaign(w, r)
	}
}

func (s *Server) previewCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.campaignFor(r, id); err != nil {
		return err
	}
	p, err := campaign.PreviewCampaign(r.Context(), s.cfg.Store, id, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("preview campaign %d: %w", id, err)
	}
	out := previewBody{Total: p.Total, Dial: p.Dial, Skipped: p.Skipped, OutsideWindow: p.OutsideWindow, Summary: p.String()}
	if out.Skipped == nil {
		out.Skipped = map[string]int{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
