package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/campaign"
	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/store"
)

// liveCalls is the node's list of calls in progress, placed or dialled by a
// campaign, with the means to hang each up. A nil *liveCalls lists nothing,
// so `waihu campaign start` (no API) pays nothing for it.
type liveCalls struct {
	mu    sync.Mutex
	calls map[string]*liveCall
}

type liveCall struct {
	info   httpapi.CallInfo
	hangup context.CancelFunc
}

func newLiveCalls() *liveCalls { return &liveCalls{calls: map[string]*liveCall{}} }

// add lists a call being dialled; hangup ends it at any stage.
func (l *liveCalls) add(info httpapi.CallInfo, hangup context.CancelFunc) {
	if l == nil {
		return
	}
	info.State, info.StartedAt = "dialing", time.Now()
	if info.Direction == "" {
		info.Direction = "outbound"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[info.ID] = &liveCall{info: info, hangup: hangup}
}

// setState moves a listed call to ringing or answered.
func (l *liveCalls) setState(id, state string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.calls[id]; ok {
		c.info.State = state
		if state == "answered" {
			c.info.AnsweredAt = time.Now()
		}
	}
}

func (l *liveCalls) remove(id string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.calls, id)
}

// list returns the calls, oldest first.
func (l *liveCalls) list() []httpapi.CallInfo {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	out := make([]httpapi.CallInfo, 0, len(l.calls))
	for _, c := range l.calls {
		out = append(out, c.info)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b httpapi.CallInfo) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// hangup ends call id; its dialler sends CANCEL or BYE and reports the end.
func (l *liveCalls) hangup(id string) error {
	if l == nil {
		return fmt.Errorf("call %q: %w", id, store.ErrNotFound)
	}
	l.mu.Lock()
	c, ok := l.calls[id]
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("call %q: %w", id, store.ErrNotFound)
	}
	c.hangup()
	return nil
}

// callPlacer is server.Calls for `waihu serve`: single calls placed through
// the API run on the same dialler as campaigns (sipDialer), with the node's
// bot, a named script, or the prompt.
//
// A call placed to a stored contact (contact_id) is a call of the
// contact's campaign: its record is stored (records.RecordCall), so it sends
// the call.completed webhook and counts in the KPIs, while the contact's
// own dialling (state, attempts) is left to the campaign. A call placed to a
// bare number belongs to no campaign, and call records need one: it is
// live-only (events, log, recording), as docs/api.md says.
type callPlacer struct {
	srv    *server
	dialer *sipDialer
	// records stores the records of calls to contacts; nil stores none.
	records store.Store

	mu   sync.Mutex
	bots map[string]*bot // by script name, built on first use
}

var _ httpapi.Calls = (*callPlacer)(nil)

// errNoTrunk refuses a call when no trunk is configured to carry it.
var errNoTrunk = errors.New("no trunk configured: add one under trunks: in the config file")

// Place implements server.Calls: it returns as soon as the call is listed
// as dialing; the call runs under the server's call context, so shutdown
// hangs it up.
func (p *callPlacer) Place(ctx context.Context, req httpapi.PlaceRequest) (httpapi.CallInfo, error) {
	trunk := req.Trunk
	if trunk == "" {
		if len(p.srv.cfg.Trunks) == 0 {
			return httpapi.CallInfo{}, errNoTrunk
		}
		trunk = p.srv.cfg.Trunks[0].Name
	} else if !slices.ContainsFunc(p.srv.cfg.Trunks, func(t TrunkConfig) bool { return t.Name == trunk }) {
		return httpapi.CallInfo{}, fmt.Errorf("trunk %q: %w", trunk, store.ErrNotFound)
	}
	phone, err := campaign.NormalizePhone(req.To)
	if err != nil {
		return httpapi.CallInfo{}, fmt.Errorf("to: %w", err)
	}
	b, err := p.botFor(ctx, req.Script)
	if err != nil {
		return httpapi.CallInfo{}, err
	}
	contact := store.Contact{Phone: phone}
	if req.ContactID != 0 && p.records != nil {
		// The contact's name, tags and fields are the script's variables,
		// as on its campaign's calls; the request's own override them.
		if contact, err = p.records.Contact(ctx, req.ContactID); err != nil {
			return httpapi.CallInfo{}, fmt.Errorf("contact %d: %w", req.ContactID, err)
		}
		if contact.CampaignID != req.CampaignID || contact.Phone != phone {
			return httpapi.CallInfo{}, fmt.Errorf("contact %d is not %s of campaign %d: %w", req.ContactID,
				campaign.MaskPhone(phone), req.CampaignID, store.ErrNotFound)
		}
	}
	custom := make(map[string]any, len(contact.Custom)+len(req.Variables))
	for k, v := range contact.Custom {
		custom[k] = v
	}
	for k, v := range req.Variables {
		custom[k] = v
	}
	contact.Custom = custom
	dr := campaign.DialRequest{CampaignID: contact.CampaignID, Contact: contact, Attempt: 1, Trunk: trunk, CallerID: req.CallerID}
	var ringingNs atomic.Int64
	dr.Ringing = func() { ringingNs.CompareAndSwap(0, time.Now().UnixNano()) }
	id := sip.NewCallID()
	p.srv.calls.Add(1)
	go func() {
		defer p.srv.calls.Done()
		attemptAt := time.Now()
		res := p.dialer.dial(p.srv.callCtx, dr, id, b, req.Script)
		if res.RingingAt.IsZero() && ringingNs.Load() != 0 {
			res.RingingAt = time.Unix(0, ringingNs.Load())
		}
		p.srv.log.Info("placed call finished", "call_id", id, "disposition", string(res.Disposition),
			"outcome", res.Outcome, "sip_code", res.SIPCode)
		if contact.ID != 0 {
			p.record(context.WithoutCancel(p.srv.callCtx), dr, res, attemptAt)
		}
	}()
	for _, c := range p.dialer.live.list() {
		if c.ID == id {
			return c, nil
		}
	}
	// Over already (a trunk that refuses at once): report what was placed.
	return httpapi.CallInfo{ID: id, Phone: phone, Direction: "outbound", Trunk: trunk, Script: req.Script,
		State: "dialing", StartedAt: time.Now()}, nil
}

