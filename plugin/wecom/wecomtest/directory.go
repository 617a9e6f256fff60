package wecomtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Directory reads (pages 90193, 90208, 95350, 90200, 90201, 96067, 96079). An app reads within
// its visible range: an unknown department is 60123, a known one outside the range 60011; an
// unknown userid is 60111, one outside the range 60011. Apps are modelled as created after
// 2022-06-20, so app secrets get no mobile, email, gender, avatar or address; the contacts secret
// does. open_userid is only for third-party apps and is never returned.

// withSession runs h under mu for the caller's access_token; a token authLocked refuses is
// the answer instead, before any check of the request itself, as WeCom orders its errcodes.
// The 客户联系 secret's token is refused (48002): it only calls the externalcontact APIs,
// which use withExternalSession.
func (s *Server) withSession(r *http.Request, ip string, h func(sess *session) any) any {
	return s.withSecret(r, ip, func(sess *session) any {
		if sess.app.kind() == externalSecret {
			return s.fail(codeAPIForbidden, "api forbidden: the 客户联系 secret only calls externalcontact APIs", ip)
		}
		return h(sess)
	})
}

// withSecret is withSession for every kind of secret.
func (s *Server) withSecret(r *http.Request, ip string, h func(sess *session) any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, aerr := s.authLocked(r, ip)
	if aerr != nil {
		return aerr
	}
	return h(sess)
}

// withDetails is withSession for user/get and user/list, which an app refused member details
// answers with 48009.
func (s *Server) withDetails(r *http.Request, ip string, h func(sess *session) any) any {
	return s.withSession(r, ip, func(sess *session) any {
		if sess.app.DetailsRefused {
			return s.fail(codeAPINotAuthorized, "", ip)
		}
		return h(sess)
	})
}

type departmentJSON struct {
	ID               int      `json:"id"`
	Name             string   `json:"name"`
	NameEn           string   `json:"name_en,omitempty"`
	DepartmentLeader []string `json:"department_leader"`
	ParentID         int      `json:"parentid"`
	Order            int      `json:"order"`
}

// departmentJSON is d as WeCom answers it, department_leader being its members who lead it.
// Callers hold mu.
func (c *corp) departmentJSON(d *Department) departmentJSON {
	leaders := []string{}
	for _, key := range c.deptUsers[d.ID] {
		if u := c.users[key]; slices.Contains(u.LeaderOf, d.ID) {
			leaders = append(leaders, u.UserID)
		}
	}
	return departmentJSON{ID: d.ID, Name: d.Name, NameEn: d.NameEn, DepartmentLeader: leaders, ParentID: d.ParentID, Order: d.Order}
}

type simpleDepartmentJSON struct {
	ID       int `json:"id"`
	ParentID int `json:"parentid"`
	Order    int `json:"order"`
}

// departmentScope resolves ?id= for department/list and simplelist: the subtree of id, or the
// whole visible tree without it. Callers hold mu.
func (s *Server) departmentScope(sess *session, r *http.Request) ([]*Department, *apiError) {
	raw := r.URL.Query().Get("id")
	if raw == "" {
		return sess.c.visibleDepartments(sess.app), nil
	}
	id, e := s.departmentParam(sess, raw)
	if e != nil {
		return nil, e
	}
	return sess.c.subtree(id), nil
}

func (s *Server) departmentParam(sess *session, raw string) (int, *apiError) {
	id, err := strconv.Atoi(raw)
	if err != nil || sess.c.depts[id] == nil {
		return 0, s.fail(codeInvalidPartyID, "", sess.ip)
	}
	if !sess.c.deptVisible(sess.app, id) {
		return 0, s.fail(codeNoPrivilege, "", sess.ip)
	}
	return id, nil
}

func (s *Server) handleDepartmentList(r *http.Request, ip string) any {
	return s.withSession(r, ip, func(sess *session) any {
		depts, e := s.departmentScope(sess, r)
		if e != nil {
			return e
		}
		out := make([]departmentJSON, len(depts))
		for i, d := range depts {
			out[i] = sess.c.departmentJSON(d)
		}
		return struct {
			apiError
			Department []departmentJSON `json:"department"`
		}{apiError{ErrMsg: "ok"}, out}
	})
}

