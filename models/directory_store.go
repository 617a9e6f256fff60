package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Directory errors callers branch on.
var (
	// ErrSyncActive is a sync task that cannot be created or retried because the authenticator
	// already has one queued or running (returned with that task), or because a schedule tick
	// already created one.
	ErrSyncActive = errors.New("a directory sync of this authenticator is already queued or running")
	// ErrSyncLeaseLost is a sync task another instance took over after this one's lease lapsed.
	ErrSyncLeaseLost = errors.New("the sync task's lease was taken over by another instance")
)

// MemberFields says which fields of a MemberUpdate WeCom told us; the others keep their stored
// value (or start empty for a new member).
type MemberFields uint8

// The fields of a member a WeCom answer or event may carry.
const (
	MemberName MemberFields = 1 << iota
	MemberDepartments
	MemberMainDepartment
	MemberPosition
	MemberMobile
	MemberEmail
	MemberStatus
	// MemberContact is mobile and email, which only the contacts secret reads.
	MemberContact = MemberMobile | MemberEmail
	// MemberDetails is what user/list answers to an app secret (no mobile or email).
	MemberDetails = MemberName | MemberDepartments | MemberMainDepartment | MemberPosition | MemberStatus
	MemberAll     = MemberDetails | MemberContact
)

// MemberUpdate is what WeCom says about one member.
type MemberUpdate struct {
	WeComUserID    string
	Name           string
	Departments    []int64
	MainDepartment int64
	Position       string
	Mobile, Email  string
	Status         int
	// Fields are the fields above that are known. An empty Name is never known: every WeCom
	// member has one, so an empty one means WeCom did not send it.
	Fields MemberFields
}

// MemberSyncOptions configure SyncMembers.
type MemberSyncOptions struct {
	// TaskID is the full sync task writing the batch; 0 for an incremental change.
	TaskID uint64
	// AutoCreateUsers creates a local user (source sync) for every member no local user is bound to.
	AutoCreateUsers bool
	// DetailsPending marks the written members as waiting for the next full sync to fill their
	// details (SyncMark 0): an id-only change event whose details WeCom refused to read.
	DetailsPending bool
}

// MemberSyncResult counts what SyncMembers did.
type MemberSyncResult struct {
	// Created and Updated count member rows inserted and changed; unchanged rows are not written.
	Created, Updated int
	// Linked counts the members of the batch that are linked to a local user afterwards.
	Linked int
	// UsersCreated and UsersUpdated count local users of source sync created or renamed.
	UsersCreated, UsersUpdated int
}

// Add sums two results.
func (r *MemberSyncResult) Add(o MemberSyncResult) {
	r.Created += o.Created
	r.Updated += o.Updated
	r.Linked += o.Linked
	r.UsersCreated += o.UsersCreated
	r.UsersUpdated += o.UsersUpdated
}

// memberColumns are the columns an upsert of a member writes (all but the key).
var memberColumns = []string{"name", "departments", "main_department", "position", "mobile", "email", "status",
	"deleted", "user_id", "sync_mark", "updated_at"}

