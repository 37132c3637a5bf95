package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

// contactView is a contact as the API shows it; Phone is masked for
// principals without phones:unmask.
type contactView struct {
	ID              int64          `json:"id"`
	CampaignID      int64          `json:"campaign_id"`
	Phone           string         `json:"phone"`
	Name            string         `json:"name,omitempty"`
	TimeZone        string         `json:"time_zone,omitempty"`
	Priority        int            `json:"priority"`
	Tags            []string       `json:"tags,omitempty"`
	Custom          map[string]any `json:"custom,omitempty"`
	Consent         string         `json:"consent,omitempty"`
	State           string         `json:"state"`
	Attempts        int            `json:"attempts"`
	NextAttemptAt   time.Time      `json:"next_attempt_at,omitzero"`
	LastDisposition string         `json:"last_disposition,omitempty"`
	SkipReason      string         `json:"skip_reason,omitempty"`
	UpdatedAt       time.Time      `json:"updated_at,omitzero"`
}

// contactDetail is one contact with its call attempts.
type contactDetail struct {
	contactView
	Calls []callView `json:"calls"`
}

// contactInput is one contact to import.
type contactInput struct {
	// Phone is required; spaces, dashes and brackets are stripped.
	Phone    string `json:"phone"`
	Name     string `json:"name,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	// Priority runs from -99 to 99; higher is dialled first.
	Priority int            `json:"priority,omitempty"`
	Tags     []string       `json:"tags,omitempty"`
	Custom   map[string]any `json:"custom,omitempty"`
	// Consent is the evidence that the person agreed to be called.
	Consent string `json:"consent,omitempty"`
}

// importRequest is a JSON contact import.
type importRequest struct {
	Contacts []contactInput `json:"contacts"`
}

// importResult says what an import did.
type importResult struct {
	Added int `json:"added"`
	// Duplicate counts contacts whose phone the campaign already had.
	Duplicate int `json:"duplicate"`
}

func contactOut(p *auth.Principal, k store.Contact) contactView {
	return contactView{ID: k.ID, CampaignID: k.CampaignID, Phone: maskFor(p, k.Phone), Name: k.Name, TimeZone: k.TimeZone,
		Priority: k.Priority, Tags: k.Tags, Custom: maskCustom(p, k.Custom), Consent: k.Consent, State: string(k.State), Attempts: k.Attempts,
		NextAttemptAt: k.NextAttemptAt, LastDisposition: k.LastDisposition, SkipReason: k.SkipReason, UpdatedAt: k.UpdatedAt}
}

func (s *Server) importContacts(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.campaignFor(r, id)
	if err != nil {
		return err
	}
	if c.State == store.CampaignStopped || c.State == store.CampaignCompleted {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("campaign %q is %s: it takes no new contacts", c.Name, c.State)}
	}
	var list []store.Contact
	repeats := 0
	switch mt := mediaType(r); mt {
	case mediaCSV:
		list, err = campaign.ImportCSV(http.MaxBytesReader(w, r.Body, s.cfg.MaxImportBytes), "body")
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Msg: err.Error(), Field: "body"}
		}
	case "", mediaJSON, "application/x-www-form-urlencoded":
		var req importRequest
		if err := s.decodeJSON(w, r, &req); err != nil {
			return err
		}
		if list, err = contactsFromJSON(req); err != nil {
			return err
		}
		repeats = len(req.Contacts) - len(list)
	default:
		return &apiError{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("Content-Type %s is not accepted: send %s or %s", mt, mediaJSON, mediaCSV), Field: "Content-Type"}
	}
	added, dup, err := campaign.Import(r.Context(), s.cfg.Store, id, list)
	if err != nil {
		return fmt.Errorf("import %d contacts into campaign %d: %w", len(list), id, err)
	}
	dup += repeats
	if err := s.auditReq(r, "contact.import", fmt.Sprintf("campaign:%d", id), fmt.Sprintf("%d added, %d duplicate", added, dup)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, importResult{Added: added, Duplicate: dup})
	return nil
}

// contactsFromJSON checks each contact as the CSV import would, naming the
// field of the first bad one.
func contactsFromJSON(req importRequest) ([]store.Contact, error) {
	if req.Contacts == nil {
		return nil, badInput("contacts", "contacts is required")
	}
	if len(req.Contacts) == 0 {
		return nil, badInput("contacts", "contacts is empty")
	}
	seen := map[string]bool{}
	out := make([]store.Contact, 0, len(req.Contacts))
	for i, in := range req.Contacts {
		field := func(name string) string { return fmt.Sprintf("contacts[%d].%s", i, name) }
		if strings.TrimSpace(in.Phone) == "" {
			return nil, badInput(field("phone"), "%s is required", field("phone"))
		}
		phone, err := campaign.NormalizePhone(in.Phone)
		if err != nil {
			return nil, badInput(field("phone"), "%s: %v", field("phone"), err)
		}
		if in.Priority < -99 || in.Priority > 99 {
			return nil, badInput(field("priority"), "%s must be between -99 and 99, not %d", field("priority"), in.Priority)
		}
		if in.TimeZone != "" {
			if _, err := time.LoadLocation(in.TimeZone); err != nil {
				return nil, badInput(field("time_zone"), "%s: unknown time zone %q", field("time_zone"), in.TimeZone)
			}
		}
		if seen[phone] {
			// The CSV import keeps the first of a phone listed twice; so does this.
			continue
		}
		seen[phone] = true
		out = append(out, store.Contact{Phone: phone, Name: in.Name, TimeZone: in.TimeZone, Priority: in.Priority,
			Tags: in.Tags, Custom: in.Custom, Consent: in.Consent})
	}
	return out, nil
}

var contactStates = []store.ContactState{store.StatePending, store.StateDialing, store.StateDone,
	store.StateExhausted, store.StateSkipped, store.StateInterrupted}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	state := store.ContactState(r.URL.Query().Get("state"))
	if state != "" && !slices.Contains(contactStates, state) {
		return badInput("state", "state must be one of pending, dialing, done, exhausted, skipped, interrupted; not %q", state)
	}
	offset, err := queryInt(r, "offset", 0, 0, 1<<31)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	if _, err := s.campaignFor(r, id); err != nil {
		return err
	}
	list, err := s.cfg.Store.Contacts(r.Context(), id, state)
	if err != nil {
		return fmt.Errorf("list contacts of campaign %d: %w", id, err)
	}
	p := principal(r)
	page := pageBody[contactView]{Items: []contactView{}, Total: len(list), Offset: int(offset), Limit: int(limit)}
	for _, k := range list[min(int(offset), len(list)):min(int(offset+limit), len(list))] {
		page.Items = append(page.Items, contactOut(p, k))
	}
	detail := fmt.Sprintf("%d contacts", len(page.Items))
	if state != "" {
		detail += " in state " + string(state)
	}
	if err := s.auditReq(r, "contact.list", fmt.Sprintf("campaign:%d", id), detail); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	k, err := s.cfg.Store.Contact(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !principal(r).SeesCampaign(k.CampaignID)) {
		return notFound("id", "contact %d not found", id)
	}
	if err != nil {
		return fmt.Errorf("load contact %d: %w", id, err)
	}
	recs, err := s.cfg.Store.CallRecords(r.Context(), k.CampaignID, k.ID)
	if err != nil {
		return fmt.Errorf("call records of contact %d: %w", id, err)
	}
	p := principal(r)
	out := contactDetail{contactView: contactOut(p, k), Calls: []callView{}}
	for _, rec := range recs {
		out.Calls = append(out.Calls, recordOut(p, rec, false))
	}
	if err := s.auditReq(r, "contact.read", fmt.Sprintf("contact:%d", id), "phone "+campaign.MaskPhone(k.Phone)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// dncView is one do-not-call entry.
type dncView struct {
	Phone string `json:"phone"`
	// CampaignID 0 is the global list.
	CampaignID int64     `json:"campaign_id"`
	Reason     string    `json:"reason,omitempty"`
	AddedAt    time.Time `json:"added_at,omitzero"`
}

// dncRequest puts a number on the do-not-call list.
type dncRequest struct {
	Phone string `json:"phone"`
	// CampaignID 0 (or absent) is the global list.
	CampaignID int64  `json:"campaign_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// dncScope reads ?campaign= and checks that p may act on that scope: the
// global list belongs to principals limited to no campaigns.
func (s *Server) dncScope(r *http.Request, id int64, field string) error {
	p := principal(r)
	if id == 0 {
		if p.Campaigns != nil {
			return &apiError{Status: http.StatusForbidden, Msg: "the global do-not-call list is not open to users limited to some campaigns", Field: field}
		}
		return nil
	}
	if !p.SeesCampaign(id) {
		return notFound(field, "campaign %d not found", id)
	}
	if _, err := s.cfg.Store.Campaign(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound(field, "campaign %d not found", id)
		}
		return fmt.Errorf("load campaign %d: %w", id, err)
	}
	return nil
}

