package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// A send to connected enterprises goes to linkedcorp/message/send with array recipients.
func TestConnectedEnterpriseSend(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	partner := "wwpartner0000001"
	e.sim.AddCorp(wecomtest.Corp{ID: partner, Name: "Partner"})
	e.sim.AddDepartment(partner, wecomtest.Department{ID: 1, Name: "Partner"})
	e.sim.AddUser(partner, wecomtest.User{UserID: "wangwu", Name: "王五", Departments: []int{1}, MainDepartment: 1, Status: 1})
	e.sim.LinkCorp(e.demo.CorpID, partner)
	id := e.send(map[string]any{"to": map[string]any{"linked": map[string]any{"users": []any{partner + "/wangwu", partner + "/ghost"}}},
		"msgtype": "text", "text": map[string]any{"content": "hello partner"}})
	m := e.waitFinal(id)
	if m["status"] != "partial" || !strings.Contains(strings.ToLower(toString(m["recipients"])), "ghost") {
		t.Fatalf("linked send: %v %v", m["status"], m["recipients"])
	}
	got := e.sim.Inbox(partner, "wangwu")
	if len(got) != 1 || e.sim.Calls("linkedcorp/message/send") != 1 || e.sim.Calls("message/send") != 0 {
		t.Fatalf("partner inbox %d, linkedcorp calls %d, message/send calls %d", len(got), e.sim.Calls("linkedcorp/message/send"), e.sim.Calls("message/send"))
	}
	if !strings.Contains(string(got[0].Request), `"touser":["`+partner+`/wangwu"`) {
		t.Errorf("recipients are not a JSON array: %s", got[0].Request)
	}
}

// "media": {"url": …} is downloaded, uploaded to WeCom once and sent by its media_id. The files
// are served on loopback, which WECOMFLOW_FETCH_ALLOW opens.
func TestMediaFromURLIsUploadedOnceAndCached(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...))
	}))
	defer files.Close()
	user := e.demo.UserIDs[6]
	for i := 0; i < 2; i++ {
		id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + user}}, "msgtype": "image",
			"image": map[string]any{"media": map[string]any{"url": files.URL + "/chart.png"}}, "idempotencyKey": "img-" + string(rune('a'+i))})
		if m := e.waitFinal(id); m["status"] != "sent" {
			t.Fatalf("image %d: %v %v", i, m["status"], m["reason"])
		}
	}
	if uploads := e.sim.Calls("media/upload"); uploads != 1 {
		t.Fatalf("media/upload called %d times, want 1 (cached)", uploads)
	}
	if n := len(e.inbox(user)); n != 1 {
		// The second image is byte-identical: WeCom's duplicate check delivers it once.
		t.Fatalf("inbox %d", n)
	}
	tiny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("abc")) }))
	defer tiny.Close()
	res := e.do("POST", "/api/v1/messages", map[string]any{"channel": "ops", "to": map[string]any{"users": []any{"local-" + user}}, "msgtype": "image",
		"image": map[string]any{"media": map[string]any{"url": tiny.URL}}})
	if res.Status != 422 || res.Fields()["image.media.url"] == nil {
		t.Fatalf("a 3-byte image: %d %s", res.Status, res.Body)
	}
}

// Past the app's daily quota, messages wait for the next day instead of failing.
func TestDailyQuotaDefersToTheNextDay(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"dailyQuota": 3}})
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.send(textTo([]string{"local-" + e.demo.UserIDs[i]}, "quota")))
	}
	// The five are sent concurrently: any three fit today's quota, the other two wait.
	statuses := func() (sent, waiting []string) {
		for _, id := range ids {
			if m := e.message(id); m["status"] == "sent" {
				sent = append(sent, id)
			} else if m["status"] != "failed" {
				waiting = append(waiting, id)
			}
		}
		return sent, waiting
	}
	deadline := time.Now().Add(10 * time.Second)
	for sent, _ := statuses(); len(sent) < 3 && time.Now().Before(deadline); sent, _ = statuses() {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	sent, waiting := statuses()
	if len(sent) != 3 || len(waiting) != 2 {
		t.Fatalf("today: %d sent, %d waiting; want 3 and 2", len(sent), len(waiting))
	}
	e.clock.Advance(24 * time.Hour)
	for _, id := range waiting {
		if m := e.waitFinal(id); m["status"] != "sent" || m["attempts"] != 1.0 {
			t.Fatalf("next day: %v attempts %v", m["status"], m["attempts"])
		}
	}
}

// The access token appears in no log line and no API response, and is sealed in the database.
func TestAccessTokensAreNeverLogged(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	e.sim.Script("message/send", wecomtest.Fault{HTTPStatus: 502}, wecomtest.Fault{Reset: true})
	id := e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, "token"))
	m := e.finishWithClock(id)
	var cached models.AccessToken
	if err := e.store.DB.Take(&cached).Error; err != nil || cached.Token.Plain == "" {
		t.Fatalf("no cached token: %v", err)
	}
	token := cached.Token.Plain
	if strings.Contains(e.logs.String(), token) || strings.Contains(toString(m), token) {
		t.Fatal("the access token leaked into the log or the API")
	}
	var raw string
	e.store.Read.Raw("SELECT token FROM access_tokens").Scan(&raw)
	if strings.Contains(raw, token) {
		t.Fatal("the access token is stored in clear")
	}
	if !strings.Contains(e.logs.String(), "send attempt failed") {
		t.Fatal("the failed attempts were not logged; the check proves nothing")
	}
	if metrics := e.raw("GET", "/metrics", "", nil, ""); !strings.Contains(string(metrics.Body), "wecomflow_outbox_requests") {
		t.Error("no queue depth metric")
	}
}

// A WeCom answer that echoes the request's credentials is stored, shown and logged with them
// masked: the message's reason, the request's errmsg, the log and the database hold none of them.
func TestCredentialsEchoedByWeComAreMasked(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	echo := "invalid request, hint: [GET /cgi-bin/gettoken?corpid=ww1&corpsecret=ECHOED-SECRET-1 access_token=ECHOED-TOKEN-2&key=ECHOED-KEY-3]"
	e.sim.Script("message/send", wecomtest.Fault{ErrCode: 301002, ErrMsg: echo})
	id := e.send(textTo([]string{"local-" + user}, "echo"))
	m := e.waitFinal(id)
	raw := e.must(200, "GET", "/api/v1/messages/"+id, nil).Body
	if m["status"] != "failed" || !strings.Contains(m["reason"].(string), "corpsecret=***") {
		t.Fatalf("the failure: %v", m)
	}
	for _, s := range []string{"ECHOED-SECRET-1", "ECHOED-TOKEN-2", "ECHOED-KEY-3"} {
		if strings.Contains(string(raw), s) || strings.Contains(e.logs.String(), s) || strings.Contains(e.databaseText(t), s) {
			t.Errorf("%s is in the API's answer, the log or the database", s)
		}
	}
}
