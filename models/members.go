package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	// MemberLeaderOf is is_leader_in_dept: which of its departments the member leads.
	MemberLeaderOf
	// MemberContact is mobile and email, which only the contacts secret reads.
	MemberContact = MemberMobile | MemberEmail
	// MemberDetails is what user/list answers to an app secret (no mobile or email).
	MemberDetails = MemberName | MemberDepartments | MemberMainDepartment | MemberPosition | MemberStatus | MemberLeaderOf
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
	// IsLeaderInDept is WeCom's is_leader_in_dept: 1 where the member leads the department at the
	// same index of Departments — or, when Departments is not known, of the stored departments.
	IsLeaderInDept []int
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
	"leader_of", "deleted", "user_id", "sync_mark", "updated_at"}

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
			row := Member{AuthenticatorID: authenticatorID, WeComUserID: m.WeComUserID, Departments: "[]", LeaderOf: "[]"}
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
	depts := DecodeDepartments(row.Departments)
	leads := DecodeDepartments(row.LeaderOf)
	if m.Fields&MemberLeaderOf != 0 {
		leads = leads[:0]
		for i, flag := range m.IsLeaderInDept {
			if flag == 1 && i < len(depts) {
				leads = append(leads, depts[i])
			}
		}
	}
	// A member who leaves a department stops leading it, whether or not the change said so.
	leads = slices.DeleteFunc(leads, func(id int64) bool { return !containsID(depts, id) })
	row.LeaderOf = EncodeDepartments(leads)
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
		a.Position == b.Position && a.Mobile == b.Mobile && a.Email == b.Email && a.Status == b.Status && a.LeaderOf == b.LeaderOf && a.Deleted == b.Deleted
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

// CountMembers counts the members of an authenticator's directory that have not left.
func (s *Store) CountMembers(ctx context.Context, authenticatorID uint64) (int64, error) {
	var n int64
	if err := s.Read.WithContext(ctx).Model(&Member{}).Where("authenticator_id = ? AND deleted = ?", authenticatorID, false).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: unable to count members: %w", err)
	}
	return n, nil
}

// ListMembers pages through members, by authenticator and userid.
func (s *Store) ListMembers(ctx context.Context, f DirectoryFilter, p Page) ([]Member, int64, error) {
	q := s.Read.WithContext(ctx).Model(&Member{})
	if f.AuthenticatorID != 0 {
		q = q.Where("authenticator_id = ?", f.AuthenticatorID)
	}
	if f.DepartmentID != 0 {
		q = q.Where(listHas("departments", f.DepartmentID))
	}
	if f.Deleted != nil {
		q = q.Where("deleted = ?", *f.Deleted)
	}
	q = nameScope(ListFilter{Q: f.Q}, "wecom_userid", "name")(q)
	return pageOf[Member](q, "members", p, "authenticator_id, wecom_userid")
}

// GetMember reads one member.
func (s *Store) GetMember(ctx context.Context, authenticatorID uint64, userid string) (*Member, error) {
	var m Member
	if err := s.Read.WithContext(ctx).Where("authenticator_id = ? AND wecom_userid = ?", authenticatorID, userid).Take(&m).Error; err != nil {
		return nil, fmt.Errorf("store: unable to get member: %w", notFound(err))
	}
	return &m, nil
}

// listHas is a condition on a column holding a compact JSON list of ids ("[1,2]"): it has id as
// a whole element.
func listHas(column string, id int64) clause.Expr {
	v := strconv.FormatInt(id, 10)
	return gorm.Expr("("+column+" = ? OR "+column+" LIKE ? OR "+column+" LIKE ? OR "+column+" LIKE ?)",
		"["+v+"]", "["+v+",%", "%,"+v+",%", "%,"+v+"]")
}

// DepartmentLeaders maps each of the departments of an authenticator to the WeCom userids of
// the live members who lead it, by userid. Departments nobody leads are absent.
func (s *Store) DepartmentLeaders(ctx context.Context, authenticatorID uint64, deptIDs []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	// A few departments per query: each is four LIKE terms.
	const perQuery = 50
	for start := 0; start < len(deptIDs); start += perQuery {
		chunk := deptIDs[start:min(start+perQuery, len(deptIDs))]
		led := s.Read.WithContext(ctx)
		for _, id := range chunk {
			led = led.Or(listHas("leader_of", id))
		}
		var rows []Member
		if err := s.Read.WithContext(ctx).Select("wecom_userid", "leader_of").
			Where("authenticator_id = ? AND deleted = ?", authenticatorID, false).Where(led).
			Order("wecom_userid").Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: unable to read department leaders: %w", err)
		}
		for _, m := range rows {
			for _, id := range DecodeDepartments(m.LeaderOf) {
				if slices.Contains(chunk, id) {
					out[id] = append(out[id], m.WeComUserID)
				}
			}
		}
	}
	return out, nil
}

// MembersByUserID reads the live members of an authenticator with these WeCom userids.
func (s *Store) MembersByUserID(ctx context.Context, authenticatorID uint64, userids []string) (map[string]Member, error) {
	out := make(map[string]Member, len(userids))
	for start := 0; start < len(userids); start += upsertBatch {
		var rows []Member
		chunk := userids[start:min(start+upsertBatch, len(userids))]
		if err := s.Read.WithContext(ctx).Where("authenticator_id = ? AND deleted = ? AND wecom_userid IN ?", authenticatorID, false, chunk).
			Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: unable to read members: %w", err)
		}
		for _, m := range rows {
			out[m.WeComUserID] = m
		}
	}
	return out, nil
}
