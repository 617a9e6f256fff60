package server

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// directoryEnv is the demo corp behind a server whose directory runner the test starts and stops.
type directoryEnv struct {
	*deliveryEnv
	stopRunner func()
}

func newDirectoryEnv(t testing.TB, o deliveryOptions) *directoryEnv {
	t.Helper()
	o.noSender = true
	e := &directoryEnv{deliveryEnv: newDeliveryEnv(t, o), stopRunner: func() {}}
	t.Cleanup(func() { e.stopRunner() })
	return e
}

// runDirectory starts a directory runner (owner names it, as an instance) that polls quickly.
func (e *directoryEnv) runDirectory(owner string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// Every runner here believes it leads (as two may for a moment when the leader changes): the
	// database check still queues one task per tick.
	r := wecom.NewSyncer(e.store, e.srv.clients, e.srv.apps, e.srv.log, wecom.SyncerOptions{Owner: owner, Poll: 5 * time.Millisecond,
		ScheduleEvery: 5 * time.Millisecond, RetryBase: time.Millisecond, Now: e.store.Now, Leading: func() bool { return true }})
	go func() { defer close(done); _ = r.Run(ctx) }()
	stop = func() { cancel(); <-done }
	prev := e.stopRunner
	e.stopRunner = func() { stop(); prev() }
	return stop
}

// patchSync sets options.sync of the acme authenticator.
func (e *directoryEnv) patchSync(sync map[string]any) {
	e.t.Helper()
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"sync": sync}})
}

// startSync posts a sync and returns the task.
func (e *directoryEnv) startSync() map[string]any {
	e.t.Helper()
	return e.must(202, "POST", "/api/v1/authenticators/1/sync", nil).Data()
}

// waitTask waits for a sync task to finish; it returns the task and every status it was seen in.
func (e *directoryEnv) waitTask(id any) (map[string]any, []string) {
	e.t.Helper()
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		t := e.must(200, "GET", fmt.Sprintf("/api/v1/sync-tasks/%v", id), nil).Data()
		if s := t["status"].(string); len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		if t["status"] == "success" || t["status"] == "failed" {
			return t, seen
		}
		time.Sleep(3 * time.Millisecond)
	}
	e.t.Fatalf("sync task %v never finished: %v", id, seen)
	return nil, nil
}

// sync runs one full sync through the API and returns the finished task.
func (e *directoryEnv) sync() map[string]any {
	e.t.Helper()
	t, _ := e.waitTask(e.startSync()["id"])
	return t
}

