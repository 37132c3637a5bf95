package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

// apiError is an error with the HTTP status and, for bad input, the field
// it is about. Handlers return it; wrap renders it.
type apiError struct {
	Status int
	Msg    string
	Field  string
}

func (e *apiError) Error() string { return e.Msg }

// errorBody is every error response: {"error": "...", "field": "..."}.
type errorBody struct {
	// Error says what is wrong, for a person.
	Error string `json:"error"`
	// Field names the input at fault (a JSON field path, a query or path
	// parameter, a header), when one is.
	Field string `json:"field,omitempty"`
}

func badInput(field, format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...), Field: field}
}

func notFound(field, format string, args ...any) error {
	return &apiError{Status: http.StatusNotFound, Msg: fmt.Sprintf(format, args...), Field: field}
}

func unavailable(what string) error {
	return &apiError{Status: http.StatusServiceUnavailable, Msg: what + " is not configured on this server"}
}

// writeError renders err: an apiError as it says, a missing store row as
// 404, anything else as a 500 whose detail goes to the log, not the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &mbe):
		ae = &apiError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		ae = &apiError{Status: http.StatusNotFound, Msg: "not found"}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; there is no one to answer.
		return
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "remote", remoteAddr(r), "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Msg: "internal error; the server log has the detail"}
	}
	writeJSON(w, ae.Status, errorBody{Error: ae.Msg, Field: ae.Field})
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":"encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// mediaType is the request's Content-Type without parameters; empty when
// none was sent.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return strings.ToLower(mt)
}

// readsAsJSON reports whether a body of media type mt is read as JSON. Besides
// JSON itself that is no type and curl's default for -d
// (application/x-www-form-urlencoded), so the examples people type work;
// tokens travel in a header no HTML form can set, so accepting a form's type
// opens no cross-site path.
func readsAsJSON(mt string) bool {
	return mt == "" || mt == mediaJSON || mt == "application/x-www-form-urlencoded" || strings.HasSuffix(mt, "+json")
}

// decodeJSON reads the body into dst: one JSON value, no unknown fields, at
// most MaxBodyBytes. Errors name the field at fault.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if mt := mediaType(r); !readsAsJSON(mt) {
		return &apiError{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("Content-Type %s is not accepted here: send %s", mt, mediaJSON), Field: "Content-Type"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return err
	}
	return decodeStrict(body, dst)
}

// decodeStrict decodes one JSON value with no unknown fields into dst.
func decodeStrict(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badInput("", "request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badInput("", "request body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badInput("", "request body holds more than one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badInput("", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badInput("", "the body must be a JSON %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return badInput(field, "%s must be %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badInput("", "malformed JSON: the body ends too early")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return badInput(name, "unknown field %q", name)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badInput("", "malformed JSON: %v", err)
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "a " + kind
}

// pathID reads a positive integer path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, badInput(name, "%s must be a positive integer, not %q", name, v)
	}
	return id, nil
}

// queryInt reads an optional integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badInput(name, "%s must be an integer, not %q", name, v)
	}
	if n < min || n > max {
		return 0, badInput(name, "%s must be between %d and %d, not %d", name, min, max, n)
	}
	return n, nil
}

// remoteAddr is the client's address. Proxies are not trusted: a deployment
// behind one sees the proxy's address, which is at least not forgeable.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// principal is the request's authenticated caller.
func principal(r *http.Request) *auth.Principal { return auth.FromContext(r.Context()) }

// personalReads are the audited actions that show phone numbers.
var personalReads = map[string]bool{"contact.list": true, "contact.read": true, "call.list": true, "call.read": true,
	"call.export": true, "dnc.list": true, "events.subscribe": true}

// maxAuditDetail bounds an audit entry's detail, in bytes.
const maxAuditDetail = 512

// audit writes one entry for p's action; a failure is returned as a 500 so
// the action is not reported as done.
func (s *Server) audit(ctx context.Context, p *auth.Principal, r *http.Request, action, object, detail string) error {
	// Whether full numbers were shown is what a privacy review asks first.
	if personalReads[action] && p.Can(auth.PermUnmask) {
		detail = strings.TrimPrefix(detail+"; numbers unmasked", "; ")
	}
	// Details are short by contract; a settings patch near the body limit
	// would otherwise fill the log.
	if len(detail) > maxAuditDetail {
		detail = strings.ToValidUTF8(detail[:maxAuditDetail], "") + "…"
	}
	e := auth.AuditEntry{At: s.cfg.Now().UTC(), User: "anonymous", Action: action, Object: object, Remote: remoteAddr(r),
		Detail: auth.MaskDigits(detail)}
	if p != nil {
		e.UserID, e.User = p.UserID, p.User
	}
	// The client leaving must not leave the entry unwritten.
	if err := s.cfg.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit write failed; request refused", "action", action, "object", object, "err", err)
		return &apiError{Status: http.StatusInternalServerError, Msg: "the audit log could not be written, so the request was not served"}
	}
	return nil
}

// auditReq is audit for the request's own principal.
func (s *Server) auditReq(r *http.Request, action, object, detail string) error {
	return s.audit(r.Context(), principal(r), r, action, object, detail)
}

// maskFor returns phone as p may see it.
func maskFor(p *auth.Principal, phone string) string { return p.Phone(phone) }

// maskText masks, for p, the phone numbers inside free text: what a caller
// said, a transfer target, an error from the call path.
func maskText(p *auth.Principal, s string) string {
	if p.Can(auth.PermUnmask) {
		return s
	}
	return auth.MaskDigits(s)
}

// maskJSON masks, for p, phone numbers in the string values of a JSON
// document (a transcript); numbers and structure are kept, so durations and
// ids stay intact. A document that does not parse is withheld rather than
// shown unmasked.
func maskJSON(p *auth.Principal, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || p.Can(auth.PermUnmask) {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	b, err := json.Marshal(maskValue(v))
	if err != nil {
		return nil
	}
	return b
}

// maskValue masks the strings of a decoded JSON value (or a contact's
// custom fields) in place and returns it.
func maskValue(v any) any {
	switch v := v.(type) {
	case string:
		// A whole dialog record holds timestamps ("2026-11-25T23:08:12.364123456Z")
		// whose nanoseconds are a run of digits: a time is no phone number.
		if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return v
		}
		return auth.MaskDigits(v)
	case map[string]any:
		for k, x := range v {
			v[k] = maskValue(x)
		}
	case []any:
		for i, x := range v {
			v[i] = maskValue(x)
		}
	}
	return v
}

// maskCustom returns a contact's custom fields as p may see them; a copy,
// so the masking never reaches the stored value.
func maskCustom(p *auth.Principal, m map[string]any) map[string]any {
	if m == nil || p.Can(auth.PermUnmask) {
		return m
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(maskJSON(p, b), &out); err != nil {
		return nil
	}
	return out
}

// seesCampaign is p.SeesCampaign, with campaign 0 (calls outside any
// campaign) visible only to principals limited to no campaigns.
func seesCampaign(p *auth.Principal, id int64) bool {
	if id == 0 {
		return p != nil && p.Campaigns == nil
	}
	return p.SeesCampaign(id)
}
