package server

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/waihu/waihu/server/analytics"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
)

// route is one entry of the table that both the mux and the OpenAPI
// document are built from.
type route struct {
	method string
	// path is a ServeMux pattern path ("/api/v1/campaigns/{id}").
	path string
	// perm is the permission the route needs. Empty with public set means
	// no token at all; empty without public means any valid token.
	perm   auth.Permission
	public bool
	// tag and summary group and describe the route in the OpenAPI document.
	tag     string
	summary string
	// query lists the query parameters the route reads.
	query []param
	// body is the request body's type (nil: none); bodyTypes are the media
	// types accepted, default application/json.
	body      reflect.Type
	bodyTypes []string
	// status is the success status; resp its body's type (nil: none) and
	// respType its media type, default application/json.
	status   int
	resp     reflect.Type
	respType string
	// fails lists the error statuses particular to the route, beyond those
	// every route of its shape has (401, 403, 400, 404, 413, 503).
	fails []int
	h     func(w http.ResponseWriter, r *http.Request) error
}

// pattern is the route's ServeMux pattern.
func (rt *route) pattern() string { return rt.method + " " + rt.path }

// param is one query parameter of a route.
type param struct {
	name, typ, doc string
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Media types a route may accept or produce.
const (
	mediaJSON = "application/json"
	mediaCSV  = "text/csv"
	mediaYAML = "application/yaml"
)

// routeTable lists every route the server serves but the pages at /.
func (s *Server) routeTable() []*route {
	pageParams := []param{
		{"offset", "integer", "how many items to skip (default 0)"},
		{"limit", "integer", "how many items to return (default 100, at most 1000)"},
	}
	return []*route{
		{method: "GET", path: "/healthz", public: true, tag: "system", summary: "Liveness for load balancers; needs no token.",
			status: 200, resp: typeOf[healthBody](), h: s.healthz},
		{method: "GET", path: "/openapi.json", tag: "system", summary: "This document.",
			status: 200, resp: typeOf[map[string]any](), h: s.openapi},
		{method: "GET", path: "/metrics", perm: auth.PermKPIRead, public: s.cfg.OpenMetrics, tag: "system",
			summary: "Prometheus metrics; needs kpis:read unless the server runs with open metrics.",
			status:  200, respType: "text/plain", h: s.serveMetrics},
		{method: "GET", path: "/ws/events", perm: auth.PermEventsRead, tag: "events",
			summary: "WebSocket of live call events and KPI snapshots; the token may be passed as ?access_token=.",
			query:   []param{{"campaign", "integer", "only this campaign's events"}, {"access_token", "string", "the API token, for browsers"}},
			status:  101, resp: typeOf[wsMessage](), h: s.events},

		{method: "GET", path: "/api/v1/trunks", perm: auth.PermTrunksRead, tag: "trunks", summary: "List the SIP trunks and their registration.",
			status: 200, resp: typeOf[listBody[TrunkInfo]](), h: s.listTrunks},

		{method: "GET", path: "/api/v1/scripts", perm: auth.PermScriptsRead, tag: "scripts", summary: "List the call scripts, each validated.",
			status: 200, resp: typeOf[listBody[scriptInfo]](), h: s.listScripts},
		{method: "POST", path: "/api/v1/scripts/validate", perm: auth.PermScriptsRead, tag: "scripts", summary: "Validate a script (YAML body) without storing it.",
			body: typeOf[string](), bodyTypes: []string{mediaYAML}, status: 200, resp: typeOf[scriptCheck](), fails: []int{415}, h: s.validateScript},
		{method: "GET", path: "/api/v1/scripts/{name}", perm: auth.PermScriptsRead, tag: "scripts", summary: "Get one script's source and its validation.",
			status: 200, resp: typeOf[scriptBody](), h: s.getScript},
		{method: "PUT", path: "/api/v1/scripts/{name}", perm: auth.PermScriptsWrite, tag: "scripts",
			summary: "Store a script (YAML body) after validating it; 422 lists its errors by line.",
			body:    typeOf[string](), bodyTypes: []string{mediaYAML}, status: 200, resp: typeOf[scriptBody](), fails: []int{415, 422}, h: s.putScript},

		{method: "GET", path: "/api/v1/campaigns", perm: auth.PermCampaignsRead, tag: "campaigns", summary: "List campaigns with their contact counts and live load.",
			status: 200, resp: typeOf[listBody[campaignView]](), h: s.listCampaigns},
		{method: "POST", path: "/api/v1/campaigns", perm: auth.PermCampaignsWrite, tag: "campaigns", summary: "Create a campaign in the draft state.",
			body: typeOf[createCampaignRequest](), status: 201, resp: typeOf[campaignView](), fails: []int{409, 415, 422}, h: s.createCampaign},
		{method: "GET", path: "/api/v1/campaigns/{id}", perm: auth.PermCampaignsRead, tag: "campaigns", summary: "Get one campaign.",
			status: 200, resp: typeOf[campaignView](), h: s.getCampaign},
		{method: "PATCH", path: "/api/v1/campaigns/{id}", perm: auth.PermCampaignsWrite, tag: "campaigns",
			summary: "Change a campaign's settings (a JSON merge patch of the settings document).",
			body:    typeOf[patchCampaignRequest](), status: 200, resp: typeOf[campaignView](), fails: []int{409, 415, 422}, h: s.patchCampaign},
		{method: "POST", path: "/api/v1/campaigns/{id}/start", perm: auth.PermCampaignsWrite, tag: "campaigns", summary: "Start or resume dialling.",
			status: 200, resp: typeOf[campaignView](), fails: []int{409}, h: s.campaignCommand("start")},
		{method: "POST", path: "/api/v1/campaigns/{id}/pause", perm: auth.PermCampaignsWrite, tag: "campaigns", summary: "Pause: calls in progress finish, no one new is dialled.",
			status: 200, resp: typeOf[campaignView](), fails: []int{409}, h: s.campaignCommand("pause")},
		{method: "POST", path: "/api/v1/campaigns/{id}/stop", perm: auth.PermCampaignsWrite, tag: "campaigns", summary: "Stop for good: calls in progress finish.",
			status: 200, resp: typeOf[campaignView](), fails: []int{409}, h: s.campaignCommand("stop")},
		{method: "GET", path: "/api/v1/campaigns/{id}/preview", perm: auth.PermCampaignsRead, tag: "campaigns", summary: "What the campaign would do if started now.",
			status: 200, resp: typeOf[previewBody](), h: s.previewCampaign},

		{method: "POST", path: "/api/v1/campaigns/{id}/contacts", perm: auth.PermContactsWrite, tag: "contacts",
			summary: "Import contacts: JSON {\"contacts\": [...]} or a CSV file with a header row (phone, name, timezone, priority, tags, consent, custom columns).",
			body:    typeOf[importRequest](), bodyTypes: []string{mediaJSON, mediaCSV}, status: 200, resp: typeOf[importResult](), fails: []int{409, 415}, h: s.importContacts},
		{method: "GET", path: "/api/v1/campaigns/{id}/contacts", perm: auth.PermContactsRead, tag: "contacts", summary: "List a campaign's contacts.",
			query:  append([]param{{"state", "string", "only contacts in this state (pending, dialing, done, exhausted, skipped, interrupted)"}}, pageParams...),
			status: 200, resp: typeOf[pageBody[contactView]](), h: s.listContacts},
		{method: "POST", path: "/api/v1/campaigns/{id}/requeue", perm: auth.PermContactsWrite, tag: "contacts",
			summary: "Put the campaign's interrupted or exhausted contacts back to pending, due now: an operator's deliberate choice.",
			body:    typeOf[requeueRequest](), status: 200, resp: typeOf[requeueResult](), fails: []int{409, 415}, h: s.requeueContacts},
		{method: "GET", path: "/api/v1/contacts/{id}", perm: auth.PermContactsRead, tag: "contacts", summary: "Get one contact with its call attempts.",
			status: 200, resp: typeOf[contactDetail](), h: s.getContact},

		{method: "GET", path: "/api/v1/dnc", perm: auth.PermContactsRead, tag: "do-not-call", summary: "List the do-not-call entries of one scope.",
			query:  []param{{"campaign", "integer", "the campaign's suppressions; absent or 0 is the global list"}},
			status: 200, resp: typeOf[listBody[dncView]](), h: s.listDNC},
		{method: "POST", path: "/api/v1/dnc", perm: auth.PermContactsWrite, tag: "do-not-call", summary: "Put a number on the do-not-call list.",
			body: typeOf[dncRequest](), status: 201, resp: typeOf[dncView](), fails: []int{415}, h: s.addDNC},
		{method: "DELETE", path: "/api/v1/dnc/{phone}", perm: auth.PermContactsWrite, tag: "do-not-call", summary: "Take a number off the do-not-call list.",
			query:  []param{{"campaign", "integer", "the campaign's suppression; absent or 0 is the global list"}},
			status: 204, h: s.removeDNC},

		{method: "GET", path: "/api/v1/calls", perm: auth.PermCallsRead, tag: "calls", summary: "List live calls, then call records newest first, one page at a time (next cursor, ?after=).",
			query:  callListParams,
			status: 200, resp: typeOf[callPage](), h: s.listCalls},
		{method: "POST", path: "/api/v1/calls", perm: auth.PermCallsWrite, tag: "calls", summary: "Place one outbound call; 202 once it is under way.",
			body: typeOf[PlaceRequest](), status: 202, resp: typeOf[callView](), fails: []int{415, 502}, h: s.placeCall},
		{method: "GET", path: "/api/v1/calls/{id}", perm: auth.PermCallsRead, tag: "calls",
			summary: "Get one call (live, or a record by SIP Call-ID or record id) with its transcript.",
			status:  200, resp: typeOf[callView](), h: s.getCall},
		{method: "GET", path: "/api/v1/campaigns/{id}/calls.csv", perm: auth.PermCallsRead, tag: "calls",
			summary: "Export a campaign's call records as CSV, phone numbers masked unless the reader may see them.",
			status:  200, respType: "text/csv", h: s.exportCalls},
		{method: "POST", path: "/api/v1/calls/{id}/hangup", perm: auth.PermCallsWrite, tag: "calls", summary: "Hang up a live call.",
			status: 204, h: s.hangupCall},
		{method: "GET", path: "/api/v1/recordings/{call_id}", perm: auth.PermRecordingsRead, tag: "calls", summary: "Download a call's recording (decrypted).",
			status: 200, respType: "audio/wav", h: s.getRecording},

		{method: "GET", path: "/api/v1/audit", perm: auth.PermAuditRead, tag: "audit",
			summary: "Search the audit log by time range, user and action, newest first; the search is itself audited.",
			query:   auditParams, status: 200, resp: typeOf[auditPage](), h: s.searchAudit},
		{method: "GET", path: "/api/v1/audit/verify", perm: auth.PermAuditRead, tag: "audit",
			summary: "Walk the audit log's hash chain and report the first row that was edited, deleted or inserted.",
			status:  200, resp: typeOf[auditVerify](), h: s.verifyAudit},

		{method: "GET", path: "/api/v1/me", tag: "users", summary: "The caller: user, role, permissions and campaigns; any valid token.",
			status: 200, resp: typeOf[meView](), h: s.me},
		{method: "GET", path: "/api/v1/users", perm: auth.PermUsersAdmin, tag: "users", summary: "List users with their roles, campaigns and valid token counts.",
			status: 200, resp: typeOf[listBody[userView]](), h: s.listUsers},
		{method: "POST", path: "/api/v1/users", perm: auth.PermUsersAdmin, tag: "users",
			summary: "Add a user with a role and campaigns, within the caller's own access.",
			body:    typeOf[createUserRequest](), status: 201, resp: typeOf[userView](), fails: []int{409, 415}, h: s.createUser},
		{method: "GET", path: "/api/v1/users/{id}", perm: auth.PermUsersAdmin, tag: "users", summary: "Get one user.",
			status: 200, resp: typeOf[userView](), h: s.getUser},
		{method: "PATCH", path: "/api/v1/users/{id}", perm: auth.PermUsersAdmin, tag: "users",
			summary: "Change a user's role or disable them; 409 if no admin would remain.",
			body:    typeOf[patchUserRequest](), status: 200, resp: typeOf[userView](), fails: []int{409, 415}, h: s.patchUser},
		{method: "PUT", path: "/api/v1/users/{id}/campaigns", perm: auth.PermUsersAdmin, tag: "users",
			summary: "Replace the campaigns assigned to a user ([] clears them).",
			body:    typeOf[assignRequest](), status: 200, resp: typeOf[userView](), fails: []int{415}, h: s.assignCampaigns},
		{method: "GET", path: "/api/v1/roles", perm: auth.PermUsersAdmin, tag: "users", summary: "List the built-in and custom roles and every permission.",
			status: 200, resp: typeOf[rolesBody](), h: s.listRoles},
		{method: "PUT", path: "/api/v1/roles/{name}", perm: auth.PermUsersAdmin, tag: "users",
			summary: "Define or redefine a custom role from permissions the caller holds.",
			body:    typeOf[putRoleRequest](), status: 200, resp: typeOf[roleView](), fails: []int{409, 415}, h: s.putRole},
		{method: "GET", path: "/api/v1/tokens", perm: auth.PermUsersAdmin, tag: "users", summary: "List API tokens: state, expiry and last use, never the secret.",
			query:  []param{{"user", "string", "only this user's tokens"}},
			status: 200, resp: typeOf[listBody[tokenView]](), h: s.listTokens},
		{method: "POST", path: "/api/v1/tokens", perm: auth.PermUsersAdmin, tag: "users",
			summary: "Issue an API token; the secret is in this response only.",
			body:    typeOf[createTokenRequest](), status: 201, resp: typeOf[createdToken](), fails: []int{409, 415}, h: s.createToken},
		{method: "DELETE", path: "/api/v1/tokens/{id}", perm: auth.PermUsersAdmin, tag: "users",
			summary: "Revoke an API token; 409 if no admin would remain.",
			status:  204, fails: []int{409}, h: s.revokeToken},

		{method: "GET", path: "/api/v1/kpis", perm: auth.PermKPIRead, tag: "kpis", summary: "The KPIs over a time range, optionally per campaign.",
			query: kpiParams, status: 200, resp: typeOf[kpi.Report](), h: s.getKPIs},
		{method: "GET", path: "/api/v1/analytics/segments", perm: auth.PermKPIRead, tag: "kpis",
			summary: "Segments of a campaign's contacts by k-means over their numeric fields, best converting first.",
			query:   segmentParams, status: 200, resp: typeOf[analytics.SegmentReport](), fails: []int{422}, h: s.getSegments},
		{method: "GET", path: "/api/v1/analytics/forecast", perm: auth.PermKPIRead, tag: "kpis",
			summary: "Next week's answer rate per hour of day, forecast from history (Holt-Winters).",
			query:   forecastParams, status: 200, resp: typeOf[analytics.Forecast](), fails: []int{422}, h: s.getForecast},
	}
}

// buildMux registers every route, each behind its authentication,
// permission check and instrumentation, and the pages at /.
func (s *Server) buildMux() (*http.ServeMux, error) {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		if err := register(mux, rt.pattern(), s.wrap(rt)); err != nil {
			return nil, err
		}
	}
	// Unknown API paths and methods answer in the API's JSON, not with the
	// pages' HTML or the mux's plain text.
	if err := register(mux, "/api/", http.HandlerFunc(s.apiFallback)); err != nil {
		return nil, err
	}
	pages := s.cfg.Pages
	if pages == nil {
		pages = http.NotFoundHandler()
	}
	if err := register(mux, "/", pages); err != nil {
		return nil, err
	}
	return mux, nil
}