// EncodeDepartments is the stored form of a member's department list: compact JSON, "[1,2]".
func EncodeDepartments(ids []int64) string {
	if len(ids) == 0 {
		return "[]"
	}
	b := make([]byte, 0, len(ids)*4+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// DecodeDepartments reads the stored department list.
func DecodeDepartments(s string) []int64 {
	ids := []int64{}
	_ = json.Unmarshal([]byte(s), &ids)
	return ids
}

// SyncMembers writes one batch (at most a few hundred) of members of an authenticator in one
// transaction: it reads what is stored for them, links each to the local user bound to its
// userid (creating sync users when asked), and writes only the members that changed. Users of
// source manual or import are only linked, never written; sync users get their name updated.
// The batch must not repeat a userid.
func (s *Store) SyncMembers(ctx context.Context, authenticatorID uint64, batch []MemberUpdate, o MemberSyncOptions) (MemberSyncResult, error) {
	if len(batch) == 0 {
		return MemberSyncResult{}, nil
	}
	sorted := append([]MemberUpdate(nil), batch...)
	// One lock order for every writer: full syncs and change events never deadlock on members.
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].WeComUserID < sorted[j].WeComUserID })
	ids := make([]string, len(sorted))
	for i, m := range sorted {
		ids[i] = m.WeComUserID
	}
	var res MemberSyncResult
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		res = MemberSyncResult{}
		now := s.Now()
		var stored []Member
		if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ? AND wecom_userid IN ?", authenticatorID, ids).
			Find(&stored).Error; err != nil {
			return fmt.Errorf("store: unable to read members: %w", err)
		}
		byID := make(map[string]*Member, len(stored))
		for i := range stored {
			byID[stored[i].WeComUserID] = &stored[i]
		}
		bound, err := usersBoundTo(tx, ids)
		if err != nil {
			return err
		}
		kept, err := s.keptLinks(tx, authenticatorID, sorted, byID, bound)
		if err != nil {
			return err
		}
		if o.AutoCreateUsers {
			n, err := s.createSyncUsers(tx, sorted, bound, kept, now)
			if err != nil {
				return err
			}
			res.UsersCreated = n
		}
		var write []Member
		for _, m := range sorted {
			old := byID[m.WeComUserID]
			row := Member{AuthenticatorID: authenticatorID, WeComUserID: m.WeComUserID, Departments: "[]"}
			if old != nil {
				row = *old
			}
			m.apply(&row)
			row.Deleted = false
			row.UserID = nil
			if u, ok := bound[m.WeComUserID]; ok {
				row.UserID = &u.ID
				if u.Source == SourceSync && m.Fields&MemberName != 0 && m.Name != "" && u.Name != m.Name {
					if err := tx.Model(&User{}).Where("id = ? AND source = ?", u.ID, SourceSync).
						Updates(map[string]any{"name": m.Name, "updated_at": now}).Error; err != nil {
						return fmt.Errorf("store: unable to rename sync user: %w", err)
					}
					res.UsersUpdated++
				}
			} else if id, ok := kept[m.WeComUserID]; ok {
				row.UserID = &id
			}
			if row.UserID != nil {
				res.Linked++
			}
			pending := o.DetailsPending && row.SyncMark != 0
			if old != nil && sameMember(*old, row) && !pending {
				continue
			}
			switch {
			case o.DetailsPending:
				row.SyncMark = 0
			case o.TaskID != 0:
				row.SyncMark = o.TaskID
			}
			row.UpdatedAt = now
			write = append(write, row)
			if old == nil {
				res.Created++
			} else {
				res.Updated++
			}
		}
		if len(write) == 0 {
			return nil
		}
		err = tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "authenticator_id"}, {Name: "wecom_userid"}},
			DoUpdates: clause.AssignmentColumns(memberColumns),
		}).CreateInBatches(&write, s.rowsPerInsert(len(memberColumns)+2)).Error
		if err != nil {
			return fmt.Errorf("store: unable to write members: %w", err)
		}
		return nil
	})
	return res, err
}

// rowsPerInsert is how many rows of cols columns one multi-row INSERT carries. The pure-Go SQLite
// driver binds parameters in time quadratic in their number, so on SQLite statements stay near
// 1,000 parameters; MySQL takes the full batch.
func (s *Store) rowsPerInsert(cols int) int {
	if s.Dialect == DialectSQLite {
		return max(1, 1000/cols)
	}
	return upsertBatch
}

// apply writes the known fields of m into row.
func (m MemberUpdate) apply(row *Member) {
	if m.Fields&MemberName != 0 && m.Name != "" {
		row.Name = m.Name
	}
	if m.Fields&MemberDepartments != 0 {
		row.Departments = EncodeDepartments(m.Departments)
		if m.Fields&MemberMainDepartment == 0 && !containsID(m.Departments, row.MainDepartment) {
			// The main department is one of the departments; keep it true when only those changed.
			row.MainDepartment = 0
			if len(m.Departments) > 0 {
				row.MainDepartment = m.Departments[0]
			}
		}
	}
	if m.Fields&MemberMainDepartment != 0 {
		row.MainDepartment = m.MainDepartment
	}
	if m.Fields&MemberPosition != 0 {
		row.Position = m.Position
	}
	if m.Fields&MemberMobile != 0 {
		row.Mobile = m.Mobile
	}
	if m.Fields&MemberEmail != 0 {
		row.Email = m.Email
	}
	if m.Fields&MemberStatus != 0 {
		row.Status = m.Status
	}
}

