package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

// callView is a call as the API shows it: a live call, or the record of an
// attempt. Phone is masked for principals without phones:unmask.
type callView struct {
	// ID is the SIP Call-ID when known, else the record's id.
	ID string `json:"id"`
	// RecordID is the call record's id; zero for a live call not yet recorded.
	RecordID int64 `json:"record_id,omitempty"`
	// Live is true while the call is in progress on this node.
	Live       bool   `json:"live"`
	State      string `json:"state"`
	CampaignID int64  `json:"campaign_id,omitempty"`
	ContactID  int64  `json:"contact_id,omitempty"`
	Phone      string `json:"phone"`
	Direction  string `json:"direction,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	Node       string `json:"node,omitempty"`
	Trunk      string `json:"trunk,omitempty"`
	CallerID   string `json:"caller_id,omitempty"`
	Variant    string `json:"variant,omitempty"`
	Script     string `json:"script,omitempty"`

	StartedAt  time.Time `json:"started_at,omitzero"`
	RingingAt  time.Time `json:"ringing_at,omitzero"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`

	SIPCode     int    `json:"sip_code,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	AnsweredBy  string `json:"answered_by,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	IntentGrade string `json:"intent_grade,omitempty"`
	// GreetedAt is when the bot's first audio reached the answered call.
	GreetedAt time.Time `json:"greeted_at,omitzero"`
	// CallProgress is what early media said before an answer (ringback,
	// busy, sit, out_of_service, vacant …).
	CallProgress string `json:"call_progress,omitempty"`
	// Converted and OptedOut are the dialler's verdicts; absent on records
	// from before they were kept.
	Converted *bool `json:"converted,omitempty"`
	OptedOut  *bool `json:"opted_out,omitempty"`
	// Transfer is the hand-over to a human, when there was one.
	Transfer *transferView `json:"transfer,omitempty"`
	// Transcript is the conversation, in the single-call view only.
	Transcript json.RawMessage `json:"transcript,omitempty"`
	// Recording is where the call's recording is downloaded.
	Recording string `json:"recording,omitempty"`
}

// transferView is a call's transfer to a human.
type transferView struct {
	At     time.Time `json:"at,omitzero"`
	Target string    `json:"target"`
	Mode   string    `json:"mode,omitempty"`   // blind (REFER) or bridge
	Result string    `json:"result,omitempty"` // succeeded or failed
}

func liveOut(p *auth.Principal, c CallInfo) callView {
	return callView{ID: c.ID, Live: true, State: c.State, CampaignID: c.CampaignID, ContactID: c.ContactID,
		Phone: maskFor(p, c.Phone), Direction: c.Direction, Trunk: c.Trunk, Script: c.Script,
		StartedAt: c.StartedAt, AnsweredAt: c.AnsweredAt, Recording: recordingPath(c.ID)}
}

func recordOut(p *auth.Principal, rec store.CallRecord, transcript bool) callView {
	v := callView{ID: rec.SIPCallID, RecordID: rec.ID, CampaignID: rec.CampaignID, ContactID: rec.ContactID,
		Phone: maskFor(p, rec.Phone), Direction: "outbound", Attempt: rec.Attempt, Node: rec.Node, Trunk: rec.Trunk,
		CallerID: rec.CallerID, Variant: rec.Variant, StartedAt: rec.AttemptAt, RingingAt: rec.RingingAt,
		AnsweredAt: rec.AnsweredAt, EndedAt: rec.EndedAt, SIPCode: rec.SIPCode, Disposition: rec.Disposition,
		AnsweredBy: rec.AnsweredBy, Outcome: rec.Outcome, IntentGrade: rec.IntentGrade,
		GreetedAt: rec.GreetedAt, CallProgress: rec.CallProgress, Converted: rec.Converted, OptedOut: rec.OptedOut}
	if rec.TransferTarget != "" {
		// An agent's URI may hold a phone number: masked like the rest.
		v.Transfer = &transferView{At: rec.TransferredAt, Target: maskText(p, rec.TransferTarget),
			Mode: rec.TransferMode, Result: rec.TransferResult}
	}
	switch {
	case rec.Disposition == store.DispositionInterrupted:
		v.State = "interrupted"
	case !rec.EndedAt.IsZero():
		v.State = "ended"
	default:
		v.State = "in_progress"
	}
	if v.ID == "" {
		v.ID = strconv.FormatInt(rec.ID, 10)
	} else {
		v.Recording = recordingPath(v.ID)
	}
	if transcript && len(rec.Transcript) > 0 && string(rec.Transcript) != "null" {
		v.Transcript = maskJSON(p, rec.Transcript)
	}
	return v
}