func (e *directoryEnv) list(path string) ([]map[string]any, int) {
	e.t.Helper()
	body := e.must(200, "GET", path, nil).JSON()
	var out []map[string]any
	for _, v := range body["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out, int(body["total"].(float64))
}

// member reads one member by userid (nil when there is none).
func (e *directoryEnv) member(userid string) map[string]any {
	e.t.Helper()
	items, _ := e.list("/api/v1/directory/members?pageSize=200&q=" + url.QueryEscape(userid))
	for _, m := range items {
		if m["userid"] == userid {
			return m
		}
	}
	return nil
}

// localUser reads one local user by userid (nil when there is none).
func (e *directoryEnv) localUser(userid string) map[string]any {
	e.t.Helper()
	items, _ := e.list("/api/v1/users?pageSize=200&q=" + url.QueryEscape(userid))
	for _, u := range items {
		if u["userid"] == userid {
			return u
		}
	}
	return nil
}

func (e *directoryEnv) userID(userid string) float64 {
	e.t.Helper()
	u := e.localUser(userid)
	if u == nil {
		e.t.Fatalf("no local user %s", userid)
	}
	return u["id"].(float64)
}

// rowsWrittenSince counts directory and user rows written after t: what a sync really wrote.
func (e *directoryEnv) rowsWrittenSince(t time.Time) int {
	e.t.Helper()
	n := 0
	for _, table := range []string{"members", "departments", "users"} {
		var c int64
		if err := e.store.Read.Table(table).Where("updated_at > ?", t).Count(&c).Error; err != nil {
			e.t.Fatal(err)
		}
		n += int(c)
	}
	return n
}

// directorySnapshot is every row of the directory and the users, to compare states.
func (e *directoryEnv) directorySnapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{"SELECT * FROM members ORDER BY authenticator_id, wecom_userid",
		"SELECT * FROM departments ORDER BY authenticator_id, dept_id", "SELECT * FROM users ORDER BY id"} {
		cols, rows := e.rows(q)
		for _, r := range rows {
			for i, v := range r {
				b.WriteString(cols[i] + "=" + toString(v) + " ")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func counts(t map[string]any) map[string]float64 {
	out := map[string]float64{}
	for k, v := range t["counts"].(map[string]any) {
		out[k] = v.(float64)
	}
	return out
}

func wantCounts(t *testing.T, task map[string]any, want map[string]float64) {
	t.Helper()
	got := counts(task)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("counts.%s = %v, want %v (counts %v, message %q)", k, got[k], v, got, task["message"])
		}
	}
}

// A full sync of the demo corp through the API: the task is queued, runs and succeeds with its
// counts; the directory API shows the tree and the members linked to the local users bound to
// them; a second sync of an unchanged corp writes nothing.
func TestDirectoryFullSync(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	task := e.startSync()
	if task["status"] != "init" || task["trigger"] != "api" || task["authenticatorId"] != float64(1) {
		t.Fatalf("queued task: %v", task)
	}
	// Nothing runs it yet: a second sync of the same authenticator is refused, naming the first.
	res := e.do("POST", "/api/v1/authenticators/1/sync", nil)
	if res.Status != 409 || res.Code() != "conflict" || !strings.Contains(string(res.Body), fmt.Sprintf("sync task %v", task["id"])) {
		t.Fatalf("second sync: %d %s", res.Status, res.Body)
	}
	// The first department's members come slowly, so the task is seen running.
	e.sim.Script("user/list", wecomtest.Fault{Latency: 300 * time.Millisecond})
	e.runDirectory("a")
	done, statuses := e.waitTask(task["id"])
	if done["status"] != "success" || strings.Join(statuses, ">") != "init>processing>success" && strings.Join(statuses, ">") != "processing>success" {
		t.Fatalf("task %v went %v: %q", done["id"], statuses, done["message"])
	}
	wantCounts(t, done, map[string]float64{"departments": 4, "members": 20, "created": 20, "updated": 0, "deleted": 0, "linked": 20})
	if done["progress"] != float64(100) || done["startedAt"] == nil || done["finishedAt"] == nil || done["costMs"].(float64) < 300 {
		t.Fatalf("finished task: %v", done)
	}
	for _, k := range []string{"id", "authenticatorId", "status", "trigger", "counts", "progress", "costMs", "message", "startedAt", "finishedAt", "createdAt"} {
		if _, ok := done[k]; !ok {
			t.Errorf("task has no %s: %v", k, done)
		}
	}
	if e.sim.Calls("user/list") != 4 || e.sim.Calls("user/list_id") != 0 {
		t.Fatalf("calls: user/list %d, list_id %d", e.sim.Calls("user/list"), e.sim.Calls("user/list_id"))
	}

	depts, total := e.list("/api/v1/directory/departments?authenticatorId=1")
	if total != 4 || depts[1]["name"] != "研发部" || depts[1]["parentId"] != float64(1) || depts[1]["order"] != float64(100000000) {
		t.Fatalf("departments: %d %v", total, depts)
	}
	if kids, n := e.list("/api/v1/directory/departments?departmentId=1"); n != 2 || kids[0]["id"] != float64(2) || kids[1]["id"] != float64(3) {
		t.Fatalf("sub-departments of 1: %v", kids)
	}
	if _, n := e.list("/api/v1/directory/departments?q=" + url.QueryEscape("运维")); n != 1 {
		t.Fatalf("q=运维: %d departments", n)
	}

	if _, n := e.list("/api/v1/directory/members?authenticatorId=1"); n != 20 {
		t.Fatalf("members: %d", n)
	}
	zhouba := e.member("zhouba")
	if zhouba == nil || zhouba["name"] != "周八" || fmt.Sprint(zhouba["departments"]) != "[2 3]" || zhouba["status"] != float64(1) ||
		zhouba["deleted"] != false || zhouba["userId"] != e.userID("local-zhouba") || zhouba["position"] != "产品经理" {
		t.Fatalf("zhouba: %v", zhouba)
	}
	if zhouba["mobile"] != "" {
		t.Fatalf("the app secret reads no mobile (apps created after 2022-06-20): %v", zhouba)
	}
	ops, n := e.list("/api/v1/directory/members?departmentId=4")
	if n != 5 {
		t.Fatalf("members of 4: %d %v", n, ops)
	}
	for q, want := range map[string]int{"ZHANG": 1, "张": 1, "%": 0, "_": 0, "an": 6} {
		if _, n := e.list("/api/v1/directory/members?q=" + url.QueryEscape(q)); n != want {
			t.Errorf("members q=%q: %d, want %d", q, n, want)
		}
	}
	if _, n := e.list("/api/v1/users?source=sync"); n != 0 {
		t.Fatalf("autoCreateUsers is off, yet %d sync users", n)
	}
	if tasks, n := e.list("/api/v1/sync-tasks?authenticatorId=1"); n != 1 || tasks[0]["id"] != done["id"] {
		t.Fatalf("tasks: %v", tasks)
	}

	// The same corp again, a minute later: nothing to write.
	e.clock.Advance(time.Minute)
	before := e.clock.Now()
	e.clock.Advance(time.Minute)
	again := e.sync()
	wantCounts(t, again, map[string]float64{"departments": 4, "members": 20, "created": 0, "updated": 0, "deleted": 0, "linked": 20})
	if n := e.rowsWrittenSince(before); n != 0 {
		t.Fatalf("an unchanged sync wrote %d rows", n)
	}
	if tasks, _ := e.list("/api/v1/sync-tasks"); len(tasks) != 2 || tasks[0]["id"] != again["id"] {
		t.Fatalf("tasks are not newest first: %v", tasks)
	}
}

// autoCreateUsers creates sync users for unbound members and keeps their names current; manual
// users are linked, never rewritten, and survive a sync that no longer lists their member; a
// member WeCom no longer lists is marked deleted, and its sync user stays.
func TestDirectorySyncUsers(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	corp := e.demo.CorpID
	e.sim.AddUser(corp, wecomtest.User{UserID: "newbie", Name: "新人", Departments: []int{2}})
	e.sim.AddUser(corp, wecomtest.User{UserID: "keeper", Name: "守门员", Departments: []int{3}})
	e.sim.AddUser(corp, wecomtest.User{UserID: "taken", Name: "占用", Departments: []int{3}})
	// A manual user bound to keeper, with fields WeCom knows otherwise.
	manual := e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "mgr", "name": "Manual Name", "mobile": "100",
		"email": "m@example.com", "bindings": map[string]any{"wechatwk": "keeper"}}).Data()
	// A manual user whose userid is a WeCom userid but who is bound to someone else.
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "taken", "name": "Not the member", "bindings": map[string]any{"wechatwk": "other"}})
	e.patchSync(map[string]any{"autoCreateUsers": true})
	e.runDirectory("a")

	task := e.sync()
	wantCounts(t, task, map[string]float64{"members": 23, "created": 23, "linked": 22})
	if !strings.Contains(task["message"].(string), "1 local user created") {
		t.Fatalf("message: %q", task["message"])
	}
	newbie := e.localUser("newbie")
	if newbie == nil || newbie["source"] != "sync" || newbie["name"] != "新人" || fmt.Sprint(newbie["bindings"]) != "map[wechatwk:newbie]" {
		t.Fatalf("sync user: %v", newbie)
	}
	if m := e.member("newbie"); m["userId"] != newbie["id"] {
		t.Fatalf("newbie not linked: %v", m)
	}
	if m := e.member("keeper"); m["userId"] != manual["id"] {
		t.Fatalf("keeper not linked to the manual user: %v", m)
	}
	if m := e.member("taken"); m["userId"] != nil {
		t.Fatalf("taken linked to a user bound elsewhere: %v", m)
	}
	if u := e.localUser("taken"); u["name"] != "Not the member" || u["source"] != "manual" {
		t.Fatalf("the manual user taken was rewritten: %v", u)
	}
	if u := e.localUser("mgr"); u["name"] != "Manual Name" || u["source"] != "manual" || u["mobile"] != "100" {
		t.Fatalf("manual user rewritten: %v", u)
	}

	// WeCom renames newbie and stops listing keeper and newbie's colleague zhangsan.
	e.sim.AddUser(corp, wecomtest.User{UserID: "newbie", Name: "新同事", Departments: []int{2}})
	e.sim.AddUser(corp, wecomtest.User{UserID: "keeper", Name: "守门员"})
	e.clock.Advance(time.Minute)
	task = e.sync()
	wantCounts(t, task, map[string]float64{"members": 22, "created": 0, "updated": 1, "deleted": 1})
	if u := e.localUser("newbie"); u["name"] != "新同事" || u["source"] != "sync" {
		t.Fatalf("sync user not renamed: %v", u)
	}
	keeper := e.member("keeper")
	if keeper["deleted"] != true || keeper["userId"] != manual["id"] {
		t.Fatalf("keeper after WeCom dropped it: %v", keeper)
	}
	if u := e.localUser("mgr"); u == nil || u["name"] != "Manual Name" || u["source"] != "manual" || u["mobile"] != "100" ||
		u["email"] != "m@example.com" || fmt.Sprint(u["bindings"]) != "map[wechatwk:keeper]" {
		t.Fatalf("manual user after its member left: %v", u)
	}

	// A sync user whose member leaves stays; the member is marked deleted.
	e.sim.AddUser(corp, wecomtest.User{UserID: "newbie", Name: "新同事"})
	e.clock.Advance(time.Minute)
	task = e.sync()
	wantCounts(t, task, map[string]float64{"members": 21, "deleted": 1})
	if u := e.localUser("newbie"); u == nil || u["source"] != "sync" {
		t.Fatalf("sync user deleted: %v", u)
	}
	if m := e.member("newbie"); m["deleted"] != true {
		t.Fatalf("newbie: %v", m)
	}
	if _, n := e.list("/api/v1/directory/members?deleted=true"); n != 2 {
		t.Fatalf("deleted members: %d", n)
	}
	// Back in WeCom: live again, same user.
	e.sim.AddUser(corp, wecomtest.User{UserID: "newbie", Name: "新同事", Departments: []int{3}})
	e.clock.Advance(time.Minute)
	e.sync()
	if m := e.member("newbie"); m["deleted"] != false || m["userId"] != newbie["id"] || fmt.Sprint(m["departments"]) != "[3]" {
		t.Fatalf("newbie back: %v", m)
	}
}