func containsID(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// sameMember compares what a sync writes, leaving out the bookkeeping (SyncMark, UpdatedAt).
func sameMember(a, b Member) bool {
	sameLink := (a.UserID == nil) == (b.UserID == nil) && (a.UserID == nil || *a.UserID == *b.UserID)
	return sameLink && a.Name == b.Name && a.Departments == b.Departments && a.MainDepartment == b.MainDepartment &&
		a.Position == b.Position && a.Mobile == b.Mobile && a.Email == b.Email && a.Status == b.Status && a.Deleted == b.Deleted
}

// usersBoundTo maps WeCom userids to the local user bound to each (its wechatwk binding); when
// several are, the oldest.
func usersBoundTo(tx *gorm.DB, wecomIDs []string) (map[string]User, error) {
	var users []User
	if err := tx.Select("id", "userid", "name", "wechatwk", "source").Where("wechatwk IN ?", wecomIDs).
		Order("id").Find(&users).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read the users bound to members: %w", err)
	}
	out := make(map[string]User, len(users))
	for _, u := range users {
		if _, ok := out[u.WeChatWK]; !ok {
			out[u.WeChatWK] = u
		}
	}
	return out, nil
}

// createSyncUsers creates a user of source sync for every member no user is bound to and that
// keeps no link: userid and wechatwk are the WeCom userid. A member whose userid a local user
// already takes (bound to something else) gets none; nothing existing is overwritten. bound is
// updated in place.
func (s *Store) createSyncUsers(tx *gorm.DB, members []MemberUpdate, bound map[string]User, kept map[string]uint64, now time.Time) (int, error) {
	var fresh []User
	var ids []string
	for _, m := range members {
		if _, ok := bound[m.WeComUserID]; ok {
			continue
		}
		if _, ok := kept[m.WeComUserID]; ok {
			continue
		}
		name := ""
		if m.Fields&MemberName != 0 {
			name = m.Name
		}
		fresh = append(fresh, User{UserID: m.WeComUserID, WeChatWK: m.WeComUserID, Name: name, Source: SourceSync,
			CreatedAt: now, UpdatedAt: now})
		ids = append(ids, m.WeComUserID)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "userid"}}, DoNothing: true}).
		CreateInBatches(&fresh, s.rowsPerInsert(9))
	if res.Error != nil {
		return 0, fmt.Errorf("store: unable to create sync users: %w", res.Error)
	}
	more, err := usersBoundTo(tx, ids)
	if err != nil {
		return 0, err
	}
	// Before the insert no user was bound to these ids: the ones bound now are the new users. (A
	// userid taken by a user bound elsewhere was not inserted. RowsAffected cannot tell: MySQL
	// counts the no-op update of a conflicting row differently across servers.)
	for id, u := range more {
		bound[id] = u
	}
	return len(more), nil
}

// keptLinks finds the members that no user is bound to but that stay linked to the user they
// were linked to: a renamed member whose manual or import user still carries the old userid in
// its binding. A link is kept only while that user exists and its binding names no other member
// of the authenticator; a user bound to another member, or unbound, loses the link.
func (s *Store) keptLinks(tx *gorm.DB, authenticatorID uint64, members []MemberUpdate, stored map[string]*Member, bound map[string]User) (map[string]uint64, error) {
	want := map[uint64]string{}
	var userIDs []uint64
	for _, m := range members {
		if _, ok := bound[m.WeComUserID]; ok {
			continue
		}
		if old := stored[m.WeComUserID]; old != nil && old.UserID != nil {
			want[*old.UserID] = m.WeComUserID
			userIDs = append(userIDs, *old.UserID)
		}
	}
	if len(userIDs) == 0 {
		return nil, nil
	}
	var users []User
	if err := tx.Select("id", "wechatwk").Where("id IN ? AND wechatwk <> ''", userIDs).Find(&users).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read linked users: %w", err)
	}
	bindings := make([]string, 0, len(users))
	for _, u := range users {
		bindings = append(bindings, u.WeChatWK)
	}
	var taken []string
	if len(bindings) > 0 {
		if err := tx.Model(&Member{}).Where("authenticator_id = ? AND wecom_userid IN ?", authenticatorID, bindings).
			Pluck("wecom_userid", &taken).Error; err != nil {
			return nil, fmt.Errorf("store: unable to read members: %w", err)
		}
	}
	isTaken := map[string]bool{}
	for _, t := range taken {
		isTaken[t] = true
	}
	out := map[string]uint64{}
	for _, u := range users {
		if !isTaken[u.WeChatWK] {
			out[want[u.ID]] = u.ID
		}
	}
	return out, nil
}

