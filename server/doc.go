// Package server is waihu's HTTP control plane: the REST API under /api/v1
// (described by the OpenAPI document at /openapi.json), the live call events
// at /ws/events, Prometheus metrics at /metrics, /healthz for load balancers,
// and the embedded pages mounted at /.
//
// One route table drives everything: the mux is built from it, each entry
// declares the one auth.Permission its route needs, and the OpenAPI document
// is generated from it, so the documentation cannot drift from what is served.
//
// Every request but /healthz (and /metrics when Config.OpenMetrics is set)
// carries a bearer token; the Authenticator turns it into an auth.Principal.
// What a principal sees is cut to its campaigns (agents) and its phone numbers
// are masked unless it holds auth.PermUnmask, in every response and in every
// event. Every change, and every read of personal data, is written to the
// Auditor before the response is sent; a failed audit write fails the request.
//
// The server owns no call: cmd/waihu implements the small interfaces of Config
// (Calls, Campaigns, Recordings, the trunk list) over its SIP user agent and
// dialer, and feeds call events to the Hub, which fans them out to WebSocket
// subscribers without ever blocking a call, and each finished call record to
// Server.RecordFinished, which keeps the live KPI windows current.
//
// Nothing here reads a campaign's whole call history: calls are listed by
// keyset pages and found by indexed lookups, exports stream in pages, and
// the KPI snapshots pushed over /ws/events come from sliding windows loaded
// once and reconciled with the store (live.go), so their cost follows the
// last hour's calls, not the history.
package server
