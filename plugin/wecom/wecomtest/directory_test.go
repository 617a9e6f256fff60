package wecomtest

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func ids(m map[string]any, listKey, idKey string) []any {
	var out []any
	list, _ := m[listKey].([]any)
	for _, it := range list {
		out = append(out, it.(map[string]any)[idKey])
	}
	return out
}

func TestDirectoryReads(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	app, rd, contacts := f.token(t, testSecret), f.token(t, rdSecret), f.token(t, contactsSec)
	tests := []struct {
		name     string
		tok      string
		endpoint string
		q        url.Values
		want     int
		listKey  string
		idKey    string
		wantIDs  []any
	}{
		{"department/list whole tree", app, "department/list", nil, 0, "department", "id", []any{1.0, 2.0, 4.0, 3.0}},
		{"department/list subtree", app, "department/list", url.Values{"id": {"2"}}, 0, "department", "id", []any{2.0, 4.0}},
		{"department/list visible range", rd, "department/list", nil, 0, "department", "id", []any{2.0, 4.0}},
		{"department/list outside range", rd, "department/list", url.Values{"id": {"3"}}, 60011, "", "", nil},
		{"department/list unknown", app, "department/list", url.Values{"id": {"99"}}, 60123, "", "", nil},
		{"department/simplelist", app, "department/simplelist", url.Values{"id": {"1"}}, 0, "department_id", "id", []any{1.0, 2.0, 4.0, 3.0}},
		{"department/get unknown", app, "department/get", url.Values{"id": {"99"}}, 60123, "", "", nil},
		{"user/simplelist", app, "user/simplelist", url.Values{"department_id": {"2"}}, 0, "userlist", "userid", []any{"alice", "dave", "erin"}},
		{"user/simplelist fetch_child", app, "user/simplelist", url.Values{"department_id": {"2"}, "fetch_child": {"1"}}, 0, "userlist", "userid", []any{"alice", "dave", "erin", "carol", "frank"}},
		{"user/simplelist visible range", rd, "user/simplelist", url.Values{"department_id": {"1"}, "fetch_child": {"1"}}, 60011, "", "", nil},
		{"user/list", app, "user/list", url.Values{"department_id": {"3"}}, 0, "userlist", "userid", []any{"Bob", "frank"}},
		{"user/list unknown department", app, "user/list", url.Values{"department_id": {"99"}}, 60123, "", "", nil},
		{"user/get unknown", app, "user/get", url.Values{"userid": {"ghost"}}, 60111, "", "", nil},
		{"user/get outside range", rd, "user/get", url.Values{"userid": {"bob"}}, 60011, "", "", nil},
		{"user/get missing userid", app, "user/get", nil, 41009, "", "", nil},
		{"contacts secret sees all", contacts, "department/simplelist", nil, 0, "department_id", "id", []any{1.0, 2.0, 4.0, 3.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := f.get(t, tt.endpoint, tt.tok, tt.q)
			if got := errcode(m); got != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tt.want, m)
			}
			if tt.listKey != "" {
				if got := ids(m, tt.listKey, tt.idKey); !reflect.DeepEqual(got, tt.wantIDs) {
					t.Errorf("%s = %v, want %v", tt.listKey, got, tt.wantIDs)
				}
			}
		})
	}
}

func TestDirectoryFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	d := f.get(t, "department/get", f.token(t, testSecret), url.Values{"id": {"4"}})["department"].(map[string]any)
	want := map[string]any{"id": 4.0, "name": "运维", "parentid": 2.0, "order": 7.0, "department_leader": []any{}}
	for k, v := range want {
		if !reflect.DeepEqual(d[k], v) {
			t.Errorf("department.%s = %v, want %v", k, d[k], v)
		}
	}
	// An app secret gets no mobile or email (apps created after 2022-06-20); the contacts secret does.
	app := f.get(t, "user/get", f.token(t, testSecret), url.Values{"userid": {"ALICE"}})
	if app["userid"] != "alice" || app["name"] != "Alice" || app["main_department"] != 2.0 || app["status"] != 1.0 {
		t.Errorf("user/get = %v", app)
	}
	if _, ok := app["mobile"]; ok {
		t.Error("an app secret received mobile")
	}
	c := f.get(t, "user/get", f.token(t, contactsSec), url.Values{"userid": {"alice"}})
	if c["mobile"] != "13800000001" || c["email"] != "alice@test" {
		t.Errorf("contacts user/get = %v", c)
	}
	s := f.get(t, "user/simplelist", f.token(t, testSecret), url.Values{"department_id": {"3"}})["userlist"].([]any)[1].(map[string]any)
	if !reflect.DeepEqual(s, map[string]any{"userid": "frank", "name": "Frank", "department": []any{3.0, 4.0}}) {
		t.Errorf("simplelist entry = %v", s)
	}
}