// apiFallback answers a request no API route matched: 405 with Allow when
// the path exists with other methods, else 404.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range s.routes {
		if rt.method == r.Method || slices.Contains(allow, rt.method) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		if _, pattern := s.mux.Handler(probe); pattern == rt.pattern() {
			allow = append(allow, rt.method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))})
		return
	}
	writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no API route %s; /openapi.json lists them", r.URL.Path)})
}

// register is mux.Handle that reports a conflicting pattern as an error
// rather than a panic.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("register route %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// wrap puts authentication, the route's permission check, error rendering
// and request metrics around a route's handler.
func (s *Server) wrap(rt *route) http.Handler {
	label := rt.pattern()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w}
		defer func() {
			s.metrics.httpRequest(label, rec.code(), time.Since(start))
		}()
		if !rt.public {
			p, err := s.authenticate(r, rt.path == "/ws/events")
			if err != nil {
				rec.Header().Set("WWW-Authenticate", `Bearer realm="waihu"`)
				s.writeError(rec, r, err)
				return
			}
			if rt.perm != "" && !p.Can(rt.perm) {
				err := s.audit(r.Context(), p, r, "auth.denied", rt.pattern(), "missing "+string(rt.perm))
				if err == nil {
					err = &apiError{Status: http.StatusForbidden, Msg: fmt.Sprintf("%s needs the %s permission", rt.pattern(), rt.perm)}
				}
				s.writeError(rec, r, err)
				return
			}
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		if err := rt.h(rec, r); err != nil {
			s.writeError(rec, r, err)
		}
	})
}

