package wecomtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestGetToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name       string
		corpID     string
		secret     string
		want       int
		msgContain string
	}{
		{"success", testCorp, testSecret, 0, "ok"},
		{"contacts secret", testCorp, contactsSec, 0, "ok"},
		{"wrong secret", testCorp, "nope", 40001, "invalid credential"},
		{"unknown corp", "wwunknown", testSecret, 40013, "invalid corpid"},
		{"missing corpid", "", testSecret, 41002, "corpid missing"},
		{"untrusted ip", testCorp, trustedSec, 60020, "not allow to access from your ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := f.do(t, http.MethodGet, "gettoken", url.Values{"corpid": {tt.corpID}, "corpsecret": {tt.secret}}, nil)
			if got := errcode(m); got != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tt.want, m)
			}
			msg := m["errmsg"].(string)
			if !strings.Contains(msg, tt.msgContain) {
				t.Errorf("errmsg %q does not contain %q", msg, tt.msgContain)
			}
			if tt.want == 0 {
				if tok, _ := m["access_token"].(string); len(tok) < 64 {
					t.Errorf("access_token %q shorter than 64", tok)
				}
				if m["expires_in"].(float64) != 7200 {
					t.Errorf("expires_in = %v", m["expires_in"])
				}
				return
			}
			if _, ok := m["access_token"]; ok && m["access_token"] != "" {
				t.Errorf("error answer carries a token: %v", m)
			}
		})
	}
	t.Run("60020 names the caller's ip", func(t *testing.T) {
		t.Parallel()
		m := f.do(t, http.MethodGet, "gettoken", url.Values{"corpid": {testCorp}, "corpsecret": {trustedSec}}, nil)
		msg := m["errmsg"].(string)
		if !strings.Contains(msg, "from ip: 127.0.0.1,") || !strings.Contains(msg, "hint: [") ||
			!strings.HasSuffix(msg, "more info at https://open.work.weixin.qq.com/devtool/query?e=60020") {
			t.Errorf("errmsg %q lacks WeCom's shape", msg)
		}
	})
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.token(t, testSecret)
	send := func(tok string) int {
		return errcode(f.post(t, "message/send", tok, text(testAgent, "alice", "hi")))
	}
	if got := send(first); got != 0 {
		t.Fatalf("fresh token: errcode %d", got)
	}

	f.clock.Advance(10 * time.Minute)
	m := f.do(t, http.MethodGet, "gettoken", url.Values{"corpid": {testCorp}, "corpsecret": {testSecret}}, nil)
	if m["access_token"] != first || m["expires_in"].(float64) != 6600 {
		t.Fatalf("repeat gettoken = %v, want the same token with 6600 s left", m)
	}
	if other := f.token(t, noCBSecret); other == first {
		t.Fatal("two apps share a token")
	}

	f.clock.Advance(7200*time.Second - 10*time.Minute)
	if got := send(first); got != 42001 {
		t.Fatalf("expired token: errcode %d, want 42001", got)
	}
	second := f.token(t, testSecret)
	if second == first {
		t.Fatal("gettoken after expiry returned the expired token")
	}
	if got := send(second); got != 0 {
		t.Fatalf("renewed token: errcode %d", got)
	}

	f.sim.InvalidateTokens(testCorp)
	if got := send(second); got != 40014 {
		t.Fatalf("invalidated token: errcode %d, want 40014", got)
	}
	third := f.token(t, testSecret)
	if third == second {
		t.Fatal("gettoken after InvalidateTokens returned the invalidated token")
	}
	if got := send(third); got != 0 {
		t.Fatalf("token after invalidation: errcode %d", got)
	}

	if got := errcode(f.do(t, http.MethodPost, "message/send", url.Values{}, text(testAgent, "alice", "x"))); got != 41001 {
		t.Errorf("no access_token: errcode %d, want 41001", got)
	}
	if got := send("made-up"); got != 40014 {
		t.Errorf("unknown token: errcode %d, want 40014", got)
	}
	if n := f.sim.Calls("gettoken"); n != 5 {
		t.Errorf("Calls(gettoken) = %d, want 5", n)
	}
}

func TestTrustedIPsApplyToEveryEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Trusted from the test's loopback address first, to get a token; then only 10.0.0.1.
	f.sim.AddApp(testCorp, App{AgentID: trustedAgent, Secret: trustedSec, TrustedIPs: []string{"127.0.0.1"}})
	tok := f.token(t, trustedSec)
	f.sim.AddApp(testCorp, App{AgentID: trustedAgent, Secret: trustedSec, TrustedIPs: []string{"10.0.0.1"}})
	m := f.post(t, "message/send", tok, text(trustedAgent, "alice", "hi"))
	if errcode(m) != 60020 || !strings.Contains(m["errmsg"].(string), "from ip: 127.0.0.1") {
		t.Fatalf("send from an untrusted ip = %v, want 60020 naming 127.0.0.1", m)
	}
	if len(f.sim.Inbox(testCorp, "alice")) != 0 {
		t.Error("a refused send was delivered")
	}
}
