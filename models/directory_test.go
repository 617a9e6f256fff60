package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func directoryStore(t *testing.T) (*models.Store, *testClock, uint64) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	s := storetest.Open(t, storetest.Options{Now: clk.Now})
	a := &models.Authenticator{Name: "acme", Title: "Acme", Type: "wecom", Enabled: true, Options: "{}", Secrets: models.NewSecret("{}")}
	if err := s.CreateAuthenticator(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return s, clk, a.ID
}

func full(id, name string, depts ...int64) models.MemberUpdate {
	m := models.MemberUpdate{WeComUserID: id, Name: name, Departments: depts, Status: 1, Position: "p", Fields: models.MemberDetails}
	if len(depts) > 0 {
		m.MainDepartment = depts[0]
	}
	return m
}

// A batch writes new and changed members only, and counts what it wrote.
func TestSyncMembersWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	s, clk, auth := directoryStore(t)
	ctx := context.Background()
	batch := []models.MemberUpdate{full("b", "B", 1), full("a", "A", 1, 2), full("c", "C", 2)}
	res, err := s.SyncMembers(ctx, auth, batch, models.MemberSyncOptions{TaskID: 7})
	if err != nil || res.Created != 3 || res.Updated != 0 {
		t.Fatalf("first: %+v %v", res, err)
	}
	clk.Advance(time.Minute)
	batch[1].Name = "A2"
	res, err = s.SyncMembers(ctx, auth, batch, models.MemberSyncOptions{TaskID: 8})
	if err != nil || res.Created != 0 || res.Updated != 1 {
		t.Fatalf("second: %+v %v", res, err)
	}
	a, _ := s.GetMember(ctx, auth, "a")
	b, _ := s.GetMember(ctx, auth, "b")
	if a.Name != "A2" || a.SyncMark != 8 || !a.UpdatedAt.Equal(clk.Now()) || b.SyncMark != 7 || b.UpdatedAt.Equal(clk.Now()) {
		t.Fatalf("a %+v, b %+v", a, b)
	}
	if a.Departments != "[1,2]" || a.MainDepartment != 1 {
		t.Fatalf("departments of a: %s main %d", a.Departments, a.MainDepartment)
	}
	// Fields not known keep their stored value.
	res, err = s.SyncMembers(ctx, auth, []models.MemberUpdate{{WeComUserID: "a", Departments: []int64{2}, Fields: models.MemberDepartments}}, models.MemberSyncOptions{})
	if err != nil || res.Updated != 1 {
		t.Fatalf("partial: %+v %v", res, err)
	}
	a, _ = s.GetMember(ctx, auth, "a")
	if a.Name != "A2" || a.Position != "p" || a.Departments != "[2]" || a.MainDepartment != 2 || a.SyncMark != 8 {
		t.Fatalf("after a partial update: %+v", a)
	}
}

// departmentId matches whole ids in the stored list, q is literal.
func TestListMembersFilters(t *testing.T) {
	t.Parallel()
	s, _, auth := directoryStore(t)
	ctx := context.Background()
	_, err := s.SyncMembers(ctx, auth, []models.MemberUpdate{full("one", "x", 1), full("eleven", "x", 11), full("both", "x", 21, 1),
		full("mid", "x", 3, 1, 111), full("pct", "100%", 111)}, models.MemberSyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    models.DirectoryFilter
		want int64
	}{
		{models.DirectoryFilter{DepartmentID: 1}, 3},
		{models.DirectoryFilter{DepartmentID: 11}, 1},
		{models.DirectoryFilter{DepartmentID: 111}, 2},
		{models.DirectoryFilter{DepartmentID: 2}, 0},
		{models.DirectoryFilter{Q: "%"}, 1},
		{models.DirectoryFilter{Q: "ELEV"}, 1},
		{models.DirectoryFilter{AuthenticatorID: auth + 1}, 0},
	} {
		_, total, err := s.ListMembers(ctx, c.f, models.Page{Page: 1, Size: 20})
		if err != nil || total != c.want {
			t.Errorf("%+v: %d %v, want %d", c.f, total, err, c.want)
		}
	}
}

