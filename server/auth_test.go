package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Every /api/v1 route, as the router has them, refuses a request without a valid token — so a
// route added later cannot slip through unauthenticated. Each route is asked from an address of
// its own: from one, the failures would add up to the lockout's 429.
func TestEveryAPIRouteRequiresAToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	routes := e.srv.engine.Routes()
	var checked int
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/api/v1") {
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id", "1")
		remote := fmt.Sprintf("198.51.100.%d:4242", checked+1)
		for _, token := range []string{"", "wcf_not-a-real-token", e.token + "x"} {
			res := e.rawFrom(remote, r.Method, path, "application/json", strings.NewReader(`{}`), token)
			if res.Status != http.StatusUnauthorized || res.Code() != "unauthorized" {
				t.Errorf("%s %s with token %q: status %d %s, want 401", r.Method, r.Path, token, res.Status, res.Body)
			}
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d API routes found; the walk is not seeing the router", checked)
	}
}

func TestTokensAreShownOnceAndCanBeRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created := e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "ci"}).Data()
	value, _ := created["token"].(string)
	if !strings.HasPrefix(value, "wcf_") {
		t.Fatalf("created token %v", created)
	}
	list := e.must(200, "GET", "/api/v1/tokens", nil)
	if strings.Contains(string(list.Body), value) || strings.Contains(string(list.Body), e.token) {
		t.Fatal("the token list shows token values")
	}
	if got := e.raw("GET", "/api/v1/users", "", nil, value); got.Status != 200 {
		t.Fatalf("new token refused: %d", got.Status)
	}
	id := int(created["id"].(float64))
	e.must(204, "DELETE", "/api/v1/tokens/"+strconv.Itoa(id), nil)
	if got := e.raw("GET", "/api/v1/users", "", nil, value); got.Status != 401 {
		t.Fatalf("revoked token still works: %d", got.Status)
	}
	// The bootstrap token is now the last one: revoking it would lock everyone out.
	tokens := e.must(200, "GET", "/api/v1/tokens", nil).JSON()["data"].([]any)
	last := int(tokens[0].(map[string]any)["id"].(float64))
	if res := e.do("DELETE", "/api/v1/tokens/"+strconv.Itoa(last), nil); res.Status != 409 || res.Code() != "conflict" {
		t.Fatalf("revoking the last token: %d %s", res.Status, res.Body)
	}
	if res := e.do("POST", "/api/v1/tokens", map[string]any{"name": ""}); res.Status != 422 || res.Fields()["name"] == nil {
		t.Fatalf("empty name: %d %s", res.Status, res.Body)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "wecomflow_http_requests_total"} {
		e.do("GET", "/api/v1/users", nil) // something for the metrics to count
		res := e.raw("GET", path, "", nil, "")
		if res.Status != 200 || !strings.Contains(string(res.Body), want) {
			t.Errorf("%s: %d %s", path, res.Status, res.Body)
		}
	}
	if res := e.do("GET", "/api/v1/nothing-here", nil); res.Status != 404 || res.Code() != "not_found" {
		t.Errorf("unknown route: %d %s", res.Status, res.Body)
	}
}