// Live implements server.Calls.
func (p *callPlacer) Live() []httpapi.CallInfo { return p.dialer.live.list() }

// Hangup implements server.Calls.
func (p *callPlacer) Hangup(_ context.Context, id string) error { return p.dialer.live.hangup(id) }

// botFor is the node's bot for script "", else the script NAME.yaml of the
// scripts directory with the node's engines, loaded once.
func (p *callPlacer) botFor(ctx context.Context, script string) (*bot, error) {
	if script == "" {
		return p.dialer.bot, nil
	}
	if script != filepath.Base(script) || strings.HasPrefix(script, ".") {
		return nil, fmt.Errorf("script %q: a bare name is required", script)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.bots[script]; ok {
		return b, nil
	}
	cfg := p.srv.cfg
	cfg.Bot.Script = filepath.Join(p.srv.scriptsDir(), script+".yaml")
	b, err := newBot(ctx, cfg, p.srv.log)
	if err != nil {
		return nil, fmt.Errorf("script %q: %w", script, err)
	}
	if p.bots == nil {
		p.bots = map[string]*bot{}
	}
	p.bots[script] = b
	return b, nil
}

// record stores the record of a placed call to a contact, as the campaign's
// Runner stores its own (dispositions, answered_by and grade alike), and
// honours a do_not_call outcome with a global do-not-call entry. Attempt 0
// marks a call its campaign's dialler did not place.
func (p *callPlacer) record(ctx context.Context, dr campaign.DialRequest, res campaign.Result, attemptAt time.Time) {
	log := p.srv.log.With("call_id", res.SIPCallID, "campaign_id", dr.CampaignID, "contact_id", dr.Contact.ID)
	if res.Outcome == campaign.OutcomeDoNotCall {
		res.Disposition = campaign.DoNotCall
		if err := p.records.AddDNC(ctx, store.DNCEntry{Phone: dr.Contact.Phone,
			Reason: fmt.Sprintf("do_not_call outcome of placed call %s", res.SIPCallID)}); err != nil {
			log.Error("add to do-not-call list", "err", err)
		}
	}
	answered := !res.AnsweredAt.IsZero() || res.SIPCode == 200
	res.AnsweredBy = campaign.NormalizeAnsweredBy(res.AnsweredBy, answered)
	if res.IntentGrade == "" && res.Disposition != campaign.Cancelled {
		res.IntentGrade = campaign.Grade(campaign.DefaultGradeRules(), res)
	}
	if res.EndedAt.IsZero() {
		res.EndedAt = time.Now()
	}
	rec := store.CallRecord{CampaignID: dr.CampaignID, ContactID: dr.Contact.ID, Phone: dr.Contact.Phone, Node: serveNode(),
		Trunk: dr.Trunk, CallerID: dr.CallerID, Variant: res.Variant, SIPCallID: res.SIPCallID, AttemptAt: attemptAt,
		RingingAt: res.RingingAt, AnsweredAt: res.AnsweredAt, EndedAt: res.EndedAt, SIPCode: res.SIPCode,
		Disposition: string(res.Disposition), AnsweredBy: res.AnsweredBy, Outcome: res.Outcome,
		IntentGrade: res.IntentGrade, Transcript: res.Transcript}
	// A placed call has no campaign settings of its own here: the default
	// conversion rule judges it, as the KPIs do.
	res.Fill(&rec, campaign.Conversion{})
	if _, err := p.records.RecordCall(ctx, rec); err != nil {
		log.Error("placed call not recorded", "err", err)
	}
}