// With the contacts secret, details (mobile, email) are read with user/list; when WeCom refuses
// them (48009, a new IP) the sync falls back to user/list_id + user/simplelist.
func TestDirectorySyncContactsSecret(t *testing.T) {
	t.Parallel()
	t.Run("details", func(t *testing.T) {
		t.Parallel()
		e := newDirectoryEnv(t, deliveryOptions{})
		e.patchSync(map[string]any{"contactSecret": e.demo.ContactsSecret})
		e.runDirectory("a")
		task := e.sync()
		wantCounts(t, task, map[string]float64{"departments": 4, "members": 20, "created": 20, "linked": 20})
		if m := e.member("lisi"); m["mobile"] == "" || m["email"] != "lisi@acme.example" || m["position"] != "研发经理" {
			t.Fatalf("lisi with the contacts secret: %v", m)
		}
		if e.sim.Calls("user/list_id") != 0 {
			t.Fatal("list_id called although details were allowed")
		}
	})
	t.Run("48009", func(t *testing.T) {
		t.Parallel()
		e := newDirectoryEnv(t, deliveryOptions{})
		e.sim.AddApp(e.demo.CorpID, wecomtest.App{Secret: e.demo.ContactsSecret, ContactsSecret: true, DetailsRefused: true})
		e.patchSync(map[string]any{"contactSecret": e.demo.ContactsSecret, "autoCreateUsers": true})
		e.runDirectory("a")
		task := e.sync()
		if task["status"] != "success" {
			t.Fatalf("task: %v", task)
		}
		wantCounts(t, task, map[string]float64{"departments": 4, "members": 20, "created": 20, "linked": 20})
		if !strings.Contains(task["message"].(string), "48009") {
			t.Fatalf("message does not say how members were read: %q", task["message"])
		}
		if e.sim.Calls("user/list_id") == 0 || e.sim.Calls("user/simplelist") != 4 {
			t.Fatalf("calls: list_id %d, simplelist %d", e.sim.Calls("user/list_id"), e.sim.Calls("user/simplelist"))
		}
		zhouba := e.member("zhouba")
		if zhouba["name"] != "周八" || fmt.Sprint(zhouba["departments"]) != "[2 3]" || zhouba["mainDepartment"] != float64(2) ||
			zhouba["userId"] != e.userID("local-zhouba") {
			t.Fatalf("zhouba from list_id + simplelist: %v", zhouba)
		}
		// Unchanged: nothing written the second time.
		e.clock.Advance(time.Minute)
		before := e.clock.Now()
		e.clock.Advance(time.Minute)
		wantCounts(t, e.sync(), map[string]float64{"members": 20, "created": 0, "updated": 0, "deleted": 0})
		if n := e.rowsWrittenSince(before); n != 0 {
			t.Fatalf("an unchanged ids-only sync wrote %d rows", n)
		}
	})
	t.Run("app secret refused", func(t *testing.T) {
		t.Parallel()
		e := newDirectoryEnv(t, deliveryOptions{})
		e.sim.AddApp(e.demo.CorpID, wecomtest.App{AgentID: e.demo.AgentID, Secret: e.demo.Secret, DetailsRefused: true})
		e.runDirectory("a")
		task := e.sync()
		if task["status"] != "failed" || !strings.Contains(task["message"].(string), "48009") ||
			!strings.Contains(task["message"].(string), "options.sync.contactSecret") {
			t.Fatalf("task: %v", task)
		}
	})
}