// tag/list answers every tag of the corp by id, to an app whatever its visible range and to the
// contacts secret, and refuses a missing, unknown or expired token as the other reads do.
func TestTagList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddTag(testCorp, Tag{ID: 3, Name: "Leads", UserIDs: []string{"alice"}})
	want := []any{map[string]any{"tagid": 3.0, "tagname": "Leads"}, map[string]any{"tagid": 7.0, "tagname": "oncall"}}
	app := f.token(t, testSecret)
	for _, tok := range []string{app, f.token(t, rdSecret), f.token(t, contactsSec)} {
		m := f.get(t, "tag/list", tok, nil)
		if errcode(m) != 0 || m["errmsg"] != "ok" || !reflect.DeepEqual(m["taglist"], want) {
			t.Errorf("tag/list = %v, want %v", m, want)
		}
	}
	if got := errcode(f.do(t, http.MethodGet, "tag/list", nil, nil)); got != 41001 {
		t.Errorf("no access_token: errcode %d, want 41001", got)
	}
	if got := errcode(f.get(t, "tag/list", "made-up", nil)); got != 40014 {
		t.Errorf("unknown token: errcode %d, want 40014", got)
	}
	f.clock.Advance(7200 * time.Second)
	if got := errcode(f.get(t, "tag/list", app, nil)); got != 42001 {
		t.Errorf("expired token: errcode %d, want 42001", got)
	}
}

func TestContactsSecretFromNewIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddApp(testCorp, App{Secret: contactsSec, ContactsSecret: true, DetailsRefused: true})
	tok := f.token(t, contactsSec)
	for _, tc := range []struct {
		endpoint string
		q        url.Values
		want     int
	}{
		{"user/get", url.Values{"userid": {"alice"}}, 48009},
		{"user/list", url.Values{"department_id": {"1"}}, 48009},
		{"user/simplelist", url.Values{"department_id": {"1"}, "fetch_child": {"1"}}, 0},
		{"department/list", nil, 0},
	} {
		if got := errcode(f.get(t, tc.endpoint, tok, tc.q)); got != tc.want {
			t.Errorf("%s: errcode %d, want %d", tc.endpoint, got, tc.want)
		}
	}
	if m := f.post(t, "user/list_id", tok, map[string]any{"limit": 10}); errcode(m) != 0 {
		t.Errorf("list_id with details refused = %v", m)
	}
}

func TestUserListID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, contactsSec)
	var rows []string
	cursor := ""
	for page := 0; ; page++ {
		m := f.post(t, "user/list_id", tok, map[string]any{"cursor": cursor, "limit": 3})
		if errcode(m) != 0 {
			t.Fatalf("page %d: %v", page, m)
		}
		for _, r := range m["dept_user"].([]any) {
			row := r.(map[string]any)
			rows = append(rows, row["userid"].(string)+"@"+string(rune('0'+int(row["department"].(float64)))))
		}
		cursor = m["next_cursor"].(string)
		if cursor == "" {
			break
		}
		if page > 5 {
			t.Fatal("cursor never ends")
		}
	}
	want := []string{"alice@2", "Bob@3", "carol@4", "dave@2", "erin@2", "frank@3", "frank@4"}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %v, want %v", rows, want)
	}
	for _, tc := range []struct {
		name string
		tok  string
		body map[string]any
		want int
	}{
		{"app secret", f.token(t, testSecret), map[string]any{"limit": 10}, 48002},
		{"limit over 10000", tok, map[string]any{"limit": 10001}, 40058},
		{"forged cursor", tok, map[string]any{"cursor": "not-ours"}, 50100},
	} {
		if got := errcode(f.post(t, "user/list_id", tc.tok, tc.body)); got != tc.want {
			t.Errorf("%s: errcode %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSeedDemo(t *testing.T) {
	t.Parallel()
	sim := New(Options{Seed: 7})
	demo := SeedDemo(sim)
	if demo.CorpID != "wwsandbox000000001" || demo.AgentID != 1000002 || demo.Secret != "sandbox-app-secret" || len(demo.UserIDs) != 20 {
		t.Fatalf("demo = %+v", demo)
	}
	sim.mu.Lock()
	c := sim.corps[demo.CorpID]
	depts := map[int]int{}
	for _, u := range c.users {
		for _, d := range u.Departments {
			depts[d]++
		}
	}
	names := []string{c.depts[1].Name, c.depts[2].Name, c.depts[3].Name, c.depts[4].Name}
	parent4 := c.depts[4].ParentID
	sim.mu.Unlock()
	if !reflect.DeepEqual(names, []string{"Acme", "研发部", "市场部", "运维组"}) || parent4 != 2 {
		t.Errorf("departments = %v (运维组 under %d)", names, parent4)
	}
	for _, d := range []int{1, 2, 3, 4} {
		if depts[d] == 0 {
			t.Errorf("department %d has no members", d)
		}
	}
}

// A member's LeaderOf is its is_leader_in_dept, aligned with department, and the department's
// department_leader.
func TestDirectoryLeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddUser(testCorp, User{UserID: "gina", Name: "Gina", Departments: []int{2, 4}, LeaderOf: []int{4}})
	tok := f.token(t, testSecret)
	u := f.get(t, "user/get", tok, url.Values{"userid": {"gina"}})
	if got := u["is_leader_in_dept"]; !reflect.DeepEqual(got, []any{0.0, 1.0}) {
		t.Errorf("is_leader_in_dept = %v", got)
	}
	for id, want := range map[string][]any{"4": {"gina"}, "2": {}} {
		d := f.get(t, "department/get", tok, url.Values{"id": {id}})["department"].(map[string]any)
		if !reflect.DeepEqual(d["department_leader"], want) {
			t.Errorf("department %s: department_leader = %v, want %v", id, d["department_leader"], want)
		}
	}
}
