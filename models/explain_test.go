package models_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// explainRows is how many rows the big tables get: enough that MariaDB's optimizer prefers an
// index whenever one serves the filter, as it would on a production database.
const explainRows = 4000

// Every query behind a list filter, a claim and a retention delete is served by an index on
// MariaDB/MySQL: EXPLAIN shows no full table scan (type ALL). The store functions run for real
// against a few thousand rows per table (after ANALYZE TABLE); each statement they issue is
// captured and explained. The filter values match a few percent of the rows, as a filter that
// narrows a list does; a value that matches most of a table is rightly read with a scan.
//
// Substring searches (q, and a member's departments, a JSON list) cannot use a B-tree index and are
// not explained alone.
func TestQueriesUseIndexes(t *testing.T) {
	if os.Getenv(storetest.EnvDSN) == "" {
		t.Skipf("EXPLAIN needs MariaDB or MySQL: set %s", storetest.EnvDSN)
	}
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	seedExplain(t, s, now)

	var mu sync.Mutex
	var captured []capturedSQL
	capturing := false
	record := func(db *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		if capturing && db.Error == nil && db.Statement.SQL.Len() > 0 {
			captured = append(captured, capturedSQL{sql: db.Statement.SQL.String(), vars: append([]any(nil), db.Statement.Vars...)})
		}
	}
	cb := s.DB.Callback()
	for name, err := range map[string]error{
		"query":  cb.Query().After("gorm:query").Register("explain:query", record),
		"update": cb.Update().After("gorm:update").Register("explain:update", record),
		"delete": cb.Delete().After("gorm:delete").Register("explain:delete", record),
		"row":    cb.Row().After("gorm:row").Register("explain:row", record),
	} {
		if err != nil {
			t.Fatalf("register %s callback: %v", name, err)
		}
	}
	page := models.Page{Page: 1, Size: 20}
	day := now.Add(-10 * 24 * time.Hour)
	dayEnd := day.Add(24 * time.Hour)
	messages := func(f models.MessageFilter) func() error {
		return func() error { _, _, err := s.ListMessages(ctx, f, page); return err }
	}
	events := func(f models.EventFilter) func() error {
		return func() error { _, _, err := s.ListEvents(ctx, f, page); return err }
	}
	executions := func(f models.ExecutionFilter) func() error {
		return func() error { _, _, err := s.ListExecutions(ctx, f, page); return err }
	}
	workflows := func(f models.WorkflowFilter) func() error {
		return func() error { _, _, err := s.ListWorkflows(ctx, f, page); return err }
	}
	members := func(f models.DirectoryFilter) func() error {
		return func() error { _, _, err := s.ListMembers(ctx, f, page); return err }
	}
	departments := func(f models.DirectoryFilter) func() error {
		return func() error { _, _, err := s.ListDepartments(ctx, f, page); return err }
	}
	yes, no := true, false
	cases := []struct {
		name string
		run  func() error
	}{
		{"ListMessages status", messages(models.MessageFilter{Status: models.MessageFailed})},
		{"ListMessages channel", messages(models.MessageFilter{Channel: "ch07"})},
		{"ListMessages executionId", messages(models.MessageFilter{ExecutionID: explainID("x", 53)})},
		{"ListMessages since+until", messages(models.MessageFilter{Since: &day, Until: &dayEnd})},
		{"ListMessages status+channel", messages(models.MessageFilter{Status: models.MessageFailed, Channel: "ch07"})},
		{"ListMessages scheduled due first", messages(models.MessageFilter{Status: models.MessageScheduled, DueFirst: true})},
		{"ListEvents authenticatorId", events(models.EventFilter{AuthenticatorID: 7})},
		{"ListEvents kind", events(models.EventFilter{Kind: "contacts"})},
		{"ListEvents event", events(models.EventFilter{Event: "ev07"})},
		{"ListEvents status", events(models.EventFilter{Status: models.EventFailed})},
		{"ListExecutions workflowId", executions(models.ExecutionFilter{WorkflowID: 7})},
		{"ListExecutions status", executions(models.ExecutionFilter{Status: models.ExecutionWaiting})},
		{"ListWorkflows triggerType", workflows(models.WorkflowFilter{TriggerType: "webhook"})},
		{"ListWorkflows enabled", workflows(models.WorkflowFilter{Enabled: &no})},
		{"EnabledWorkflows", func() error { _, err := s.EnabledWorkflows(ctx, "schedule"); return err }},
		{"ListUsers source", func() error {
			_, _, err := s.ListUsers(ctx, models.ListFilter{Source: models.SourceImport}, page)
			return err
		}},
		{"ListMembers authenticatorId", members(models.DirectoryFilter{AuthenticatorID: 7})},
		{"ListMembers authenticatorId+departmentId", members(models.DirectoryFilter{AuthenticatorID: 7, DepartmentID: 3})},
		{"ListMembers deleted", members(models.DirectoryFilter{Deleted: &yes})},
		{"ListDepartments authenticatorId", departments(models.DirectoryFilter{AuthenticatorID: 7})},
		{"ListDepartments departmentId", departments(models.DirectoryFilter{DepartmentID: 3})},
		{"ListDepartments deleted", departments(models.DirectoryFilter{Deleted: &yes})},
		{"ListSyncTasks authenticatorId", func() error { _, _, err := s.ListSyncTasks(ctx, 7, page); return err }},
		{"RecentSends", func() error { _, err := s.RecentSends(ctx, now.Add(-time.Hour)); return err }},
		{"ClaimRequests", func() error { _, err := s.ClaimRequests(ctx, "explain", time.Minute, 50); return err }},
		{"ClaimEvents", func() error { _, err := s.ClaimEvents(ctx, "explain", time.Minute, 50); return err }},
		{"ClaimExecutions", func() error { _, err := s.ClaimExecutions(ctx, "explain", time.Minute, 50); return err }},
		{"ClaimSyncTask", func() error { _, err := s.ClaimSyncTask(ctx, "explain", time.Minute); return err }},
		{"DeleteFinished", func() error { _, err := s.DeleteFinished(ctx, now.Add(-59*24*time.Hour), 0); return err }},
	}
	for _, tc := range cases {
		mu.Lock()
		captured, capturing = nil, true
		mu.Unlock()
		err := tc.run()
		mu.Lock()
		stmts := captured
		capturing = false
		mu.Unlock()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(stmts) == 0 {
			t.Fatalf("%s: no statement captured", tc.name)
		}
		for _, st := range stmts {
			for _, p := range explain(t, s, st) {
				t.Logf("%-40s %-18s %-16s type=%-6s key=%-32s rows=%-5s %s", tc.name, p.selectType, p.table, p.typ, p.key, p.rows, p.extra)
				if p.typ == "ALL" && !smallTables[p.table] {
					t.Errorf("%s: full scan of %s (%s rows): %s", tc.name, p.table, p.rows, st.sql)
				}
			}
		}
	}
}

