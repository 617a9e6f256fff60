package wecomtest

import (
	"sync"
	"time"
)

// Demo describes the corp SeedDemo creates.
type Demo struct {
	CorpID         string
	CorpName       string
	AgentID        int64
	Secret         string // the app's secret
	ContactsSecret string // the 通讯录同步 secret
	// CallbackURL is the placeholder 接收消息 URL the demo app is created with; re-add the app
	// with AddApp to point it at a real listener.
	CallbackURL   string
	DepartmentIDs []int
	TagID         int
	UserIDs       []string
	// ExternalContactSecret is the 客户联系 secret.
	ExternalContactSecret string
	// RobotKey is the webhook key of a robot in the 运维值班群 group (the 运维组 members).
	RobotKey string
	// ChatID is an app group chat the demo app created (值班 tag members and zhangsan).
	ChatID string
	// ExternalUserIDs are customers of the sales members gaofei and luoyu.
	ExternalUserIDs []string
}

// SeedDemo fills s with a small corp to play with: departments Acme (1) → 研发部 (2) → 运维组 (4)
// and 市场部 (3), 20 members, an app with a callback URL and a 值班 tag, a robot in the ops
// group, an app group chat, and three customers with the 客户联系 secret.
func SeedDemo(s *Server) Demo {
	d := Demo{
		CorpID:         "wwsandbox000000001",
		CorpName:       "Acme",
		AgentID:        1000002,
		Secret:         "sandbox-app-secret",
		ContactsSecret: "sandbox-contacts-secret",
		CallbackURL:    "http://127.0.0.1:8080/callback/wecom/sandbox",
		DepartmentIDs:  []int{1, 2, 3, 4},
		TagID:          1,

		ExternalContactSecret: "sandbox-external-contact-secret",
		ChatID:                "oncall",
	}
	s.AddCorp(Corp{ID: d.CorpID, Name: d.CorpName, Seats: 500})
	s.AddApp(d.CorpID, App{AgentID: d.AgentID, Secret: d.Secret, CallbackURL: d.CallbackURL})
	s.AddApp(d.CorpID, App{Secret: d.ContactsSecret, ContactsSecret: true})
	s.AddApp(d.CorpID, App{Secret: d.ExternalContactSecret, ExternalContactSecret: true})
	for _, dept := range []Department{
		{ID: 1, ParentID: 0, Name: "Acme", NameEn: "Acme", Order: 100000000},
		{ID: 2, ParentID: 1, Name: "研发部", NameEn: "R&D", Order: 100000000},
		{ID: 3, ParentID: 1, Name: "市场部", NameEn: "Marketing", Order: 99999000},
		{ID: 4, ParentID: 2, Name: "运维组", NameEn: "Ops", Order: 100000000},
	} {
		s.AddDepartment(d.CorpID, dept)
	}
	// The department leaders: 张三 of Acme, 李四 of 研发部, 吴九 of 运维组, 黄梅 of 市场部.
	members := []struct {
		id, name, position string
		depts              []int
		leads              []int
	}{
		{"zhangsan", "张三", "CEO", []int{1}, []int{1}},
		{"lisi", "李四", "研发经理", []int{2}, []int{2}},
		{"wangwu", "王五", "后端工程师", []int{2}, nil},
		{"zhaoliu", "赵六", "前端工程师", []int{2}, nil},
		{"sunqi", "孙七", "测试工程师", []int{2}, nil},
		{"zhouba", "周八", "产品经理", []int{2, 3}, nil},
		{"wujiu", "吴九", "运维主管", []int{4}, []int{4}},
		{"zhengshi", "郑十", "SRE", []int{4}, nil},
		{"chenyi", "陈一", "SRE", []int{4}, nil},
		{"liner", "林二", "DBA", []int{4}, nil},
		{"huangmei", "黄梅", "市场总监", []int{3}, []int{3}},
		{"heping", "何平", "市场专员", []int{3}, nil},
		{"gaofei", "高飞", "销售", []int{3}, nil},
		{"luoyu", "罗雨", "销售", []int{3}, nil},
		{"liangchen", "梁晨", "设计师", []int{3}, nil},
		{"songjia", "宋佳", "行政", []int{1}, nil},
		{"tangning", "唐宁", "财务", []int{1}, nil},
		{"hanxue", "韩雪", "HR", []int{1}, nil},
		{"fengyi", "冯毅", "后端工程师", []int{2}, nil},
		{"dengli", "邓丽", "运维工程师", []int{4}, nil},
	}
	for i, m := range members {
		gender := "1"
		if i%3 == 1 {
			gender = "2"
		}
		s.AddUser(d.CorpID, User{
			UserID: m.id, Name: m.name, Position: m.position, Gender: gender,
			Mobile: "1380000" + pad4(i+1),
			Email:  m.id + "@acme.example", BizMail: m.id + "@acme.example",
			Departments: m.depts, LeaderOf: m.leads, Status: 1,
		})
		d.UserIDs = append(d.UserIDs, m.id)
	}
	s.AddTag(d.CorpID, Tag{ID: d.TagID, Name: "值班", UserIDs: []string{"lisi", "zhouba"}, PartyIDs: []int{4}})
	ops := []string{"wujiu", "zhengshi", "chenyi", "liner", "dengli"}
	d.RobotKey = s.AddRobot(d.CorpID, "运维值班群", ops)
	s.mu.Lock()
	s.storeChatLocked(AppChat{
		CorpID: d.CorpID, ChatID: d.ChatID, Name: "值班", Owner: "zhangsan",
		Members: append([]string{"zhangsan", "lisi", "zhouba"}, ops...), AgentID: d.AgentID, CreatedAt: s.now(),
	})
	s.mu.Unlock()
	for i, c := range []struct{ owner, name string }{{"gaofei", "王小姐"}, {"gaofei", "刘先生"}, {"luoyu", "陈女士"}} {
		id := "wmSandboxCustomer" + pad4(i+1)
		s.AddExternalContact(d.CorpID, c.owner, id, c.name)
		d.ExternalUserIDs = append(d.ExternalUserIDs, id)
	}
	return d
}

func pad4(n int) string {
	const digits = "0123456789"
	return string([]byte{digits[n/1000%10], digits[n/100%10], digits[n/10%10], digits[n%10]})
}

// ManualClock is a clock tests move by hand; pass its Now as Options.Now (and CallbackCaller.Now).
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