// A failing sync ends failed with WeCom's errcode and what to do; retry queues it again and it
// succeeds once the fault is gone. Only failed tasks can be retried, and not beside another sync
// of the same authenticator.
func TestDirectorySyncFailureAndRetry(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	// Failures in passing are tried again within the task.
	e.sim.Script("user/list", wecomtest.Fault{ErrCode: -1}, wecomtest.Fault{HTTPStatus: 502})
	stop := e.runDirectory("a")
	if task := e.sync(); task["status"] != "success" || e.sim.Calls("user/list") != 6 {
		t.Fatalf("passing failures: %v after %d user/list calls", task, e.sim.Calls("user/list"))
	}
	stop()
	// A permanent one fails the task.
	e.sim.Script("department/list", wecomtest.Fault{ErrCode: 60020,
		ErrMsg: "not allow to access from your ip, hint: [1751234567], from ip: 203.0.113.9, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"})
	stop = e.runDirectory("a")
	failed := e.sync()
	msg, _ := failed["message"].(string)
	if failed["status"] != "failed" || !strings.Contains(msg, "60020") || !strings.Contains(msg, "203.0.113.9") || !strings.Contains(msg, "企业可信IP") {
		t.Fatalf("failed task: %v", failed)
	}
	if e.sim.Calls("department/list") != 2 {
		t.Fatalf("a permanent failure was tried again: %d department/list calls", e.sim.Calls("department/list"))
	}
	stop()
	// Another sync queued meanwhile: the failed one cannot be retried beside it.
	queued := e.startSync()
	res := e.do("POST", fmt.Sprintf("/api/v1/sync-tasks/%v/retry", failed["id"]), nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), fmt.Sprintf("sync task %v", queued["id"])) {
		t.Fatalf("retry beside a queued sync: %d %s", res.Status, res.Body)
	}
	e.runDirectory("a")
	if done, _ := e.waitTask(queued["id"]); done["status"] != "success" {
		t.Fatalf("queued: %v", done)
	}
	res = e.do("POST", fmt.Sprintf("/api/v1/sync-tasks/%v/retry", queued["id"]), nil)
	if res.Status != 409 || !strings.Contains(res.JSON()["error"].(map[string]any)["message"].(string), "is success") {
		t.Fatalf("retry of a successful task: %d %s", res.Status, res.Body)
	}
	// The fault is gone: the retry succeeds, as the same task.
	retried := e.must(200, "POST", fmt.Sprintf("/api/v1/sync-tasks/%v/retry", failed["id"]), nil).Data()
	if retried["id"] != failed["id"] || retried["status"] == "failed" {
		t.Fatalf("retried: %v", retried)
	}
	done, _ := e.waitTask(failed["id"])
	if done["status"] != "success" || done["attempts"] != float64(2) {
		t.Fatalf("after retry: %v", done)
	}
	wantCounts(t, done, map[string]float64{"departments": 4, "members": 20, "linked": 20})

	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/api/v1/authenticators/99/sync", 404},
		{"GET", "/api/v1/sync-tasks/99", 404},
		{"POST", "/api/v1/sync-tasks/99/retry", 404},
		{"GET", "/api/v1/sync-tasks?authenticatorId=x", 422},
		{"GET", "/api/v1/directory/members?departmentId=-1", 422},
		{"GET", "/api/v1/directory/departments?deleted=maybe", 422},
		{"GET", "/api/v1/directory/members?authenticatorId=2", 200},
	} {
		if res := e.do(c.method, c.path, nil); res.Status != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, res.Status, c.status, res.Body)
		}
	}
	// A disabled authenticator does not sync: no new task, and one already queued fails saying why.
	e.stopRunner()
	queued = e.startSync()
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"enabled": false})
	if res := e.do("POST", "/api/v1/authenticators/1/sync", nil); res.Status != 409 || !strings.Contains(string(res.Body), "disabled") {
		t.Fatalf("sync of a disabled authenticator: %d %s", res.Status, res.Body)
	}
	e.runDirectory("a")
	if done, _ := e.waitTask(queued["id"]); done["status"] != "failed" || !strings.Contains(done["message"].(string), `"acme" is disabled`) {
		t.Fatalf("queued sync of a disabled authenticator: %v", done)
	}
}