// A database migrated before version 7 gets the indexes of list filters and retention on upgrade.
func TestUpgradeAddsTheIndexes(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t)
	indexes := []struct {
		model any
		name  string
	}{
		{&models.Message{}, "idx_messages_channel_name"},
		{&models.MessageRequest{}, "idx_requests_sent_at"},
		{&models.CallbackEvent{}, "idx_events_kind"},
		{&models.CallbackEvent{}, "idx_events_created"},
		{&models.Workflow{}, "idx_workflows_enabled"},
		{&models.User{}, "idx_users_source"},
		{&models.Department{}, "idx_departments_deleted"},
		{&models.SyncTask{}, "idx_sync_tasks_created"},
	}
	m := s.DB.Migrator()
	for _, ix := range indexes {
		if err := m.DropIndex(ix.model, ix.name); err != nil {
			t.Fatalf("drop %s: %v", ix.name, err)
		}
	}
	if err := s.DB.Exec("DELETE FROM schema_migrations WHERE version = 7").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ix := range indexes {
		if !m.HasIndex(ix.model, ix.name) {
			t.Errorf("%s missing after the upgrade", ix.name)
		}
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// An upgraded database loses the indexes no query uses (migration 21), which every message and
// callback paid for in writes; TestQueriesUseIndexes shows no query needed them.
func TestUpgradeDropsUnusedIndexes(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t)
	indexes := []struct {
		model         any
		name, columns string
	}{
		{&models.Message{}, "idx_messages_channel_created", "messages (channel_id, created_at)"},
		{&models.MessageRequest{}, "idx_message_requests_lease_until", "message_requests (lease_until)"},
		{&models.MessageRequest{}, "idx_message_requests_msg_id", "message_requests (msg_id)"},
		{&models.CallbackEvent{}, "idx_callback_events_lease_until", "callback_events (lease_until)"},
	}
	m := s.DB.Migrator()
	for _, ix := range indexes {
		if m.HasIndex(ix.model, ix.name) {
			t.Errorf("a fresh database has %s", ix.name)
		}
		// As an older version made them.
		if err := s.DB.Exec("CREATE INDEX " + ix.name + " ON " + ix.columns).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB.Exec("DELETE FROM schema_migrations WHERE version = 21").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ix := range indexes {
		if m.HasIndex(ix.model, ix.name) {
			t.Errorf("%s is still there after the upgrade", ix.name)
		}
	}
}

type capturedSQL struct {
	sql  string
	vars []any
}

type plan struct{ selectType, table, typ, key, rows, extra string }

// explain runs EXPLAIN for a captured statement and returns a row per table it reads.
func explain(t *testing.T, s *models.Store, st capturedSQL) []plan {
	t.Helper()
	rows, err := s.DB.Raw("EXPLAIN "+st.sql, st.vars...).Rows()
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", st.sql, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []plan
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		get := func(name string) string {
			for i, c := range cols {
				if strings.EqualFold(c, name) && vals[i] != nil {
					if b, ok := vals[i].([]byte); ok {
						return string(b)
					}
					return fmt.Sprint(vals[i])
				}
			}
			return ""
		}
		out = append(out, plan{selectType: get("select_type"), table: get("table"), typ: get("type"), key: get("key"), rows: get("rows"), extra: get("Extra")})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func explainID(prefix string, i int) string { return fmt.Sprintf("%s%0*d", prefix, 26-len(prefix), i) }

// seedExplain fills the tables the explained queries read. Row i of a table is created i*15
// minutes before now, so the tables span about 40 days; each filter value below matches 2–4% of a
// table, and the rows older than 59 days — what the retention delete picks — about 2% of it.
// smallTables may be read whole: lookup_failures holds one tiny row per corp per day (a hundred
// corps for a month of retention is 3,000 rows), and retention's delete of the past days reads it
// whole on MariaDB even with an index on the day, which costs more than the scan.
var smallTables = map[string]bool{"lookup_failures": true}

func seedExplain(t *testing.T, s *models.Store, now time.Time) {
	t.Helper()
	at := func(i int) time.Time { return now.Add(-time.Duration(i) * 15 * time.Minute) }
	insert := func(rows any) {
		t.Helper()
		if err := s.DB.CreateInBatches(rows, 500).Error; err != nil {
			t.Fatal(err)
		}
	}
	// The oldest 2% of each time-ordered table are older than the retention cutoff of 59 days.
	old := func(i int) time.Time {
		if i >= explainRows*98/100 {
			return now.Add(-60*24*time.Hour - time.Duration(i)*time.Second)
		}
		return at(i)
	}
	var msgs []models.Message
	var reqs []models.MessageRequest
	var clicks []models.CardResponse
	for i := 0; i < explainRows; i++ {
		status := models.MessageSent
		switch i % 50 {
		case 0:
			status = models.MessageFailed
		case 1:
			status = models.MessageSending
		case 2:
			status = models.MessagePartial
		}
		m := models.Message{ID: explainID("m", i), ChannelID: uint64(i%50 + 1), Channel: fmt.Sprintf("ch%02d", i%50), AuthenticatorID: uint64(i%50 + 1),
			MsgType: "text", TaskID: fmt.Sprintf("task%d", i), Status: status, TriggerFrom: "api", CreatedAt: old(i), UpdatedAt: old(i)}
		if i%50 == 3 {
			x := explainID("x", i)
			m.ExecutionID = &x
		}
		msgs = append(msgs, m)
		rs := models.RequestSent
		r := models.MessageRequest{MessageID: m.ID, Status: rs, NotBefore: old(i), UpdatedAt: old(i)}
		switch i % 50 {
		case 1: // in flight, some with a lapsed lease
			r.Status, r.LeaseOwner = models.RequestSending, "gone"
			lease := now.Add(time.Duration(i%2*2-1) * time.Minute)
			r.LeaseUntil = &lease
		case 4:
			r.Status, r.NotBefore = models.RequestPending, now.Add(time.Duration(i%3-1)*time.Minute)
		case 5:
			r.Status, r.NotBefore = models.RequestRetrying, now.Add(time.Duration(i%3-1)*time.Minute)
		default:
			sent := old(i)
			r.SentAt = &sent
		}
		reqs = append(reqs, r)
		if i%4 == 0 {
			clicks = append(clicks, models.CardResponse{MessageID: m.ID, EventID: uint64(i + 1), TaskID: m.TaskID, At: old(i)})
		}
	}
	insert(&msgs)
	insert(&reqs)
	insert(&clicks)

	var events []models.CallbackEvent
	for i := 0; i < explainRows; i++ {
		e := models.CallbackEvent{AuthenticatorID: uint64(i%50 + 1), Kind: "app", DedupKey: fmt.Sprintf("d%d", i), MsgType: "event",
			Event: fmt.Sprintf("ev%02d", i%40), Status: models.EventProcessed, NotBefore: old(i), CreatedAt: old(i), UpdatedAt: old(i)}
		if i%25 == 0 {
			e.Kind = "contacts"
		}
		switch i % 50 {
		case 1:
			e.Status = models.EventFailed
		case 2:
			e.Status, e.NotBefore = models.EventReceived, now.Add(time.Duration(i%3-1)*time.Minute)
		}
		events = append(events, e)
	}
	insert(&events)

	var execs []models.Execution
	var jobs []models.Job
	for i := 0; i < explainRows; i++ {
		x := models.Execution{ID: explainID("x", i), WorkflowID: uint64(i%50 + 1), Version: 1, Trigger: "manual", Status: models.ExecutionResolved,
			CreatedAt: old(i), UpdatedAt: old(i)}
		switch i % 50 {
		case 0, 3:
			x.Status = models.ExecutionWaiting
			wake := now.Add(time.Duration(i%3-1) * time.Minute)
			x.WakeAt = &wake
		case 1:
			x.Status = models.ExecutionFailed
		}
		execs = append(execs, x)
		jobs = append(jobs, models.Job{ExecutionID: x.ID, NodeKey: "start", Type: "notification", Status: models.JobResolved, StartedAt: old(i)})
	}
	insert(&execs)
	insert(&jobs)

	var workflows []models.Workflow
	for i := 0; i < explainRows/2; i++ {
		w := models.Workflow{Key: fmt.Sprintf("wf%d", i), Title: "wf", Enabled: i%40 != 0, Version: 1, TriggerType: "manual", Definition: "{}"}
		switch i % 40 {
		case 1:
			w.TriggerType = "webhook"
		case 2:
			w.TriggerType = "schedule"
		}
		workflows = append(workflows, w)
	}
	insert(&workflows)

	var users []models.User
	var members []models.Member
	var depts []models.Department
	for i := 0; i < explainRows; i++ {
		source := models.SourceSync
		if i%50 == 0 {
			source = models.SourceImport
		}
		users = append(users, models.User{UserID: fmt.Sprintf("u%d", i), Name: "u", WeChatWK: fmt.Sprintf("w%d", i), Source: source})
		members = append(members, models.Member{AuthenticatorID: uint64(i%50 + 1), WeComUserID: fmt.Sprintf("w%d", i), Name: "m",
			Departments: fmt.Sprintf("[%d]", i%20+1), Deleted: i%50 == 0})
		depts = append(depts, models.Department{AuthenticatorID: uint64(i%50 + 1), DeptID: int64(i + 1), ParentID: int64(i/20 + 1), Name: "d",
			Deleted: i%50 == 0})
	}
	insert(&users)
	insert(&members)
	insert(&depts)

	var tasks []models.SyncTask
	for i := 0; i < explainRows/2; i++ {
		st := models.SyncTask{AuthenticatorID: uint64(i%50 + 1), Status: models.SyncSuccess, Trigger: "schedule", CreatedAt: old(i * 2), UpdatedAt: old(i * 2)}
		if i%100 == 0 {
			st.Status = models.SyncInit
		}
		tasks = append(tasks, st)
	}
	insert(&tasks)

	var sessions []models.Session
	for i := 0; i < explainRows/2; i++ {
		sessions = append(sessions, models.Session{ID: fmt.Sprintf("%064d", i), TokenID: 1, ExpiresAt: now.Add(time.Duration(i-40) * time.Hour), CreatedAt: now})
	}
	insert(&sessions)

	// Digest windows and items of the executions, as retention deletes them with theirs.
	var windows []models.DigestWindow
	var items []models.DigestItem
	for i := 0; i < explainRows; i++ {
		if i%2 == 0 {
			windows = append(windows, models.DigestWindow{WorkflowID: uint64(i%50 + 1), NodeKey: "batch", KeyHash: fmt.Sprintf("%064d", i),
				ExecutionID: explainID("x", i), EndsAt: old(i), CreatedAt: old(i)})
		}
		items = append(items, models.DigestItem{WindowID: uint64(i/2 + 1), Seq: i % 2, ExecutionID: explainID("x", i), NodeKey: "batch", Data: "{}", CreatedAt: old(i)})
	}
	insert(&windows)
	insert(&items)
	// A daily count of failed lookups per corp over the last 59 days; the oldest 2% are older.
	var failures []models.LookupFailure
	for i := 0; i < explainRows; i++ {
		f := models.LookupFailure{CorpID: fmt.Sprintf("corp%03d", i/59), Day: now.AddDate(0, 0, -(i % 59)).Format("2006-01-02"), Failures: 1}
		if i >= explainRows*98/100 {
			f.CorpID, f.Day = fmt.Sprintf("old%03d", i), now.AddDate(0, 0, -60-i%10).Format("2006-01-02")
		}
		failures = append(failures, f)
	}
	insert(&failures)

	tables := []string{"messages", "message_requests", "card_responses", "callback_events", "executions", "jobs", "workflows", "users",
		"members", "departments", "sync_tasks", "sessions", "digest_windows", "digest_items", "lookup_failures"}
	if err := s.DB.Exec("ANALYZE TABLE " + strings.Join(tables, ", ")).Error; err != nil {
		t.Fatal(err)
	}
}