// MarkMissingMembers marks deleted the live members of an authenticator that a complete pull did
// not see (seen reports false), writing taskID as their SyncMark. Members written since before
// (the task's start: a change event applied while the pull ran) are left alone. It returns how
// many it marked.
func (s *Store) MarkMissingMembers(ctx context.Context, authenticatorID, taskID uint64, seen func(userid string) bool, before time.Time) (int, error) {
	var missing []string
	after := ""
	for {
		var page []string
		err := s.DB.WithContext(ctx).Model(&Member{}).
			Where("authenticator_id = ? AND deleted = ? AND updated_at < ? AND wecom_userid > ?", authenticatorID, false, before, after).
			Order("wecom_userid").Limit(5000).Pluck("wecom_userid", &page).Error
		if err != nil {
			return 0, fmt.Errorf("store: unable to read members: %w", err)
		}
		for _, id := range page {
			if !seen(id) {
				missing = append(missing, id)
			}
		}
		if len(page) < 5000 {
			break
		}
		after = page[len(page)-1]
	}
	marked := 0
	for start := 0; start < len(missing); start += upsertBatch {
		chunk := missing[start:min(start+upsertBatch, len(missing))]
		err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&Member{}).
				Where("authenticator_id = ? AND wecom_userid IN ? AND deleted = ? AND updated_at < ?", authenticatorID, chunk, false, before).
				Updates(map[string]any{"deleted": true, "sync_mark": taskID, "updated_at": s.Now()})
			if res.Error != nil {
				return fmt.Errorf("store: unable to mark members deleted: %w", res.Error)
			}
			marked += int(res.RowsAffected)
			return nil
		})
		if err != nil {
			return marked, err
		}
	}
	return marked, nil
}

// MarkMemberDeleted marks one member deleted (a delete_user event). Its link and its local user
// stay. Marking a deleted or unknown member does nothing.
func (s *Store) MarkMemberDeleted(ctx context.Context, authenticatorID uint64, userid string) error {
	return s.markDeleted(ctx, &Member{}, "wecom_userid", authenticatorID, userid, "member")
}

// markDeleted marks the live row of model whose keyColumn is key deleted; what names it in the
// error.
func (s *Store) markDeleted(ctx context.Context, model any, keyColumn string, authenticatorID uint64, key any, what string) error {
	err := s.DB.WithContext(ctx).Model(model).
		Where("authenticator_id = ? AND "+keyColumn+" = ? AND deleted = ?", authenticatorID, key, false).
		Updates(map[string]any{"deleted": true, "updated_at": s.Now()}).Error
	if err != nil {
		return fmt.Errorf("store: unable to mark %s deleted: %w", what, err)
	}
	return nil
}

// RenameMember gives a member its new WeCom userid (update_user with NewUserID); its link to a
// local user follows. A linked user of source sync that carried the old userid is renamed too:
// its wechatwk binding, and its userid when no other user has the new one. Users of source
// manual or import are not written (the member stays linked to them). Renaming a member that
// does not exist (any more) does nothing, so a repeated event changes nothing.
func (s *Store) RenameMember(ctx context.Context, authenticatorID uint64, from, to string) error {
	if from == to || from == "" || to == "" {
		return nil
	}
	return s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		now := s.Now()
		var rows []Member
		if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ? AND wecom_userid IN ?", authenticatorID, []string{from, to}).
			Order("wecom_userid").Find(&rows).Error; err != nil {
			return fmt.Errorf("store: unable to read members: %w", err)
		}
		var old, cur *Member
		for i := range rows {
			if rows[i].WeComUserID == from {
				old = &rows[i]
			} else {
				cur = &rows[i]
			}
		}
		if old == nil {
			return nil
		}
		if cur != nil {
			// The new userid arrived first (a create under it): it wins, keeping the old link if it has none.
			if cur.UserID == nil && old.UserID != nil {
				if err := tx.Model(&Member{}).Where("authenticator_id = ? AND wecom_userid = ?", authenticatorID, to).
					Updates(map[string]any{"user_id": *old.UserID, "updated_at": now}).Error; err != nil {
					return fmt.Errorf("store: unable to rename member: %w", err)
				}
			}
			if err := tx.Where("authenticator_id = ? AND wecom_userid = ?", authenticatorID, from).Delete(&Member{}).Error; err != nil {
				return fmt.Errorf("store: unable to rename member: %w", err)
			}
		} else if err := tx.Model(&Member{}).Where("authenticator_id = ? AND wecom_userid = ?", authenticatorID, from).
			Updates(map[string]any{"wecom_userid": to, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("store: unable to rename member: %w", err)
		}
		if old.UserID == nil {
			return nil
		}
		var u User
		err := lockForUpdate(tx, s.Dialect).Where("id = ?", *old.UserID).Take(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: unable to read linked user: %w", err)
		}
		if u.Source != SourceSync || u.WeChatWK != from {
			return nil
		}
		set := map[string]any{"wechatwk": to, "updated_at": now}
		if u.UserID == from {
			var n int64
			if err := tx.Model(&User{}).Where("userid = ?", to).Count(&n).Error; err != nil {
				return fmt.Errorf("store: unable to read users: %w", err)
			}
			if n == 0 {
				set["userid"] = to
			}
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Updates(set).Error; err != nil {
			return fmt.Errorf("store: unable to rename sync user: %w", err)
		}
		return nil
	})
}

