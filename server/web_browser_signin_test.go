package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Signing in with WeCom in a real browser, in English and in Chinese: the log-in page offers the
// authenticator; WeCom's QR page (the simulator, on a site of its own as WeCom's is) lists the
// members; a non-member, a member without an account and a tampered state are each refused with a
// page that says why in the walk's language and leads back to the log-in page; a member with an
// account lands on the page the log-in page was opened for, signed in as that account.
func TestBrowserSignInWithWeCom(t *testing.T) {
	walkBothLanguages(t, "signin", func(b *browserWalk) {
		b.mu.Lock()
		b.visitsSim = true
		b.mu.Unlock()
		b.seedSignIn()
	}, signInWalk)
}

// signInWalk is the walk: the refusals first, then the sign-in that works.
var signInWalk = []browserStep{
	{"see the sign-in on the log-in page", stepSignInOffered},
	{"sign in as a WeChat user who is not a member", stepSignInOutsider},
	{"sign in as a member without an account", stepSignInNoAccount},
	{"come back with a tampered state", stepSignInTamperedState},
	{"sign in as a member", stepSignInMember},
}

// seedSignIn sets up, through the API, the authenticator "sandbox" with sign-in on (autoSignUp
// off) and an account for zhangsan only.
func (b *browserWalk) seedSignIn() {
	b.createSandbox("login", map[string]any{"enabled": true})
	b.api(201, "POST", "/api/v1/accounts", map[string]any{"name": "张三", "role": "operator",
		"wecom": map[string]any{"authenticatorId": 1, "userid": "zhangsan"}})
}

// createSandbox creates, through the API, the authenticator "sandbox" (id 1) for the simulated
// corp, with one more group of options (login, sync).
func (b *browserWalk) createSandbox(group string, options map[string]any) {
	b.t.Helper()
	b.api(201, "POST", "/api/v1/authenticators", map[string]any{"name": "sandbox", "title": b.pick("Sandbox corp", "沙箱企业"),
		"options": map[string]any{"corpId": b.demo.CorpID, "agentId": b.demo.AgentID, "secret": b.demo.Secret, "apiBaseUrl": b.simURL,
			group: options}})
}

// api calls the server's API with the admin token and fails the test unless the status is want;
// it returns the answer's data (nil when there is none).
func (b *browserWalk) api(want int, method, path string, body any) map[string]any {
	b.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, b.base+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(res.Body)
	if res.StatusCode != want {
		b.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, out.String())
	}
	var answer struct {
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(out.Bytes(), &answer) // not every answer is an object with data
	return answer.Data
}

// signInButton is the log-in page's link to the sandbox's sign-in.
const signInButton = "#signin-sandbox"

// stepSignInOffered opens the log-in page for a page of the UI, in the walk's language: it
// offers "Sign in with WeCom — <title>" above the token form.
func stepSignInOffered(b *browserWalk) {
	b.open("/login?next=%2Fui%2Fmessages&lang="+b.lang, signInButton)
	b.expectText(signInButton, fmt.Sprintf(b.tr("signin.button"), b.pick("Sandbox corp", "沙箱企业")))
	b.waitVisible("#f-token")
	b.checkWidths("login-signin")
	b.screenshot("login-signin")
}

// toWeCom clicks the sign-in on the log-in page and waits for WeCom's QR page.
func (b *browserWalk) toWeCom() {
	b.t.Helper()
	b.open("/login?next=%2Fui%2Fmessages", signInButton)
	b.navigate(signInButton)
	b.waitVisible(`.sim-member[data-userid="zhangsan"]`)
	if got := eval[string](b, `location.origin`); got != b.simPages {
		b.t.Fatalf("the sign-in went to %s, want WeCom's page on %s", got, b.simPages)
	}
}

// expectRefusal checks the refusal page: its reason, its sentence in the walk's language, and its
// way back to the log-in page.
func (b *browserWalk) expectRefusal(name, reason, text string) {
	b.t.Helper()
	b.expectPath("/auth/wecom/sandbox/callback")
	b.expectAttr("#signin-refused", "data-reason", reason)
	b.expectText("#signin-reason", text)
	b.expectText("h1", b.tr("signin.refused.title"))
	b.checkWidths(name)
	b.screenshot(name)
	b.navigate("#back-to-login")
	b.expectPath("/login")
	b.waitVisible(signInButton)
}

// stepSignInOutsider chooses, on WeCom's page, a WeChat user who is not a member of the corp.
func stepSignInOutsider(b *browserWalk) {
	b.toWeCom()
	b.screenshot("wecom-qr-page")
	b.navigate(".sim-outsider")
	b.expectRefusal("signin-outsider", "outsider", b.tr("signin.refused.outsider"))
}

// stepSignInNoAccount chooses lisi, a member without an account: an admin must add one.
func stepSignInNoAccount(b *browserWalk) {
	b.toWeCom()
	b.navigate(`.sim-member[data-userid="lisi"]`)
	b.expectRefusal("signin-no-account", "no_account", fmt.Sprintf(b.tr("signin.refused.noAccount"), "lisi"))
}

// stepSignInTamperedState changes the state WeCom will carry back before choosing zhangsan: the
// server refuses it before asking WeCom who the code names.
func stepSignInTamperedState(b *browserWalk) {
	b.toWeCom()
	asked := b.sim.Calls("auth/getuserinfo")
	link := `.sim-member[data-userid="zhangsan"]`
	eval[string](b, fmt.Sprintf(`(() => { const a = document.querySelector(%q); a.href = a.href.replace(/state=[A-Za-z0-9]*/, "state=Tampered0123456789"); return a.href; })()`, link))
	b.navigate(link)
	b.expectRefusal("signin-bad-state", "state", b.tr("signin.refused.state"))
	if n := b.sim.Calls("auth/getuserinfo"); n != asked {
		b.t.Fatalf("a tampered state asked WeCom who signed in (%d calls, %d before)", n, asked)
	}
}

// stepSignInMember chooses zhangsan, who has an account: the browser lands on the page the log-in
// page was opened for, signed in as 张三 — the page's own calls to the API answer that account.
func stepSignInMember(b *browserWalk) {
	b.toWeCom()
	b.navigate(`.sim-member[data-userid="zhangsan"]`)
	b.waitPath("/ui/messages") // the page after the callback moves on at once
	b.expectText(`header nav a[href="/ui/messages"]`, b.tr("nav.messages"))
	me := get(b, "asking the API who the session is", chromedp.Evaluate[map[string]any](
		`fetch("/api/v1/accounts/me").then(r => r.json()).then(j => j.data)`, chromedp.EvalAwaitPromise))
	wecom, _ := me["wecom"].(map[string]any)
	if me["name"] != "张三" || me["role"] != "operator" || wecom["userid"] != "zhangsan" {
		b.t.Fatalf("signed in as %v, want 张三 (operator, zhangsan)", me)
	}
	b.checkWidths("signed-in")
	b.screenshot("signed-in")
}

// waitPath waits until the page at path has loaded: a page that moves on by itself has done so.
// An evaluation may meet the page between two documents; it is asked again.
func (b *browserWalk) waitPath(path string) {
	b.t.Helper()
	script := fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, path)
	for deadline := time.Now().Add(stepTimeout / 2); ; time.Sleep(50 * time.Millisecond) {
		if there, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](script)); err == nil && there {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page stays at %s, want %s", b.pathOrBlank(), path)
		}
	}
}