// A schedule queues one task per tick, however many instances run, and none while one is queued
// or running.
func TestDirectoryScheduledSync(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	e.patchSync(map[string]any{"enabled": true, "schedule": "@every 1h"})
	// Two instances.
	e.runDirectory("a")
	e.runDirectory("b")
	time.Sleep(50 * time.Millisecond) // both have read the schedule
	if _, n := e.list("/api/v1/sync-tasks"); n != 0 {
		t.Fatalf("%d tasks before the first tick", n)
	}
	e.clock.Advance(time.Hour)
	waitTasks := func(n int) []map[string]any {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			tasks, total := e.list("/api/v1/sync-tasks")
			if total >= n && tasks[0]["status"] == "success" {
				time.Sleep(50 * time.Millisecond) // room for a duplicate to show up
				tasks, _ = e.list("/api/v1/sync-tasks")
				return tasks
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("fewer than %d scheduled tasks", n)
		return nil
	}
	tasks := waitTasks(1)
	if len(tasks) != 1 || tasks[0]["trigger"] != "schedule" {
		t.Fatalf("after one tick: %v", tasks)
	}
	e.clock.Advance(time.Hour)
	if tasks := waitTasks(2); len(tasks) != 2 {
		t.Fatalf("after two ticks: %d tasks", len(tasks))
	}
	// Not enabled: no more ticks.
	e.patchSync(map[string]any{"enabled": false})
	time.Sleep(50 * time.Millisecond)
	e.clock.Advance(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if _, n := e.list("/api/v1/sync-tasks"); n != 2 {
		t.Fatalf("a disabled schedule queued a task: %d", n)
	}
}

// A task whose instance died (its lease lapsed) is taken over and run again from the start.
func TestDirectorySyncLeaseTakeover(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	task := e.startSync()
	ctx := context.Background()
	claimed, err := e.store.ClaimSyncTask(ctx, "dead-instance", 2*time.Minute)
	if err != nil || claimed == nil || claimed.ID != uint64(task["id"].(float64)) {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	e.runDirectory("a")
	time.Sleep(50 * time.Millisecond)
	if got := e.must(200, "GET", fmt.Sprintf("/api/v1/sync-tasks/%v", task["id"]), nil).Data(); got["status"] != "processing" {
		t.Fatalf("a leased task was taken before its lease lapsed: %v", got)
	}
	e.clock.Advance(3 * time.Minute)
	done, _ := e.waitTask(task["id"])
	if done["status"] != "success" || done["attempts"] != float64(2) {
		t.Fatalf("taken over: %v", done)
	}
	// The dead instance's late report finds the task gone.
	claimed.Progress = 50
	if err := e.store.UpdateSyncTask(ctx, claimed, "dead-instance", time.Minute); err == nil {
		t.Fatal("the old owner could still write the task")
	}
}

// Every change_contact type applied through the syncer's ApplyChange, each twice: the second time
// changes nothing.
func TestDirectoryApplyChange(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	corp := e.demo.CorpID
	e.patchSync(map[string]any{"autoCreateUsers": true})
	e.runDirectory("a")
	e.sync()
	ctx := context.Background()
	apply := func(fields map[string]string) {
		t.Helper()
		payload := map[string]any{"ToUserName": corp, "FromUserName": "sys", "MsgType": "event", "Event": "change_contact"}
		for k, v := range fields {
			payload[k] = v
		}
		e.clock.Advance(time.Second)
		if err := e.srv.syncer.ApplyChange(ctx, 1, payload); err != nil {
			t.Fatalf("%v: %v", fields, err)
		}
		first := e.directorySnapshot()
		e.clock.Advance(time.Second)
		if err := e.srv.syncer.ApplyChange(ctx, 1, payload); err != nil {
			t.Fatalf("%v again: %v", fields, err)
		}
		if again := e.directorySnapshot(); again != first {
			t.Fatalf("%v applied twice changed the state:\n%s\nvs\n%s", fields, first, again)
		}
	}

	// create_user
	{
		e.sim.AddUser(corp, wecomtest.User{UserID: "xinren", Name: "新人", Departments: []int{2, 3}, MainDepartment: 3, Position: "实习生"})
		apply(map[string]string{"ChangeType": "create_user", "UserID": "xinren", "Name": "新人", "Department": "2,3",
			"MainDepartment": "3", "Position": "实习生", "Mobile": "13800009999", "Email": "x@acme.example", "Status": "1"})
		m := e.member("xinren")
		if m["name"] != "新人" || fmt.Sprint(m["departments"]) != "[2 3]" || m["mainDepartment"] != float64(3) ||
			m["position"] != "实习生" || m["mobile"] != "13800009999" || m["email"] != "x@acme.example" || m["status"] != float64(1) {
			t.Fatalf("created: %v", m)
		}
		if u := e.localUser("xinren"); u == nil || u["source"] != "sync" || u["name"] != "新人" || m["userId"] != u["id"] {
			t.Fatalf("sync user: %v (member %v)", u, m)
		}
	}
	// update_user only changed fields
	{
		e.sim.AddUser(corp, wecomtest.User{UserID: "xinren", Name: "新人甲", Departments: []int{2, 3}, MainDepartment: 3, Position: "工程师"})
		apply(map[string]string{"ChangeType": "update_user", "UserID": "xinren", "Name": "新人甲", "Position": "工程师"})
		m := e.member("xinren")
		if m["name"] != "新人甲" || m["position"] != "工程师" || fmt.Sprint(m["departments"]) != "[2 3]" || m["mobile"] != "13800009999" {
			t.Fatalf("updated: %v", m)
		}
		if u := e.localUser("xinren"); u["name"] != "新人甲" {
			t.Fatalf("sync user not renamed: %v", u)
		}
	}
	// update_user ids only
	{
		// URLs configured after 2022-08 get ids and department moves: the rest is read with user/get.
		e.sim.AddUser(corp, wecomtest.User{UserID: "lisi", Name: "李四", Position: "CTO", Departments: []int{2, 4}, MainDepartment: 4})
		calls := e.sim.Calls("user/get")
		apply(map[string]string{"ChangeType": "update_user", "UserID": "lisi", "Department": "2,4", "MainDepartment": "4"})
		m := e.member("lisi")
		if m["position"] != "CTO" || fmt.Sprint(m["departments"]) != "[2 4]" || m["mainDepartment"] != float64(4) ||
			m["userId"] != e.userID("local-lisi") || e.sim.Calls("user/get") != calls+2 {
			t.Fatalf("lisi: %v (user/get %d)", m, e.sim.Calls("user/get")-calls)
		}
		if u := e.localUser("local-lisi"); u["source"] != "manual" || u["name"] != "" {
			t.Fatalf("the manual user was rewritten: %v", u)
		}
	}
	// create_user ids only, details refused
	{
		e.sim.AddUser(corp, wecomtest.User{UserID: "quiet", Name: "安静", Position: "顾问", Departments: []int{3}})
		e.sim.Script("user/get", wecomtest.Fault{ErrCode: 48009}, wecomtest.Fault{ErrCode: 48009})
		apply(map[string]string{"ChangeType": "create_user", "UserID": "quiet", "Department": "3"})
		m := e.member("quiet")
		if m == nil || m["name"] != "" || fmt.Sprint(m["departments"]) != "[3]" || m["deleted"] != false {
			t.Fatalf("quiet with ids only: %v", m)
		}
		// The next full sync fills the details in.
		e.clock.Advance(time.Minute)
		e.sync()
		if m := e.member("quiet"); m["name"] != "安静" || m["position"] != "顾问" {
			t.Fatalf("quiet after a full sync: %v", m)
		}
		if u := e.localUser("quiet"); u["name"] != "安静" {
			t.Fatalf("its sync user: %v", u)
		}
	}
	// rename a sync user
	{
		before := e.userID("xinren")
		e.sim.AddUser(corp, wecomtest.User{UserID: "xinren"})
		e.sim.AddUser(corp, wecomtest.User{UserID: "xinren2", Name: "新人甲", Departments: []int{2, 3}, MainDepartment: 3, Position: "工程师"})
		apply(map[string]string{"ChangeType": "update_user", "UserID": "xinren", "NewUserID": "xinren2", "Name": "新人甲"})
		if e.member("xinren") != nil {
			t.Fatal("the old userid is still a member")
		}
		m := e.member("xinren2")
		u := e.localUser("xinren2")
		if m == nil || u == nil || u["id"] != before || m["userId"] != before || fmt.Sprint(u["bindings"]) != "map[wechatwk:xinren2]" || u["source"] != "sync" {
			t.Fatalf("renamed: member %v, user %v", m, u)
		}
	}
	// rename a member of a manual user
	{
		owner := e.userID("local-wangwu")
		apply(map[string]string{"ChangeType": "update_user", "UserID": "wangwu", "NewUserID": "wangwu2", "Name": "王五"})
		m := e.member("wangwu2")
		if m == nil || m["userId"] != owner || e.member("wangwu") != nil {
			t.Fatalf("wangwu2: %v", m)
		}
		if u := e.localUser("local-wangwu"); fmt.Sprint(u["bindings"]) != "map[wechatwk:wangwu]" || u["source"] != "manual" {
			t.Fatalf("the manual user was rewritten: %v", u)
		}
		// WeCom lists the new userid from now on; the link survives full syncs.
		e.sim.AddUser(corp, wecomtest.User{UserID: "wangwu"})
		e.sim.AddUser(corp, wecomtest.User{UserID: "wangwu2", Name: "王五", Position: "后端工程师", Departments: []int{2}})
		e.clock.Advance(time.Minute)
		e.sync()
		if m := e.member("wangwu2"); m["userId"] != owner || m["deleted"] != false {
			t.Fatalf("wangwu2 after a full sync: %v", m)
		}
	}
	// delete_user
	{
		apply(map[string]string{"ChangeType": "delete_user", "UserID": "xinren2"})
		if m := e.member("xinren2"); m["deleted"] != true || m["userId"] == nil {
			t.Fatalf("deleted: %v", m)
		}
		if u := e.localUser("xinren2"); u == nil {
			t.Fatal("the sync user of a deleted member was deleted")
		}
	}
	// create_party
	{
		apply(map[string]string{"ChangeType": "create_party", "Id": "5", "Name": "测试部", "ParentId": "1", "Order": "1"})
		d, _ := e.list("/api/v1/directory/departments?q=" + url.QueryEscape("测试部"))
		if len(d) != 1 || d[0]["id"] != float64(5) || d[0]["parentId"] != float64(1) || d[0]["order"] != float64(1) {
			t.Fatalf("created: %v", d)
		}
	}
	// update_party
	{
		apply(map[string]string{"ChangeType": "update_party", "Id": "5", "Name": "质量部"})
		d, _ := e.list("/api/v1/directory/departments?q=" + url.QueryEscape("质量部"))
		if len(d) != 1 || d[0]["parentId"] != float64(1) || d[0]["order"] != float64(1) {
			t.Fatalf("updated: %v", d)
		}
	}
	// create_party ids only
	{
		e.sim.AddDepartment(corp, wecomtest.Department{ID: 6, ParentID: 2, Name: "平台组", Order: 5})
		apply(map[string]string{"ChangeType": "create_party", "Id": "6", "ParentId": "2"})
		d, _ := e.list("/api/v1/directory/departments?departmentId=2")
		if len(d) != 2 || d[1]["id"] != float64(6) || d[1]["name"] != "平台组" {
			t.Fatalf("sub-departments of 2: %v", d)
		}
	}
	// delete_party
	{
		apply(map[string]string{"ChangeType": "delete_party", "Id": "5"})
		d, _ := e.list("/api/v1/directory/departments?deleted=true")
		if len(d) != 1 || d[0]["id"] != float64(5) {
			t.Fatalf("deleted: %v", d)
		}
	}
	// update_tag
	{
		before := e.directorySnapshot()
		apply(map[string]string{"ChangeType": "update_tag", "TagId": "1", "AddUserItems": "zhangsan", "DelUserItems": "lisi"})
		if e.directorySnapshot() != before {
			t.Fatal("update_tag changed the directory")
		}
	}
}

// The tags route lists the corp's tags as WeCom holds them now (the sync keeps none): all of
// them by id, narrowed by q on the name or the id, paged like the other lists. A bad
// authenticatorId is a 422 naming it, and WeCom's refusal is told with its errcode. Every role
// reads the directory, so only a caller without a token is refused.
func TestDirectoryTags(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	e.sim.AddTag(e.demo.CorpID, wecomtest.Tag{ID: 12, Name: "Release Managers", UserIDs: []string{"wangwu"}})
	e.sim.AddTag(e.demo.CorpID, wecomtest.Tag{ID: 3, Name: "夜间值班", UserIDs: []string{"wujiu"}})
	tags := func(query string) ([]any, int) {
		t.Helper()
		items, total := e.list("/api/v1/directory/tags?authenticatorId=1" + query)
		var out []any
		for _, it := range items {
			out = append(out, it["id"], it["name"])
		}
		return out, total
	}
	for _, c := range []struct {
		query string
		want  []any
	}{
		{"", []any{1.0, "值班", 3.0, "夜间值班", 12.0, "Release Managers"}},
		{"&q=" + url.QueryEscape("值班"), []any{1.0, "值班", 3.0, "夜间值班"}},
		{"&q=rElease", []any{12.0, "Release Managers"}},
		{"&q=12", []any{12.0, "Release Managers"}},
		{"&q=nobody", nil},
		{"&pageSize=1&page=2", []any{3.0, "夜间值班"}},
	} {
		if got, total := tags(c.query); !reflect.DeepEqual(got, c.want) || (c.query == "&pageSize=1&page=2" && total != 3) {
			t.Errorf("tags%s: %v (total %d), want %v", c.query, got, total, c.want)
		}
	}
	if body := e.must(200, "GET", "/api/v1/directory/tags?authenticatorId=1&pageSize=500", nil).JSON(); body["pageSize"] != 200.0 {
		t.Errorf("a pageSize of 500 answered %v, want 200", body["pageSize"])
	}
	if e.sim.Calls("tag/list") != 7 {
		t.Errorf("tag/list called %d times, want once a request", e.sim.Calls("tag/list"))
	}

	// A viewer reads them; nobody without a token does.
	if res := e.raw("GET", "/api/v1/directory/tags?authenticatorId=1", "", nil, e.roleToken("viewer")); res.Status != 200 {
		t.Errorf("a viewer: %d %s", res.Status, res.Body)
	}
	if res := e.raw("GET", "/api/v1/directory/tags?authenticatorId=1", "", nil, ""); res.Status != 401 {
		t.Errorf("no token: %d %s", res.Status, res.Body)
	}

	// WeCom's refusal names its errcode; its rate limit is a 429.
	e.sim.Script("tag/list", wecomtest.Fault{ErrCode: 60020, ErrMsg: "not allow to access from your ip, from ip: 203.0.113.9"},
		wecomtest.Fault{ErrCode: 45009})
	res := e.do("GET", "/api/v1/directory/tags?authenticatorId=1", nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), "WeCom errcode 60020") {
		t.Errorf("WeCom refuses: %d %s", res.Status, res.Body)
	}
	if res := e.do("GET", "/api/v1/directory/tags?authenticatorId=1", nil); res.Status != 429 {
		t.Errorf("WeCom's rate limit: %d %s", res.Status, res.Body)
	}

	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"enabled": false})
	for _, query := range []string{"", "?authenticatorId=x", "?authenticatorId=0", "?authenticatorId=99", "?authenticatorId=1"} {
		res := e.do("GET", "/api/v1/directory/tags"+query, nil)
		if res.Status != 422 || res.Fields()["authenticatorId"] == nil {
			t.Errorf("tags%s: %d %s, want 422 on authenticatorId", query, res.Status, res.Body)
		}
	}
}