func recordingPath(callID string) string {
	if callID == "" {
		return ""
	}
	return "/api/v1/recordings/" + url.PathEscape(callID)
}

// liveFor lists the live calls p may see, optionally of one campaign.
func (s *Server) liveFor(p *auth.Principal, campaignID int64) []CallInfo {
	if s.cfg.Calls == nil {
		return nil
	}
	var out []CallInfo
	for _, c := range s.cfg.Calls.Live() {
		if campaignID != 0 && c.CampaignID != campaignID {
			continue
		}
		if seesCampaign(p, c.CampaignID) {
			out = append(out, c)
		}
	}
	return out
}

// callPage is one page of GET /api/v1/calls.
type callPage struct {
	Items []callView `json:"items"`
	// Next is the cursor of the next page, to pass as after; absent on the
	// last page.
	Next int64 `json:"next,omitempty"`
}

// callListParams are GET /api/v1/calls's query parameters.
var callListParams = []param{
	{"campaign", "integer", "only this campaign's calls"},
	{"limit", "integer", "at most this many call records (default 100, at most 1000; 0 lists live calls only)"},
	{"after", "integer", "the next cursor of the previous page: records older than it (live calls come on the first page only)"},
	{"disposition", "string", "only records with one of these comma-separated dispositions (answered, no_answer, busy …)"},
	{"outcome", "string", "only records with one of these comma-separated outcomes"},
	{"from", "string", "only records attempted at or after this RFC 3339 time"},
	{"to", "string", "only records attempted before this RFC 3339 time"},
}

// visibleCampaigns is the campaigns p may read records of, narrowed to
// campaignID when set (already checked visible): nil means every campaign.
func visibleCampaigns(p *auth.Principal, campaignID int64) []int64 {
	switch {
	case campaignID != 0:
		return []int64{campaignID}
	case p.Campaigns == nil:
		return nil
	default:
		return append([]int64{}, p.Campaigns...)
	}
}

