package wecomtest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// The demo corp has a robot, an app group chat and customers for the sandbox to show.
func TestSeedDemoDelivery(t *testing.T) {
	t.Parallel()
	sim := New(Options{Seed: 1})
	d := SeedDemo(sim)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	f := &fixture{sim: sim, srv: srv}
	token := func(secret string) string {
		m := f.do(t, http.MethodGet, "gettoken", url.Values{"corpid": {d.CorpID}, "corpsecret": {secret}}, nil)
		return m["access_token"].(string)
	}

	if m := f.robotPost(t, "webhook/send", d.RobotKey, map[string]any{"msgtype": "text", "text": map[string]any{
		"content": "磁盘告警", "mentioned_mobile_list": []any{"13800000007"}, // wujiu
	}}); errcode(m) != 0 {
		t.Fatalf("robot: %v", m)
	}
	if got := sim.RobotMessages(d.RobotKey); len(got) != 1 || len(got[0].Mentions) != 1 || got[0].Mentions[0] != "wujiu" {
		t.Errorf("robot messages = %+v", got)
	}
	if rs := sim.Robots(d.CorpID); len(rs) != 1 || rs[0].ChatName != "运维值班群" {
		t.Errorf("Robots = %+v", rs)
	}

	app := token(d.Secret)
	info := f.get(t, "appchat/get", app, url.Values{"chatid": {d.ChatID}})
	if errcode(info) != 0 || info["chat_info"].(map[string]any)["owner"] != "zhangsan" {
		t.Errorf("appchat/get = %v", info)
	}
	if m := f.post(t, "appchat/send", app, map[string]any{"chatid": d.ChatID, "msgtype": "text", "text": map[string]any{"content": "值班交接"}}); errcode(m) != 0 {
		t.Errorf("appchat/send = %v", m)
	}

	if m := f.post(t, "user/get_userid_by_email", app, map[string]any{"email": "lisi@acme.example"}); m["userid"] != "lisi" {
		t.Errorf("email lookup = %v", m)
	}

	m := f.post(t, "externalcontact/add_msg_template", token(d.ExternalContactSecret), map[string]any{
		"sender": "gaofei", "text": map[string]any{"content": "新品上市"},
	})
	if errcode(m) != 0 || len(d.ExternalUserIDs) != 3 {
		t.Fatalf("mass message = %v, customers %v", m, d.ExternalUserIDs)
	}
	if err := sim.ConfirmMassMessage(d.CorpID, m["msgid"].(string), "gaofei"); err != nil {
		t.Error(err)
	}
}
