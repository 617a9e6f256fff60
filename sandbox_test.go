package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The sandbox's sample workflow works as its banner says: trigger it, click Approve in the inbox,
// and the owner's inbox shows the decision.
func TestSandboxSampleApprovalWorkflow(t *testing.T) {
	m := startSandbox(t, `(http://127\.0\.0\.1:\d+)/api/v1/workflows/(\d+)/trigger`)
	base := m[1]
	call := sandboxAPI(t, base)
	x := call("POST", "/api/v1/workflows/"+m[2]+"/trigger", `{"data": {"id": 42, "amount": 5000, "approver": "lisi", "owner": "zhangsan"}}`)["data"].(map[string]any)
	var task string
	for deadline := time.Now().Add(15 * time.Second); task == ""; time.Sleep(20 * time.Millisecond) {
		inboxes := call("GET", "/sandbox/inbox?format=json", "")["data"].(map[string]any)
		if cards, _ := inboxes["lisi"].([]any); len(cards) == 1 {
			var body map[string]any
			_ = json.Unmarshal([]byte(mustJSON(cards[0].(map[string]any)["body"])), &body)
			task, _ = body["task_id"].(string)
		}
		if time.Now().After(deadline) {
			t.Fatal("lisi got no card")
		}
	}
	click := url.Values{"user": {"lisi"}, "task": {task}, "key": {"approve"}}
	// The click route is the sandbox's token's, like the API: without it (a page on another site
	// posting the form, say) it clicks nothing.
	res, err := http.PostForm(base+"/sandbox/click", click)
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a click without the token: %v %v", err, res)
	}
	res.Body.Close()
	req, _ := http.NewRequest("POST", base+"/sandbox/click", strings.NewReader(click.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+sandboxToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("click: %v %v", err, res)
	}
	res.Body.Close()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := call("GET", "/api/v1/executions/"+x["id"].(string), "")["data"].(map[string]any)
		if got["status"] == "resolved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution: %v", got)
		}
	}
	inboxes := call("GET", "/sandbox/inbox?format=json", "")["data"].(map[string]any)
	decision := mustJSON(inboxes["zhangsan"].([]any)[0].(map[string]any)["body"])
	if !strings.Contains(decision, "Order **42**: approve") {
		t.Fatalf("zhangsan's decision: %s", decision)
	}

	// The inbox page is the web UI's: after logging in it lists lisi's card, answered, and
	// zhangsan's decision.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err = browser.Get(base + "/ui/inbox")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/login" || res.Request.URL.Query().Get("next") != "/ui/inbox" {
		t.Fatalf("/ui/inbox led to %s", res.Request.URL)
	}
	res, err = browser.PostForm(base+"/login", url.Values{"token": {sandboxToken}, "next": {"/ui/inbox"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/ui/inbox" {
		t.Fatalf("inbox page: %d at %s", res.StatusCode, res.Request.URL)
	}
	for _, want := range []string{`id="inbox-lisi"`, `id="inbox-zhangsan"`, `id="inbox-data"`, task, "Approve order 42?", `"replacedWith":"已处理"`, "Order **42**: approve"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the inbox page lacks %s:\n%s", want, page)
		}
	}
}

func mustJSON(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// sandboxAPI calls the sandbox at base with its token and decodes the JSON answer.
func sandboxAPI(t *testing.T, base string) func(method, path, body string) map[string]any {
	return func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sandboxToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out
	}
}

// The sandbox's admin token is public, so it listens on loopback only unless told otherwise.
func TestSandboxRefusesANonLoopbackAddress(t *testing.T) {
	var stdout, stderr syncBuffer
	db := "sqlite://" + filepath.Join(t.TempDir(), "sandbox.db")
	err := run(context.Background(), []string{"sandbox", "-addr", "0.0.0.0:0", "-db", db}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-allow-remote") || !strings.Contains(err.Error(), "public") {
		t.Fatalf("a sandbox on every interface: %v", err)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:80": true, "[::1]:8080": true, ":8080": false, "0.0.0.0:8080": false, "192.168.1.5:8080": false} {
		if loopbackAddr(addr) != want {
			t.Errorf("%s: loopback %v", addr, !want)
		}
	}
}

