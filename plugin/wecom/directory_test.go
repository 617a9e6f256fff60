package wecom

import (
	"context"
	"errors"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// directoryClients is the demo corp behind a simulator and a client set caching tokens in a
// real store.
func directoryClients(t *testing.T) (*wecomtest.Server, wecomtest.Demo, *Clients, App) {
	t.Helper()
	sim := wecomtest.New(wecomtest.Options{Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	cs := NewClients(storetest.Open(t), ClientsOptions{APIBase: hs.URL})
	return sim, demo, cs, App{AuthenticatorID: 1, CorpID: demo.CorpID, AgentID: demo.AgentID, Secret: demo.Secret}
}

func TestDirectoryCalls(t *testing.T) {
	t.Parallel()
	sim, demo, cs, app := directoryClients(t)
	ctx := context.Background()
	c := cs.Client(app)

	depts, err := c.ListDepartments(ctx, 0)
	if err != nil || len(depts) != 4 || depts[0] != (Department{ID: 1, Name: "Acme", ParentID: 0, Order: 100000000}) {
		t.Fatalf("department/list: %+v %v", depts, err)
	}
	if sub, err := c.ListDepartments(ctx, 2); err != nil || len(sub) != 2 || sub[1].ID != 4 || sub[1].Name != "运维组" {
		t.Fatalf("department/list?id=2: %+v %v", sub, err)
	}
	if ids, err := c.ListDepartmentIDs(ctx, 0); err != nil || len(ids) != 4 || ids[2].ParentID != 2 || ids[2].Name != "" {
		t.Fatalf("department/simplelist: %+v %v", ids, err)
	}
	if d, err := c.GetDepartment(ctx, 3); err != nil || d.Name != "市场部" || d.ParentID != 1 {
		t.Fatalf("department/get: %+v %v", d, err)
	}
	if _, err := c.GetDepartment(ctx, 99); ErrCode(err) != 60123 {
		t.Fatalf("department/get of an unknown id: %v", err)
	}

	ms, err := c.ListMembers(ctx, 2)
	if err != nil || len(ms) != 6 || ms[0].UserID != "lisi" || ms[0].Position != "研发经理" || ms[0].Status != 1 || ms[0].MainDepartment != 2 {
		t.Fatalf("user/list: %+v %v", ms, err)
	}
	if ms[0].Mobile != "" || ms[0].Email != "" {
		t.Fatalf("an app secret read mobile or email: %+v", ms[0])
	}
	if sm, err := c.ListSimpleMembers(ctx, 4); err != nil || len(sm) != 5 || sm[0].Name == "" {
		t.Fatalf("user/simplelist: %+v %v", sm, err)
	}
	if m, err := c.GetMember(ctx, "zhouba"); err != nil || m.Name != "周八" || len(m.Department) != 2 {
		t.Fatalf("user/get: %+v %v", m, err)
	}
	if _, err := c.GetMember(ctx, "nobody"); ErrCode(err) != 60111 {
		t.Fatalf("user/get of an unknown userid: %v", err)
	}
	if _, _, err := c.ListMemberIDs(ctx, "", 100); ErrCode(err) != 48002 {
		t.Fatalf("user/list_id with the app secret: %v", err)
	}

	// The contacts secret: its own token beside the app's, details with mobile and email, and
	// list_id page by page.
	cc := cs.ContactsClient(app, demo.ContactsSecret)
	if m, err := cc.GetMember(ctx, "lisi"); err != nil || m.Mobile == "" || m.Email != "lisi@acme.example" {
		t.Fatalf("user/get with the contacts secret: %+v %v", m, err)
	}
	var rows []DeptUser
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := cc.ListMemberIDs(ctx, cursor, 7)
		if err != nil || pages > 5 {
			t.Fatalf("user/list_id: %v after %d pages", err, pages)
		}
		rows = append(rows, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(rows) != 21 { // 20 members, zhouba in two departments
		t.Fatalf("list_id rows: %d", len(rows))
	}
	if _, err := c.ListDepartments(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n := sim.Calls("gettoken"); n != 2 {
		t.Fatalf("gettoken called %d times: the two secrets' tokens must be cached apart", n)
	}

	// tag/list, also after WeCom dropped the token early (40014): one new token, the call again.
	if tags, err := c.ListTags(ctx); err != nil || len(tags) != 1 || tags[0] != (Tag{ID: 1, Name: "值班"}) {
		t.Fatalf("tag/list: %+v %v", tags, err)
	}
	sim.InvalidateTokens(demo.CorpID)
	if tags, err := c.ListTags(ctx); err != nil || len(tags) != 1 {
		t.Fatalf("tag/list after the token was dropped: %+v %v", tags, err)
	}
	if n := sim.Calls("gettoken"); n != 3 {
		t.Fatalf("gettoken called %d times, want one more after the token was dropped", n)
	}

	sim.AddApp(demo.CorpID, wecomtest.App{Secret: demo.ContactsSecret, ContactsSecret: true, DetailsRefused: true})
	if _, err := cc.ListMembers(ctx, 1); ErrCode(err) != 48009 {
		t.Fatalf("user/list refused: %v", err)
	}
	if sm, err := cc.ListSimpleMembers(ctx, 1); err != nil || len(sm) != 4 {
		t.Fatalf("user/simplelist while details are refused: %+v %v", sm, err)
	}
}

// fetchAll hands every answer over once, and stops at the first error.
func TestFetchAll(t *testing.T) {
	t.Parallel()
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(i)
	}
	var got []int64
	err := fetchAll(context.Background(), 4, ids, func(_ context.Context, id int64) ([]int64, error) { return []int64{id}, nil },
		func(_ int64, items []int64) error { got = append(got, items...); return nil })
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if err != nil || len(got) != 100 || got[99] != 99 {
		t.Fatalf("got %d: %v", len(got), err)
	}
	boom := errors.New("boom")
	var calls atomic.Int64
	err = fetchAll(context.Background(), 4, ids, func(ctx context.Context, id int64) ([]int64, error) {
		calls.Add(1)
		if id == 10 {
			return nil, boom
		}
		return nil, ctx.Err()
	}, func(int64, []int64) error { return nil })
	if !errors.Is(err, boom) || calls.Load() == 100 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fetchAll(ctx, 4, ids, func(ctx context.Context, id int64) ([]int64, error) { return nil, nil },
		func(int64, []int64) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled pull looked complete: %v", err)
	}
}

// Change payloads: strings as the callback parses them, numbers tolerated.
func TestChangePayload(t *testing.T) {
	t.Parallel()
	c := change{"Department": "1, 2,x", "Id": "5", "Order": 3.0, "Name": " 张三 "}
	if ids, ok := c.ids("Department"); !ok || len(ids) != 2 || ids[1] != 2 {
		t.Fatalf("Department: %v", ids)
	}
	if n, ok := c.number("Order"); !ok || n != 3 {
		t.Fatalf("Order: %v", n)
	}
	if _, ok := c.number("ParentId"); ok {
		t.Fatal("an absent field is present")
	}
	if s, _ := c.str("Name"); s != "张三" {
		t.Fatalf("Name: %q", s)
	}
}
