package wecom

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/worker"
)

// DirectoryStore is what directory sync needs of the database.
type DirectoryStore interface {
	CreateSyncTask(ctx context.Context, authenticatorID uint64, trigger string, since time.Time) (*models.SyncTask, error)
	ClaimSyncTask(ctx context.Context, owner string, lease time.Duration) (*models.SyncTask, error)
	UpdateSyncTask(ctx context.Context, t *models.SyncTask, owner string, lease time.Duration) error
	FinishSyncTask(ctx context.Context, t *models.SyncTask, owner string) error
	ReleaseSyncTask(ctx context.Context, id uint64, owner string) error
	SyncDepartments(ctx context.Context, authenticatorID uint64, depts []models.DepartmentUpdate, before time.Time) (models.DepartmentSyncResult, error)
	SyncMembers(ctx context.Context, authenticatorID uint64, batch []models.MemberUpdate, o models.MemberSyncOptions) (models.MemberSyncResult, error)
	MarkMissingMembers(ctx context.Context, authenticatorID, taskID uint64, seen func(userid string) bool, before time.Time) (int, error)
	RenameMember(ctx context.Context, authenticatorID uint64, from, to string) error
	MarkMemberDeleted(ctx context.Context, authenticatorID uint64, userid string) error
	UpsertDepartment(ctx context.Context, authenticatorID uint64, d models.DepartmentUpdate) (bool, error)
	MarkDepartmentDeleted(ctx context.Context, authenticatorID uint64, id int64) error
}

// Schedule is an authenticator whose directory syncs on a cron spec (options.sync.schedule).
type Schedule struct {
	AuthenticatorID uint64
	Spec            string
}

// Sync task triggers.
const (
	TriggerAPI      = "api"
	TriggerSchedule = "schedule"
)

// SyncerOptions configure a Syncer.
type SyncerOptions struct {
	// Owner names this instance in task leases (unique per process).
	Owner string
	// Lease is how long a claimed task stays this instance's without a progress report (default
	// 2 min); a task whose lease lapses is taken over by another instance and run afresh.
	Lease time.Duration
	// Poll is how often Run looks for queued tasks (default 1 s).
	Poll time.Duration
	// Wake, when set, makes Run look at once (a task was just queued); nil relies on Poll.
	Wake worker.Wakeup
	// ScheduleEvery is how often Run reads the schedules again (default 30 s).
	ScheduleEvery time.Duration
	// Fetchers is how many departments are read from WeCom at once (default 4).
	Fetchers int
	// Batch is the members written per transaction (default 500).
	Batch int
	// RetryBase is the first wait before a directory read that failed in passing (system busy,
	// HTTP error, timeout) is tried again; each further wait is 4 times longer, 3 tries in all
	// (default 500 ms).
	RetryBase time.Duration
	Now       func() time.Time
	// Location is the time zone of cron specs without CRON_TZ= (default Asia/Shanghai).
	Location *time.Location
	// Leading reports whether this instance is the one that queues scheduled syncs (default: yes).
	Leading func() bool
	// OnFinish is told of every finished task (metrics).
	OnFinish func(status string, elapsed time.Duration)
}

// Syncer keeps the directory (departments and members, per authenticator) in step with WeCom:
// full syncs run as tasks under a lease, change_contact events are applied one by one.
type Syncer struct {
	store   DirectoryStore
	clients *Clients
	apps    *Apps
	log     *slog.Logger
	o       SyncerOptions
}

// NewSyncer builds a syncer.
func NewSyncer(store DirectoryStore, clients *Clients, apps *Apps, log *slog.Logger, o SyncerOptions) *Syncer {
	if o.Leading == nil {
		o.Leading = func() bool { return true }
	}
	if o.Lease == 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.ScheduleEvery == 0 {
		o.ScheduleEvery = 30 * time.Second
	}
	if o.Fetchers <= 0 {
		o.Fetchers = 4
	}
	if o.Batch <= 0 || o.Batch > 500 {
		o.Batch = 500
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*3600)
		}
		o.Location = loc
	}
	return &Syncer{store: store, clients: clients, apps: apps, log: log, o: o}
}

// Run claims and runs queued sync tasks one at a time, and queues scheduled ones, until ctx
// ends. A task running at that moment is put back in the queue for the next instance or start.
func (s *Syncer) Run(ctx context.Context) error {
	schedules := map[uint64]*scheduled{}
	var scheduledAt time.Time
	worker.Run(ctx, s.o.Wake, s.o.Poll, func(ctx context.Context) {
		if s.o.Leading() && time.Since(scheduledAt) >= s.o.ScheduleEvery {
			s.schedule(ctx, schedules)
			scheduledAt = time.Now()
		}
		for ctx.Err() == nil {
			t, err := s.store.ClaimSyncTask(ctx, s.o.Owner, s.o.Lease)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("claiming sync tasks failed", "err", err)
				}
				return
			}
			if t == nil {
				return
			}
			s.RunTask(ctx, t)
		}
	})
	return nil
}

// scheduled is one authenticator's schedule as Run follows it.
type scheduled struct {
	spec  string
	sched cron.Schedule
	next  time.Time
}

// schedule queues a task for every schedule whose tick has come. A tick another instance already
// queued (or a sync still queued or running) is skipped, so schedules do not pile tasks up.
func (s *Syncer) schedule(ctx context.Context, state map[uint64]*scheduled) {
	list, err := s.apps.SyncSchedules(ctx)
	if err != nil {
		s.log.Error("reading sync schedules failed", "err", err)
		return
	}
	now := s.o.Now()
	live := map[uint64]bool{}
	for _, sc := range list {
		live[sc.AuthenticatorID] = true
		st := state[sc.AuthenticatorID]
		if st == nil || st.spec != sc.Spec {
			sched, err := worker.ParseSchedule(sc.Spec, s.o.Location)
			if err != nil {
				s.log.Warn("sync schedule is not valid", "authenticator", sc.AuthenticatorID, "err", err)
				delete(state, sc.AuthenticatorID)
				continue
			}
			state[sc.AuthenticatorID] = &scheduled{spec: sc.Spec, sched: sched, next: worker.NextTick(sched, now)}
			continue
		}
		if now.Before(st.next) {
			continue
		}
		tick := st.next
		st.next = worker.NextTick(st.sched, now)
		t, err := s.store.CreateSyncTask(ctx, sc.AuthenticatorID, TriggerSchedule, tick)
		switch {
		case errors.Is(err, models.ErrSyncActive):
			s.log.Debug("scheduled sync skipped: one is queued, running or already took this tick",
				"authenticator", sc.AuthenticatorID, "sync_task", t.ID)
		case err != nil:
			s.log.Error("queuing a scheduled sync failed", "authenticator", sc.AuthenticatorID, "err", err)
		default:
			s.log.Info("scheduled sync queued", "authenticator", sc.AuthenticatorID, "sync_task", t.ID)
		}
	}
	for id := range state {
		if !live[id] {
			delete(state, id)
		}
	}
}
