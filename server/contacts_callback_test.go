package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// Every change_contact type, sent by the simulator's callback caller through the real contacts
// URL, is visible in the directory API.
func TestChangeContactThroughTheCallbackURLReachesTheDirectory(t *testing.T) {
	t.Parallel()
	e, app := cardEnv(t, deliveryOptions{})
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{
		"contactsCallback": map[string]any{"token": "contactsToken", "encodingAesKey": strings.Repeat("c", 43)}}})
	contacts := &wecomtest.CallbackCaller{URL: app.URL + "/contacts", Token: "contactsToken",
		EncodingAESKey: strings.Repeat("c", 43), CorpID: e.demo.CorpID, Now: e.clock.Now}
	sent := 0
	change := func(changeType string, fields map[string]string) {
		t.Helper()
		xml := wecomtest.ChangeContactXML(e.demo.CorpID, changeType, fields, e.clock.Now().Unix())
		if status, body, err := contacts.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("%s: %d %q %v", changeType, status, body, err)
		}
		sent++
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			res := e.must(200, "GET", "/api/v1/callback-events?kind=contacts&status=processed", nil).JSON()
			if res["total"] == float64(sent) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s was not processed", changeType)
	}
	change("create_party", map[string]string{"Id": "70", "Name": "新部门", "ParentId": "1", "Order": "3"})
	if d := departmentOf(e, 70); d == nil || d["name"] != "新部门" || d["parentId"] != 1.0 {
		t.Fatalf("create_party: %v", d)
	}
	change("update_party", map[string]string{"Id": "70", "Name": "改名部门"})
	if d := departmentOf(e, 70); d["name"] != "改名部门" {
		t.Fatalf("update_party: %v", d)
	}
	change("create_user", map[string]string{"UserID": "newbie", "Name": "新人", "Department": "1,70", "MainDepartment": "70", "Status": "1"})
	if m := memberOf(e, "newbie"); m == nil || m["name"] != "新人" || toString(m["departments"]) != "[1,70]" {
		t.Fatalf("create_user: %v", m)
	}
	change("update_user", map[string]string{"UserID": "newbie", "Position": "工程师", "Name": "新人甲"})
	if m := memberOf(e, "newbie"); m["name"] != "新人甲" {
		t.Fatalf("update_user: %v", m)
	}
	change("update_user", map[string]string{"UserID": "newbie", "NewUserID": "veteran"})
	if m := memberOf(e, "veteran"); m == nil || m["name"] != "新人甲" || memberOf(e, "newbie") != nil && memberOf(e, "newbie")["deleted"] != true {
		t.Fatalf("rename: veteran %v, newbie %v", m, memberOf(e, "newbie"))
	}
	change("update_tag", map[string]string{"TagId": "1", "AddUserItems": "veteran"})
	change("delete_user", map[string]string{"UserID": "veteran"})
	if m := memberOf(e, "veteran"); m == nil || m["deleted"] != true {
		t.Fatalf("delete_user: %v", m)
	}
	change("delete_party", map[string]string{"Id": "70"})
	if d := departmentOf(e, 70); d != nil && d["deleted"] != true {
		t.Fatalf("delete_party: %v", d)
	}
	// A URL configured after 2022-08 sends ids only: the member is read from WeCom.
	e.sim.AddUser(e.demo.CorpID, wecomtest.User{UserID: "idonly", Name: "只有ID", Departments: []int{1}, MainDepartment: 1, Status: 1})
	change("create_user", map[string]string{"UserID": "idonly"})
	if m := memberOf(e, "idonly"); m == nil || m["name"] != "只有ID" {
		t.Fatalf("id-only create_user: %v", m)
	}
	// WeCom retrying an event (same plaintext, new encryption) changes nothing more.
	if total := e.must(200, "GET", "/api/v1/callback-events?kind=contacts", nil).JSON()["total"]; total != float64(sent) {
		t.Fatalf("events %v, sent %d", total, sent)
	}
}

func memberOf(e *deliveryEnv, userid string) map[string]any {
	for _, m := range e.must(200, "GET", "/api/v1/directory/members?authenticatorId=1&pageSize=200&q="+userid, nil).JSON()["data"].([]any) {
		if mm := m.(map[string]any); mm["userid"] == userid {
			return mm
		}
	}
	return nil
}

func departmentOf(e *deliveryEnv, id float64) map[string]any {
	for _, d := range e.must(200, "GET", "/api/v1/directory/departments?authenticatorId=1&pageSize=200", nil).JSON()["data"].([]any) {
		if dd := d.(map[string]any); dd["id"] == id {
			return dd
		}
	}
	return nil
}