// DepartmentFields says which fields of a DepartmentUpdate are known.
type DepartmentFields uint8

// The fields of a department a WeCom answer or event may carry.
const (
	DepartmentName DepartmentFields = 1 << iota
	DepartmentParent
	DepartmentOrder
	DepartmentAll = DepartmentName | DepartmentParent | DepartmentOrder
)

// DepartmentUpdate is what WeCom says about one department.
type DepartmentUpdate struct {
	ID       int64
	ParentID int64
	Name     string
	Order    int64
	Fields   DepartmentFields
}

func (d DepartmentUpdate) apply(row *Department) {
	if d.Fields&DepartmentName != 0 && d.Name != "" {
		row.Name = d.Name
	}
	if d.Fields&DepartmentParent != 0 {
		row.ParentID = d.ParentID
	}
	if d.Fields&DepartmentOrder != 0 {
		row.Order = d.Order
	}
}

// DepartmentSyncResult counts what SyncDepartments did.
type DepartmentSyncResult struct{ Created, Updated, Deleted int }

// SyncDepartments writes the complete department list of an authenticator: new and changed
// departments are written, unchanged ones are not, and live departments missing from the list
// are marked deleted — unless written since before (a change event during the sync).
func (s *Store) SyncDepartments(ctx context.Context, authenticatorID uint64, depts []DepartmentUpdate, before time.Time) (DepartmentSyncResult, error) {
	var res DepartmentSyncResult
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		res = DepartmentSyncResult{}
		now := s.Now()
		var stored []Department
		if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ?", authenticatorID).Order("dept_id").Find(&stored).Error; err != nil {
			return fmt.Errorf("store: unable to read departments: %w", err)
		}
		byID := make(map[int64]*Department, len(stored))
		for i := range stored {
			byID[stored[i].DeptID] = &stored[i]
		}
		seen := make(map[int64]bool, len(depts))
		var write []Department
		for _, d := range depts {
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			old := byID[d.ID]
			row := Department{AuthenticatorID: authenticatorID, DeptID: d.ID}
			if old != nil {
				row = *old
			}
			d.apply(&row)
			row.Deleted = false
			if old != nil && sameDepartment(*old, row) {
				continue
			}
			row.UpdatedAt = now
			write = append(write, row)
			if old == nil {
				res.Created++
			} else {
				res.Updated++
			}
		}
		if err := s.upsertDepartments(tx, write); err != nil {
			return err
		}
		var gone []int64
		for _, d := range stored {
			if !seen[d.DeptID] && !d.Deleted && d.UpdatedAt.Before(before) {
				gone = append(gone, d.DeptID)
			}
		}
		for start := 0; start < len(gone); start += upsertBatch {
			chunk := gone[start:min(start+upsertBatch, len(gone))]
			r := tx.Model(&Department{}).Where("authenticator_id = ? AND dept_id IN ?", authenticatorID, chunk).
				Updates(map[string]any{"deleted": true, "updated_at": now})
			if r.Error != nil {
				return fmt.Errorf("store: unable to mark departments deleted: %w", r.Error)
			}
			res.Deleted += int(r.RowsAffected)
		}
		return nil
	})
	return res, err
}

func sameDepartment(a, b Department) bool {
	return a.ParentID == b.ParentID && a.Name == b.Name && a.Order == b.Order && a.Deleted == b.Deleted
}

