package server

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// The official vectors (shared/wecom/VECTORS.md).
const (
	vecToken  = "QDG6eK"
	vecKey    = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	vecCorp   = "wx5823bf96d3bd56c7"
	v1Query   = "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D"
	v2Query   = "msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813&nonce=1372623149"
	v2Encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)

func envelope(encrypt string) string {
	return "<xml><ToUserName><![CDATA[" + vecCorp + "]]></ToUserName><Encrypt><![CDATA[" + encrypt + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
}

// vectorEnv is a server (no skew check: the vectors are from 2014) with the vectors' credentials
// on authenticator "vec", and "nocb" without a callback.
func vectorEnv(t *testing.T, skew time.Duration) *env {
	t.Helper()
	e := newEnv(t)
	e.srv = New(Config{PublicURL: "https://wecomflow.example.com", CallbackMaxSkew: skew}, e.store, e.srv.log)
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "vec", "options": map[string]any{
		"corpId": vecCorp, "agentId": 218, "secret": "s", "callback": map[string]any{"token": vecToken, "encodingAesKey": vecKey}}})
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "nocb", "options": map[string]any{
		"corpId": vecCorp, "agentId": 218, "secret": "s"}})
	return e
}

func TestOfficialVectorsThroughTheCallbackURL(t *testing.T) {
	t.Parallel()
	e := vectorEnv(t, 0)
	res := e.raw("GET", "/callback/wecom/vec?"+v1Query, "", nil, "")
	if res.Status != 200 || string(res.Body) != "1616140317555161061" {
		t.Fatalf("V1: %d %q", res.Status, res.Body)
	}
	res = e.raw("POST", "/callback/wecom/vec?"+v2Query, "text/xml", strings.NewReader(envelope(v2Encrypt)), "")
	if res.Status != 200 || len(res.Body) != 0 {
		t.Fatalf("V2: %d %q", res.Status, res.Body)
	}
	ev := e.must(200, "GET", "/api/v1/callback-events", nil).JSON()["data"].([]any)[0].(map[string]any)
	p := ev["payload"].(map[string]any)
	if ev["msgType"] != "text" || ev["fromUser"] != "mycreate" || p["Content"] != "hello" || p["MsgId"] != "4561255354251345929" || ev["deliveries"] != 1.0 {
		t.Fatalf("stored event %v", ev)
	}
}

