package models_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// retentionNow is the fixed clock of the retention tests; data is "old" 40 days before it and
// "recent" one day before, with the cutoff at 30 days.
var retentionNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	oldAt    = retentionNow.Add(-40 * 24 * time.Hour)
	recentAt = retentionNow.Add(-24 * time.Hour)
	cutoff   = retentionNow.Add(-30 * 24 * time.Hour)
)

// retentionFixture writes rows straight into a store for the retention tests.
type retentionFixture struct {
	t   *testing.T
	s   *models.Store
	n   int
	now time.Time
}

func (f *retentionFixture) create(v any) {
	f.t.Helper()
	if err := f.s.DB.Create(v).Error; err != nil {
		f.t.Fatal(err)
	}
}

func (f *retentionFixture) id(prefix string) string {
	f.n++
	return fmt.Sprintf("%s%0*d", prefix, 26-len(prefix), f.n)
}

// message stores a message with requests and card clicks; executionID may be "".
func (f *retentionFixture) message(status string, at time.Time, executionID string, requests, clicks int) string {
	f.t.Helper()
	m := &models.Message{ID: f.id("m"), ChannelID: 1, Channel: "ops", Status: status, CreatedAt: at, UpdatedAt: at}
	if executionID != "" {
		m.ExecutionID = &executionID
	}
	f.create(m)
	for i := 0; i < requests; i++ {
		f.create(&models.MessageRequest{MessageID: m.ID, Seq: i, Status: models.RequestSent, NotBefore: at, UpdatedAt: at})
	}
	for i := 0; i < clicks; i++ {
		f.n++
		f.create(&models.CardResponse{MessageID: m.ID, EventID: uint64(f.n), At: at})
	}
	return m.ID
}

func (f *retentionFixture) execution(status string, at time.Time, jobs int) string {
	f.t.Helper()
	e := &models.Execution{ID: f.id("x"), WorkflowID: 1, Version: 1, Status: status, CreatedAt: at, UpdatedAt: at}
	f.create(e)
	for i := 0; i < jobs; i++ {
		f.create(&models.Job{ExecutionID: e.ID, NodeKey: fmt.Sprintf("n%d", i), Status: models.JobResolved, StartedAt: at})
	}
	return e.ID
}

func (f *retentionFixture) event(status string, at time.Time) uint64 {
	f.t.Helper()
	e := &models.CallbackEvent{AuthenticatorID: 1, Kind: "app", DedupKey: f.id("d"), Status: status, NotBefore: at, CreatedAt: at, UpdatedAt: at}
	f.create(e)
	return e.ID
}

func (f *retentionFixture) syncTask(status string, at time.Time) uint64 {
	f.t.Helper()
	t := &models.SyncTask{AuthenticatorID: 1, Status: status, Trigger: "manual", CreatedAt: at, UpdatedAt: at}
	f.create(t)
	return t.ID
}

// hookEvent stores an event for hook 1 with that many logged attempts.
func (f *retentionFixture) hookEvent(status string, at time.Time, attempts int) uint64 {
	f.t.Helper()
	e := &models.HookEvent{EventID: f.id("e"), HookID: 1, Type: models.EventMessageSent, Subject: f.id("m"), At: at,
		Status: status, NotBefore: at, Attempts: attempts, UpdatedAt: at}
	f.create(e)
	for i := 1; i <= attempts; i++ {
		f.create(&models.HookAttempt{HookID: 1, HookEventID: e.ID, EventID: e.EventID, Type: e.Type, Subject: e.Subject,
			Attempt: i, StatusCode: 500, At: at})
	}
	return e.ID
}

func (f *retentionFixture) session(expires time.Time) string {
	f.t.Helper()
	sess := &models.Session{ID: f.id("s"), TokenID: 1, ExpiresAt: expires, CreatedAt: expires.Add(-time.Hour)}
	f.create(sess)
	return sess.ID
}

// count counts the rows of table matching cond.
func (f *retentionFixture) count(table, cond string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.s.DB.Table(table).Where(cond, args...).Count(&n).Error; err != nil {
		f.t.Fatal(err)
	}
	return n
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	return openRetentionFixture(t, storetest.DSN(t))
}

func openRetentionFixture(t *testing.T, dsn string) *retentionFixture {
	f := &retentionFixture{t: t, now: retentionNow}
	f.s = storetest.OpenDSN(t, dsn, storetest.Options{Now: func() time.Time { return f.now }})
	return f
}