func (s *Store) upsertDepartments(tx *gorm.DB, rows []Department) error {
	if len(rows) == 0 {
		return nil
	}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "authenticator_id"}, {Name: "dept_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"parent_id", "name", "sort_order", "deleted", "updated_at"}),
	}).CreateInBatches(&rows, s.rowsPerInsert(7)).Error
	if err != nil {
		return fmt.Errorf("store: unable to write departments: %w", err)
	}
	return nil
}

// UpsertDepartment writes the known fields of one department (create_party, update_party) and
// reports whether anything changed.
func (s *Store) UpsertDepartment(ctx context.Context, authenticatorID uint64, d DepartmentUpdate) (bool, error) {
	changed := false
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		changed = false
		var rows []Department
		if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ? AND dept_id = ?", authenticatorID, d.ID).Find(&rows).Error; err != nil {
			return fmt.Errorf("store: unable to read department: %w", err)
		}
		row := Department{AuthenticatorID: authenticatorID, DeptID: d.ID}
		if len(rows) == 1 {
			row = rows[0]
		}
		d.apply(&row)
		row.Deleted = false
		if len(rows) == 1 && sameDepartment(rows[0], row) {
			return nil
		}
		changed = true
		row.UpdatedAt = s.Now()
		return s.upsertDepartments(tx, []Department{row})
	})
	return changed, err
}

// MarkDepartmentDeleted marks one department deleted (delete_party).
func (s *Store) MarkDepartmentDeleted(ctx context.Context, authenticatorID uint64, id int64) error {
	return s.markDeleted(ctx, &Department{}, "dept_id", authenticatorID, id, "department")
}

// DirectoryFilter narrows the directory lists.
type DirectoryFilter struct {
	AuthenticatorID uint64
	// DepartmentID: for departments, its direct sub-departments; for members, its direct members.
	DepartmentID int64
	// Q matches names (and member userids) case-insensitively and literally.
	Q string
	// Deleted, when set, keeps only deleted (true) or live (false) entries.
	Deleted *bool
}

// ListDepartments pages through departments, by authenticator and department id.
func (s *Store) ListDepartments(ctx context.Context, f DirectoryFilter, p Page) ([]Department, int64, error) {
	q := s.Read.WithContext(ctx).Model(&Department{})
	if f.AuthenticatorID != 0 {
		q = q.Where("authenticator_id = ?", f.AuthenticatorID)
	}
	if f.DepartmentID != 0 {
		q = q.Where("parent_id = ?", f.DepartmentID)
	}
	if f.Deleted != nil {
		q = q.Where("deleted = ?", *f.Deleted)
	}
	q = nameScope(ListFilter{Q: f.Q}, "name")(q)
	return pageOf[Department](q, "departments", p, "authenticator_id, dept_id")
}

// ListMembers pages through members, by authenticator and userid.
func (s *Store) ListMembers(ctx context.Context, f DirectoryFilter, p Page) ([]Member, int64, error) {
	q := s.Read.WithContext(ctx).Model(&Member{})
	if f.AuthenticatorID != 0 {
		q = q.Where("authenticator_id = ?", f.AuthenticatorID)
	}
	if f.DepartmentID != 0 {
		// departments is compact JSON ("[1,2]"): the id as a whole element.
		id := strconv.FormatInt(f.DepartmentID, 10)
		q = q.Where("(departments = ? OR departments LIKE ? OR departments LIKE ? OR departments LIKE ?)",
			"["+id+"]", "["+id+",%", "%,"+id+",%", "%,"+id+"]")
	}
	if f.Deleted != nil {
		q = q.Where("deleted = ?", *f.Deleted)
	}
	q = nameScope(ListFilter{Q: f.Q}, "wecom_userid", "name")(q)
	return pageOf[Member](q, "members", p, "authenticator_id, wecom_userid")
}

func pageOf[T any](q *gorm.DB, what string, p Page, order string) ([]T, int64, error) {
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to count %s: %w", what, err)
	}
	var items []T
	if err := q.Order(order).Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list %s: %w", what, err)
	}
	return items, total, nil
}

// GetMember reads one member.
func (s *Store) GetMember(ctx context.Context, authenticatorID uint64, userid string) (*Member, error) {
	var m Member
	if err := s.Read.WithContext(ctx).Where("authenticator_id = ? AND wecom_userid = ?", authenticatorID, userid).Take(&m).Error; err != nil {
		return nil, fmt.Errorf("store: unable to get member: %w", notFound(err))
	}
	return &m, nil
}

