package wecomtest

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// The published vectors of /work/shared/wecom/VECTORS.md (WeCom page 90968).
const (
	vecToken    = "QDG6eK"
	vecKey      = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	vecCorp     = "wx5823bf96d3bd56c7"
	v1Echostr   = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	v1Encrypt   = v1Echostr
	v2Encrypt   = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	v2Plaintext = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n" +
		"<FromUserName><![CDATA[mycreate]]></FromUserName>\n" +
		"<CreateTime>1409659813</CreateTime>\n" +
		"<MsgType><![CDATA[text]]></MsgType>\n" +
		"<Content><![CDATA[hello]]></Content>\n" +
		"<MsgId>4561255354251345929</MsgId>\n" +
		"<AgentID>218</AgentID>\n" +
		"</xml>"
)

func TestCryptoVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		random, plain         string
		timestamp, nonce, sig string
		encrypted             string
	}{
		{"V1 URL verification", "c41b64491c2468d0", "1616140317555161061", "1409659589", "263014780", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", v1Encrypt},
		{"V2 message", "0960688932c47ef1", v2Plaintext, "1409659813", "1372623149", "477715d11cdb4164915debcba66cb864d751f3e6", v2Encrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Encrypt(vecKey, vecCorp, []byte(tt.random), []byte(tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.encrypted {
				t.Errorf("Encrypt =\n%s\nwant\n%s", got, tt.encrypted)
			}
			if s := Signature(vecToken, tt.timestamp, tt.nonce, tt.encrypted); s != tt.sig {
				t.Errorf("Signature = %s, want %s", s, tt.sig)
			}
			msg, receiveID, err := Decrypt(vecKey, tt.encrypted)
			if err != nil || string(msg) != tt.plain || receiveID != vecCorp {
				t.Errorf("Decrypt = %q, %q, %v", msg, receiveID, err)
			}
		})
	}
	if len(v2Plaintext) != 284 {
		t.Errorf("V2 plaintext is %d bytes, VECTORS says 284", len(v2Plaintext))
	}
}

func TestDecryptRejectsDamage(t *testing.T) {
	t.Parallel()
	raw, _ := base64.StdEncoding.DecodeString(v2Encrypt)
	flipLast := append([]byte(nil), raw...)
	flipLast[len(flipLast)-1] ^= 0xff // garbles the padding of the last block
	tests := []struct {
		name, key, encrypted string
	}{
		{"not base64", vecKey, "%%%"},
		{"not whole blocks", vecKey, base64.StdEncoding.EncodeToString(raw[:len(raw)-3])},
		{"empty", vecKey, ""},
		{"damaged padding", vecKey, base64.StdEncoding.EncodeToString(flipLast)},
		{"wrong key", strings.Repeat("A", 43), v2Encrypt},
		{"short key", "abc", v2Encrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if msg, _, err := Decrypt(tt.key, tt.encrypted); err == nil {
				t.Errorf("Decrypt accepted it: %q", msg)
			}
		})
	}
	if _, err := Encrypt(vecKey, vecCorp, []byte("short"), []byte("x")); err == nil {
		t.Error("Encrypt accepted a 5-byte random prefix")
	}
}