func (s *Server) listDNC(w http.ResponseWriter, r *http.Request) error {
	id, err := queryInt(r, "campaign", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	if err := s.dncScope(r, id, "campaign"); err != nil {
		return err
	}
	list, err := s.cfg.Store.DNCList(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list do-not-call entries of scope %d: %w", id, err)
	}
	p := principal(r)
	out := listBody[dncView]{Items: []dncView{}}
	for _, e := range list {
		out.Items = append(out.Items, dncView{Phone: maskFor(p, e.Phone), CampaignID: e.CampaignID, Reason: e.Reason, AddedAt: e.AddedAt})
	}
	if err := s.auditReq(r, "dnc.list", dncObject(id), fmt.Sprintf("%d entries", len(out.Items))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func dncObject(campaignID int64) string {
	if campaignID == 0 {
		return "dnc:global"
	}
	return fmt.Sprintf("dnc:campaign:%d", campaignID)
}

func (s *Server) addDNC(w http.ResponseWriter, r *http.Request) error {
	var req dncRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Phone) == "" {
		return badInput("phone", "phone is required")
	}
	phone, err := campaign.NormalizePhone(req.Phone)
	if err != nil {
		return badInput("phone", "phone: %v", err)
	}
	if req.CampaignID < 0 {
		return badInput("campaign_id", "campaign_id must not be negative")
	}
	if err := s.dncScope(r, req.CampaignID, "campaign_id"); err != nil {
		return err
	}
	e := store.DNCEntry{Phone: phone, CampaignID: req.CampaignID, Reason: req.Reason, AddedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.AddDNC(r.Context(), e); err != nil {
		return fmt.Errorf("add %s to the do-not-call list: %w", campaign.MaskPhone(phone), err)
	}
	if err := s.auditReq(r, "dnc.add", dncObject(req.CampaignID), "phone "+campaign.MaskPhone(phone)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, dncView{Phone: maskFor(principal(r), phone), CampaignID: e.CampaignID, Reason: e.Reason, AddedAt: e.AddedAt})
	return nil
}

func (s *Server) removeDNC(w http.ResponseWriter, r *http.Request) error {
	phone, err := campaign.NormalizePhone(r.PathValue("phone"))
	if err != nil {
		return badInput("phone", "phone: %v", err)
	}
	id, err := queryInt(r, "campaign", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	if err := s.dncScope(r, id, "campaign"); err != nil {
		return err
	}
	ctx := r.Context()
	// DNC would answer with the global entry first; the scope's own list
	// says whether this scope holds the number.
	list, err := s.cfg.Store.DNCList(ctx, id)
	if err != nil {
		return fmt.Errorf("look up %s on the do-not-call list: %w", campaign.MaskPhone(phone), err)
	}
	if !slices.ContainsFunc(list, func(e store.DNCEntry) bool { return e.Phone == phone }) {
		return notFound("phone", "%s is not on this do-not-call list", maskFor(principal(r), phone))
	}
	if err := s.cfg.Store.RemoveDNC(ctx, phone, id); err != nil {
		return fmt.Errorf("remove %s from the do-not-call list: %w", campaign.MaskPhone(phone), err)
	}
	if err := s.auditReq(r, "dnc.remove", dncObject(id), "phone "+campaign.MaskPhone(phone)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// requeueRequest puts a campaign's contacts of one state back to pending.
type requeueRequest struct {
	// From is interrupted (their node died mid-call: the person may have
	// been called) or exhausted (out of attempts).
	From string `json:"from"`
}

// requeueResult says how many contacts went back to pending.
type requeueResult struct {
	Requeued int `json:"requeued"`
}

func (s *Server) requeueContacts(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req requeueRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	from := store.ContactState(req.From)
	switch from {
	case store.StateInterrupted, store.StateExhausted:
	case "":
		return badInput("from", "from is required: interrupted or exhausted")
	default:
		return badInput("from", "from must be interrupted or exhausted, not %q", req.From)
	}
	c, err := s.campaignFor(r, id)
	if err != nil {
		return err
	}
	if c.State == store.CampaignStopped || c.State == store.CampaignCompleted {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("campaign %q is %s: nothing will dial its contacts", c.Name, c.State)}
	}
	n, err := campaign.Requeue(r.Context(), s.cfg.Store, id, from)
	if err != nil {
		return fmt.Errorf("requeue %s contacts of campaign %d: %w", from, id, err)
	}
	if err := s.auditReq(r, "contact.requeue", fmt.Sprintf("campaign:%d", id), fmt.Sprintf("%d %s contacts", n, from)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, requeueResult{Requeued: n})
	return nil
}