// activeSyncStatuses are the statuses of a task that is queued or running.
var activeSyncStatuses = []string{SyncInit, SyncProcessing}

// CreateSyncTask queues a full directory sync of an authenticator. When one is already queued or
// running it returns that task with ErrSyncActive. A non-zero since makes a task created at or
// after since count as well (a schedule tick that another instance already took). An unknown
// authenticator is ErrNotFound.
func (s *Store) CreateSyncTask(ctx context.Context, authenticatorID uint64, trigger string, since time.Time) (*SyncTask, error) {
	var out *SyncTask
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The authenticator's row serializes creators (SQLite's single writer already does).
		var a Authenticator
		if err := lockForUpdate(tx, s.Dialect).Select("id").Where("id = ?", authenticatorID).Take(&a).Error; err != nil {
			return fmt.Errorf("store: unable to create sync task: authenticator %d: %w", authenticatorID, notFound(err))
		}
		var active []SyncTask
		q := tx.Where("authenticator_id = ? AND status IN ?", authenticatorID, activeSyncStatuses)
		if !since.IsZero() {
			q = tx.Where("authenticator_id = ? AND (status IN ? OR created_at >= ?)", authenticatorID, activeSyncStatuses, since)
		}
		if err := q.Order("id DESC").Limit(1).Find(&active).Error; err != nil {
			return fmt.Errorf("store: unable to read sync tasks: %w", err)
		}
		if len(active) > 0 {
			out = &active[0]
			return ErrSyncActive
		}
		t := &SyncTask{AuthenticatorID: authenticatorID, Status: SyncInit, Trigger: trigger}
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("store: unable to create sync task: %w", err)
		}
		out = t
		return nil
	})
	if err != nil && !errors.Is(err, ErrSyncActive) {
		return nil, err
	}
	return out, err
}

// ClaimSyncTask leases the oldest queued sync task — or one whose instance's lease lapsed — to
// owner until now+lease, marks it processing and starts it afresh (counts reset). nil when there
// is none. On MySQL other instances skip the locked row instead of waiting.
func (s *Store) ClaimSyncTask(ctx context.Context, owner string, lease time.Duration) (*SyncTask, error) {
	now := s.Now()
	var out *SyncTask
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []uint64
		q := tx.Model(&SyncTask{}).Select("id").
			Where("status = ? OR (status = ? AND lease_until < ?)", SyncInit, SyncProcessing, now).Order("id").Limit(1)
		q = skipLocked(q, s.Dialect)
		if err := q.Pluck("id", &ids).Error; err != nil {
			return fmt.Errorf("store: unable to find sync tasks: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&SyncTask{}).Where("id = ?", ids[0]).Updates(map[string]any{
			"status": SyncProcessing, "lease_owner": owner, "lease_until": now.Add(lease), "attempts": gorm.Expr("attempts + 1"),
			"departments": 0, "members": 0, "created": 0, "updated": 0, "deleted": 0, "linked": 0, "progress": 0,
			"cost_ms": 0, "message": "", "started_at": now, "finished_at": nil, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to claim sync task: %w", err)
		}
		var t SyncTask
		if err := tx.Where("id = ?", ids[0]).Take(&t).Error; err != nil {
			return fmt.Errorf("store: unable to read claimed sync task: %w", err)
		}
		out = &t
		return nil
	})
	return out, err
}

// syncProgressColumns are what a running task reports.
var syncProgressColumns = []string{"departments", "members", "created", "updated", "deleted", "linked", "progress", "cost_ms", "message"}

// UpdateSyncTask records a running task's counts and progress and extends its lease; a task
// another instance took over is ErrSyncLeaseLost.
func (s *Store) UpdateSyncTask(ctx context.Context, t *SyncTask, owner string, lease time.Duration) error {
	now := s.Now()
	until := now.Add(lease)
	res := s.DB.WithContext(ctx).Model(&SyncTask{}).Where("id = ? AND lease_owner = ? AND status = ?", t.ID, owner, SyncProcessing).
		Select(append(syncProgressColumns, "lease_until", "updated_at")).
		Updates(&SyncTask{Departments: t.Departments, Members: t.Members, Created: t.Created, Updated: t.Updated,
			Deleted: t.Deleted, Linked: t.Linked, Progress: t.Progress, CostMs: t.CostMs, Message: t.Message,
			LeaseUntil: &until, UpdatedAt: now})
	if res.Error != nil {
		return fmt.Errorf("store: unable to update sync task: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: sync task %d: %w", t.ID, ErrSyncLeaseLost)
	}
	t.LeaseUntil, t.UpdatedAt = &until, now
	return nil
}

