package server

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The OpenAPI document lists every route the router serves, with the right method — except the
// web UI's pages, which are not part of the API.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.must(200, "GET", "/api/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:(\w+)`)
	served := map[string]bool{}
	for _, r := range e.srv.engine.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		if path == "/" || path == "/login" || strings.HasPrefix(path, "/ui/") || strings.HasPrefix(path, "/static/") {
			continue
		}
		served[strings.ToLower(r.Method)+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but missing from openapi.json", r.Method, path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			if !served[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the router does not serve", strings.ToUpper(method), path)
			}
		}
	}
}