// csvParam splits a comma-separated filter, dropping empty items.
func csvParam(r *http.Request, name string) []string {
	var out []string
	for _, v := range strings.Split(r.URL.Query().Get(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// timeParam reads an optional RFC 3339 query parameter.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badInput(name, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", name, v)
	}
	return t, nil
}

// listCalls serves one page: the live calls (first page of an unfiltered
// list only), then the records newest first by id. A page is found by the
// store's keyset on id, so deep pages cost what the first does.
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) error {
	campaignID, err := queryInt(r, "campaign", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 0, 1000)
	if err != nil {
		return err
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	q := store.RecordQuery{Dispositions: csvParam(r, "disposition"), Outcomes: csvParam(r, "outcome"), After: after}
	if q.From, err = timeParam(r, "from"); err != nil {
		return err
	}
	if q.To, err = timeParam(r, "to"); err != nil {
		return err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return badInput("from", "from must be before to")
	}
	p := principal(r)
	if campaignID != 0 {
		if _, err := s.campaignFor(r, campaignID); err != nil {
			return notFound("campaign", "campaign %d not found", campaignID)
		}
	}
	q.CampaignIDs = visibleCampaigns(p, campaignID)
	out := callPage{Items: []callView{}}
	live := map[string]bool{}
	filtered := len(q.Dispositions) > 0 || len(q.Outcomes) > 0 || !q.From.IsZero() || !q.To.IsZero()
	for _, c := range s.liveFor(p, campaignID) {
		// The live entry shows a call more freshly than its record.
		live[c.ID] = true
		if after == 0 && !filtered {
			out.Items = append(out.Items, liveOut(p, c))
		}
	}
	if limit > 0 {
		// One more than the page tells whether another page follows.
		q.Limit = int(limit) + 1
		recs, err := s.cfg.Store.QueryCallRecords(r.Context(), q)
		if err != nil {
			return fmt.Errorf("list call records: %w", err)
		}
		if len(recs) > int(limit) {
			recs = recs[:limit]
			out.Next = recs[len(recs)-1].ID
		}
		for _, rec := range recs {
			if rec.SIPCallID != "" && live[rec.SIPCallID] {
				continue
			}
			out.Items = append(out.Items, recordOut(p, rec, false))
		}
	}
	object := "calls:all"
	if campaignID != 0 {
		object = fmt.Sprintf("campaign:%d", campaignID)
	}
	if err := s.auditReq(r, "call.list", object, fmt.Sprintf("%d calls", len(out.Items))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// findCall finds call id among p's live calls, then among p's records by
// SIP Call-ID or record id. The record, when found, carries the transcript.
func (s *Server) findCall(ctx context.Context, p *auth.Principal, id string) (callView, error) {
	for _, c := range s.liveFor(p, 0) {
		if c.ID == id {
			return liveOut(p, c), nil
		}
	}
	rec, err := s.cfg.Store.CallRecordBySIPCallID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if n, perr := strconv.ParseInt(id, 10, 64); perr == nil {
			rec, err = s.cfg.Store.CallRecord(ctx, n)
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return callView{}, fmt.Errorf("find call %q: %w", id, err)
	}
	if err != nil || !p.SeesCampaign(rec.CampaignID) {
		return callView{}, notFound("id", "call %q not found", id)
	}
	return recordOut(p, rec, true), nil
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	v, err := s.findCall(r.Context(), principal(r), id)
	if err != nil {
		return err
	}
	if err := s.auditReq(r, "call.read", "call:"+id, "phone "+campaign.MaskPhone(v.Phone)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) placeCall(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Calls == nil {
		return unavailable("placing calls")
	}
	p := principal(r)
	var req PlaceRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.CampaignID != 0 && req.ContactID == 0 {
		return badInput("campaign_id", "campaign_id is set from contact_id; give contact_id instead")
	}
	if req.ContactID != 0 {
		k, err := s.cfg.Store.Contact(r.Context(), req.ContactID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !p.SeesCampaign(k.CampaignID)) {
			return notFound("contact_id", "contact %d not found", req.ContactID)
		}
		if err != nil {
			return fmt.Errorf("load contact %d: %w", req.ContactID, err)
		}
		if req.To != "" {
			if n, err := campaign.NormalizePhone(req.To); err != nil || n != k.Phone {
				return badInput("to", "to differs from contact %d's phone: give one or the other", req.ContactID)
			}
		}
		req.To, req.CampaignID = k.Phone, k.CampaignID
	} else if p.Campaigns != nil {
		return &apiError{Status: http.StatusForbidden, Msg: "a user limited to some campaigns calls their contacts by contact_id", Field: "to"}
	}
	if strings.TrimSpace(req.To) == "" {
		return badInput("to", "to or contact_id is required")
	}
	to, err := campaign.NormalizePhone(req.To)
	if err != nil {
		return badInput("to", "to: %v", err)
	}
	req.To = to
	if req.CallerID != "" {
		if req.CallerID, err = campaign.NormalizePhone(req.CallerID); err != nil {
			return badInput("caller_id", "caller_id: %v", err)
		}
	}
	if req.Trunk != "" && s.cfg.Trunks != nil {
		if !slices.ContainsFunc(s.cfg.Trunks(), func(t TrunkInfo) bool { return t.Name == req.Trunk }) {
			return badInput("trunk", "no trunk named %q", req.Trunk)
		}
	}
	if req.Script != "" {
		if _, err := s.scriptPath(req.Script, "script"); err != nil {
			return err
		}
	}
	info, err := s.cfg.Calls.Place(r.Context(), req)
	if err != nil {
		return &apiError{Status: http.StatusBadGateway, Msg: maskText(p, fmt.Sprintf("place call to %s: %v", to, err))}
	}
	if err := s.auditReq(r, "call.place", "call:"+info.ID, "phone "+campaign.MaskPhone(to)); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/calls/"+url.PathEscape(info.ID))
	writeJSON(w, http.StatusAccepted, liveOut(p, info))
	return nil
}

func (s *Server) hangupCall(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Calls == nil {
		return unavailable("hanging up calls")
	}
	id := r.PathValue("id")
	p := principal(r)
	if !slices.ContainsFunc(s.liveFor(p, 0), func(c CallInfo) bool { return c.ID == id }) {
		return notFound("id", "no live call %q", id)
	}
	if err := s.cfg.Calls.Hangup(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("id", "no live call %q", id)
		}
		return fmt.Errorf("hang up call %q: %w", id, err)
	}
	if err := s.auditReq(r, "call.hangup", "call:"+id, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Recordings == nil {
		return unavailable("recordings")
	}
	id := r.PathValue("call_id")
	p := principal(r)
	// The id may be a SIP Call-ID or a call record's id (webhooks link by
	// record); recordings are filed by Call-ID.
	callID := id
	v, err := s.findCall(r.Context(), p, id)
	switch {
	case err == nil:
		callID = v.ID
	case p.Campaigns != nil:
		// A limited principal downloads only calls it can see.
		return notFound("call_id", "no recording of call %q", id)
	}
	rc, ct, err := s.cfg.Recordings.Open(r.Context(), callID)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, store.ErrNotFound) {
		return notFound("call_id", "no recording of call %q", id)
	}
	if err != nil {
		return fmt.Errorf("open recording of call %q: %w", id, err)
	}
	defer rc.Close()
	if err := s.auditReq(r, "recording.download", "call:"+callID, ""); err != nil {
		return err
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", sanitizeFilename(callID)+".wav"))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// The status is out; all that is left is to say so in the log.
		s.log.Warn("recording download cut short", "call", id, "err", err)
	}
	return nil
}

// sanitizeFilename keeps a Call-ID safe inside a header's quoted string.
func sanitizeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == '/' {
			return '_'
		}
		return r
	}, s)
}

