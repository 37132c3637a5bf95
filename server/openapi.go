package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/waihu/waihu/server/kpi"
)

// openapiDoc is built once from the route table; building it from the same
// table as the mux is what keeps it honest.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.openapiDoc())
	return nil
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openapiDoc generates the OpenAPI 3.1 document of every route.
func (s *Server) openapiDoc() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	errRef := g.schema(reflect.TypeFor[errorBody]())
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			typ := "string"
			if m[1] == "id" && !strings.HasPrefix(rt.path, "/api/v1/calls/") {
				typ = "integer"
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": typ}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.doc, "schema": map[string]any{"type": q.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != nil {
			content := map[string]any{}
			types := rt.bodyTypes
			if types == nil {
				types = []string{mediaJSON}
			}
			for _, t := range types {
				switch t {
				case mediaJSON:
					content[t] = map[string]any{"schema": g.schema(rt.body)}
				default:
					content[t] = map[string]any{"schema": map[string]any{"type": "string"}}
				}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		ok := map[string]any{"description": http.StatusText(rt.status)}
		switch {
		case rt.resp != nil:
			ok["content"] = map[string]any{mediaJSON: map[string]any{"schema": g.schema(rt.resp)}}
		case rt.respType != "":
			ok["content"] = map[string]any{rt.respType: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		responses := map[string]any{strconv.Itoa(rt.status): ok}
		errResp := func(code int, why string) {
			responses[strconv.Itoa(code)] = map[string]any{"description": why,
				"content": map[string]any{mediaJSON: map[string]any{"schema": errRef}}}
		}
		if !rt.public {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
			errResp(401, "Missing or invalid API token")
			if rt.perm != "" {
				op["x-permission"] = string(rt.perm)
				errResp(403, "The token's role lacks "+string(rt.perm))
			}
		}
		if rt.body != nil || len(rt.query) > 0 || strings.Contains(rt.path, "{") {
			errResp(400, "Bad input; field names it")
		}
		if strings.Contains(rt.path, "{") {
			errResp(404, "No such object, or not visible to this user")
		}
		if rt.body != nil {
			errResp(413, "Body too large")
		}
		if !rt.public {
			errResp(503, "Not configured on this node, or tokens cannot be checked now")
		}
		for _, code := range rt.fails {
			errResp(code, failWhy[code])
		}
		op["responses"] = responses
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "waihu control plane",
			"version":     "1",
			"description": "REST API, live events and metrics of a waihu node. Every route but /healthz needs Authorization: Bearer <token>; docs/api.md explains roles, masking and the event stream.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
	}
}

// failWhy describes the route-specific error statuses.
var failWhy = map[int]string{
	409: "The object's state forbids it (a final campaign, a taken name, a start the node refused)",
	415: "Content-Type not accepted",
	422: "Well-formed but refused (settings, a script that does not load, too little data)",
	502: "The trunk refused or failed the call",
}

// nullable lists, per type with its own JSON encoding, the properties that
// may be null although their Go type is not a pointer.
var nullable = map[reflect.Type][]string{
	reflect.TypeFor[kpi.Value](): {"value"},
}

// operationID names an operation from its method and path.
func operationID(rt *route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, seg := range strings.Split(strings.TrimPrefix(rt.path, "/api/v1"), "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, ".", "_"), "-", "_")
		for _, w := range strings.Split(seg, "_") {
			if w != "" {
				b.WriteString(strings.ToUpper(w[:1]) + w[1:])
			}
		}
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses),
// following encoding/json's rules for field names and omission.
type schemaGen struct {
	defs map[string]any
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON value"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t.Name() == "Duration" && t.PkgPath() == "time" {
			return map[string]any{"type": "integer", "description": "nanoseconds"}
		}
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, ok := g.defs[name]; ok {
			return ref
		}
		// Claimed before the fields are walked, so a type that contains
		// itself refers to itself instead of recursing forever.
		g.defs[name] = map[string]any{}
		props := map[string]any{}
		var required []string
		g.fields(t, props, &required)
		for _, name := range nullable[t] {
			if p, ok := props[name].(map[string]any); ok {
				p["type"] = []string{p["type"].(string), "null"}
			}
		}
		def := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			def["required"] = required
		}
		g.defs[name] = def
		return ref
	}
	return map[string]any{}
}

// fields adds t's JSON fields, flattening embedded structs as encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

// schemaName is a type's component name: Go's name, with a generic's type
// arguments spelled out ("listBody[TrunkInfo]" → "TrunkInfoList").
func schemaName(t reflect.Type) string {
	name := t.Name()
	base, arg, generic := strings.Cut(name, "[")
	if generic {
		arg = strings.TrimSuffix(arg, "]")
		if i := strings.LastIndex(arg, "."); i >= 0 {
			arg = arg[i+1:]
		}
		switch base {
		case "listBody":
			return exported(arg) + "List"
		case "pageBody":
			return exported(arg) + "Page"
		}
		return exported(base) + exported(arg)
	}
	if t.PkgPath() != "github.com/waihu/waihu/server" {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		return exported(pkg) + exported(name)
	}
	return exported(name)
}

func exported(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
