package wecom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/models"
)

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
	app, opts, err := r.s.apps.Options(ctx, r.t.AuthenticatorID)
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
			MainDepartment: m.MainDepartment, Position: m.Position, Mobile: m.Mobile, Email: m.Email, Status: m.Status,
			IsLeaderInDept: m.IsLeaderInDept, Fields: r.fields})
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
