package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPIBodies sends arbitrary bodies to every route that reads one: the
// server must answer each with a 2xx or a 4xx carrying a JSON error, never
// a 500 or a panic.
func FuzzAPIBodies(f *testing.F) {
	fx := newFixture(f)
	type target struct{ method, path, ctype string }
	alpha := fmt.Sprintf("/api/v1/campaigns/%d", fx.alpha)
	vu, err := fx.st.UserByName(context.Background(), tokViewer)
	if err != nil {
		f.Fatal(err)
	}
	viewer := fmt.Sprintf("/api/v1/users/%d", vu.ID)
	targets := []target{
		{"POST", "/api/v1/campaigns", mediaJSON},
		{"PATCH", alpha, mediaJSON},
		{"POST", alpha + "/contacts", mediaJSON},
		{"POST", alpha + "/contacts", mediaCSV},
		{"POST", alpha + "/requeue", mediaJSON},
		{"POST", "/api/v1/dnc", mediaJSON},
		{"POST", "/api/v1/calls", mediaJSON},
		{"PUT", "/api/v1/scripts/fuzz", mediaYAML},
		{"POST", "/api/v1/scripts/validate", mediaYAML},
		{"POST", "/api/v1/users", mediaJSON},
		{"PATCH", viewer, mediaJSON},
		{"PUT", viewer + "/campaigns", mediaJSON},
		{"PUT", "/api/v1/roles/fuzz", mediaJSON},
		{"POST", "/api/v1/tokens", mediaJSON},
	}
	seeds := []string{
		`{"name":"x","settings":{"cps":2,"windows":[{"from":"09:00","to":"12:00","days":["mon"]}]}}`,
		`{"settings":{"retry":{"max_attempts":5,"busy":"10m"},"trunks":[{"name":"carrier","cps":1e308}]}}`,
		`{"contacts":[{"phone":"+86 138 0000 1111","priority":-99,"tags":["a"],"custom":{"k":[1,{"x":null}]}}]}`,
		"phone,name,priority,tags\n13800001111,\"Li, Wei\",5,a;b\n",
		`{"phone":"13800001111","campaign_id":1,"reason":"asked"}`,
		`{"to":"13800001111","variables":{"a":"b"},"contact_id":1}`,
		"name: x\nnodes:\n  - id: a\n    kind: say\n    text: hi\n",
		`{"name":"bo","role":"agent","campaigns":[1,1,-1]}`, `{"role":"admin","disabled":true}`,
		`{"permissions":["calls:read","users:admin"]}`, `{"user":"viewer","name":"x","expires_in":"9999999d"}`,
		`{"name":"\u0000","settings":null}`, `[]`, `null`, `{"name":1e999}`, "\xff\xfe", `{"a":`,
	}
	for i := range targets {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	h := fx.srv.Handler()
	token := fx.tokens[tokAdmin]
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		req := httptest.NewRequest(tg.method, tg.path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", tg.ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s answered %d to %q: %s", tg.method, tg.path, rec.Code, body, rec.Body)
		}
		if rec.Code >= 400 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s: %d without a JSON error: %s", tg.method, tg.path, rec.Code, rec.Body)
			}
		}
		if rec.Code == http.StatusCreated || rec.Code == http.StatusOK || rec.Code == http.StatusAccepted {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s: %d with a body that is not JSON: %s", tg.method, tg.path, rec.Code, rec.Body)
			}
		}
	})
}
