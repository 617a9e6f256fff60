package server

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// createManualWorkflow stores a manual workflow of one end node and returns its id.
func (e *env) createManualWorkflow(key, title string) uint64 {
	e.t.Helper()
	res := e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": key, "title": title,
		"trigger": map[string]any{"type": "manual"},
		"nodes":   []any{map[string]any{"key": "stop", "type": "end", "config": map[string]any{"status": "resolved"}}}})
	return uint64(res.Data()["id"].(float64))
}

// embeddedJSON decodes the <script type="application/json" id="…"> element of a page.
func embeddedJSON(t *testing.T, page []byte, id string, into any) {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="` + id + `">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no %s element in the page", id)
	}
	if err := json.Unmarshal(m[1], into); err != nil {
		t.Fatalf("the %s element is not JSON: %v: %s", id, err, m[1])
	}
}

// The list and the editor render in English and in Chinese, with the editor's data and strings
// embedded as JSON for editor.js.
func TestWebWorkflowPagesInBothLanguages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createManualWorkflow("daily-report", "Daily report")
	w := e.webLogin()
	for _, tc := range []struct {
		lang, list, trigger, save string
	}{
		{"en", "Workflows", "Manual", "Save workflow"},
		{"zh-CN", "工作流", "手动", "保存工作流"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			list := w.get("/ui/workflows?lang=" + tc.lang)
			body := string(list.Body)
			if list.Status != 200 || !strings.Contains(body, "<h1>"+tc.list+"</h1>") || !strings.Contains(body, "daily-report") ||
				!strings.Contains(body, tc.trigger) || !strings.Contains(body, `id="new-workflow"`) {
				t.Fatalf("list: %d %s", list.Status, body)
			}
			for _, path := range []string{"/ui/workflows/new", fmt.Sprintf("/ui/workflows/%d", id)} {
				page := w.get(path + "?lang=" + tc.lang)
				if page.Status != 200 || !strings.Contains(string(page.Body), `src="/static/editor.js"`) || !strings.Contains(string(page.Body), `id="preview"`) {
					t.Fatalf("%s: %d %s", path, page.Status, page.Body)
				}
				var strs map[string]string
				embeddedJSON(t, page.Body, "strings", &strs)
				if strs["wf.save"] != tc.save {
					t.Errorf("%s: wf.save is %q, want %q", path, strs["wf.save"], tc.save)
				}
				var def struct {
					Key     string `json:"key"`
					Trigger struct {
						Type string `json:"type"`
					} `json:"trigger"`
				}
				embeddedJSON(t, page.Body, "definition", &def)
				if def.Trigger.Type != "manual" || (path != "/ui/workflows/new" && def.Key != "daily-report") {
					t.Errorf("%s: definition %+v", path, def)
				}
			}
		})
	}
}

// The list's toggle disables and enables a workflow (each a new version).
func TestWebWorkflowEnableDisable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createManualWorkflow("toggle-me", "Toggle me")
	w := e.webLogin()
	path := fmt.Sprintf("/ui/workflows/%d", id)
	for i, enabled := range []bool{false, true} {
		res := w.post(path+"/enabled", url.Values{"enabled": {fmt.Sprint(enabled)}})
		if res.Status != 303 || res.Header.Get("Location") != "/ui/workflows" {
			t.Fatalf("toggle to %v: %d %v %s", enabled, res.Status, res.Header, res.Body)
		}
		got := e.must(200, "GET", "/api/v1"+strings.TrimPrefix(path, "/ui"), nil).Data()
		if got["enabled"] != enabled || got["version"] != float64(i+2) {
			t.Fatalf("after the toggle to %v: enabled %v, version %v", enabled, got["enabled"], got["version"])
		}
	}
	list := string(w.get("/ui/workflows").Body)
	if !strings.Contains(list, fmt.Sprintf(`id="toggle-%d"`, id)) || !strings.Contains(list, `name="enabled" value="false"`) {
		t.Errorf("the list offers no disable button for the enabled workflow: %s", list)
	}
}

// A hostile title is text on the list and stays inside the editor's JSON element.
func TestWebWorkflowTitleIsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const title = `<script>alert(1)</script>"><img src=x onerror=alert(1)>`
	id := e.createManualWorkflow("hostile", title)
	w := e.webLogin()
	list := string(w.get("/ui/workflows").Body)
	if strings.Contains(list, "<script>alert(1)") || strings.Contains(list, "<img src=x") {
		t.Fatalf("the title is markup on the list: %s", list)
	}
	if !strings.Contains(list, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the escaped title is not on the list: %s", list)
	}
	page := w.get(fmt.Sprintf("/ui/workflows/%d", id)).Body
	if strings.Contains(string(page), "<script>alert(1)") || strings.Contains(string(page), "<img src=x") {
		t.Fatalf("the title is markup in the editor: %s", page)
	}
	var def struct {
		Title string `json:"title"`
	}
	embeddedJSON(t, page, "definition", &def)
	if def.Title != title {
		t.Errorf("the embedded title is %q, want %q", def.Title, title)
	}
}

// The manual trigger form: JSON that does not parse is shown next to the field; good JSON starts an
// execution with it as $context.data and opens the execution.
func TestWebWorkflowManualTrigger(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createManualWorkflow("by-hand", "By hand")
	w := e.webLogin()
	path := fmt.Sprintf("/ui/workflows/%d/trigger", id)

	bad := w.post(path, url.Values{"data": {`{"id": 42,`}})
	body := string(bad.Body)
	if bad.Status != 422 || !strings.Contains(body, `id="f-data-error"`) || !strings.Contains(body, "not valid JSON") {
		t.Fatalf("bad JSON: %d %s", bad.Status, body)
	}
	if !strings.Contains(body, "{&#34;id&#34;: 42,</textarea>") {
		t.Errorf("the submitted data is not shown again: %s", body)
	}
	if list := e.must(200, "GET", "/api/v1/executions", nil).JSON(); list["total"] != float64(0) {
		t.Fatalf("bad JSON started an execution: %v", list)
	}

	good := w.post(path, url.Values{"data": {`{"id": 12345678901234567890, "owner": "lisi"}`}})
	loc := good.Header.Get("Location")
	if good.Status != 303 || !strings.HasPrefix(loc, "/ui/executions/") {
		t.Fatalf("good JSON: %d %v %s", good.Status, good.Header, good.Body)
	}
	x := e.must(200, "GET", "/api/v1/executions/"+strings.TrimPrefix(loc, "/ui/executions/"), nil)
	if !strings.Contains(string(x.Body), `"data":{"id":12345678901234567890,"owner":"lisi"}`) || x.Data()["trigger"] != "manual" {
		t.Errorf("execution: %s", x.Body)
	}
}
