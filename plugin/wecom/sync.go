package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
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

// ErrNoApp is an authenticator that cannot be used for the directory: gone, disabled or not a
// WeCom one. Credential lookups wrap it so the syncer can tell it from a passing failure.
var ErrNoApp = errors.New("the authenticator cannot be used")

// Credentials resolves an authenticator to its app and its complete options, secrets included.
type Credentials func(ctx context.Context, authenticatorID uint64) (App, Options, error)

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
	// Schedules lists the authenticators that sync on a schedule; nil schedules nothing.
	Schedules func(ctx context.Context) ([]Schedule, error)
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
	creds   Credentials
	log     *slog.Logger
	o       SyncerOptions
}

// NewSyncer builds a syncer.
func NewSyncer(store DirectoryStore, clients *Clients, creds Credentials, log *slog.Logger, o SyncerOptions) *Syncer {
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
	return &Syncer{store: store, clients: clients, creds: creds, log: log, o: o}
}

// Run claims and runs queued sync tasks one at a time, and queues scheduled ones, until ctx
// ends. A task running at that moment is put back in the queue for the next instance or start.
func (s *Syncer) Run(ctx context.Context) error {
	schedules := map[uint64]*scheduled{}
	var scheduledAt time.Time
	worker.Run(ctx, s.o.Wake, s.o.Poll, func(ctx context.Context) {
		if s.o.Schedules != nil && s.o.Leading() && time.Since(scheduledAt) >= s.o.ScheduleEvery {
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
	list, err := s.o.Schedules(ctx)
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
			sched, err := ParseSchedule(sc.Spec, s.o.Location)
			if err != nil {
				s.log.Warn("sync schedule is not valid", "authenticator", sc.AuthenticatorID, "err", err)
				delete(state, sc.AuthenticatorID)
				continue
			}
			state[sc.AuthenticatorID] = &scheduled{spec: sc.Spec, sched: sched, next: NextTick(sched, now)}
			continue
		}
		if now.Before(st.next) {
			continue
		}
		tick := st.next
		st.next = NextTick(st.sched, now)
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

// ParseSchedule reads a sync schedule: 5 cron fields or a descriptor (@daily, @every 6h),
// evaluated in loc unless the spec starts with CRON_TZ=.
func ParseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok && !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		ss.Location = loc
	}
	return sched, nil
}

// NextTick is the schedule's first tick after now. @every ticks are counted from a fixed origin
// rather than from when the process started, so every instance sees the same ticks.
func NextTick(sched cron.Schedule, now time.Time) time.Time {
	if d, ok := sched.(cron.ConstantDelaySchedule); ok && d.Delay > 0 {
		return now.Truncate(d.Delay).Add(d.Delay)
	}
	return sched.Next(now)
}

// storeError marks a database failure inside a sync: the task's message then points at the log
// instead of repeating SQL to the user.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

func wrapStore(err error) error {
	if err == nil {
		return nil
	}
	return storeError{err}
}

// RunTask runs one claimed task to its end and records it: success with counts, or failed with a
// sentence saying why. A task whose lease was lost is left to the instance that took it; one
// interrupted by ctx is put back in the queue.
func (s *Syncer) RunTask(ctx context.Context, t *models.SyncTask) {
	log := s.log.With("authenticator", t.AuthenticatorID, "sync_task", t.ID)
	log.Info("directory sync started", "trigger", t.Trigger, "attempt", t.Attempts)
	run := &syncRun{s: s, t: t, log: log, start: time.Now(), seen: map[string]struct{}{}}
	if t.StartedAt != nil {
		run.startedAt = *t.StartedAt
	} else {
		run.startedAt = s.o.Now()
	}
	err := run.full(ctx)
	done := context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, models.ErrSyncLeaseLost):
		log.Warn("directory sync abandoned: another instance took the task over")
		return
	case err != nil && ctx.Err() != nil:
		if rerr := s.store.ReleaseSyncTask(done, t.ID, s.o.Owner); rerr != nil {
			log.Error("releasing the interrupted sync task failed", "err", rerr)
		}
		log.Info("directory sync interrupted by shutdown; queued again")
		return
	}
	elapsed := time.Since(run.start)
	t.CostMs = elapsed.Milliseconds()
	if err != nil {
		t.Status, t.Message = models.SyncFailed, "Directory sync failed: "+run.describe(err)
		log.Warn("directory sync failed", "err", err, "errcode", ErrCode(err))
	} else {
		t.Status, t.Progress, t.Message = models.SyncSuccess, 100, run.summary()
		log.Info("directory sync finished", "departments", t.Departments, "members", t.Members, "created", t.Created,
			"updated", t.Updated, "deleted", t.Deleted, "linked", t.Linked, "duration_ms", t.CostMs)
	}
	if ferr := s.store.FinishSyncTask(done, t, s.o.Owner); ferr != nil {
		log.Error("recording the end of the sync task failed", "err", ferr)
		return
	}
	if s.o.OnFinish != nil {
		s.o.OnFinish(t.Status, elapsed)
	}
}

