package wecom

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/silenceper/wechat/v2/util"
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
}

// SimpleMember is a member as user/simplelist answers it.
type SimpleMember struct {
	UserID     string  `json:"userid"`
	Name       string  `json:"name"`
	Department []int64 `json:"department"`
}

// DeptUser is one (member, department) row of user/list_id.
type DeptUser struct {
	UserID     string `json:"userid"`
	Department int64  `json:"department"`
}

type departmentListResponse struct {
	util.CommonError
	Department []Department `json:"department"`
}

func (r *departmentListResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type departmentSimpleListResponse struct {
	util.CommonError
	DepartmentID []Department `json:"department_id"`
}

func (r *departmentSimpleListResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type departmentGetResponse struct {
	util.CommonError
	Department Department `json:"department"`
}

func (r *departmentGetResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type userListResponse struct {
	util.CommonError
	UserList []Member `json:"userlist"`
}

func (r *userListResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type userSimpleListResponse struct {
	util.CommonError
	UserList []SimpleMember `json:"userlist"`
}

func (r *userSimpleListResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type userGetResponse struct {
	util.CommonError
	Member
}

func (r *userGetResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type userListIDResponse struct {
	util.CommonError
	NextCursor string     `json:"next_cursor"`
	DeptUser   []DeptUser `json:"dept_user"`
}

func (r *userListIDResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// ListDepartments is department/list: the subtree of id, or with id 0 the whole visible tree.
func (c *Client) ListDepartments(ctx context.Context, id int64) ([]Department, error) {
	var res departmentListResponse
	if err := c.call(ctx, "department/list", http.MethodGet, idQuery("id", id), "", nil, &res); err != nil {
		return nil, err
	}
	return res.Department, nil
}

// ListDepartmentIDs is department/simplelist: ids, parents and order without names.
func (c *Client) ListDepartmentIDs(ctx context.Context, id int64) ([]Department, error) {
	var res departmentSimpleListResponse
	if err := c.call(ctx, "department/simplelist", http.MethodGet, idQuery("id", id), "", nil, &res); err != nil {
		return nil, err
	}
	return res.DepartmentID, nil
}

// GetDepartment is department/get.
func (c *Client) GetDepartment(ctx context.Context, id int64) (*Department, error) {
	var res departmentGetResponse
	if err := c.call(ctx, "department/get", http.MethodGet, url.Values{"id": {strconv.FormatInt(id, 10)}}, "", nil, &res); err != nil {
		return nil, err
	}
	return &res.Department, nil
}

func idQuery(name string, id int64) url.Values {
	if id == 0 {
		return nil
	}
	return url.Values{name: {strconv.FormatInt(id, 10)}}
}

// ListMembers is user/list for the direct members of one department (fetch_child=0), with details.
func (c *Client) ListMembers(ctx context.Context, departmentID int64) ([]Member, error) {
	var res userListResponse
	q := url.Values{"department_id": {strconv.FormatInt(departmentID, 10)}, "fetch_child": {"0"}}
	if err := c.call(ctx, "user/list", http.MethodGet, q, "", nil, &res); err != nil {
		return nil, err
	}
	return res.UserList, nil
}

// ListSimpleMembers is user/simplelist for the direct members of one department.
func (c *Client) ListSimpleMembers(ctx context.Context, departmentID int64) ([]SimpleMember, error) {
	var res userSimpleListResponse
	q := url.Values{"department_id": {strconv.FormatInt(departmentID, 10)}, "fetch_child": {"0"}}
	if err := c.call(ctx, "user/simplelist", http.MethodGet, q, "", nil, &res); err != nil {
		return nil, err
	}
	return res.UserList, nil
}

// GetMember is user/get.
func (c *Client) GetMember(ctx context.Context, userid string) (*Member, error) {
	var res userGetResponse
	if err := c.call(ctx, "user/get", http.MethodGet, url.Values{"userid": {userid}}, "", nil, &res); err != nil {
		return nil, err
	}
	return &res.Member, nil
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
