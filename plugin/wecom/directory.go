package wecom

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// Directory reads (pages 90193, 90208, 95350, 90200, 90201, 96067, 96079). An app secret reads
// within the app's visible range; the 通讯录同步 (contacts) secret reads the whole corp, but from
// a new IP WeCom refuses its detail reads (user/list, user/get) with 48009.

// Department is a department as department/list and department/get answer it.
type Department struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parentid"`
	Order    int64  `json:"order"`
}

// Member is a member as user/list and user/get answer it. Apps created after 2022-06-20 get no
// mobile or email.
type Member struct {
	UserID         string  `json:"userid"`
	Name           string  `json:"name"`
	Department     []int64 `json:"department"`
	MainDepartment int64   `json:"main_department"`
	Position       string  `json:"position"`
	Mobile         string  `json:"mobile"`
	Email          string  `json:"email"`
	// Status: 1 active, 2 disabled, 4 not activated, 5 left.
	Status int `json:"status"`
	// IsLeaderInDept is 1 where the member leads the department at the same index of Department.
	IsLeaderInDept []int `json:"is_leader_in_dept"`
}

// SimpleMember is a member as user/simplelist answers it.
type SimpleMember struct {
	UserID     string  `json:"userid"`
	Name       string  `json:"name"`
	Department []int64 `json:"department"`
}

// Tag is a corp tag (标签) as tag/list answers it.
type Tag struct {
	ID   int64  `json:"tagid"`
	Name string `json:"tagname"`
}

// DeptUser is one (member, department) row of user/list_id.
type DeptUser struct {
	UserID     string `json:"userid"`
	Department int64  `json:"department"`
}

type departmentListResponse struct {
	plainResponse
	Department []Department `json:"department"`
}

type departmentSimpleListResponse struct {
	plainResponse
	DepartmentID []Department `json:"department_id"`
}

type departmentGetResponse struct {
	plainResponse
	Department Department `json:"department"`
}

type userListResponse struct {
	plainResponse
	UserList []Member `json:"userlist"`
}

type userSimpleListResponse struct {
	plainResponse
	UserList []SimpleMember `json:"userlist"`
}

type userGetResponse struct {
	plainResponse
	Member
}

type tagListResponse struct {
	plainResponse
	TagList []Tag `json:"taglist"`
}

type userListIDResponse struct {
	plainResponse
	NextCursor string     `json:"next_cursor"`
	DeptUser   []DeptUser `json:"dept_user"`
}

// ListDepartments is department/list: the subtree of id, or with id 0 the whole visible tree.
func (c *Client) ListDepartments(ctx context.Context, id int64) ([]Department, error) {
	return get(ctx, c, "department/list", idQuery("id", id), func(r *departmentListResponse) []Department { return r.Department })
}

// ListDepartmentIDs is department/simplelist: ids, parents and order without names.
func (c *Client) ListDepartmentIDs(ctx context.Context, id int64) ([]Department, error) {
	return get(ctx, c, "department/simplelist", idQuery("id", id), func(r *departmentSimpleListResponse) []Department { return r.DepartmentID })
}

// GetDepartment is department/get.
func (c *Client) GetDepartment(ctx context.Context, id int64) (*Department, error) {
	q := url.Values{"id": {strconv.FormatInt(id, 10)}}
	return get(ctx, c, "department/get", q, func(r *departmentGetResponse) *Department { return &r.Department })
}

// get is a directory read by GET: it decodes the answer into an R and returns what pick takes
// from it, or pick's zero value with call's error.
func get[R any, P interface {
	*R
	commonResponse
}, T any](ctx context.Context, c *Client, api string, q url.Values, pick func(*R) T) (T, error) {
	var res R
	if err := c.call(ctx, api, http.MethodGet, q, "", nil, P(&res)); err != nil {
		var zero T
		return zero, err
	}
	return pick(&res), nil
}

// membersQuery asks user/list and user/simplelist for the direct members of one department.
func membersQuery(departmentID int64) url.Values {
	return url.Values{"department_id": {strconv.FormatInt(departmentID, 10)}, "fetch_child": {"0"}}
}

func idQuery(name string, id int64) url.Values {
	if id == 0 {
		return nil
	}
	return url.Values{name: {strconv.FormatInt(id, 10)}}
}

// ListMembers is user/list for the direct members of one department (fetch_child=0), with details.
func (c *Client) ListMembers(ctx context.Context, departmentID int64) ([]Member, error) {
	return get(ctx, c, "user/list", membersQuery(departmentID), func(r *userListResponse) []Member { return r.UserList })
}

// ListSimpleMembers is user/simplelist for the direct members of one department.
func (c *Client) ListSimpleMembers(ctx context.Context, departmentID int64) ([]SimpleMember, error) {
	return get(ctx, c, "user/simplelist", membersQuery(departmentID), func(r *userSimpleListResponse) []SimpleMember { return r.UserList })
}

// GetMember is user/get.
func (c *Client) GetMember(ctx context.Context, userid string) (*Member, error) {
	return get(ctx, c, "user/get", url.Values{"userid": {userid}}, func(r *userGetResponse) *Member { return &r.Member })
}

// ListTags is tag/list (page 90216): every tag of the corp, for a self-built app or the contacts
// secret.
func (c *Client) ListTags(ctx context.Context) ([]Tag, error) {
	return get(ctx, c, "tag/list", nil, func(r *tagListResponse) []Tag { return r.TagList })
}

// ListMemberIDs is one page of POST user/list_id (contacts secret only): (userid, department)
// rows and the cursor of the next page, "" after the last. limit is at most 10000.
func (c *Client) ListMemberIDs(ctx context.Context, cursor string, limit int) ([]DeptUser, string, error) {
	body, _ := json.Marshal(map[string]any{"cursor": cursor, "limit": limit})
	var res userListIDResponse
	if err := c.call(ctx, "user/list_id", http.MethodPost, nil, "application/json", body, &res); err != nil {
		return nil, "", err
	}
	return res.DeptUser, res.NextCursor, nil
}

// contactsTokenKey sets apart, in the token caches keyed by authenticator id, the contacts
// secret's token from the app secret's: the two are different apps to WeCom. It stays below
// 1<<63 so SQLite's signed integers hold it.
const contactsTokenKey = uint64(1) << 62

// ContactsClient returns the client of the authenticator's 通讯录同步 secret: same corp and API
// base as app, its own token.
func (cs *Clients) ContactsClient(app App, contactSecret string) *Client {
	app.AuthenticatorID |= contactsTokenKey
	app.AgentID = 0
	app.Secret = contactSecret
	return cs.Client(app)
}
