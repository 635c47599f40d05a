package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestOpenAPIMatchesRoutes checks the document against the routing table
// both ways, then asks the server for every documented operation to prove
// it is served (not the fallback's 404 or 405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t, Options{})
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	f.getJSON(t, "/api/v1/openapi.json", &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented, registered []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, rt := range f.api.table() {
		if rt.Documented {
			registered = append(registered, rt.Method+" "+rt.Pattern)
		}
	}
	sort.Strings(documented)
	sort.Strings(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json documents %s, which is not a route", d)
		}
	}
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		// An unknown ID that is not a fresh UUIDv7: the snapshot route
		// waits a moment for near misses born seconds ago.
		path = strings.ReplaceAll(path, "{id}", uuid.NewString())
		req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(`{"by":"openapi-test"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(f.authorize(req))
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || strings.HasPrefix(e.Error, "no such route") {
			t.Errorf("documented %s is not served: %d %s", op, resp.StatusCode, e.Error)
		}
	}
}

// TestOpenAPIParametersAreAccepted checks that every query parameter the
// document lists is one the handler reads (an undocumented parameter is
// rejected as unknown, so a mismatch shows as 400 naming it).
func TestOpenAPIParametersAreAccepted(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]struct{ Parameters []map[string]any } `json:"paths"`
		Components struct{ Parameters map[string]map[string]any }              `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{})
	for path, ops := range doc.Paths {
		get, ok := ops["get"]
		if !ok || strings.Contains(path, "{") || path == "/api/v1/live" {
			continue
		}
		for _, p := range get.Parameters {
			if ref, ok := p["$ref"].(string); ok {
				p = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
			}
			name, _ := p["name"].(string)
			resp, b := f.get(t, path+"?"+name+"=")
			var e apiError
			_ = json.Unmarshal(b, &e)
			if resp.StatusCode != http.StatusOK && e.Param == name {
				t.Errorf("%s documents %q but rejects it: %s", path, name, e.Error)
			}
		}
	}
}