// syncRun is one full sync in progress.
type syncRun struct {
	s         *Syncer
	t         *models.SyncTask
	log       *slog.Logger
	start     time.Time // real time, for costMs
	startedAt time.Time // the store's clock, for "written since the sync started"
	opts      Options
	// idsOnly: the contacts secret may not read details (48009); members come from list_id +
	// simplelist.
	idsOnly bool
	fields  models.MemberFields
	seen    map[string]struct{}
	batch   []models.MemberUpdate
	total   models.MemberSyncResult
	depts   int
	done    int
	flushes int
	// reported is when progress was last written (real time).
	reported time.Time
}

// full pulls the whole directory and writes it: departments, then the members of each department,
// then marks members the pull did not see.
func (r *syncRun) full(ctx context.Context) error {
	app, opts, err := r.s.creds(ctx, r.t.AuthenticatorID)
	if err != nil {
		return err
	}
	r.opts = opts
	client := r.s.clients.Client(app)
	contacts := opts.Sync.ContactSecret != ""
	r.fields = models.MemberDetails
	if contacts {
		client = r.s.clients.ContactsClient(app, opts.Sync.ContactSecret)
		r.fields = models.MemberAll
	}
	base := r.s.o.RetryBase
	deptFields := models.DepartmentAll
	depts, err := retrying(base, client.ListDepartments)(ctx, 0)
	if contacts && ErrCode(err) == 48009 {
		// Without detail reads the contacts secret still lists the tree, without names.
		depts, err = retrying(base, client.ListDepartmentIDs)(ctx, 0)
		deptFields = models.DepartmentParent | models.DepartmentOrder
	}
	if err != nil {
		return err
	}
	updates := make([]models.DepartmentUpdate, len(depts))
	ids := make([]int64, len(depts))
	for i, d := range depts {
		updates[i] = models.DepartmentUpdate{ID: d.ID, ParentID: d.ParentID, Name: d.Name, Order: d.Order, Fields: deptFields}
		ids[i] = d.ID
	}
	dres, err := r.s.store.SyncDepartments(ctx, r.t.AuthenticatorID, updates, r.startedAt)
	if err != nil {
		return wrapStore(err)
	}
	r.log.Debug("departments written", "created", dres.Created, "updated", dres.Updated, "deleted", dres.Deleted)
	r.depts = len(ids)
	r.t.Departments = len(ids)
	if err := r.report(ctx, true); err != nil {
		return err
	}
	if len(ids) == 0 {
		return r.finishMembers(ctx)
	}
	// The first department tells whether details may be read; the rest are read in parallel.
	listMembers := retrying(base, client.ListMembers)
	first, err := listMembers(ctx, ids[0])
	switch {
	case contacts && ErrCode(err) == 48009:
		r.idsOnly = true
		r.fields = models.MemberName | models.MemberDepartments
		r.log.Info("the contacts secret may not read member details (48009); syncing ids with user/list_id and user/simplelist")
		return r.pullIDs(ctx, client, ids)
	case err != nil:
		return err
	}
	if err := r.useMembers(ctx, first); err != nil {
		return err
	}
	err = fetchAll(ctx, r.s.o.Fetchers, ids[1:], listMembers, func(_ int64, ms []Member) error {
		return r.useMembers(ctx, ms)
	})
	if err != nil {
		return err
	}
	return r.finishMembers(ctx)
}