// rawEncrypt encrypts plaintext with the vectors' key as WeCom's scheme does, without padding,
// so tests can build malformed messages.
func rawEncrypt(t *testing.T, plain []byte) string {
	key, _ := base64.StdEncoding.DecodeString(vecKey + "=")
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

// wecomPlain is random16 ‖ length ‖ msg ‖ receiveID, padded with pad bytes of value padValue.
func wecomPlain(msg, receiveID string, lengthField uint32, padLen int, padValue byte) []byte {
	var b bytes.Buffer
	b.WriteString("0123456789abcdef")
	_ = binary.Write(&b, binary.BigEndian, lengthField)
	b.WriteString(msg + receiveID)
	b.Write(bytes.Repeat([]byte{padValue}, padLen))
	return b.Bytes()
}

func padTo32(n int) int { return 32 - n%32 }

func TestCallbackRejectionsStoreNothing(t *testing.T) {
	t.Parallel()
	e := vectorEnv(t, 5*time.Minute)
	now := fmt.Sprint(time.Now().Unix())
	msg := "<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[x]]></Event></xml>"
	good, _ := wecomtest.Encrypt(vecKey, vecCorp, nil, []byte(msg))
	wrongCorp, _ := wecomtest.Encrypt(vecKey, "wwSomeoneElse", nil, []byte(msg))
	n := 20 + len(msg) + len(vecCorp)
	badPad := rawEncrypt(t, wecomPlain(msg, vecCorp, uint32(len(msg)), padTo32(n), 0))
	unevenPad := append(wecomPlain(msg, vecCorp, uint32(len(msg)), padTo32(n), byte(padTo32(n))), 0)
	unevenPad = unevenPad[:len(unevenPad)-1]
	unevenPad[len(unevenPad)-2] ^= 1
	lengthPast := rawEncrypt(t, wecomPlain(msg, vecCorp, 1<<20, padTo32(n), byte(padTo32(n))))
	post := func(name, ts, enc string, tamperSig bool) response {
		sig := wecomtest.Signature(vecToken, ts, "nonce1", enc)
		if tamperSig {
			sig = strings.Repeat("0", 40)
		}
		q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {"nonce1"}}
		return e.raw("POST", "/callback/wecom/"+name+"?"+q.Encode(), "text/xml", strings.NewReader(envelope(enc)), "")
	}
	cases := []struct {
		name   string
		res    func() response
		status int
	}{
		{"forged signature", func() response { return post("vec", now, good, true) }, 401},
		{"tampered ciphertext", func() response {
			q := url.Values{"msg_signature": {wecomtest.Signature(vecToken, now, "nonce1", good)}, "timestamp": {now}, "nonce": {"nonce1"}}
			// Change the first character, whatever it is: the ciphertext must differ from the signed one.
			first := "A"
			if good[0] == 'A' {
				first = "B"
			}
			tampered := first + good[1:]
			return e.raw("POST", "/callback/wecom/vec?"+q.Encode(), "text/xml", strings.NewReader(envelope(tampered)), "")
		}, 401},
		{"missing signature", func() response {
			return e.raw("POST", "/callback/wecom/vec?timestamp="+now, "text/xml", strings.NewReader(envelope(good)), "")
		}, 401},
		{"wrong corp", func() response { return post("vec", now, wrongCorp, false) }, 401},
		{"bad base64", func() response { return post("vec", now, "!!!not base64!!!", false) }, 400},
		{"bad padding", func() response { return post("vec", now, badPad, false) }, 400},
		{"uneven padding", func() response { return post("vec", now, rawEncrypt(t, unevenPad), false) }, 400},
		{"length field past the end", func() response { return post("vec", now, lengthPast, false) }, 400},
		{"malformed XML envelope", func() response {
			return e.raw("POST", "/callback/wecom/vec?"+v2Query, "text/xml", strings.NewReader("<xml><Encrypt>"), "")
		}, 400},
		{"body over 1 MiB", func() response {
			return e.raw("POST", "/callback/wecom/vec?"+v2Query, "text/xml", strings.NewReader(envelope(strings.Repeat("A", 1<<20))), "")
		}, 413},
		{"stale timestamp", func() response { return post("vec", fmt.Sprint(time.Now().Add(-time.Hour).Unix()), good, false) }, 401},
		{"unknown authenticator", func() response { return post("ghost", now, good, false) }, 404},
		{"callback not configured", func() response { return post("nocb", now, good, false) }, 404},
		{"contacts callback not configured", func() response { return post("vec/contacts", now, good, false) }, 404},
		{"GET with a forged signature", func() response {
			return e.raw("GET", "/callback/wecom/vec?"+strings.Replace(v1Query, "5c45", "0000", 1), "", nil, "")
		}, 401},
	}
	for _, c := range cases {
		if res := c.res(); res.Status != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, res.Status, res.Body, c.status)
		}
	}
	var n2 int64
	e.store.Read.Model(&models.CallbackEvent{}).Count(&n2)
	if n2 != 0 {
		t.Fatalf("rejected callbacks stored %d events", n2)
	}
	// The good one is accepted, proving the table tested the checks and not a broken setup.
	if res := post("vec", now, good, false); res.Status != 200 {
		t.Fatalf("a valid callback: %d %q", res.Status, res.Body)
	}
}

// cardEnv is a delivery env whose callback URL is served over HTTP, with a caller that plays WeCom.
func cardEnv(t *testing.T, o deliveryOptions) (*deliveryEnv, *wecomtest.CallbackCaller) {
	e := newDeliveryEnv(t, o)
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	return e, &wecomtest.CallbackCaller{URL: hs.URL + "/callback/wecom/acme", Token: "cbtoken",
		EncodingAESKey: strings.Repeat("a", 43), CorpID: e.demo.CorpID, Now: e.clock.Now}
}

