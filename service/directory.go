package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// SyncCounts are what a directory sync saw and did. Created, updated, deleted and linked count
// members; departments and members are the totals WeCom listed.
type SyncCounts struct {
	Departments int `json:"departments"`
	Members     int `json:"members"`
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Deleted     int `json:"deleted"`
	Linked      int `json:"linked"`
}

// SyncTask is a full directory sync as the API shows it.
type SyncTask struct {
	ID              uint64     `json:"id"`
	AuthenticatorID uint64     `json:"authenticatorId"`
	Status          string     `json:"status"`
	Trigger         string     `json:"trigger"`
	Counts          SyncCounts `json:"counts"`
	// Progress is the share of departments done, 0–100.
	Progress   int        `json:"progress"`
	CostMs     int64      `json:"costMs"`
	Message    string     `json:"message"`
	Attempts   int        `json:"attempts"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
}

func syncTaskView(t *models.SyncTask) SyncTask {
	return SyncTask{ID: t.ID, AuthenticatorID: t.AuthenticatorID, Status: t.Status, Trigger: t.Trigger,
		Counts: SyncCounts{Departments: t.Departments, Members: t.Members, Created: t.Created, Updated: t.Updated,
			Deleted: t.Deleted, Linked: t.Linked},
		Progress: t.Progress, CostMs: t.CostMs, Message: t.Message, Attempts: t.Attempts,
		StartedAt: t.StartedAt, FinishedAt: t.FinishedAt, CreatedAt: t.CreatedAt}
}

// Department is a WeCom department as last synced.
type Department struct {
	AuthenticatorID uint64 `json:"authenticatorId"`
	ID              int64  `json:"id"`
	ParentID        int64  `json:"parentId"`
	Name            string `json:"name"`
	Order           int64  `json:"order"`
	// Leaders are the WeCom userids of the live members who lead it (department_leader).
	Leaders   []string  `json:"leaders"`
	Deleted   bool      `json:"deleted"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func departmentView(d *models.Department) Department {
	return Department{AuthenticatorID: d.AuthenticatorID, ID: d.DeptID, ParentID: d.ParentID, Name: d.Name, Order: d.Order,
		Leaders: []string{}, Deleted: d.Deleted, UpdatedAt: d.UpdatedAt}
}

// Member is a WeCom member as last synced; UserID is the local user it is linked to.
type Member struct {
	AuthenticatorID uint64  `json:"authenticatorId"`
	WeComUserID     string  `json:"userid"`
	Name            string  `json:"name"`
	Departments     []int64 `json:"departments"`
	MainDepartment  int64   `json:"mainDepartment"`
	// LeaderOf are the departments (of Departments) the member leads.
	LeaderOf []int64 `json:"leaderOf"`
	Position string  `json:"position"`
	Mobile   string  `json:"mobile"`
	Email    string  `json:"email"`
	// Status is WeCom's: 1 active, 2 disabled, 4 not activated, 5 left; 0 not known (read without details).
	Status    int       `json:"status"`
	Deleted   bool      `json:"deleted"`
	UserID    *uint64   `json:"userId"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func memberView(m *models.Member) Member {
	return Member{AuthenticatorID: m.AuthenticatorID, WeComUserID: m.WeComUserID, Name: m.Name,
		Departments: models.DecodeDepartments(m.Departments), MainDepartment: m.MainDepartment,
		LeaderOf: models.DecodeDepartments(m.LeaderOf), Position: m.Position,
		Mobile: m.Mobile, Email: m.Email, Status: m.Status, Deleted: m.Deleted, UserID: m.UserID, UpdatedAt: m.UpdatedAt}
}

// DirectoryFilter narrows the directory lists (SPEC §3.5).
type DirectoryFilter struct {
	AuthenticatorID uint64
	// DepartmentID: sub-departments of it (departments) or its direct members (members).
	DepartmentID int64
	Q            string
	Deleted      *bool
}

func (f DirectoryFilter) model() models.DirectoryFilter {
	return models.DirectoryFilter{AuthenticatorID: f.AuthenticatorID, DepartmentID: f.DepartmentID, Q: f.Q, Deleted: f.Deleted}
}

// ListDepartments pages through synced departments.
func (s *Service) ListDepartments(ctx context.Context, f DirectoryFilter, p models.Page) (models.List[Department], error) {
	items, total, err := s.store.ListDepartments(ctx, f.model(), p.Normalize())
	if err != nil {
		return models.List[Department]{}, problem.StoreError("Department", err)
	}
	list := models.NewList(items, total, p, departmentView)
	// The page's departments by authenticator: their leaders are one read per authenticator.
	byAuth := map[uint64][]int64{}
	for _, d := range list.Items {
		byAuth[d.AuthenticatorID] = append(byAuth[d.AuthenticatorID], d.ID)
	}
	for auth, ids := range byAuth {
		leaders, err := s.store.DepartmentLeaders(ctx, auth, ids)
		if err != nil {
			return models.List[Department]{}, problem.StoreError("Department", err)
		}
		for i, d := range list.Items {
			if l, ok := leaders[d.ID]; ok && d.AuthenticatorID == auth {
				list.Items[i].Leaders = l
			}
		}
	}
	return list, nil
}

// ListMembers pages through synced members.
func (s *Service) ListMembers(ctx context.Context, f DirectoryFilter, p models.Page) (models.List[Member], error) {
	items, total, err := s.store.ListMembers(ctx, f.model(), p.Normalize())
	if err != nil {
		return models.List[Member]{}, problem.StoreError("Member", err)
	}
	return models.NewList(items, total, p, memberView), nil
}

// MemberNames names the live synced members of an authenticator with these WeCom userids; a
// userid not synced (or deleted) has no entry.
func (s *Service) MemberNames(ctx context.Context, authenticatorID uint64, userids []string) (map[string]string, error) {
	members, err := s.store.MembersByUserID(ctx, authenticatorID, userids)
	if err != nil {
		return nil, problem.StoreError("Member", err)
	}
	out := make(map[string]string, len(members))
	for id, m := range members {
		out[id] = m.Name
	}
	return out, nil
}

// Tag is a WeCom tag (标签) as its corp holds it now: the directory sync keeps no tags.
type Tag struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// TagFilter narrows the tag list: the authenticator whose corp's tags are listed (required), and
// Q, matched case-insensitively against the name and the id.
type TagFilter struct {
	AuthenticatorID uint64
	Q               string
}

// ListTags pages through the tags of an authenticator's corp, read from WeCom (tag/list) on
// every call: the sync keeps no tags, and a corp has at most 3000, one short answer.
func (s *Service) ListTags(ctx context.Context, f TagFilter, p models.Page) (models.List[Tag], error) {
	errs := problem.Fields{}
	app, _, ok, err := s.wecomApp(ctx, f.AuthenticatorID, errs)
	if err != nil {
		return models.List[Tag]{}, err
	}
	if !ok {
		return models.List[Tag]{}, problem.Invalid(errs)
	}
	tags, err := s.clients.Client(app).ListTags(ctx)
	if err != nil {
		return models.List[Tag]{}, wecomFailure(err)
	}
	q := strings.ToLower(strings.TrimSpace(f.Q))
	out := []Tag{}
	for _, t := range tags {
		if id := strconv.FormatInt(t.ID, 10); strings.Contains(strings.ToLower(t.Name), q) || strings.Contains(id, q) {
			out = append(out, Tag{ID: t.ID, Name: t.Name})
		}
	}
	return models.ListOf(out, p), nil
}

// wecomApp is the app and options of the enabled WeCom authenticator a request names as
// authenticatorId; ok is false, with the reason added to errs (a 422 on that field), for none or
// any other.
func (s *Service) wecomApp(ctx context.Context, authenticatorID uint64, errs problem.Fields) (wecom.App, wecom.Options, bool, error) {
	if authenticatorID == 0 {
		errs.Add("authenticatorId", "is required")
		return wecom.App{}, wecom.Options{}, false, nil
	}
	app, o, err := s.apps.Options(ctx, authenticatorID)
	switch {
	case errors.Is(err, wecom.ErrNoApp):
		errs.Add("authenticatorId", "must be an enabled WeCom authenticator: "+err.Error())
		return wecom.App{}, wecom.Options{}, false, nil
	case err != nil:
		return wecom.App{}, wecom.Options{}, false, problem.StoreError("Authenticator", err)
	}
	return app, o, true, nil
}

// StartSync queues a full directory sync of a WeCom authenticator (202) and wakes the directory
// runner. An authenticator that already has one queued or running is a conflict naming that task.
func (s *Service) StartSync(ctx context.Context, authenticatorID uint64) (SyncTask, error) {
	a, err := s.store.GetAuthenticator(ctx, authenticatorID)
	if err != nil {
		return SyncTask{}, problem.StoreError("Authenticator", err)
	}
	if a.Type != wecom.Type {
		return SyncTask{}, problem.Errorf(problem.CodeConflict, "Only WeCom authenticators have a directory; %q is of type %s.", a.Name, a.Type)
	}
	if !a.Enabled {
		return SyncTask{}, problem.Errorf(problem.CodeConflict, "The authenticator %q is disabled; enable it to sync its directory.", a.Name)
	}
	t, err := s.store.CreateSyncTask(ctx, authenticatorID, wecom.TriggerAPI, time.Time{})
	if errors.Is(err, models.ErrSyncActive) {
		return SyncTask{}, &problem.Error{Code: problem.CodeConflict, Err: err, Message: fmt.Sprintf(
			"A directory sync of %q is already %s: sync task %d (progress %d%%, GET /api/v1/sync-tasks/%d).",
			a.Name, describeActive(t.Status), t.ID, t.Progress, t.ID)}
	}
	if err != nil {
		return SyncTask{}, problem.StoreError("Authenticator", err)
	}
	s.log.InfoContext(ctx, "directory sync queued", "authenticator", a.Name, "sync_task", t.ID)
	s.cfg.WakeSync()
	return syncTaskView(t), nil
}

// SyncStatuses are the statuses of a sync task, in the order a task goes through them.
func SyncStatuses() []string {
	return []string{models.SyncInit, models.SyncProcessing, models.SyncSuccess, models.SyncFailed}
}

func describeActive(status string) string {
	if status == models.SyncInit {
		return "queued"
	}
	return "running"
}

// ListSyncTasks pages through sync tasks, newest first, optionally of one authenticator.
func (s *Service) ListSyncTasks(ctx context.Context, authenticatorID uint64, p models.Page) (models.List[SyncTask], error) {
	items, total, err := s.store.ListSyncTasks(ctx, authenticatorID, p.Normalize())
	if err != nil {
		return models.List[SyncTask]{}, problem.StoreError("Sync task", err)
	}
	return models.NewList(items, total, p, syncTaskView), nil
}

// GetSyncTask reads one sync task.
func (s *Service) GetSyncTask(ctx context.Context, id uint64) (SyncTask, error) {
	t, err := s.store.GetSyncTask(ctx, id)
	if err != nil {
		return SyncTask{}, problem.StoreError("Sync task", err)
	}
	return syncTaskView(t), nil
}

// RetrySyncTask queues a failed sync task again and wakes the directory runner; any other status, or another sync of the same
// authenticator queued or running, is a conflict.
func (s *Service) RetrySyncTask(ctx context.Context, id uint64) (SyncTask, error) {
	t, err := s.store.RetrySyncTask(ctx, id)
	switch {
	case errors.Is(err, models.ErrWrongState):
		return SyncTask{}, &problem.Error{Code: problem.CodeConflict, Err: err,
			Message: fmt.Sprintf("Only a failed sync task can be retried; sync task %d is %s.", id, t.Status)}
	case errors.Is(err, models.ErrSyncActive):
		return SyncTask{}, &problem.Error{Code: problem.CodeConflict, Err: err, Message: fmt.Sprintf(
			"Another directory sync of this authenticator is already %s: sync task %d.", describeActive(t.Status), t.ID)}
	case err != nil:
		return SyncTask{}, problem.StoreError("Sync task", err)
	}
	s.log.InfoContext(ctx, "directory sync queued again", "sync_task", id)
	s.cfg.WakeSync()
	return syncTaskView(t), nil
}