func (s *Server) handleDepartmentSimpleList(r *http.Request, ip string) any {
	return s.withSession(r, ip, func(sess *session) any {
		depts, e := s.departmentScope(sess, r)
		if e != nil {
			return e
		}
		out := make([]simpleDepartmentJSON, len(depts))
		for i, d := range depts {
			out[i] = simpleDepartmentJSON{ID: d.ID, ParentID: d.ParentID, Order: d.Order}
		}
		return struct {
			apiError
			DepartmentID []simpleDepartmentJSON `json:"department_id"`
		}{apiError{ErrMsg: "ok"}, out}
	})
}

func (s *Server) handleDepartmentGet(r *http.Request, ip string) any {
	return s.withSession(r, ip, func(sess *session) any {
		raw := r.URL.Query().Get("id")
		if raw == "" {
			return s.fail(codeInvalidParameter, "invalid parameter: id missing", ip)
		}
		id, e := s.departmentParam(sess, raw)
		if e != nil {
			return e
		}
		return struct {
			apiError
			Department departmentJSON `json:"department"`
		}{apiError{ErrMsg: "ok"}, sess.c.departmentJSON(sess.c.depts[id])}
	})
}

type simpleUserJSON struct {
	UserID     string `json:"userid"`
	Name       string `json:"name"`
	Department []int  `json:"department"`
}

type userJSON struct {
	UserID         string   `json:"userid"`
	Name           string   `json:"name"`
	Department     []int    `json:"department"`
	Order          []int    `json:"order"`
	Position       string   `json:"position"`
	Mobile         string   `json:"mobile,omitempty"`
	Gender         string   `json:"gender,omitempty"`
	Email          string   `json:"email,omitempty"`
	BizMail        string   `json:"biz_mail,omitempty"`
	IsLeaderInDept []int    `json:"is_leader_in_dept"`
	DirectLeader   []string `json:"direct_leader"`
	Status         int      `json:"status"`
	MainDepartment int      `json:"main_department"`
	Alias          string   `json:"alias"`
	Telephone      string   `json:"telephone"`
}

func toUserJSON(u *User, sensitive bool) userJSON {
	out := userJSON{
		UserID: u.UserID, Name: u.Name, Department: append([]int{}, u.Departments...),
		Order: make([]int, len(u.Departments)), Position: u.Position,
		IsLeaderInDept: make([]int, len(u.Departments)), DirectLeader: []string{},
		Status: u.Status, MainDepartment: u.MainDepartment,
	}
	for i, d := range u.Departments {
		if slices.Contains(u.LeaderOf, d) {
			out.IsLeaderInDept[i] = 1
		}
	}
	if sensitive {
		out.Mobile, out.Gender, out.Email, out.BizMail = u.Mobile, u.Gender, u.Email, u.BizMail
	}
	return out
}