// A click on a card: recorded on the message, the card updated with the replace name, once, even
// when WeCom delivers the event three times at once.
func TestCardClickIsRecordedOnceAndUpdatesTheCard(t *testing.T) {
	t.Parallel()
	e, caller := cardEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + user}}, "msgtype": "template_card", "replaceName": "已处理",
		"template_card": map[string]any{"card_type": "button_interaction", "task_id": "approve_42", "main_title": map[string]any{"title": "Approve order 42?"},
			"button_list": []any{map[string]any{"text": "Approve", "key": "approve"}, map[string]any{"text": "Reject", "key": "reject", "style": 2}}}})
	e.waitFinal(id)
	xml, err := e.sim.ClickCard(e.demo.CorpID, user, "approve_42", "approve")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, body, err := caller.Post(context.Background(), xml); err != nil || status != 200 {
				t.Errorf("delivery: %d %q %v", status, body, err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	var m map[string]any
	for time.Now().Before(deadline) {
		m = e.message(id)
		if rs, _ := m["responses"].([]any); len(rs) > 0 && rs[0].(map[string]any)["updated"] == true {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	rs, _ := m["responses"].([]any)
	if len(rs) != 1 || rs[0].(map[string]any)["eventKey"] != "approve" || rs[0].(map[string]any)["userid"] != user {
		t.Fatalf("responses %v", m["responses"])
	}
	if ups := e.sim.CardUpdates(); len(ups) != 1 || ups[0].ReplaceName != "已处理" {
		t.Fatalf("card updates %v", ups)
	}
	// The card is updated inside processing; the event is marked processed just after.
	var evs map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		evs = e.must(200, "GET", "/api/v1/callback-events?event=template_card_event", nil).JSON()
		if data, _ := evs["data"].([]any); len(data) > 0 && data[0].(map[string]any)["status"] != "received" || time.Now().After(deadline) {
			break
		}
	}
	if evs["total"] != 1.0 || evs["data"].([]any)[0].(map[string]any)["deliveries"] != 3.0 || evs["data"].([]any)[0].(map[string]any)["status"] != "processed" {
		t.Fatalf("events %v", evs)
	}
}

// An event stored just before a crash (never processed, or its processor died holding it) is
// processed after restart.
func TestEventStoredBeforeACrashIsProcessedAfterRestart(t *testing.T) {
	t.Parallel()
	e, caller := cardEnv(t, deliveryOptions{noSender: true, start: time.Now()})
	user := e.demo.UserIDs[1]
	// Send the card with a private worker run, then stop it: the "process" that will crash.
	e.startSender()
	id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + user}}, "msgtype": "template_card", "replaceName": "done",
		"template_card": map[string]any{"card_type": "button_interaction", "task_id": "crash_1", "main_title": map[string]any{"title": "t"},
			"button_list": []any{map[string]any{"text": "OK", "key": "ok"}}}})
	e.waitFinal(id)
	e.stop()
	xml, _ := e.sim.ClickCard(e.demo.CorpID, user, "crash_1", "ok")
	if status, _, err := caller.Post(context.Background(), xml); err != nil || status != 200 {
		t.Fatalf("delivery: %d %v", status, err)
	}
	// A processor that claimed it and died: its lease holds the event until it lapses.
	if claimed, err := e.store.ClaimEvents(context.Background(), "dead-instance", time.Minute, 10); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %d", err, len(claimed))
	}
	e.clock.Advance(2 * time.Minute)
	e.startSender()
	deadline := time.Now().Add(10 * time.Second)
	ev := map[string]any{}
	for ev["status"] != "processed" && time.Now().Before(deadline) {
		ev = e.must(200, "GET", "/api/v1/callback-events", nil).JSON()["data"].([]any)[0].(map[string]any)
		time.Sleep(5 * time.Millisecond)
	}
	if ev["status"] != "processed" || len(e.sim.CardUpdates()) != 1 {
		t.Fatalf("event %v, card updates %d", ev["status"], len(e.sim.CardUpdates()))
	}
}

// A message with a MsgId is one event per MsgId, even when the redelivered plaintext differs.
func TestMessagesAreDeduplicatedByMsgID(t *testing.T) {
	t.Parallel()
	e, caller := cardEnv(t, deliveryOptions{noSender: true})
	for i := int64(0); i < 2; i++ {
		xml := wecomtest.TextMessageXML(e.demo.CorpID, e.demo.AgentID, e.demo.UserIDs[0], "你好", 4561255354251345929, e.clock.Now().Unix()+i)
		if status, body, err := caller.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("delivery %d: %d %q %v", i, status, body, err)
		}
	}
	res := e.must(200, "GET", "/api/v1/callback-events", nil).JSON()
	if res["total"] != 1.0 || res["data"].([]any)[0].(map[string]any)["deliveries"] != 2.0 {
		t.Fatalf("events %v", res)
	}
}
