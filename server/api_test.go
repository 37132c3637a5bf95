package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

func TestEveryRouteRefusesRequestsWithoutAValidToken(t *testing.T) {
	f := newFixture(t)
	for _, rt := range f.srv.routes {
		if rt.public {
			continue
		}
		path := strings.NewReplacer("{id}", "1", "{name}", "x", "{phone}", "13812345678", "{call_id}", "c").Replace(rt.path)
		for _, tc := range []struct{ name, header string }{
			{"no header", ""},
			{"wrong scheme", "Basic " + tokAdmin},
			{"unknown token", "Bearer nope"},
		} {
			t.Run(rt.pattern()+"/"+tc.name, func(t *testing.T) {
				req := f.doHeader(rt.method, path, tc.header)
				req.must(t, 401)
				if e := req.errorBody(t); e.Field != "Authorization" {
					t.Errorf("field %q, want Authorization", e.Field)
				}
				if req.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
}

func TestEveryRouteRefusesAPrincipalWithoutItsPermission(t *testing.T) {
	f := newFixture(t)
	// A token whose role holds nothing reaches no protected route.
	f.role("nothing", []string{})
	f.user("empty", "nothing", nil)
	n := 0
	for _, rt := range f.srv.routes {
		if rt.public || rt.perm == "" {
			continue
		}
		path := strings.NewReplacer("{id}", "1", "{name}", "x", "{phone}", "13812345678", "{call_id}", "c").Replace(rt.path)
		r := f.do(rt.method, path, "empty", "", "")
		if r.status != 403 {
			t.Errorf("%s: status %d, want 403: %s", rt.pattern(), r.status, r.body)
			continue
		}
		if e := r.errorBody(t); !strings.Contains(e.Error, string(rt.perm)) {
			t.Errorf("%s: error %q does not name %s", rt.pattern(), e.Error, rt.perm)
		}
		n++
	}
	denied := f.audit.find("auth.denied")
	if len(denied) != n || n == 0 {
		t.Fatalf("%d auth.denied entries for %d refusals", len(denied), n)
	}
	if denied[0].User != "empty" || denied[0].Remote != "127.0.0.1" {
		t.Errorf("denied entry %+v: want user empty from loopback", denied[0])
	}
}

func TestHealthzNeedsNoToken(t *testing.T) {
	f := newFixture(t)
	var h healthBody
	f.get("/healthz", "").must(t, 200).json(t, &h)
	if h.Status != "ok" {
		t.Fatalf("status %q", h.Status)
	}
}

func TestCampaignRoutes(t *testing.T) {
	f := newFixture(t)
	t.Run("list shows contact counts and only the agent's campaign", func(t *testing.T) {
		var all listBody[campaignView]
		f.get("/api/v1/campaigns", tokAdmin).must(t, 200).json(t, &all)
		if len(all.Items) != 2 || all.Items[0].Name != "alpha" || all.Items[0].ContactsTotal != 2 ||
			all.Items[0].Contacts["done"] != 1 || all.Items[0].Contacts["pending"] != 1 {
			t.Fatalf("campaigns %+v", all.Items)
		}
		var mine listBody[campaignView]
		f.get("/api/v1/campaigns", tokAgent).must(t, 200).json(t, &mine)
		if len(mine.Items) != 1 || mine.Items[0].ID != f.alpha {
			t.Fatalf("agent sees %+v", mine.Items)
		}
	})
	t.Run("get", func(t *testing.T) {
		var v campaignView
		f.get(fmt.Sprintf("/api/v1/campaigns/%d", f.beta), tokAdmin).must(t, 200).json(t, &v)
		if v.Name != "beta" || v.State != "draft" || v.ContactsTotal != 1 {
			t.Fatalf("beta %+v", v)
		}
	})
	t.Run("create, then the name is taken", func(t *testing.T) {
		r := f.do("POST", "/api/v1/campaigns", tokAdmin, "", `{"name":"gamma","settings":{"cps":2,"time_zone":"Asia/Shanghai"}}`).must(t, 201)
		var v campaignView
		r.json(t, &v)
		if v.Name != "gamma" || v.State != "draft" || !strings.Contains(string(v.Settings), `"cps":2`) {
			t.Fatalf("created %+v %s", v, v.Settings)
		}
		if r.header.Get("Location") != fmt.Sprintf("/api/v1/campaigns/%d", v.ID) {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		if e := f.audit.find("campaign.create"); len(e) != 1 || e[0].Object != fmt.Sprintf("campaign:%d", v.ID) || e[0].User != tokAdmin {
			t.Errorf("audit %+v", e)
		}
		r = f.do("POST", "/api/v1/campaigns", tokAdmin, "", `{"name":"gamma"}`).must(t, 409)
		if e := r.errorBody(t); e.Field != "name" {
			t.Errorf("field %q", e.Field)
		}
	})
	t.Run("patch merges into the settings", func(t *testing.T) {
		var v campaignView
		f.do("PATCH", fmt.Sprintf("/api/v1/campaigns/%d", f.alpha), tokAdmin, "", `{"settings":{"concurrency":3,"ring_timeout":"20s"}}`).
			must(t, 200).json(t, &v)
		var s map[string]any
		if err := json.Unmarshal(v.Settings, &s); err != nil {
			t.Fatal(err)
		}
		if s["concurrency"] != 3.0 || s["ring_timeout"] != "20s" || s["trunks"] == nil {
			t.Fatalf("settings %s: want concurrency and ring_timeout added, trunks kept", v.Settings)
		}
		f.do("PATCH", fmt.Sprintf("/api/v1/campaigns/%d", f.alpha), tokAdmin, "", `{"settings":{"trunks":null}}`).must(t, 200).json(t, &v)
		if strings.Contains(string(v.Settings), "trunks") {
			t.Fatalf("null did not remove trunks: %s", v.Settings)
		}
		f.do("PATCH", fmt.Sprintf("/api/v1/campaigns/%d", f.alpha), tokAdmin, "", `{"settings":{"trunks":[{"name":"carrier"}]}}`).must(t, 200)
		if len(f.audit.find("campaign.update")) != 3 {
			t.Error("patches not audited")
		}
	})
	t.Run("start, pause and stop move the state and tell the node", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/campaigns/%d", f.alpha)
		var v campaignView
		f.do("POST", path+"/start", tokAdmin, "", "").must(t, 200).json(t, &v)
		if v.State != "running" || v.Live == nil || v.Live.QueueDepth != 7 {
			t.Fatalf("after start %+v", v)
		}
		f.do("POST", path+"/pause", tokAdmin, "", "").must(t, 200).json(t, &v)
		if v.State != "paused" {
			t.Fatalf("after pause %+v", v)
		}
		var stopped campaignView
		f.do("POST", path+"/stop", tokAdmin, "", "").must(t, 200).json(t, &stopped)
		if stopped.State != "stopped" || stopped.Live != nil {
			t.Fatalf("after stop %+v", stopped)
		}
		if r := f.do("POST", path+"/start", tokAdmin, "", "").must(t, 409); !strings.Contains(r.errorBody(t).Error, "stopped") {
			t.Errorf("restart error %s", r.body)
		}
		f.ctl.mu.Lock()
		calls := slices.Clone(f.ctl.calls)
		f.ctl.mu.Unlock()
		if want := []string{fmt.Sprintf("start %d", f.alpha), fmt.Sprintf("pause %d", f.alpha), fmt.Sprintf("stop %d", f.alpha)}; !slices.Equal(calls, want) {
			t.Fatalf("node told %v, want %v", calls, want)
		}
		for _, a := range []string{"campaign.start", "campaign.pause", "campaign.stop"} {
			if len(f.audit.find(a)) != 1 {
				t.Errorf("%s not audited once", a)
			}
		}
		f.do("PATCH", path, tokAdmin, "", `{"settings":{"cps":3}}`).must(t, 409)
	})
	t.Run("a start the node refuses restores the state", func(t *testing.T) {
		f.ctl.mu.Lock()
		f.ctl.startErr = fmt.Errorf("no trunks configured")
		f.ctl.mu.Unlock()
		defer func() { f.ctl.mu.Lock(); f.ctl.startErr = nil; f.ctl.mu.Unlock() }()
		r := f.do("POST", fmt.Sprintf("/api/v1/campaigns/%d/start", f.beta), tokAdmin, "", "").must(t, 409)
		if !strings.Contains(r.errorBody(t).Error, "no trunks configured") {
			t.Errorf("error %s", r.body)
		}
		c, err := f.st.Campaign(t.Context(), f.beta)
		if err != nil || c.State != store.CampaignDraft {
			t.Fatalf("beta %v %v, want draft", c.State, err)
		}
	})
	t.Run("preview", func(t *testing.T) {
		var p previewBody
		f.get(fmt.Sprintf("/api/v1/campaigns/%d/preview", f.beta), tokAdmin).must(t, 200).json(t, &p)
		if p.Total != 1 || p.Skipped["already done"] != 1 || p.Summary == "" {
			t.Fatalf("preview %+v", p)
		}
	})
}

// badInputCase is one request that must fail with status and name field.
type badInputCase struct {
	name, method, path, token, ctype, body string
	status                                 int
	field                                  string
}

func runBadInput(t *testing.T, f *fixture, cases []badInputCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token
			if tok == "" {
				tok = tokAdmin
			}
			r := f.do(tc.method, tc.path, tok, tc.ctype, tc.body).must(t, tc.status)
			if e := r.errorBody(t); e.Field != tc.field {
				t.Fatalf("field %q, want %q (%s)", e.Field, tc.field, e.Error)
			}
		})
	}
}

func TestBadInputIsRefusedNamingTheField(t *testing.T) {
	f := newFixture(t)
	big := `{"name":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	a := fmt.Sprintf("/api/v1/campaigns/%d", f.alpha)
	runBadInput(t, f, []badInputCase{
		{"campaign id not a number", "GET", "/api/v1/campaigns/abc", "", "", "", 400, "id"},
		{"campaign id unknown", "GET", "/api/v1/campaigns/999", "", "", "", 404, "id"},
		{"campaign of another agent", "GET", fmt.Sprintf("/api/v1/campaigns/%d", f.beta), tokAgent, "", "", 404, "id"},
		{"create without name", "POST", "/api/v1/campaigns", "", "", `{"settings":{}}`, 400, "name"},
		{"create with name of wrong type", "POST", "/api/v1/campaigns", "", "", `{"name":5}`, 400, "name"},
		{"create with unknown field", "POST", "/api/v1/campaigns", "", "", `{"name":"x","colour":"red"}`, 400, "colour"},
		{"create with bad settings", "POST", "/api/v1/campaigns", "", "", `{"name":"x","settings":{"time_zone":"Mars/Base"}}`, 422, "settings"},
		{"create with unknown setting", "POST", "/api/v1/campaigns", "", "", `{"name":"x","settings":{"cpz":1}}`, 422, "settings"},
		{"create with malformed JSON", "POST", "/api/v1/campaigns", "", "", `{"name":`, 400, ""},
		{"create with empty body", "POST", "/api/v1/campaigns", "", mediaJSON, "", 400, ""},
		{"create with a body over the limit", "POST", "/api/v1/campaigns", "", "", big, 413, ""},
		{"create as XML", "POST", "/api/v1/campaigns", "", "application/xml", `<x/>`, 415, "Content-Type"},
		{"patch without settings", "PATCH", a, "", "", `{}`, 400, "settings"},
		{"patch with settings not an object", "PATCH", a, "", "", `{"settings":[1]}`, 400, "settings"},
		{"patch with a bad window", "PATCH", a, "", "", `{"settings":{"windows":[{"from":"25:00","to":"26:00"}]}}`, 422, "settings"},
		{"import with a bad phone", "POST", a + "/contacts", "", "", `{"contacts":[{"phone":"13811112222"},{"phone":"12ab"}]}`, 400, "contacts[1].phone"},
		{"import without phone", "POST", a + "/contacts", "", "", `{"contacts":[{"name":"x"}]}`, 400, "contacts[0].phone"},
		{"import with priority out of range", "POST", a + "/contacts", "", "", `{"contacts":[{"phone":"13811112222","priority":150}]}`, 400, "contacts[0].priority"},
		{"import with priority of wrong type", "POST", a + "/contacts", "", "", `{"contacts":[{"phone":"13811112222","priority":"high"}]}`, 400, "contacts.priority"},
		{"import with unknown zone", "POST", a + "/contacts", "", "", `{"contacts":[{"phone":"13811112222","time_zone":"Nowhere/City"}]}`, 400, "contacts[0].time_zone"},
		{"import without contacts", "POST", a + "/contacts", "", "", `{}`, 400, "contacts"},
		{"import a CSV without phone column", "POST", a + "/contacts", "", mediaCSV, "name\nLi\n", 400, "body"},
		{"import into an unknown campaign", "POST", "/api/v1/campaigns/999/contacts", "", "", `{"contacts":[{"phone":"13811112222"}]}`, 404, "id"},
		{"contacts with unknown state", "GET", a + "/contacts?state=happy", "", "", "", 400, "state"},
		{"contacts with bad limit", "GET", a + "/contacts?limit=0", "", "", "", 400, "limit"},
		{"contacts with bad offset", "GET", a + "/contacts?offset=x", "", "", "", 400, "offset"},
		{"contact unknown", "GET", "/api/v1/contacts/999", "", "", "", 404, "id"},
		{"contact of another campaign for an agent", "GET", fmt.Sprintf("/api/v1/contacts/%d", f.contacts[phoneB1]), tokAgent, "", "", 404, "id"},
		{"dnc with bad phone", "POST", "/api/v1/dnc", "", "", `{"phone":"abc"}`, 400, "phone"},
		{"dnc for an unknown campaign", "POST", "/api/v1/dnc", "", "", `{"phone":"13811112222","campaign_id":999}`, 404, "campaign_id"},
		{"dnc global for an agent", "POST", "/api/v1/dnc", tokDesk, "", `{"phone":"13811112222"}`, 403, "campaign_id"},
		{"dnc remove a number not listed", "DELETE", "/api/v1/dnc/13811112222", "", "", "", 404, "phone"},
		{"dnc list with bad campaign", "GET", "/api/v1/dnc?campaign=-1", "", "", "", 400, "campaign"},
		{"calls with bad limit", "GET", "/api/v1/calls?limit=5000", "", "", "", 400, "limit"},
		{"calls with negative limit", "GET", "/api/v1/calls?limit=-1", "", "", "", 400, "limit"},
		{"calls of an unknown campaign", "GET", "/api/v1/calls?campaign=999", "", "", "", 404, "campaign"},
		{"call unknown", "GET", "/api/v1/calls/nope", "", "", "", 404, "id"},
		{"call of another campaign for an agent", "GET", "/api/v1/calls/rec-b1", tokAgent, "", "", 404, "id"},
		{"place without to", "POST", "/api/v1/calls", "", "", `{"trunk":"carrier"}`, 400, "to"},
		{"place to a bad number", "POST", "/api/v1/calls", "", "", `{"to":"call me"}`, 400, "to"},
		{"place through an unknown trunk", "POST", "/api/v1/calls", "", "", `{"to":"13811112222","trunk":"other"}`, 400, "trunk"},
		{"place with a bad script name", "POST", "/api/v1/calls", "", "", `{"to":"13811112222","script":"../etc"}`, 400, "script"},
		{"place with variables of wrong type", "POST", "/api/v1/calls", "", "", `{"to":"13811112222","variables":{"a":1}}`, 400, "variables"},
		{"hang up a call not live", "POST", "/api/v1/calls/nope/hangup", "", "", "", 404, "id"},
		{"recording unknown", "GET", "/api/v1/recordings/nope", "", "", "", 404, "call_id"},
		{"recording of another campaign for an agent", "GET", "/api/v1/recordings/rec-b1", tokAgent, "", "", 404, "call_id"},
		{"script with a bad name", "GET", "/api/v1/scripts/..%2Fsecret", "", "", "", 400, "name"},
		{"script unknown", "GET", "/api/v1/scripts/nope", "", "", "", 404, "name"},
		{"script as JSON", "PUT", "/api/v1/scripts/x", "", mediaJSON, `{"a":1}`, 415, "Content-Type"},
		{"script empty", "PUT", "/api/v1/scripts/x", "", mediaYAML, "  \n", 400, "body"},
		{"kpis with bad group", "GET", "/api/v1/kpis?group_by=colour", "", "", "", 400, "group_by"},
		{"kpis with bad time", "GET", "/api/v1/kpis?from=yesterday", "", "", "", 400, "from"},
		{"kpis with bad span", "GET", "/api/v1/kpis?span=-1h", "", "", "", 400, "span"},
		{"kpis with bad zone", "GET", "/api/v1/kpis?tz=Nowhere/City", "", "", "", 400, "tz"},
		{"kpis of another campaign for an agent", "GET", fmt.Sprintf("/api/v1/kpis?campaign=%d", f.beta), tokAgent, "", "", 404, "campaign"},
		{"events of an unknown campaign", "GET", "/ws/events?campaign=999", "", "", "", 404, "campaign"},
	})
}

func TestContactRoutes(t *testing.T) {
	f := newFixture(t)
	a := fmt.Sprintf("/api/v1/campaigns/%d/contacts", f.alpha)
	t.Run("JSON import normalises phones and counts duplicates", func(t *testing.T) {
		var res importResult
		f.do("POST", a, tokDesk, "", `{"contacts":[{"phone":"138 1111-2222","name":"Chen","priority":5,"tags":["vip"],"custom":{"age":41,"alt_phone":"13799998888"}},
			{"phone":"13812345678"},{"phone":"13811112222"}]}`).must(t, 200).json(t, &res)
		if res.Added != 1 || res.Duplicate != 2 {
			t.Fatalf("import %+v: want 1 added, 2 duplicates (one in the campaign, one repeated in the body)", res)
		}
		if e := f.audit.find("contact.import"); len(e) != 1 || e[0].User != tokDesk {
			t.Fatalf("audit %+v", e)
		}
	})
	t.Run("CSV import", func(t *testing.T) {
		var res importResult
		f.do("POST", a, tokAdmin, mediaCSV+"; charset=utf-8", "phone,name,score\n13933334444,Sun,7\n13812345678,Li,1\n").must(t, 200).json(t, &res)
		if res.Added != 1 || res.Duplicate != 1 {
			t.Fatalf("import %+v", res)
		}
	})
	t.Run("list pages, filters and masks", func(t *testing.T) {
		var page pageBody[contactView]
		f.get(a+"?limit=2&offset=1", tokAnalyst).must(t, 200).json(t, &page)
		if page.Total != 4 || len(page.Items) != 2 || page.Offset != 1 || page.Limit != 2 {
			t.Fatalf("page %+v", page)
		}
		for _, k := range page.Items {
			if !strings.Contains(k.Phone, "****") {
				t.Errorf("analyst sees %q unmasked", k.Phone)
			}
		}
		f.get(a+"?state=pending&limit=1000", tokAnalyst).must(t, 200).json(t, &page)
		i := slices.IndexFunc(page.Items, func(k contactView) bool { return k.Name == "Chen" })
		if i < 0 || page.Items[i].Custom["alt_phone"] != "137****8888" || page.Items[i].Custom["age"] != 41.0 {
			t.Fatalf("analyst sees Chen as %+v", page.Items)
		}
		f.get(a+"?state=done", tokAdmin).must(t, 200).json(t, &page)
		if page.Total != 1 || page.Items[0].Phone != phoneA1 || page.Items[0].Attempts != 1 {
			t.Fatalf("done contacts %+v", page.Items)
		}
		f.get(a+"?offset=50", tokAdmin).must(t, 200).json(t, &page)
		if len(page.Items) != 0 || page.Total != 4 {
			t.Fatalf("past the end %+v", page)
		}
	})
	t.Run("get one with its calls, masked and audited", func(t *testing.T) {
		var k contactDetail
		id := f.contacts[phoneA1]
		f.get(fmt.Sprintf("/api/v1/contacts/%d", id), tokAgent).must(t, 200).json(t, &k)
		if k.Phone != "138****5678" || k.Name != "Li" || len(k.Calls) != 1 || k.Calls[0].Phone != "138****5678" || k.Calls[0].Outcome != "interested" {
			t.Fatalf("contact %+v", k)
		}
		e := f.audit.find("contact.read")
		if len(e) != 1 || e[0].Object != fmt.Sprintf("contact:%d", id) || strings.Contains(e[0].Detail, phoneA1) {
			t.Fatalf("audit %+v: want the read, masked", e)
		}
		f.get(fmt.Sprintf("/api/v1/contacts/%d", id), tokAdmin).must(t, 200).json(t, &k)
		if k.Phone != phoneA1 {
			t.Fatalf("admin sees %q", k.Phone)
		}
	})
}

func TestDoNotCallRoutes(t *testing.T) {
	f := newFixture(t)
	var v dncView
	f.do("POST", "/api/v1/dnc", tokAdmin, "", `{"phone":"+86 138-0000-9999","reason":"asked"}`).must(t, 201).json(t, &v)
	if v.Phone != "+8613800009999" || v.CampaignID != 0 {
		t.Fatalf("added %+v", v)
	}
	f.do("POST", "/api/v1/dnc", tokDesk, "", fmt.Sprintf(`{"phone":"13800001234","campaign_id":%d}`, f.alpha)).must(t, 201)
	var list listBody[dncView]
	f.get("/api/v1/dnc", tokAnalyst).must(t, 200).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Phone != "+86****9999" || list.Items[0].Reason != "asked" {
		t.Fatalf("global list %+v", list.Items)
	}
	f.get(fmt.Sprintf("/api/v1/dnc?campaign=%d", f.alpha), tokAgent).must(t, 200).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Phone != "138****1234" {
		t.Fatalf("alpha's list %+v", list.Items)
	}
	f.get("/api/v1/dnc", tokAgent).must(t, 403)
	f.do("DELETE", "/api/v1/dnc/+8613800009999", tokAdmin, "", "").must(t, 204)
	f.get("/api/v1/dnc", tokAdmin).must(t, 200).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("after remove %+v", list.Items)
	}
	for _, a := range []string{"dnc.add", "dnc.list", "dnc.remove"} {
		for _, e := range f.audit.find(a) {
			if strings.Contains(e.Detail, "8613800009999") || strings.Contains(e.Detail, "13800001234") {
				t.Errorf("%s audit detail %q holds a full number", a, e.Detail)
			}
		}
		if len(f.audit.find(a)) == 0 {
			t.Errorf("%s not audited", a)
		}
	}
}

func TestCallRoutes(t *testing.T) {
	f := newFixture(t)
	f.calls.live = []CallInfo{
		{ID: "live-a", CampaignID: f.alpha, ContactID: f.contacts[phoneA2], Phone: phoneA2, State: "answered"},
		{ID: "live-b", CampaignID: f.beta, Phone: phoneB1, State: "ringing"},
		{ID: "live-x", Phone: "13700000000", State: "dialing"},
	}
	t.Run("list: live first, then records, scoped and masked", func(t *testing.T) {
		var all listBody[callView]
		f.get("/api/v1/calls", tokAdmin).must(t, 200).json(t, &all)
		var ids []string
		for _, c := range all.Items {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids[:3], []string{"live-a", "live-b", "live-x"}) || len(ids) != 5 || !all.Items[0].Live || all.Items[3].Live {
			t.Fatalf("admin's calls %v", ids)
		}
		var mine listBody[callView]
		f.get("/api/v1/calls", tokAgent).must(t, 200).json(t, &mine)
		if len(mine.Items) != 2 || mine.Items[0].ID != "live-a" || mine.Items[1].ID != "rec-a1" || mine.Items[1].Phone != "138****5678" {
			t.Fatalf("agent's calls %+v", mine.Items)
		}
		if mine.Items[1].Transcript != nil {
			t.Error("the list carries transcripts")
		}
		f.get(fmt.Sprintf("/api/v1/calls?campaign=%d&limit=1", f.beta), tokAdmin).must(t, 200).json(t, &all)
		if len(all.Items) != 2 || all.Items[0].ID != "live-b" || all.Items[1].ID != "rec-b1" {
			t.Fatalf("beta's calls %+v", all.Items)
		}
		f.get("/api/v1/calls?limit=0", tokAdmin).must(t, 200).json(t, &all)
		if len(all.Items) != 3 || !all.Items[2].Live {
			t.Fatalf("live calls alone %+v", all.Items)
		}
		if len(f.audit.find("call.list")) != 4 {
			t.Error("call lists not audited")
		}
	})
	t.Run("get by Call-ID and by record id, with transcript", func(t *testing.T) {
		var c callView
		f.get("/api/v1/calls/rec-a1", tokAgent).must(t, 200).json(t, &c)
		if c.RecordID != f.recordID || c.State != "ended" || c.AnsweredBy != "human" || !strings.Contains(string(c.Transcript), "yes please") ||
			c.Recording != "/api/v1/recordings/rec-a1" || c.Phone != "138****5678" {
			t.Fatalf("call %+v", c)
		}
		// Numbers said in the transcript are masked too; its other numbers are not.
		if tr := string(c.Transcript); strings.Contains(tr, phoneA1) || !strings.Contains(tr, "138****5678") || !strings.Contains(tr, "1500000000") {
			t.Fatalf("agent's transcript %s", tr)
		}
		f.get(fmt.Sprintf("/api/v1/calls/%d", f.recordID), tokAdmin).must(t, 200).json(t, &c)
		if c.ID != "rec-a1" || c.Phone != phoneA1 || !strings.Contains(string(c.Transcript), phoneA1) {
			t.Fatalf("by record id %+v", c)
		}
		if e := f.audit.find("call.read"); len(e) != 2 || strings.Contains(e[1].Detail, phoneA1) {
			t.Fatalf("audit %+v", e)
		}
	})
	t.Run("place and hang up", func(t *testing.T) {
		r := f.do("POST", "/api/v1/calls", tokAnalyst, "", `{"to":"139-0000-2222","trunk":"carrier","variables":{"name":"Li"}}`).must(t, 202)
		var c callView
		r.json(t, &c)
		if c.ID != "placed-1" || !c.Live || c.Phone != "139****2222" || r.header.Get("Location") != "/api/v1/calls/placed-1" {
			t.Fatalf("placed %+v", c)
		}
		if p := f.calls.placed[0]; p.To != "13900002222" || p.Variables["name"] != "Li" {
			t.Fatalf("node asked for %+v", p)
		}
		f.do("POST", "/api/v1/calls/placed-1/hangup", tokAnalyst, "", "").must(t, 204)
		if !slices.Equal(f.calls.hung, []string{"placed-1"}) {
			t.Fatalf("hung up %v", f.calls.hung)
		}
		if len(f.audit.find("call.place")) != 1 || len(f.audit.find("call.hangup")) != 1 {
			t.Error("place or hangup not audited")
		}
		// An agent calls a contact of their campaign by id, never by number.
		r = f.do("POST", "/api/v1/calls", tokAgent, "", fmt.Sprintf(`{"contact_id":%d}`, f.contacts[phoneA2])).must(t, 202)
		r.json(t, &c)
		if p := f.calls.placed[1]; p.To != phoneA2 || p.CampaignID != f.alpha || c.Phone != "139****1111" {
			t.Fatalf("agent's call %+v, answered %+v", p, c)
		}
		f.do("POST", "/api/v1/calls", tokAgent, "", `{"to":"13900002222"}`).must(t, 403)
		f.do("POST", "/api/v1/calls", tokAgent, "", fmt.Sprintf(`{"contact_id":%d}`, f.contacts[phoneB1])).must(t, 404)
		f.do("POST", "/api/v1/calls", tokAdmin, "", fmt.Sprintf(`{"contact_id":%d,"to":"13700000001"}`, f.contacts[phoneB1])).must(t, 400)
		f.calls.err = fmt.Errorf("trunk down")
		f.do("POST", "/api/v1/calls", tokAnalyst, "", `{"to":"13900002222"}`).must(t, 502)
	})
	t.Run("recordings stream for visible calls only", func(t *testing.T) {
		r := f.get("/api/v1/recordings/rec-a1", tokAgent).must(t, 200)
		if string(r.body) != "RIFF-alpha" || r.header.Get("Content-Type") != "audio/wav" {
			t.Fatalf("recording %q %q", r.body, r.header.Get("Content-Type"))
		}
		if e := f.audit.find("recording.download"); len(e) != 1 || e[0].Object != "call:rec-a1" {
			t.Fatalf("audit %+v", e)
		}
		// Webhooks link recordings by call record id.
		r = f.get(fmt.Sprintf("/api/v1/recordings/%d", f.recordID), tokAdmin).must(t, 200)
		if string(r.body) != "RIFF-alpha" {
			t.Fatalf("recording by record id %q", r.body)
		}
		// A call outside every campaign (inbound) is downloaded by Call-ID.
		if r := f.get("/api/v1/recordings/inbound-1", tokSuper).must(t, 200); string(r.body) != "RIFF-in" {
			t.Fatalf("inbound recording %q", r.body)
		}
		f.get("/api/v1/recordings/inbound-1", tokAgent).must(t, 404)
	})
}

func TestRoutesWithoutTheirDependencyAnswer503(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Calls, c.Recordings, c.ScriptsDir = nil, nil, "" })
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/calls", `{"to":"13811112222"}`},
		{"POST", "/api/v1/calls/x/hangup", ""},
		{"GET", "/api/v1/recordings/rec-a1", ""},
		{"GET", "/api/v1/scripts", ""},
		{"PUT", "/api/v1/scripts/x", "name: x"},
	} {
		ct := ""
		if strings.HasPrefix(tc.body, "name") {
			ct = mediaYAML
		}
		f.do(tc.method, tc.path, tokAdmin, ct, tc.body).must(t, 503).errorBody(t)
	}
	// Records still list without a node's live calls.
	var all listBody[callView]
	f.get("/api/v1/calls", tokAdmin).must(t, 200).json(t, &all)
	if len(all.Items) != 2 {
		t.Fatalf("calls %+v", all.Items)
	}
}

func TestScriptRoutes(t *testing.T) {
	f := newFixture(t)
	good, err := os.ReadFile("../dialog/testdata/loan_en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b scriptBody
	f.do("PUT", "/api/v1/scripts/loan", tokAdmin, mediaYAML, string(good)).must(t, 200).json(t, &b)
	if !b.Valid || b.Name != "loan" || b.Nodes == 0 || b.Source != string(good) {
		t.Fatalf("stored %+v", b.scriptInfo)
	}
	if e := f.audit.find("script.write"); len(e) != 1 || e[0].Object != "script:loan" {
		t.Fatalf("audit %+v", e)
	}
	stored, err := os.ReadFile(f.scripts + "/loan.yaml")
	if err != nil || string(stored) != string(good) {
		t.Fatalf("file: %v", err)
	}

	bad := strings.Replace(string(good), "next:", "nxt:", 1)
	r := f.do("PUT", "/api/v1/scripts/loan", tokAdmin, "text/yaml", bad).must(t, 422)
	var refused struct {
		errorBody
		Errors []scriptIssue `json:"errors"`
	}
	r.json(t, &refused)
	if refused.Field != "body" || len(refused.Errors) == 0 || refused.Errors[0].Line == 0 || !strings.Contains(refused.Errors[0].Message, "nxt") {
		t.Fatalf("refusal %s", r.body)
	}
	if again, _ := os.ReadFile(f.scripts + "/loan.yaml"); string(again) != string(good) {
		t.Fatal("a refused script replaced the stored one")
	}

	var check scriptCheck
	f.do("POST", "/api/v1/scripts/validate", tokSuper, mediaYAML, bad).must(t, 200).json(t, &check)
	if check.Valid || len(check.Errors) == 0 {
		t.Fatalf("validate %+v", check)
	}
	f.do("POST", "/api/v1/scripts/validate", tokSuper, mediaYAML, string(good)).must(t, 200).json(t, &check)
	if !check.Valid || check.Title == "" {
		t.Fatalf("validate %+v", check)
	}

	// A file edited by hand into a broken state is listed, marked invalid.
	if err := os.WriteFile(f.scripts+"/broken.yaml", []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var list listBody[scriptInfo]
	f.get("/api/v1/scripts", tokViewerWith(f, auth.PermScriptsRead)).must(t, 200).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "broken" || list.Items[0].Valid || !list.Items[1].Valid {
		t.Fatalf("list %+v", list.Items)
	}
	f.get("/api/v1/scripts/loan", tokAdmin).must(t, 200).json(t, &b)
	if b.Source != string(good) || !b.Valid {
		t.Fatalf("get %+v", b.scriptInfo)
	}
	f.do("PUT", "/api/v1/scripts/loan", tokSuper, mediaYAML, string(good)).must(t, 200)
}

// tokViewerWith registers a user whose custom role holds just perms and
// returns its label.
func tokViewerWith(f *fixture, perms ...auth.Permission) string {
	name := fmt.Sprintf("limited%d", len(f.tokens))
	var names []string
	for _, p := range perms {
		names = append(names, string(p))
	}
	f.role(name, names)
	f.user(name, name, nil)
	return name
}

func TestTrunkRoute(t *testing.T) {
	f := newFixture(t)
	var list listBody[TrunkInfo]
	f.get("/api/v1/trunks", tokViewer).must(t, 200).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "carrier" || list.Items[0].Registration != "registered" {
		t.Fatalf("trunks %+v", list.Items)
	}
}

func TestKPIRouteIsScopedToTheCallersCampaigns(t *testing.T) {
	f := newFixture(t)
	var all, mine, alpha kpi.Report
	f.get("/api/v1/kpis?group_by=campaign", tokViewer).must(t, 200).json(t, &all)
	if all.Total.Calls != 2 || len(all.Groups) != 2 {
		t.Fatalf("all %+v", all)
	}
	if v := all.Total.KPIs.AnswerSeizureRatio; v.Value != 1 || v.Denominator != 2 {
		t.Fatalf("answer-seizure ratio %+v", v)
	}
	f.get("/api/v1/kpis", tokAgent).must(t, 200).json(t, &mine)
	if mine.Total.Calls != 1 {
		t.Fatalf("agent's total %+v", mine.Total)
	}
	f.get(fmt.Sprintf("/api/v1/kpis?campaign=%d&span=1h", f.alpha), tokAdmin).must(t, 200).json(t, &alpha)
	if alpha.Total.Calls != 1 || alpha.CampaignID != f.alpha {
		t.Fatalf("alpha %+v", alpha)
	}
	var none kpi.Report
	f.get("/api/v1/kpis?from=2026-03-01T00:00:00Z&to=2026-03-01T12:00:00Z", tokAdmin).must(t, 200).json(t, &none)
	if none.Total.Calls != 0 {
		t.Fatalf("a range with no calls counts %d", none.Total.Calls)
	}
}

func TestAFailedAuditWriteFailsTheRequest(t *testing.T) {
	f := newFixture(t)
	f.audit.setFail(true)
	a := fmt.Sprintf("/api/v1/campaigns/%d", f.alpha)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", fmt.Sprintf("/api/v1/contacts/%d", f.contacts[phoneA1]), ""},
		{"GET", a + "/contacts", ""},
		{"GET", "/api/v1/calls", ""},
		{"GET", "/api/v1/calls/rec-a1", ""},
		{"GET", "/api/v1/recordings/rec-a1", ""},
		{"POST", "/api/v1/campaigns", `{"name":"delta"}`},
		{"POST", "/api/v1/dnc", `{"phone":"13811110000"}`},
	} {
		r := f.do(tc.method, tc.path, tokAdmin, "", tc.body).must(t, 500)
		if strings.Contains(string(r.body), phoneA1) || strings.Contains(string(r.body), "RIFF") {
			t.Errorf("%s %s: personal data sent although the audit failed: %s", tc.method, tc.path, r.body)
		}
	}
	// Reads without personal data need no audit entry.
	f.get("/api/v1/campaigns", tokAdmin).must(t, 200)
}

func TestAuditRoutesSearchAndVerifyTheChain(t *testing.T) {
	f := newFixture(t)
	f.get(fmt.Sprintf("/api/v1/contacts/%d", f.contacts[phoneA1]), tokAgent).must(t, 200)
	f.do("POST", "/api/v1/campaigns", tokAdmin, "", `{"name":"audited"}`).must(t, 201)
	f.get("/api/v1/dnc", tokSuper).must(t, 200)

	var page auditPage
	f.get("/api/v1/audit?action=contact.", tokAdmin).must(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].User != tokAgent || page.Items[0].Remote != "127.0.0.1" || len(page.Items[0].Hash) != 64 {
		t.Fatalf("contact actions %+v", page.Items)
	}
	f.get("/api/v1/audit?user="+tokAdmin, tokAdmin).must(t, 200).json(t, &page)
	if len(page.Items) != 2 || page.Items[0].Action != "audit.read" || page.Items[1].Action != "campaign.create" {
		t.Fatalf("admin's actions %+v: want the earlier search and the create, newest first", page.Items)
	}
	f.get("/api/v1/audit?limit=2", tokAdmin).must(t, 200).json(t, &page)
	if len(page.Items) != 2 || page.NextBefore != page.Items[1].Seq {
		t.Fatalf("first page %+v", page)
	}
	older := page.NextBefore
	f.get(fmt.Sprintf("/api/v1/audit?limit=2&before=%d", older), tokAdmin).must(t, 200).json(t, &page)
	if len(page.Items) == 0 || page.Items[0].Seq >= older {
		t.Fatalf("second page %+v", page.Items)
	}
	f.get("/api/v1/audit?from=2030-01-01T00:00:00Z", tokAdmin).must(t, 200).json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("future range %+v", page.Items)
	}
	var v auditVerify
	f.get("/api/v1/audit/verify", tokAdmin).must(t, 200).json(t, &v)
	if !v.OK || v.Rows < 5 || v.Head == "" {
		t.Fatalf("verify %+v", v)
	}
	f.get("/api/v1/audit", tokSuper).must(t, 403)
	runBadInput(t, f, []badInputCase{
		{"audit with a bad time", "GET", "/api/v1/audit?to=today", "", "", "", 400, "to"},
		{"audit with a bad limit", "GET", "/api/v1/audit?limit=0", "", "", "", 400, "limit"},
	})
}

func TestUnknownAPIPathsAndMethodsAnswerJSON(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>dashboard</html>") })
	})
	r := f.do("DELETE", "/api/v1/campaigns", tokAdmin, "", "").must(t, 405)
	if allow := r.header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow %q", allow)
	}
	r.errorBody(t)
	r = f.do("PUT", fmt.Sprintf("/api/v1/campaigns/%d", f.alpha), tokAdmin, "", "").must(t, 405)
	if allow := r.header.Get("Allow"); allow != "GET, PATCH" {
		t.Errorf("Allow %q", allow)
	}
	f.get("/api/v1/nothing", tokAdmin).must(t, 404).errorBody(t)
	if r := f.get("/", "").must(t, 200); string(r.body) != "<html>dashboard</html>" {
		t.Fatalf("pages %q", r.body)
	}
}

// brokenAuth fails as a store that went away does.
type brokenAuth struct{}

func (brokenAuth) Authenticate(context.Context, string) (*auth.Principal, error) {
	return nil, errors.New("authenticate: database is locked")
}

func TestAnAuthenticatorFailureIsNotA401(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Auth = brokenAuth{} })
	r := f.get("/api/v1/campaigns", tokAdmin).must(t, 503)
	if e := r.errorBody(t); strings.Contains(e.Error, "locked") {
		t.Errorf("internal detail sent to the client: %q", e.Error)
	}
}

func TestCallExportIsCSVMaskedPerReader(t *testing.T) {
	f := newFixture(t)
	f.call(t.Context(), f.alpha, phoneA2, "rec-a2", time.Date(2026, 3, 2, 9, 40, 0, 0, time.UTC), "=HYPERLINK(\"http://x\")")
	path := fmt.Sprintf("/api/v1/campaigns/%d/calls.csv", f.alpha)
	read := func(token string) [][]string {
		t.Helper()
		r := f.get(path, token).must(t, 200)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("Content-Type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows := read(tokAdmin)
	if len(rows) != 3 || !slices.Equal(rows[0], exportColumns) {
		t.Fatalf("export %v", rows)
	}
	col := func(name string) int { return slices.Index(exportColumns, name) }
	if rows[1][col("phone")] != phoneA1 || rows[1][col("sip_call_id")] != "rec-a1" || rows[1][col("answered_at")] != "2026-03-02T09:30:05Z" {
		t.Fatalf("first row %v", rows[1])
	}
	if got := rows[2][col("outcome")]; got != `'=HYPERLINK("http://x")` {
		t.Fatalf("a formula went out as %q", got)
	}
	if rows := read(tokAnalyst); rows[1][col("phone")] != "138****5678" {
		t.Fatalf("analyst's export %v", rows[1])
	}
	f.get(fmt.Sprintf("/api/v1/campaigns/%d/calls.csv", f.beta), tokAgent).must(t, 404)
	if e := f.audit.find("call.export"); len(e) != 2 || e[0].Detail != "2 records; numbers unmasked" || e[1].Detail != "2 records" {
		t.Fatalf("audit %+v", e)
	}
}

func TestRequeuePutsInterruptedContactsBack(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// Node n2 claims alpha's pending contact, begins the attempt and dies.
	claimed, err := f.st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: f.alpha, Node: "n2", Now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), Limit: 10})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if _, err := f.st.BeginAttempt(ctx, store.CallRecord{CampaignID: f.alpha, ContactID: claimed[0].ID, Phone: claimed[0].Phone, Node: "n2"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Recover(ctx, f.alpha, "n2"); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/campaigns/%d/requeue", f.alpha)
	var res requeueResult
	f.do("POST", path, tokDesk, "", `{"from":"exhausted"}`).must(t, 200).json(t, &res)
	if res.Requeued != 0 {
		t.Fatalf("exhausted requeue %+v", res)
	}
	f.do("POST", path, tokDesk, "", `{"from":"interrupted"}`).must(t, 200).json(t, &res)
	if res.Requeued != 1 {
		t.Fatalf("interrupted requeue %+v", res)
	}
	k, err := f.st.Contact(ctx, claimed[0].ID)
	if err != nil || k.State != store.StatePending {
		t.Fatalf("contact %+v %v, want pending", k.State, err)
	}
	if e := f.audit.find("contact.requeue"); len(e) != 2 || e[1].Detail != "1 interrupted contacts" {
		t.Fatalf("audit %+v", e)
	}
	runBadInput(t, f, []badInputCase{
		{"requeue without from", "POST", path, "", "", `{}`, 400, "from"},
		{"requeue from dialing", "POST", path, "", "", `{"from":"dialing"}`, 400, "from"},
		{"requeue another agent's campaign", "POST", fmt.Sprintf("/api/v1/campaigns/%d/requeue", f.beta), tokDesk, "", `{"from":"interrupted"}`, 404, "id"},
	})
}

func TestCurlsDefaultContentTypeIsReadAsJSON(t *testing.T) {
	f := newFixture(t)
	form := "application/x-www-form-urlencoded"
	f.do("POST", "/api/v1/campaigns", tokAdmin, form, `{"name":"by-curl"}`).must(t, 201)
	var res importResult
	f.do("POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts", f.beta), tokAdmin, form, `{"contacts":[{"phone":"13811110000"}]}`).must(t, 200).json(t, &res)
	if res.Added != 1 {
		t.Fatalf("import %+v", res)
	}
	f.do("POST", "/api/v1/campaigns", tokAdmin, "multipart/form-data; boundary=x", `--x--`).must(t, 415)
}
