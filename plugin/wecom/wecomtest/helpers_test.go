package wecomtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testCorp     = "wwtest0000000001"
	testAgent    = 1000002
	testSecret   = "app-secret"
	noCBAgent    = 1000003
	noCBSecret   = "no-callback-secret"
	rdAgent      = 1000004 // visible range: 研发 (2) only
	rdSecret     = "rd-secret"
	contactsSec  = "contacts-secret"
	trustedAgent = 1000005
	trustedSec   = "trusted-secret"
)

// start is 10:00 in China on a Monday, far from midnight so quota tests choose when days turn.
var start = time.Date(2025, 3, 3, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

type fixture struct {
	sim   *Server
	srv   *httptest.Server
	clock *ManualClock
}

// newFixture builds a corp with departments 1 (root) → 2 研发 → 4 运维, 1 → 3 市场, members in
// each, one unlicensed and one disabled, and the apps the tests need.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := NewManualClock(start)
	sim := New(Options{Now: clock.Now, Seed: 42})
	sim.AddCorp(Corp{ID: testCorp, Name: "Test"})
	sim.AddApp(testCorp, App{AgentID: testAgent, Secret: testSecret, CallbackURL: "https://example.test/cb"})
	sim.AddApp(testCorp, App{AgentID: noCBAgent, Secret: noCBSecret})
	sim.AddApp(testCorp, App{AgentID: rdAgent, Secret: rdSecret, VisibleDepartments: []int{2}, CallbackURL: "https://example.test/cb"})
	sim.AddApp(testCorp, App{Secret: contactsSec, ContactsSecret: true})
	sim.AddApp(testCorp, App{AgentID: trustedAgent, Secret: trustedSec, TrustedIPs: []string{"10.0.0.1"}})
	for _, d := range []Department{
		{ID: 1, Name: "Root", Order: 10}, {ID: 2, ParentID: 1, Name: "研发", Order: 9},
		{ID: 3, ParentID: 1, Name: "市场", Order: 8}, {ID: 4, ParentID: 2, Name: "运维", Order: 7},
	} {
		sim.AddDepartment(testCorp, d)
	}
	for _, u := range []User{
		{UserID: "alice", Name: "Alice", Departments: []int{2}, Mobile: "13800000001", Email: "alice@test"},
		{UserID: "Bob", Name: "Bob", Departments: []int{3}},
		{UserID: "carol", Name: "Carol", Departments: []int{4}},
		{UserID: "dave", Name: "Dave", Departments: []int{2}, Unlicensed: true},
		{UserID: "erin", Name: "Erin", Departments: []int{2}, Status: 2},
		{UserID: "frank", Name: "Frank", Departments: []int{3, 4}},
	} {
		sim.AddUser(testCorp, u)
	}
	sim.AddTag(testCorp, Tag{ID: 7, Name: "oncall", UserIDs: []string{"Bob"}, PartyIDs: []int{4}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{sim: sim, srv: srv, clock: clock}
}

// do calls endpoint and decodes WeCom's JSON answer.
func (f *fixture) do(t *testing.T, method, endpoint string, q url.Values, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+"/cgi-bin/"+endpoint+"?"+q.Encode(), rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	return decodeAnswer(t, resp)
}

// decodeAnswer reads WeCom's JSON answer, failing on another HTTP status.
func decodeAnswer(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", resp.Request.URL.Path, resp.StatusCode, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v in %s", resp.Request.URL.Path, err, raw)
	}
	return m
}

func (f *fixture) token(t *testing.T, secret string) string {
	t.Helper()
	m := f.do(t, http.MethodGet, "gettoken", url.Values{"corpid": {testCorp}, "corpsecret": {secret}}, nil)
	if errcode(m) != 0 {
		t.Fatalf("gettoken: %v", m)
	}
	return m["access_token"].(string)
}

func (f *fixture) post(t *testing.T, endpoint, tok string, body any) map[string]any {
	t.Helper()
	return f.do(t, http.MethodPost, endpoint, url.Values{"access_token": {tok}}, body)
}

func (f *fixture) get(t *testing.T, endpoint, tok string, q url.Values) map[string]any {
	t.Helper()
	if q == nil {
		q = url.Values{}
	}
	q.Set("access_token", tok)
	return f.do(t, http.MethodGet, endpoint, q, nil)
}

func errcode(m map[string]any) int {
	n, _ := m["errcode"].(float64)
	return int(n)
}

func text(agent int64, touser, content string) map[string]any {
	return map[string]any{"touser": touser, "msgtype": "text", "agentid": agent, "text": map[string]any{"content": content}}
}

func buttonCard(agent int64, touser, taskID string) map[string]any {
	return map[string]any{
		"touser": touser, "msgtype": "template_card", "agentid": agent,
		"template_card": map[string]any{
			"card_type":  "button_interaction",
			"main_title": map[string]any{"title": "报销审批"},
			"task_id":    taskID,
			"button_list": []any{
				map[string]any{"text": "同意", "style": 1, "key": "approve"},
				map[string]any{"text": "驳回", "style": 2, "key": "reject"},
			},
		},
	}
}

func contents(ds []Delivery) []string {
	var out []string
	for _, d := range ds {
		var body struct {
			Content string `json:"content"`
		}
		_ = json.Unmarshal(d.Body, &body)
		out = append(out, body.Content)
	}
	return out
}