// authenticate reads the bearer token (or, for the WebSocket, which
// browsers open without custom headers, the access_token parameter).
func (s *Server) authenticate(r *http.Request, queryToken bool) (*auth.Principal, error) {
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return nil, &apiError{Status: http.StatusUnauthorized, Msg: "the Authorization header must be \"Bearer <token>\"", Field: "Authorization"}
		}
		token = strings.TrimSpace(rest)
	} else if queryToken {
		token = r.URL.Query().Get("access_token")
	}
	if token == "" {
		return nil, &apiError{Status: http.StatusUnauthorized, Msg: "missing API token: send Authorization: Bearer <token>", Field: "Authorization"}
	}
	p, err := s.cfg.Auth.Authenticate(r.Context(), token)
	if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
		// The token may be fine: the store behind it is not. Saying 401
		// would send a client off to replace a good token.
		s.log.Error("authentication unavailable", "remote", remoteAddr(r), "path", r.URL.Path, "err", err)
		return nil, &apiError{Status: http.StatusServiceUnavailable, Msg: "authentication is unavailable; try again"}
	}
	if err != nil || p == nil {
		s.log.Info("authentication failed", "remote", remoteAddr(r), "path", r.URL.Path, "err", err)
		return nil, &apiError{Status: http.StatusUnauthorized, Msg: auth.ErrUnauthenticated.Error(), Field: "Authorization"}
	}
	return p, nil
}

// statusWriter remembers the status written, for the request metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// connection underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		// A hijacked connection (the WebSocket) never writes a status here.
		return http.StatusSwitchingProtocols
	}
	return w.status
}