// The sandbox signs people in with WeCom as its banner says: the log-in page offers the sandbox
// corp, the simulator's QR page lists the demo members, and choosing one who has no account yet
// signs in as a new operator account of that member.
func TestSandboxSignInWithWeCom(t *testing.T) {
	base := startSandbox(t, `Sign in\s+(http://127\.0\.0\.1:\d+)/login`)[1]
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(target string) (*http.Response, string) {
		t.Helper()
		res, err := browser.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	_, page := get(base + "/login")
	link := regexp.MustCompile(`id="signin-sandbox" href="([^"]+)">Sign in with WeCom — Sandbox corp<`).FindStringSubmatch(page)
	if link == nil {
		t.Fatalf("the log-in page does not offer the sandbox corp:\n%s", page)
	}
	res, page := get(base + html.UnescapeString(link[1]))
	member := regexp.MustCompile(`class="sim-member" data-userid="wangwu" href="([^"]+)"`).FindStringSubmatch(page)
	if member == nil {
		t.Fatalf("the simulator's QR page (%s) does not list wangwu:\n%s", res.Request.URL, page)
	}
	sim := res.Request.URL.Scheme + "://" + res.Request.URL.Host
	res, page = get(sim + html.UnescapeString(member[1]))
	// The callback's 302 lands on /ui/ with the new session (the client follows redirects).
	if res.StatusCode != 200 || res.Request.URL.Path != "/ui/" || !strings.Contains(page, `id="who"`) {
		t.Fatalf("choosing wangwu: %d at %s:\n%s", res.StatusCode, res.Request.URL, page)
	}
	res, page = get(base + "/api/v1/accounts/me")
	var me struct {
		Data struct {
			Role  string `json:"role"`
			WeCom struct {
				UserID string `json:"userid"`
			} `json:"wecom"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(page), &me); err != nil || res.StatusCode != 200 || me.Data.Role != "operator" || me.Data.WeCom.UserID != "wangwu" {
		t.Fatalf("signed in as %d %s", res.StatusCode, page)
	}
}

// startSandbox runs the sandbox on a free loopback port with its own database until the test
// ends, and returns the submatches of banner in what it prints (waiting up to 30 s for it).
func startSandbox(t *testing.T, banner string) []string {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	db := "sqlite://" + filepath.Join(t.TempDir(), "sandbox.db")
	go func() {
		done <- run(ctx, []string{"sandbox", "-addr", "127.0.0.1:0", "-db", db}, func(string) string { return "" }, stdout, stderr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	re := regexp.MustCompile(banner)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not print %s:\n%s\n%s", banner, stdout, stderr)
		}
	}
}

// The sandbox's robot channel posts into the 运维值班群 group, whose conversation the inbox shows.
func TestSandboxRobotPostsIntoItsGroup(t *testing.T) {
	m := startSandbox(t, `(http://127\.0\.0\.1:\d+)/api/v1/workflows/(\d+)/trigger`)
	call := sandboxAPI(t, m[1])
	sent := call("POST", "/api/v1/messages?wait=5s", `{"channel": "sandbox_group", "msgtype": "markdown", "markdown": {"content": "**db-1** is down"}, "to": {"users": ["zhangsan"]}}`)
	if d, _ := sent["data"].(map[string]any); d == nil || d["status"] != "sent" {
		t.Fatalf("the robot's message: %v", sent)
	}
	posts, _ := call("GET", "/sandbox/inbox", "")["data"].(map[string]any)["group:运维值班群"].([]any)
	if len(posts) != 1 || posts[0].(map[string]any)["body"].(map[string]any)["content"] != "**db-1** is down\n<@zhangsan>" {
		t.Fatalf("the group shows %v", posts)
	}
}

// The sandbox channel knows the demo app's group chat: a send to it shows in the inbox's chat.
func TestSandboxPostsIntoTheGroupChat(t *testing.T) {
	m := startSandbox(t, `(http://127\.0\.0\.1:\d+)/api/v1/workflows/(\d+)/trigger`)
	call := sandboxAPI(t, m[1])
	if chats := call("GET", "/api/v1/channels/1/chats", "")["data"].([]any); len(chats) != 1 {
		t.Fatalf("the sandbox channel's chats: %v", chats)
	}
	sent := call("POST", "/api/v1/messages?wait=5s", `{"channel": "sandbox", "to": {"chats": ["oncall"]}, "msgtype": "text", "text": {"content": "standup in 5"}}`)
	if d, _ := sent["data"].(map[string]any); d == nil || d["status"] != "sent" {
		t.Fatalf("the chat message: %v", sent)
	}
	posts, _ := call("GET", "/sandbox/inbox", "")["data"].(map[string]any)["chat:值班"].([]any)
	if len(posts) != 1 || posts[0].(map[string]any)["body"].(map[string]any)["content"] != "standup in 5" {
		t.Fatalf("the chat shows %v", posts)
	}
}