// Members written after the sync started (a change event during the pull) are not marked deleted.
func TestMarkMissingMembersSparesLaterWrites(t *testing.T) {
	t.Parallel()
	s, clk, auth := directoryStore(t)
	ctx := context.Background()
	if _, err := s.SyncMembers(ctx, auth, []models.MemberUpdate{full("old", "O"), full("gone", "G")}, models.MemberSyncOptions{TaskID: 1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	started := clk.Now()
	clk.Advance(time.Second)
	if _, err := s.SyncMembers(ctx, auth, []models.MemberUpdate{full("during", "D")}, models.MemberSyncOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := s.MarkMissingMembers(ctx, auth, 2, func(id string) bool { return id == "old" }, started)
	if err != nil || n != 1 {
		t.Fatalf("marked %d: %v", n, err)
	}
	for id, deleted := range map[string]bool{"old": false, "gone": true, "during": false} {
		if m, _ := s.GetMember(ctx, auth, id); m.Deleted != deleted {
			t.Errorf("%s deleted=%v", id, m.Deleted)
		}
	}
	if m, _ := s.GetMember(ctx, auth, "gone"); m.SyncMark != 2 {
		t.Errorf("gone sync mark %d", m.SyncMark)
	}
}

// Many creators at once: one task is created, the others get it back with ErrSyncActive.
func TestCreateSyncTaskOnePerAuthenticator(t *testing.T) {
	t.Parallel()
	s, _, auth := directoryStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make(chan uint64, 8)
	created := make(chan uint64, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task, err := s.CreateSyncTask(ctx, auth, "api", time.Time{})
			switch {
			case err == nil:
				created <- task.ID
			case errors.Is(err, models.ErrSyncActive):
				ids <- task.ID
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(ids)
	close(created)
	if len(created) != 1 {
		t.Fatalf("%d tasks created", len(created))
	}
	first := <-created
	for id := range ids {
		if id != first {
			t.Fatalf("conflict returned task %d, not %d", id, first)
		}
	}
	if _, err := s.CreateSyncTask(ctx, auth+99, "api", time.Time{}); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown authenticator: %v", err)
	}
}

// Concurrent claimers never get the same task; a claimed task is not claimed again until its
// lease lapses.
func TestClaimSyncTask(t *testing.T) {
	t.Parallel()
	s, clk, _ := directoryStore(t)
	ctx := context.Background()
	var auths []uint64
	for i := 0; i < 5; i++ {
		a := &models.Authenticator{Name: fmt.Sprintf("corp%d", i), Type: "wecom", Options: "{}", Secrets: models.NewSecret("{}")}
		if err := s.CreateAuthenticator(ctx, a); err != nil {
			t.Fatal(err)
		}
		auths = append(auths, a.ID)
		if _, err := s.CreateSyncTask(ctx, a.ID, "api", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	got := map[uint64]string{}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for {
				task, err := s.ClaimSyncTask(ctx, owner, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if task == nil {
					return
				}
				mu.Lock()
				if prev, dup := got[task.ID]; dup {
					t.Errorf("task %d claimed by %s and %s", task.ID, prev, owner)
				}
				got[task.ID] = owner
				mu.Unlock()
			}
		}(fmt.Sprintf("owner%d", i))
	}
	wg.Wait()
	if len(got) != len(auths) {
		t.Fatalf("claimed %d of %d", len(got), len(auths))
	}
	if task, err := s.ClaimSyncTask(ctx, "late", time.Minute); task != nil || err != nil {
		t.Fatalf("claimed a leased task: %v %v", task, err)
	}
	clk.Advance(2 * time.Minute)
	task, err := s.ClaimSyncTask(ctx, "rescuer", time.Minute)
	if err != nil || task == nil || task.Attempts != 2 || task.LeaseOwner != "rescuer" {
		t.Fatalf("rescue: %+v %v", task, err)
	}
	task.Status, task.Message = models.SyncFailed, "boom"
	if err := s.FinishSyncTask(ctx, task, got[task.ID]); !errors.Is(err, models.ErrSyncLeaseLost) {
		t.Fatalf("the old owner finished the task: %v", err)
	}
	if err := s.FinishSyncTask(ctx, task, "rescuer"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetrySyncTask(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetrySyncTask(ctx, task.ID); !errors.Is(err, models.ErrWrongState) {
		t.Fatalf("retry of a queued task: %v", err)
	}
}

// A rename keeps the link; when the new userid already has a row (its create came first), the old
// row goes and the new one keeps a link.
func TestRenameMember(t *testing.T) {
	t.Parallel()
	s, _, auth := directoryStore(t)
	ctx := context.Background()
	u := &models.User{UserID: "manual", WeChatWK: "old", Source: models.SourceManual}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncMembers(ctx, auth, []models.MemberUpdate{full("old", "O"), full("x", "X")}, models.MemberSyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameMember(ctx, auth, "old", "new"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameMember(ctx, auth, "old", "new"); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMember(ctx, auth, "new")
	if err != nil || m.UserID == nil || *m.UserID != u.ID {
		t.Fatalf("renamed: %+v %v", m, err)
	}
	// The link survives a resync of the new userid: the user's binding names no member now.
	if _, err := s.SyncMembers(ctx, auth, []models.MemberUpdate{full("new", "O")}, models.MemberSyncOptions{AutoCreateUsers: true}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GetMember(ctx, auth, "new"); m.UserID == nil || *m.UserID != u.ID {
		t.Fatalf("after resync: %+v", m)
	}
	if got, _ := s.GetUser(ctx, u.ID); got.WeChatWK != "old" || got.Source != models.SourceManual {
		t.Fatalf("manual user rewritten: %+v", got)
	}
	// Renaming onto an existing member: one row remains.
	if err := s.RenameMember(ctx, auth, "x", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMember(ctx, auth, "x"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("x still there: %v", err)
	}
}

// is_leader_in_dept is kept per department: aligned with the departments it came with (or the
// stored ones), dropped for a department the member leaves; DepartmentLeaders reads it back.
func TestDepartmentLeaders(t *testing.T) {
	t.Parallel()
	s, _, auth := directoryStore(t)
	ctx := context.Background()
	boss := full("boss", "Boss", 1, 11)
	boss.IsLeaderInDept = []int{0, 1}
	deputy := full("deputy", "Deputy", 111, 11)
	deputy.IsLeaderInDept = []int{1, 1}
	if _, err := s.SyncMembers(ctx, auth, []models.MemberUpdate{boss, deputy, full("staff", "Staff", 11)}, models.MemberSyncOptions{}); err != nil {
		t.Fatal(err)
	}
	leaders := func() map[int64][]string {
		t.Helper()
		got, err := s.DepartmentLeaders(ctx, auth, []int64{1, 11, 111})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := fmt.Sprint(leaders()); got != "map[11:[boss deputy] 111:[deputy]]" {
		t.Fatalf("leaders: %s", got)
	}
	// update_user with IsLeaderInDept alone is read against the stored departments.
	steps := []models.MemberUpdate{
		{WeComUserID: "staff", IsLeaderInDept: []int{1}, Fields: models.MemberLeaderOf},
		// deputy leaves 11 (the event carries no IsLeaderInDept): it no longer leads it.
		{WeComUserID: "deputy", Departments: []int64{111}, Fields: models.MemberDepartments},
	}
	if _, err := s.SyncMembers(ctx, auth, steps, models.MemberSyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(leaders()); got != "map[11:[boss staff] 111:[deputy]]" {
		t.Fatalf("after the changes: %s", got)
	}
	if err := s.MarkMemberDeleted(ctx, auth, "boss"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(leaders()); got != "map[11:[staff] 111:[deputy]]" {
		t.Fatalf("after boss left: %s", got)
	}
}