// receiver is a minimal callback endpoint built on the package's own crypto, the way the product's
// handler must behave (SPEC §6), used to check CallbackCaller end to end.
type receiver struct {
	token, key, corp string
	mu               sync.Mutex
	got              []string
	agentIDs         []string
	encrypts         []string
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	verify := func(enc string) bool {
		want := Signature(rv.token, q.Get("timestamp"), q.Get("nonce"), enc)
		return subtle.ConstantTimeCompare([]byte(want), []byte(q.Get("msg_signature"))) == 1
	}
	if r.Method == http.MethodGet {
		enc := q.Get("echostr")
		if !verify(enc) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		msg, id, err := Decrypt(rv.key, enc)
		if err != nil || id != rv.corp {
			http.Error(w, "bad echostr", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(msg)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var env struct {
		ToUserName, AgentID, Encrypt string
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		http.Error(w, "bad xml", http.StatusBadRequest)
		return
	}
	if !verify(env.Encrypt) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	msg, id, err := Decrypt(rv.key, env.Encrypt)
	if err != nil || id != rv.corp {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	rv.mu.Lock()
	rv.got = append(rv.got, string(msg))
	rv.agentIDs = append(rv.agentIDs, env.AgentID)
	rv.encrypts = append(rv.encrypts, env.Encrypt)
	rv.mu.Unlock()
}

func TestCallbackCallerRoundTrip(t *testing.T) {
	t.Parallel()
	const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	rv := &receiver{token: "tok123", key: key, corp: testCorp}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	clock := NewManualClock(start)
	caller := &CallbackCaller{URL: srv.URL + "/callback/wecom/acme?x=1", Token: "tok123", EncodingAESKey: key, CorpID: testCorp, Client: srv.Client(), Now: clock.Now}
	ctx := context.Background()

	echo, status, body, err := caller.Verify(ctx)
	if err != nil || status != 200 || body != echo || len(echo) != 19 {
		t.Fatalf("Verify = %q, %d, %q, %v", echo, status, body, err)
	}

	// A click flows from the simulator through the caller to the receiver.
	f := newFixture(t)
	f.post(t, "message/send", f.token(t, testSecret), buttonCard(testAgent, "alice", "rt-1"))
	click, err := f.sim.ClickCard(testCorp, "alice", "rt-1", "reject")
	if err != nil {
		t.Fatal(err)
	}
	contact := ChangeContactXML(testCorp, "update_user", map[string]string{"UserID": "alice", "Department": "2,3", "Status": "1"}, start.Unix())
	for _, plain := range []string{click, click, contact} {
		if status, body, err := caller.Post(ctx, plain); err != nil || status != 200 || body != "" {
			t.Fatalf("Post = %d %q %v", status, body, err)
		}
	}
	rv.mu.Lock()
	got, agents, encs := rv.got, rv.agentIDs, rv.encrypts
	rv.mu.Unlock()
	if len(got) != 3 || got[0] != click || got[1] != click || got[2] != contact {
		t.Fatalf("receiver got %q", got)
	}
	if agents[0] != "1000002" || agents[2] != "" {
		t.Errorf("envelope AgentIDs = %q", agents)
	}
	if encs[0] == encs[1] {
		t.Error("a redelivery reused the ciphertext: the random prefix must be fresh")
	}

	// Tampering: a wrong signature is refused.
	q := url.Values{"msg_signature": {"0000"}, "timestamp": {"1"}, "nonce": {"2"}}
	if status, _, err := caller.PostEnvelope(ctx, q, []byte("<xml><Encrypt><![CDATA[x]]></Encrypt></xml>")); err != nil || status != http.StatusUnauthorized {
		t.Errorf("tampered envelope = %d %v", status, err)
	}
}

func TestEventXML(t *testing.T) {
	t.Parallel()
	got := ChangeContactXML("wwcorp", "create_user", map[string]string{
		"Name": "张三", "UserID": "zhangsan", "Department": "1,2", "MainDepartment": "1", "Zeta": "z", "Alias": "a]]>b",
	}, 1700000000)
	want := "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\n" +
		"<FromUserName><![CDATA[sys]]></FromUserName>\n" +
		"<CreateTime>1700000000</CreateTime>\n" +
		"<MsgType><![CDATA[event]]></MsgType>\n" +
		"<Event><![CDATA[change_contact]]></Event>\n" +
		"<ChangeType><![CDATA[create_user]]></ChangeType>\n" +
		"<UserID><![CDATA[zhangsan]]></UserID>\n" +
		"<Name><![CDATA[张三]]></Name>\n" +
		"<Department><![CDATA[1,2]]></Department>\n" +
		"<MainDepartment>1</MainDepartment>\n" +
		"<Alias><![CDATA[a]]]]><![CDATA[>b]]></Alias>\n" +
		"<Zeta><![CDATA[z]]></Zeta>\n" +
		"</xml>"
	if got != want {
		t.Errorf("ChangeContactXML =\n%s\nwant\n%s", got, want)
	}
	var ev struct{ Alias string }
	if err := xml.Unmarshal([]byte(got), &ev); err != nil || ev.Alias != "a]]>b" {
		t.Errorf("CDATA escaping lost the text: %q %v", ev.Alias, err)
	}
	card := TemplateCardEventXML("wwcorp", 1000002, "lisi", "t1", "ok", "rc", "button_interaction", 1700000000, nil)
	if strings.Contains(card, "SelectedItems") || !strings.Contains(card, "<AgentID>1000002</AgentID>") {
		t.Errorf("TemplateCardEventXML = %s", card)
	}
}