// usersScope resolves ?department_id=&fetch_child= to the visible members. Callers hold mu.
func (s *Server) usersScope(sess *session, r *http.Request) ([]*User, *apiError) {
	q := r.URL.Query()
	raw := q.Get("department_id")
	if raw == "" {
		return nil, s.fail(codeInvalidParameter, "invalid parameter: department_id missing", sess.ip)
	}
	id, e := s.departmentParam(sess, raw)
	if e != nil {
		return nil, e
	}
	var out []*User
	for _, u := range sess.c.departmentMembers(id, q.Get("fetch_child") == "1") {
		if sess.c.userVisible(sess.app, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (s *Server) handleUserSimpleList(r *http.Request, ip string) any {
	return s.withSession(r, ip, func(sess *session) any {
		users, e := s.usersScope(sess, r)
		if e != nil {
			return e
		}
		out := make([]simpleUserJSON, len(users))
		for i, u := range users {
			out[i] = simpleUserJSON{UserID: u.UserID, Name: u.Name, Department: append([]int{}, u.Departments...)}
		}
		return struct {
			apiError
			UserList []simpleUserJSON `json:"userlist"`
		}{apiError{ErrMsg: "ok"}, out}
	})
}

func (s *Server) handleUserList(r *http.Request, ip string) any {
	return s.withDetails(r, ip, func(sess *session) any {
		users, e := s.usersScope(sess, r)
		if e != nil {
			return e
		}
		out := make([]userJSON, len(users))
		for i, u := range users {
			out[i] = toUserJSON(u, sess.app.ContactsSecret)
		}
		return struct {
			apiError
			UserList []userJSON `json:"userlist"`
		}{apiError{ErrMsg: "ok"}, out}
	})
}

func (s *Server) handleUserGet(r *http.Request, ip string) any {
	return s.withDetails(r, ip, func(sess *session) any {
		id := r.URL.Query().Get("userid")
		if id == "" {
			return s.fail(codeMissingUserID, "", ip)
		}
		u, ok := sess.c.users[strings.ToLower(id)]
		switch {
		case !ok:
			return s.fail(codeUserNotFound, "", ip)
		case !sess.c.userVisible(sess.app, u):
			return s.fail(codeNoPrivilege, "", ip)
		}
		return struct {
			apiError
			userJSON
		}{apiError{ErrMsg: "ok"}, toUserJSON(u, sess.app.ContactsSecret)}
	})
}

type tagJSON struct {
	TagID   int    `json:"tagid"`
	TagName string `json:"tagname"`
}

// handleTagList is GET /cgi-bin/tag/list: every tag of the corp, by id, for an app secret or the
// contacts secret alike (a self-built app lists them all, whatever its visible range).
func (s *Server) handleTagList(r *http.Request, ip string) any {
	return s.withSession(r, ip, func(sess *session) any {
		out := make([]tagJSON, 0, len(sess.c.tags))
		for _, t := range sess.c.tags {
			out = append(out, tagJSON{TagID: t.ID, TagName: t.Name})
		}
		slices.SortFunc(out, func(a, b tagJSON) int { return a.TagID - b.TagID })
		return struct {
			apiError
			TagList []tagJSON `json:"taglist"`
		}{apiError{ErrMsg: "ok"}, out}
	})
}

type deptUserJSON struct {
	UserID     string `json:"userid"`
	Department int    `json:"department"`
}

// handleUserListID is POST /cgi-bin/user/list_id {cursor, limit}: one row per (member,
// department), contacts secret only (app secrets get 48002). limit defaults to and may not
// exceed 10000; a cursor this server did not issue is 50100. The cursor is an offset into the
// rows sorted by userid, so members added between pages may shift the listing, as with WeCom.
func (s *Server) handleUserListID(r *http.Request, ip string) any {
	raw, err := readBody(r)
	var req struct {
		Cursor string `json:"cursor"`
		Limit  int    `json:"limit"`
	}
	formatErr := err != nil || (len(raw) > 0 && json.Unmarshal(raw, &req) != nil)

	return s.withSession(r, ip, func(sess *session) any {
		switch {
		case formatErr:
			return s.fail(codeDataFormat, "Warning: wrong json format. data format error", ip)
		case !sess.app.ContactsSecret:
			return s.fail(codeAPIForbidden, "api forbidden: user/list_id needs the contacts-sync secret", ip)
		case req.Limit < 0 || req.Limit > 10000:
			return s.fail(codeInvalidParameter, "invalid parameter: limit must be 1-10000", ip)
		}
		if req.Limit == 0 {
			req.Limit = 10000
		}
		offset, ok := decodeCursor(req.Cursor)
		if !ok {
			return s.fail(codeInvalidCursor, "", ip)
		}
		var rows []deptUserJSON
		keys := append([]string(nil), sess.c.order...)
		sort.Strings(keys)
		for _, k := range keys {
			u := sess.c.users[k]
			for _, d := range u.Departments {
				rows = append(rows, deptUserJSON{UserID: u.UserID, Department: d})
			}
		}
		page, next := pageOf(rows, offset, req.Limit)
		return struct {
			apiError
			NextCursor string         `json:"next_cursor"`
			DeptUser   []deptUserJSON `json:"dept_user"`
		}{apiError{ErrMsg: "ok"}, next, page}
	})
}

// decodeCursor reads a cursor this server issued (an offset); "" is the first page.
func decodeCursor(cursor string) (int, bool) {
	if cursor == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o"))
	if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o") || n < 0 {
		return 0, false
	}
	return n, true
}

// pageOf cuts rows[offset:offset+limit] and the cursor of the next page ("" after the last).
func pageOf[T any](rows []T, offset, limit int) ([]T, string) {
	offset = min(offset, len(rows))
	end := min(offset+limit, len(rows))
	next := ""
	if end < len(rows) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(end)))
	}
	return append([]T{}, rows[offset:end]...), next
}