// Old finished rows go with their children; recent rows, unfinished rows and the messages of an
// unfinished execution stay, with theirs.
func TestDeleteFinishedRemovesOnlyOldFinishedData(t *testing.T) {
	t.Parallel()
	f := newRetentionFixture(t)
	ctx := context.Background()

	gone := map[string][]string{}
	kept := map[string][]string{}
	add := func(m map[string][]string, table, id string) { m[table] = append(m[table], id) }

	// Executions: old final ones go with their jobs; unfinished and recent ones stay.
	for _, st := range []string{models.ExecutionResolved, models.ExecutionFailed, models.ExecutionError, models.ExecutionAborted, models.ExecutionCanceled} {
		add(gone, "executions", f.execution(st, oldAt, 2))
	}
	waiting := f.execution(models.ExecutionWaiting, oldAt, 2)
	add(kept, "executions", waiting)
	add(kept, "executions", f.execution(models.ExecutionQueued, oldAt, 0))
	add(kept, "executions", f.execution(models.ExecutionRunning, oldAt, 1))
	add(kept, "executions", f.execution(models.ExecutionResolved, recentAt, 1))
	finished := gone["executions"][0]

	// Messages: old final ones go with their requests and clicks.
	for _, st := range []string{models.MessageSent, models.MessagePartial, models.MessageFailed, models.MessageCanceled} {
		add(gone, "messages", f.message(st, oldAt, "", 2, 1))
	}
	add(gone, "messages", f.message(models.MessageSent, oldAt, finished, 1, 1))
	add(gone, "messages", f.message(models.MessageSent, oldAt, "01JGONEEXECUTION0000000000", 1, 0))
	// Unfinished, recent, or read by a waiting workflow: they stay.
	for _, st := range []string{models.MessageQueued, models.MessageSending, models.MessageRetrying} {
		add(kept, "messages", f.message(st, oldAt, "", 1, 0))
	}
	add(kept, "messages", f.message(models.MessageSent, recentAt, "", 1, 1))
	add(kept, "messages", f.message(models.MessageSent, oldAt, waiting, 1, 1))

	// Callback events: processed or failed for good and old.
	add(gone, "callback_events", fmt.Sprint(f.event(models.EventProcessed, oldAt)))
	add(gone, "callback_events", fmt.Sprint(f.event(models.EventFailed, oldAt)))
	add(kept, "callback_events", fmt.Sprint(f.event(models.EventReceived, oldAt)))
	add(kept, "callback_events", fmt.Sprint(f.event(models.EventProcessed, recentAt)))

	// Sync tasks: finished and old.
	add(gone, "sync_tasks", fmt.Sprint(f.syncTask(models.SyncSuccess, oldAt)))
	add(gone, "sync_tasks", fmt.Sprint(f.syncTask(models.SyncFailed, oldAt)))
	add(kept, "sync_tasks", fmt.Sprint(f.syncTask(models.SyncInit, oldAt)))
	add(kept, "sync_tasks", fmt.Sprint(f.syncTask(models.SyncProcessing, oldAt)))
	add(kept, "sync_tasks", fmt.Sprint(f.syncTask(models.SyncSuccess, recentAt)))

	// Hook events: delivered or given up and old go with their attempts; one still to retry stays.
	add(gone, "hook_events", fmt.Sprint(f.hookEvent(models.HookDelivered, oldAt, 1)))
	add(gone, "hook_events", fmt.Sprint(f.hookEvent(models.HookFailed, oldAt, 3)))
	add(kept, "hook_events", fmt.Sprint(f.hookEvent(models.HookPending, oldAt, 2)))
	add(kept, "hook_events", fmt.Sprint(f.hookEvent(models.HookDelivering, oldAt, 0)))
	add(kept, "hook_events", fmt.Sprint(f.hookEvent(models.HookDelivered, recentAt, 1)))

	// Sessions: expired ones go, whatever the cutoff.
	add(gone, "sessions", f.session(retentionNow.Add(-time.Minute)))
	add(kept, "sessions", f.session(retentionNow.Add(time.Hour)))

	// Sign-ins started and never finished go once expired; the audit log goes with the cutoff.
	for _, st := range []*models.SignInState{{ID: f.id("st"), ExpiresAt: retentionNow.Add(-time.Minute)}, {ID: f.id("st"), ExpiresAt: retentionNow.Add(time.Hour)}} {
		f.create(st)
	}
	for _, at := range []time.Time{oldAt, recentAt} {
		if err := f.s.Audit(ctx, &models.AuditEntry{At: at, ActorType: "system", Action: "user.create", TargetType: "user"}); err != nil {
			t.Fatal(err)
		}
	}

	// Instances: a killed one's lapsed presence goes; a live one's and the leader role stay.
	if _, err := f.s.Heartbeat(ctx, "killed", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.TryLead(ctx, "scheduler", "killed", time.Second); err != nil {
		t.Fatal(err)
	}
	f.now = retentionNow.Add(time.Minute)
	if _, err := f.s.Heartbeat(ctx, "alive", time.Hour); err != nil {
		t.Fatal(err)
	}

	removed, err := f.s.DeleteFinished(ctx, cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"executions": 5, "jobs": 10, "digest_items": 0, "digest_windows": 0,
		"messages": 6, "message_requests": 4*2 + 1 + 1, "card_responses": 4 + 1,
		"callback_events": 2, "sync_tasks": 2, "hook_events": 2, "hook_attempts": 1 + 3, "sessions": 1, "leaders": 1, "sign_in_states": 1, "audit_entries": 1,
	}
	if !maps.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for table, ids := range gone {
		if n := f.count(table, "id IN ?", ids); n != 0 {
			t.Errorf("%s: %d of %v left", table, n, ids)
		}
	}
	for table, ids := range kept {
		if n := f.count(table, "id IN ?", ids); n != int64(len(ids)) {
			t.Errorf("%s: %d of %d kept", table, n, len(ids))
		}
	}
	if n := f.count("leaders", "name IN ?", []string{"instance:alive", "scheduler"}); n != 2 {
		t.Errorf("%d of the live presence and the leader role kept", n)
	}
	// The children went with their parents and only with them.
	if n := f.count("message_requests", "message_id IN ?", gone["messages"]); n != 0 {
		t.Errorf("%d requests of deleted messages left", n)
	}
	if n := f.count("card_responses", "message_id IN ?", gone["messages"]); n != 0 {
		t.Errorf("%d card responses of deleted messages left", n)
	}
	if n := f.count("message_requests", "message_id IN ?", kept["messages"]); n != int64(len(kept["messages"])) {
		t.Errorf("requests of kept messages: %d", n)
	}
	if n := f.count("card_responses", "message_id IN ?", kept["messages"]); n != 2 {
		t.Errorf("card responses of kept messages: %d", n)
	}
	if n := f.count("hook_attempts", "hook_event_id IN ?", kept["hook_events"]); n != 2+1 {
		t.Errorf("attempts of kept hook events: %d, want 3", n)
	}
	if n := f.count("jobs", "execution_id IN ?", gone["executions"]); n != 0 {
		t.Errorf("%d jobs of deleted executions left", n)
	}
	if n := f.count("jobs", "execution_id IN ?", kept["executions"]); n != 4 {
		t.Errorf("jobs of kept executions: %d, want 4", n)
	}

	// A second pass finds nothing more.
	again, err := f.s.DeleteFinished(ctx, cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("second pass removed %v", again)
	}
}

// A long backlog goes in many small transactions: no DELETE of a parent table touches more rows
// than the batch, and the passes go on until everything old is gone.
func TestDeleteFinishedWorksInBatches(t *testing.T) {
	t.Parallel()
	f := newRetentionFixture(t)
	var ids []string
	for i := 0; i < 23; i++ {
		ids = append(ids, f.message(models.MessageSent, oldAt.Add(time.Duration(i)*time.Minute), "", 1, 0))
	}
	for i := 0; i < 12; i++ {
		f.event(models.EventProcessed, oldAt)
	}
	recent := f.message(models.MessageSent, recentAt, "", 1, 0)

	var mu sync.Mutex
	deletes := map[string][]int64{}
	err := f.s.DB.Callback().Delete().After("gorm:delete").Register("test:count_deletes", func(db *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		deletes[db.Statement.Table] = append(deletes[db.Statement.Table], db.RowsAffected)
	})
	if err != nil {
		t.Fatal(err)
	}

	removed, err := f.s.DeleteFinished(context.Background(), cutoff, 5)
	if err != nil {
		t.Fatal(err)
	}
	if removed["messages"] != 23 || removed["message_requests"] != 23 || removed["callback_events"] != 12 {
		t.Fatalf("removed %v", removed)
	}
	if n := f.count("messages", "id IN ?", ids); n != 0 {
		t.Fatalf("%d old messages left", n)
	}
	if n := f.count("messages", "id = ?", recent); n != 1 {
		t.Fatal("the recent message was deleted")
	}
	mu.Lock()
	defer mu.Unlock()
	// 23 messages in batches of 5: 5, 5, 5, 5, 3. 12 events: 5, 5, 2.
	for table, want := range map[string]string{"messages": "[5 5 5 5 3]", "callback_events": "[5 5 2]"} {
		if got := fmt.Sprint(deletes[table]); got != want {
			t.Errorf("%s deleted per statement: %s, want %s", table, got, want)
		}
	}
}

// On MySQL a batch skips the rows another transaction holds instead of waiting for them; the next
// pass takes them.
func TestDeleteFinishedSkipsRowsInUse(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	if !strings.HasPrefix(dsn, "mysql://") {
		t.Skip("SQLite has one writer: there is nothing to skip (WECOMFLOW_TEST_MYSQL_DSN runs it on MySQL)")
	}
	f := openRetentionFixture(t, dsn)
	busy := f.message(models.MessageFailed, oldAt, "", 1, 0)
	free := f.message(models.MessageFailed, oldAt, "", 1, 0)

	// Another instance holds the busy message (RetryMessage takes the same lock).
	tx := f.s.DB.Begin()
	defer tx.Rollback()
	var held models.Message
	if err := tx.Raw("SELECT * FROM messages WHERE id = ? FOR UPDATE", busy).Scan(&held).Error; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	removed, err := f.s.DeleteFinished(ctx, cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	if removed["messages"] != 1 || f.count("messages", "id = ?", free) != 0 || f.count("messages", "id = ?", busy) != 1 {
		t.Fatalf("removed %v while one message was held", removed)
	}
	tx.Rollback()
	if removed, err = f.s.DeleteFinished(ctx, cutoff, 0); err != nil || removed["messages"] != 1 {
		t.Fatalf("after release: %v %v", removed, err)
	}
}