// exportColumns are the header of a campaign's call export.
var exportColumns = []string{"record_id", "sip_call_id", "contact_id", "phone", "attempt", "trunk", "caller_id", "variant",
	"attempt_at", "ringing_at", "answered_at", "ended_at", "sip_code", "disposition", "answered_by", "outcome", "intent_grade",
	"greeted_at", "call_progress", "converted", "opted_out", "transfer_target", "transfer_mode", "transfer_result"}

// exportCalls writes a campaign's call records as CSV, oldest first, with
// phone numbers as the reader may see them: exports leave the system, so
// they are masked like every other response. It streams a page of
// Config.ExportPage records at a time, so a campaign's history is never
// held in memory at once.
func (s *Server) exportCalls(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.campaignFor(r, id)
	if err != nil {
		return err
	}
	// The export holds the records that exist when it starts, up to the
	// newest id then: the audit says exactly how many left, and attempts
	// begun while it streams wait for the next export.
	q := store.RecordQuery{CampaignIDs: []int64{id}, Limit: 1}
	newest, err := s.cfg.Store.QueryCallRecords(r.Context(), q)
	if err != nil {
		return fmt.Errorf("call records of campaign %d: %w", id, err)
	}
	count := 0
	if len(newest) > 0 {
		q.MaxID = newest[0].ID
		if count, err = s.cfg.Store.CountCallRecords(r.Context(), q); err != nil {
			return fmt.Errorf("call records of campaign %d: %w", id, err)
		}
	}
	if err := s.auditReq(r, "call.export", fmt.Sprintf("campaign:%d", id), fmt.Sprintf("%d records", count)); err != nil {
		return err
	}
	p := principal(r)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", sanitizeFilename(c.Name)+"-calls.csv"))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	cw := csv.NewWriter(w)
	if err := cw.Write(exportColumns); err != nil {
		return nil
	}
	q.Ascending, q.Limit = true, s.cfg.ExportPage
	for q.MaxID != 0 {
		recs, err := s.cfg.Store.QueryCallRecords(r.Context(), q)
		if err != nil {
			// The status is out: a cut CSV is all the client can be told,
			// so the log says why.
			s.log.Warn("call export cut short", "campaign", id, "err", err)
			return nil
		}
		if err := writeExportRows(cw, p, recs); err != nil {
			// The status is out; a client that left needs no error body.
			return nil
		}
		cw.Flush()
		if len(recs) < q.Limit {
			break
		}
		q.After = recs[len(recs)-1].ID
	}
	cw.Flush() // the header alone, when there are no records
	return nil
}

// writeExportRows writes one page of an export.
func writeExportRows(cw *csv.Writer, p *auth.Principal, recs []store.CallRecord) error {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	tri := func(b *bool) string {
		if b == nil {
			return ""
		}
		return strconv.FormatBool(*b)
	}
	for _, rec := range recs {
		row := []string{strconv.FormatInt(rec.ID, 10), rec.SIPCallID, strconv.FormatInt(rec.ContactID, 10), maskFor(p, rec.Phone),
			strconv.Itoa(rec.Attempt), rec.Trunk, rec.CallerID, rec.Variant, ts(rec.AttemptAt), ts(rec.RingingAt),
			ts(rec.AnsweredAt), ts(rec.EndedAt), strconv.Itoa(rec.SIPCode), rec.Disposition, rec.AnsweredBy, rec.Outcome, rec.IntentGrade,
			ts(rec.GreetedAt), rec.CallProgress, tri(rec.Converted), tri(rec.OptedOut),
			maskText(p, rec.TransferTarget), rec.TransferMode, rec.TransferResult}
		if err := cw.Write(csvSafe(row)); err != nil {
			return fmt.Errorf("write export row: %w", err)
		}
	}
	return nil
}

// csvSafe defuses cells a spreadsheet would run as a formula (CSV
// injection): an outcome or variant is text from a script, not code.
func csvSafe(row []string) []string {
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) && !isNumber(v) {
			row[i] = "'" + v
		}
	}
	return row
}

func isNumber(v string) bool {
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}
