package server

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

type openapiDoc struct {
	OpenAPI    string                               `json:"openapi"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func TestOpenAPIDocumentsEveryRouteAndServesEveryDocumentedPath(t *testing.T) {
	f := newFixture(t)
	r := f.get("/openapi.json", tokViewer).must(t, 200)
	var doc openapiDoc
	r.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}

	// Every route of the mux is documented, with its permission.
	for _, rt := range f.srv.routes {
		op, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("%s is served but not documented", rt.pattern())
			continue
		}
		if rt.perm != "" && !rt.public && op["x-permission"] != string(rt.perm) {
			t.Errorf("%s: x-permission %v, want %s", rt.pattern(), op["x-permission"], rt.perm)
		}
	}

	// Every documented operation is served by that very route, not by the
	// pages' catch-all or a 405.
	n := 0
	for path, item := range doc.Paths {
		for method := range item {
			n++
			url := strings.NewReplacer("{id}", "7", "{name}", "loan", "{phone}", "13812345678", "{call_id}", "abc").Replace(path)
			req, err := http.NewRequest(strings.ToUpper(method), url, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, pattern := f.srv.mux.Handler(req)
			if want := strings.ToUpper(method) + " " + path; pattern != want {
				t.Errorf("documented %s is served by %q", want, pattern)
			}
		}
	}
	if n != len(f.srv.routes) {
		t.Errorf("%d documented operations, %d routes", n, len(f.srv.routes))
	}

	// Every schema reference resolves.
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs = append(refs, ref)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var raw any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	walk(raw)
	if len(refs) == 0 {
		t.Fatal("no schema references")
	}
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if _, found := doc.Components.Schemas[name]; !ok || !found {
			t.Errorf("reference %s does not resolve", ref)
		}
	}
}

func TestOpenAPISchemasFollowTheJSONOfTheBodies(t *testing.T) {
	f := newFixture(t)
	var doc openapiDoc
	f.get("/openapi.json", tokViewer).must(t, 200).json(t, &doc)
	tests := []struct {
		schema   string
		props    []string
		required []string
	}{
		{"CreateCampaignRequest", []string{"name", "settings"}, []string{"name"}},
		{"PlaceRequest", []string{"to", "contact_id", "trunk", "caller_id", "script", "variables"}, nil},
		// contactDetail embeds contactView: its fields are flattened as encoding/json does.
		{"ContactDetail", []string{"id", "phone", "state", "calls"}, []string{"id", "phone", "calls"}},
		{"CallView", []string{"id", "live", "phone", "transcript", "answered_by"}, []string{"id", "live", "state", "phone"}},
		{"ErrorBody", []string{"error", "field"}, []string{"error"}},
		{"WsMessage", []string{"type", "event", "kpis", "dropped"}, []string{"type"}},
		{"KpiReport", []string{"total", "groups"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.schema, func(t *testing.T) {
			s, ok := doc.Components.Schemas[tc.schema]
			if !ok {
				t.Fatalf("no schema %s among %v", tc.schema, keys(doc.Components.Schemas))
			}
			props, _ := s["properties"].(map[string]any)
			for _, p := range tc.props {
				if _, ok := props[p]; !ok {
					t.Errorf("no property %s", p)
				}
			}
			var req []string
			if r, ok := s["required"].([]any); ok {
				for _, x := range r {
					req = append(req, x.(string))
				}
			}
			for _, p := range tc.required {
				if !slices.Contains(req, p) {
					t.Errorf("%s not required (required: %v)", p, req)
				}
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestDocsDescribeEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	f := newFixture(t)
	for _, rt := range f.srv.routes {
		want := rt.pattern()
		if strings.HasPrefix(rt.path, "/api/") && !strings.Contains(doc, want) {
			t.Errorf("docs/api.md does not describe %s", want)
		}
		if !strings.Contains(doc, rt.path) {
			t.Errorf("docs/api.md never mentions %s", rt.path)
		}
	}
}

func TestOpenAPIDocumentsRouteSpecificErrorsAndNullableFigures(t *testing.T) {
	f := newFixture(t)
	var doc openapiDoc
	f.get("/openapi.json", tokViewer).must(t, 200).json(t, &doc)
	responses, _ := doc.Paths["/api/v1/scripts/{name}"]["put"]["responses"].(map[string]any)
	for _, code := range []string{"200", "400", "401", "403", "404", "413", "415", "422", "503"} {
		if _, ok := responses[code]; !ok {
			t.Errorf("PUT /api/v1/scripts/{name} does not document %s", code)
		}
	}
	props, _ := doc.Components.Schemas["KpiValue"]["properties"].(map[string]any)
	value, _ := props["value"].(map[string]any)
	if types, _ := value["type"].([]any); len(types) != 2 || types[1] != "null" {
		t.Errorf("KpiValue.value type %v, want number or null", value["type"])
	}
}