func (r *syncRun) useMembers(ctx context.Context, ms []Member) error {
	for _, m := range ms {
		if _, dup := r.seen[m.UserID]; dup || m.UserID == "" {
			// A member of several departments is listed in each, the same every time.
			continue
		}
		r.seen[m.UserID] = struct{}{}
		r.batch = append(r.batch, models.MemberUpdate{WeComUserID: m.UserID, Name: m.Name, Departments: m.Department,
			MainDepartment: m.MainDepartment, Position: m.Position, Mobile: m.Mobile, Email: m.Email, Status: m.Status, Fields: r.fields})
		if len(r.batch) >= r.s.o.Batch {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	r.done++
	return r.report(ctx, false)
}

// pullIDs is the contacts secret without detail reads: user/list_id gives every member's
// departments, user/simplelist per department their names.
func (r *syncRun) pullIDs(ctx context.Context, client *Client, ids []int64) error {
	depts := map[string][]int64{}
	type page struct {
		rows []DeptUser
		next string
	}
	listIDs := retrying(r.s.o.RetryBase, func(ctx context.Context, cursor string) (page, error) {
		rows, next, err := client.ListMemberIDs(ctx, cursor, 10000)
		return page{rows, next}, err
	})
	cursor := ""
	for {
		p, err := listIDs(ctx, cursor)
		if err != nil {
			return err
		}
		rows, next := p.rows, p.next
		for _, row := range rows {
			depts[row.UserID] = append(depts[row.UserID], row.Department)
		}
		if next == "" || len(rows) == 0 {
			break
		}
		cursor = next
	}
	err := fetchAll(ctx, r.s.o.Fetchers, ids, retrying(r.s.o.RetryBase, client.ListSimpleMembers), func(_ int64, ms []SimpleMember) error {
		for _, m := range ms {
			if _, dup := r.seen[m.UserID]; dup || m.UserID == "" {
				continue
			}
			r.seen[m.UserID] = struct{}{}
			d, ok := depts[m.UserID]
			if !ok {
				d = m.Department
			}
			delete(depts, m.UserID)
			r.batch = append(r.batch, models.MemberUpdate{WeComUserID: m.UserID, Name: m.Name, Departments: d, Fields: r.fields})
			if len(r.batch) >= r.s.o.Batch {
				if err := r.flush(ctx); err != nil {
					return err
				}
			}
		}
		r.done++
		return r.report(ctx, false)
	})
	if err != nil {
		return err
	}
	// Members list_id named but no department listed (outside every listed department): no name.
	for id, d := range depts {
		if _, dup := r.seen[id]; dup {
			continue
		}
		r.seen[id] = struct{}{}
		r.batch = append(r.batch, models.MemberUpdate{WeComUserID: id, Departments: d, Fields: models.MemberDepartments})
		if len(r.batch) >= r.s.o.Batch {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	return r.finishMembers(ctx)
}

// finishMembers writes the last batch and marks the members the complete pull did not see.
func (r *syncRun) finishMembers(ctx context.Context) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	deleted, err := r.s.store.MarkMissingMembers(ctx, r.t.AuthenticatorID, r.t.ID, func(id string) bool {
		_, ok := r.seen[id]
		return ok
	}, r.startedAt)
	if err != nil {
		return wrapStore(err)
	}
	r.t.Deleted = deleted
	r.done = r.depts
	return nil
}

func (r *syncRun) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	res, err := r.s.store.SyncMembers(ctx, r.t.AuthenticatorID, r.batch, models.MemberSyncOptions{
		TaskID: r.t.ID, AutoCreateUsers: r.opts.Sync.AutoCreateUsers})
	if err != nil {
		return wrapStore(err)
	}
	r.batch = r.batch[:0]
	r.total.Add(res)
	r.flushes++
	return nil
}

// reportEvery bounds how long a running task goes without writing its progress (and renewing
// its lease).
const reportEvery = 2 * time.Second

// report writes counts and progress when forced, every few batches, or when the last report is
// getting old.
func (r *syncRun) report(ctx context.Context, force bool) error {
	if !force && r.flushes < 4 && time.Since(r.reported) < reportEvery {
		return nil
	}
	r.flushes = 0
	r.reported = time.Now()
	r.fill()
	return wrapStore(r.s.store.UpdateSyncTask(ctx, r.t, r.s.o.Owner, r.s.o.Lease))
}

// fill copies the counts into the task.
func (r *syncRun) fill() {
	t := r.t
	t.Members, t.Created, t.Updated, t.Linked = len(r.seen), r.total.Created, r.total.Updated, r.total.Linked
	if r.depts > 0 {
		t.Progress = min(99, r.done*100/r.depts)
	}
	t.CostMs = time.Since(r.start).Milliseconds()
}

func (r *syncRun) summary() string {
	r.fill()
	t := r.t
	msg := fmt.Sprintf("Synced %d departments and %d members: %d created, %d updated, %d marked deleted; %d linked to local users.",
		t.Departments, t.Members, t.Created, t.Updated, t.Deleted, t.Linked)
	switch n := r.total.UsersCreated; n {
	case 0:
	case 1:
		msg += " 1 local user created."
	default:
		msg += fmt.Sprintf(" %d local users created.", n)
	}
	if r.idsOnly {
		msg += " WeCom refused detail reads to the contacts secret (48009): members were read with user/list_id and user/simplelist, without position, status, mobile or email."
	}
	return msg
}

// describe is the sentence a failed task shows.
func (r *syncRun) describe(err error) string {
	var ae *APIError
	var te *TransportError
	var se storeError
	switch {
	case errors.As(err, &ae):
		msg := Reason(err)
		if ae.Code == 48009 && r.opts.Sync.ContactSecret == "" {
			msg += " Set options.sync.contactSecret (通讯录同步 → Secret) to sync with the contacts secret instead."
		}
		return msg
	case errors.As(err, &te):
		return Reason(err)
	case errors.As(err, &se):
		return "the directory could not be written to the database; the server log has the details."
	default:
		return strings.TrimSuffix(err.Error(), ".") + "."
	}
}

// retrying wraps a directory read so that a failure in passing — WeCom busy (-1, 6000), its
// concurrency limits (45033, 45035), an HTTP error or a timeout — is tried again, 3 tries in all,
// waiting base, then 4×base. Directory reads change nothing, so trying again is always safe.
func retrying[A, T any](base time.Duration, read func(context.Context, A) (T, error)) func(context.Context, A) (T, error) {
	return func(ctx context.Context, a A) (T, error) {
		delay := base
		for try := 1; ; try++ {
			v, err := read(ctx, a)
			if err == nil || try == 3 || ctx.Err() != nil || !passing(err) {
				return v, err
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return v, err
			}
			delay *= 4
		}
	}
}

// passing reports whether a WeCom failure may go away by itself.
func passing(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	switch ErrCode(err) {
	case -1, 6000, 45033, 45035:
		return true
	}
	return false
}

// fetchAll reads the departments ids with fetch, workers at once, and hands each answer to use,
// one at a time on the caller's goroutine. The first error (of fetch or use) stops it.
func fetchAll[T any](ctx context.Context, workers int, ids []int64, fetch func(context.Context, int64) ([]T, error), use func(int64, []T) error) error {
	if len(ids) == 0 {
		return nil
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		id    int64
		items []T
		err   error
	}
	jobs := make(chan int64)
	results := make(chan result, workers)
	var wg sync.WaitGroup
	for i := 0; i < min(workers, len(ids)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				items, err := fetch(ctx, id)
				select {
				case results <- result{id, items, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, id := range ids {
			select {
			case jobs <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var first error
	for res := range results {
		if first != nil {
			continue
		}
		if res.err == nil {
			res.err = use(res.id, res.items)
		}
		if res.err != nil {
			first = res.err
			cancel()
		}
	}
	if first == nil {
		first = parent.Err()
	}
	return first
}

// change reads the fields of a change_contact payload (the decrypted XML as a JSON object: values
// are strings, numbers are tolerated).
type change map[string]any

func (c change) str(k string) (string, bool) {
	switch v := c[k].(type) {
	case string:
		return strings.TrimSpace(v), true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

// name is str for a name: every member and department has one, so an empty one was not sent.
func (c change) name(k string) (string, bool) {
	v, ok := c.str(k)
	return v, ok && v != ""
}

// take copies field k of the change into *dst, read by get, and marks bit in *fields when the
// change carries it.
func take[T any, F models.MemberFields | models.DepartmentFields](get func(string) (T, bool), k string, dst *T, fields *F, bit F) {
	if v, ok := get(k); ok {
		*dst, *fields = v, *fields|bit
	}
}

func (c change) number(k string) (int64, bool) {
	s, ok := c.str(k)
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (c change) ids(k string) ([]int64, bool) {
	s, ok := c.str(k)
	if !ok {
		return nil, false
	}
	out := []int64{}
	for _, part := range strings.Split(s, ",") {
		if n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out, true
}

// ApplyChange applies one decrypted change_contact event of an authenticator to the directory:
// create_user/update_user (only the fields present change; NewUserID renames the member and its
// link follows), delete_user (marked deleted), create_party/update_party/delete_party likewise;
// update_tag is accepted and ignored (wecomflow keeps no tags). An event that carries only ids
// (URLs configured after 2022-08) has the member's or department's details read from WeCom; when
// WeCom refuses, the ids are applied and the details wait for the next full sync. Applying the
// same event twice leaves the same state. An authenticator that cannot be used (gone, disabled)
// makes the event a no-op; only database failures are errors.
func (s *Syncer) ApplyChange(ctx context.Context, authenticatorID uint64, payload map[string]any) error {
	c := change(payload)
	kind, _ := c.str("ChangeType")
	log := s.log.With("authenticator", authenticatorID, "change_type", kind)
	app, opts, err := s.creds(ctx, authenticatorID)
	if errors.Is(err, ErrNoApp) {
		log.Info("change_contact ignored: the authenticator cannot be used", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	switch kind {
	case "create_user", "update_user":
		return s.applyMember(ctx, log, app, opts, c)
	case "delete_user":
		if id, _ := c.str("UserID"); id != "" {
			return s.store.MarkMemberDeleted(ctx, authenticatorID, id)
		}
	case "create_party", "update_party":
		return s.applyDepartment(ctx, log, app, opts, c)
	case "delete_party":
		if id, ok := c.number("Id"); ok {
			return s.store.MarkDepartmentDeleted(ctx, authenticatorID, id)
		}
	case "update_tag":
		// Tags are not kept: messages address them by id and WeCom resolves their members.
	default:
		log.Debug("change_contact type not handled")
	}
	return nil
}

func (s *Syncer) applyMember(ctx context.Context, log *slog.Logger, app App, opts Options, c change) error {
	userid, _ := c.str("UserID")
	if userid == "" {
		log.Warn("change_contact without UserID ignored")
		return nil
	}
	if to, _ := c.str("NewUserID"); to != "" && to != userid {
		if err := s.store.RenameMember(ctx, app.AuthenticatorID, userid, to); err != nil {
			return err
		}
		userid = to
	}
	m := models.MemberUpdate{WeComUserID: userid}
	take(c.name, "Name", &m.Name, &m.Fields, models.MemberName)
	take(c.ids, "Department", &m.Departments, &m.Fields, models.MemberDepartments)
	take(c.number, "MainDepartment", &m.MainDepartment, &m.Fields, models.MemberMainDepartment)
	take(c.str, "Position", &m.Position, &m.Fields, models.MemberPosition)
	take(c.str, "Mobile", &m.Mobile, &m.Fields, models.MemberMobile)
	take(c.str, "Email", &m.Email, &m.Fields, models.MemberEmail)
	if v, ok := c.number("Status"); ok {
		m.Status, m.Fields = int(v), m.Fields|models.MemberStatus
	}
	pending := false
	if m.Fields&models.MemberName == 0 {
		// An id-only event: read the member as WeCom has it now.
		if details, err := s.readMember(ctx, app, opts, userid); err == nil {
			m = details
		} else {
			pending = true
			log.Info("member details could not be read; the next full sync fills them", "userid", userid,
				"errcode", ErrCode(err), "err", err)
		}
	}
	_, err := s.store.SyncMembers(ctx, app.AuthenticatorID, []models.MemberUpdate{m},
		models.MemberSyncOptions{AutoCreateUsers: opts.Sync.AutoCreateUsers, DetailsPending: pending})
	return err
}

// readMember reads one member with user/get: with the contacts secret when there is one (mobile
// and email included), else — or when refused — with the app secret.
func (s *Syncer) readMember(ctx context.Context, app App, opts Options, userid string) (models.MemberUpdate, error) {
	var err error
	for _, c := range s.directoryClients(app, opts) {
		var m *Member
		if m, err = c.client.GetMember(ctx, userid); err == nil {
			return models.MemberUpdate{WeComUserID: userid, Name: m.Name, Departments: m.Department, MainDepartment: m.MainDepartment,
				Position: m.Position, Mobile: m.Mobile, Email: m.Email, Status: m.Status, Fields: c.fields}, nil
		}
	}
	return models.MemberUpdate{}, err
}

type directoryClient struct {
	client *Client
	fields models.MemberFields
}

func (s *Syncer) directoryClients(app App, opts Options) []directoryClient {
	var out []directoryClient
	if opts.Sync.ContactSecret != "" {
		out = append(out, directoryClient{s.clients.ContactsClient(app, opts.Sync.ContactSecret), models.MemberAll})
	}
	return append(out, directoryClient{s.clients.Client(app), models.MemberDetails})
}

func (s *Syncer) applyDepartment(ctx context.Context, log *slog.Logger, app App, opts Options, c change) error {
	id, ok := c.number("Id")
	if !ok {
		log.Warn("change_contact without Id ignored")
		return nil
	}
	d := models.DepartmentUpdate{ID: id}
	take(c.name, "Name", &d.Name, &d.Fields, models.DepartmentName)
	take(c.number, "ParentId", &d.ParentID, &d.Fields, models.DepartmentParent)
	take(c.number, "Order", &d.Order, &d.Fields, models.DepartmentOrder)
	if d.Fields&models.DepartmentName == 0 {
		var err error
		for _, dc := range s.directoryClients(app, opts) {
			var got *Department
			if got, err = dc.client.GetDepartment(ctx, id); err == nil {
				d = models.DepartmentUpdate{ID: id, ParentID: got.ParentID, Name: got.Name, Order: got.Order, Fields: models.DepartmentAll}
				break
			}
		}
		if err != nil {
			log.Info("department details could not be read; the next full sync fills them", "department", id,
				"errcode", ErrCode(err), "err", err)
		}
	}
	_, err := s.store.UpsertDepartment(ctx, app.AuthenticatorID, d)
	return err
}