// FinishSyncTask records the end of a task owner holds: t.Status (success or failed), its
// message, counts and cost.
func (s *Store) FinishSyncTask(ctx context.Context, t *SyncTask, owner string) error {
	now := s.Now()
	t.FinishedAt, t.LeaseOwner, t.LeaseUntil, t.UpdatedAt = &now, "", nil, now
	res := s.DB.WithContext(ctx).Model(&SyncTask{}).Where("id = ? AND lease_owner = ? AND status = ?", t.ID, owner, SyncProcessing).
		Select(append(syncProgressColumns, "status", "finished_at", "lease_owner", "lease_until", "updated_at")).Updates(t)
	if res.Error != nil {
		return fmt.Errorf("store: unable to finish sync task: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: sync task %d: %w", t.ID, ErrSyncLeaseLost)
	}
	return nil
}

// ReleaseSyncTask puts a task owner holds back in the queue (its instance is shutting down), so
// another instance — or this one after a restart — runs it from the start.
func (s *Store) ReleaseSyncTask(ctx context.Context, id uint64, owner string) error {
	err := s.DB.WithContext(ctx).Model(&SyncTask{}).Where("id = ? AND lease_owner = ? AND status = ?", id, owner, SyncProcessing).
		Updates(map[string]any{"status": SyncInit, "lease_owner": "", "lease_until": nil, "updated_at": s.Now()}).Error
	if err != nil {
		return fmt.Errorf("store: unable to release sync task: %w", err)
	}
	return nil
}

// RetrySyncTask queues a failed task again (failed → init, counts and message cleared). Another
// status is ErrWrongState; another task of the authenticator queued or running is ErrSyncActive
// (returned with that task).
func (s *Store) RetrySyncTask(ctx context.Context, id uint64) (*SyncTask, error) {
	t, err := s.GetSyncTask(ctx, id)
	if err != nil {
		return nil, err
	}
	var out *SyncTask
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a Authenticator
		if err := lockForUpdate(tx, s.Dialect).Select("id").Where("id = ?", t.AuthenticatorID).Take(&a).Error; err != nil {
			return fmt.Errorf("store: unable to retry sync task: authenticator %d: %w", t.AuthenticatorID, notFound(err))
		}
		var cur SyncTask
		if err := lockForUpdate(tx, s.Dialect).Where("id = ?", id).Take(&cur).Error; err != nil {
			return fmt.Errorf("store: unable to retry sync task: %w", notFound(err))
		}
		if cur.Status != SyncFailed {
			out = &cur
			return fmt.Errorf("store: sync task is %s: %w", cur.Status, ErrWrongState)
		}
		var active []SyncTask
		if err := tx.Where("authenticator_id = ? AND status IN ?", cur.AuthenticatorID, activeSyncStatuses).Limit(1).Find(&active).Error; err != nil {
			return fmt.Errorf("store: unable to read sync tasks: %w", err)
		}
		if len(active) > 0 {
			out = &active[0]
			return ErrSyncActive
		}
		now := s.Now()
		if err := tx.Model(&SyncTask{}).Where("id = ?", id).Updates(map[string]any{
			"status": SyncInit, "departments": 0, "members": 0, "created": 0, "updated": 0, "deleted": 0, "linked": 0,
			"progress": 0, "cost_ms": 0, "message": "", "lease_owner": "", "lease_until": nil, "started_at": nil,
			"finished_at": nil, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to retry sync task: %w", err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return s.GetSyncTask(ctx, id)
}

// GetSyncTask reads one sync task.
func (s *Store) GetSyncTask(ctx context.Context, id uint64) (*SyncTask, error) {
	return get[SyncTask](ctx, s.Read, "sync task", "id = ?", id)
}

// ListSyncTasks pages through sync tasks, newest first, optionally of one authenticator.
func (s *Store) ListSyncTasks(ctx context.Context, authenticatorID uint64, p Page) ([]SyncTask, int64, error) {
	q := s.Read.WithContext(ctx).Model(&SyncTask{})
	if authenticatorID != 0 {
		q = q.Where("authenticator_id = ?", authenticatorID)
	}
	return pageOf[SyncTask](q, "sync tasks", p, "id DESC")
}
