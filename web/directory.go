package web

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// maxTreeDepartments bounds the department tree a page reads (200 a page).
const maxTreeDepartments = 5000

// deptNode is a department in the tree, its sub-departments in WeCom's order.
type deptNode struct {
	service.Department
	Children []*deptNode
}

// memberRow is a member with the names of its departments.
type memberRow struct {
	service.Member
	DepartmentNames []string
	// LinkedUser is the id of the local user the member is linked to, 0 when none.
	LinkedUser uint64
}

// directoryPage is the directory's data: the authenticator shown, its department tree and a page
// of members of the chosen department.
type directoryPage struct {
	Authenticators []service.Authenticator
	// Auth is the authenticator shown (nil when there is none).
	Auth *service.Authenticator
	Tree []*deptNode
	// Truncated says the tree shows only the first maxTreeDepartments departments.
	Truncated bool
	// Department is the chosen department (nil for all).
	Department *service.Department
	Members    models.List[memberRow]
	// LastSync is the authenticator's newest sync task.
	LastSync *service.SyncTask
	// Base is the members list's URL with its filters, for the pager.
	Base string
}

// directory shows the synced WeCom directory of one authenticator (SPEC §3.5): the department
// tree and the members, filtered by ?authenticatorId=, ?departmentId= and ?q=.
func (u *UI) directory(c *gin.Context) error {
	ctx := c.Request.Context()
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return err
	}
	page := directoryPage{Authenticators: auths}
	q := strings.TrimSpace(c.Query("q"))
	form := map[string]string{"q": q}
	authID, _ := strconv.ParseUint(c.Query("authenticatorId"), 10, 64)
	for i := range auths {
		if auths[i].ID == authID || (authID == 0 && page.Auth == nil) {
			page.Auth = &auths[i]
		}
	}
	if page.Auth == nil {
		if authID != 0 {
			return problem.Errorf(problem.CodeNotFound, "Authenticator does not exist.")
		}
		u.renderView(c, http.StatusOK, "directory", &view{Data: page, Form: form})
		return nil
	}
	form["authenticatorId"] = strconv.FormatUint(page.Auth.ID, 10)
	depts, truncated, err := u.allDepartments(ctx, page.Auth.ID)
	if err != nil {
		return err
	}
	page.Tree, page.Truncated = departmentTree(depts), truncated
	names := make(map[int64]string, len(depts))
	for i := range depts {
		names[depts[i].ID] = depts[i].Name
	}
	deptID, _ := strconv.ParseInt(c.Query("departmentId"), 10, 64)
	if deptID > 0 {
		form["departmentId"] = strconv.FormatInt(deptID, 10)
		for i := range depts {
			if depts[i].ID == deptID {
				page.Department = &depts[i]
			}
		}
	} else {
		deptID = 0
	}
	members, err := u.d.Service.ListMembers(ctx, service.DirectoryFilter{AuthenticatorID: page.Auth.ID, DepartmentID: deptID, Q: q}, pageOf(c))
	if err != nil {
		return err
	}
	page.Members = models.List[memberRow]{Total: members.Total, Page: members.Page, Items: make([]memberRow, len(members.Items))}
	for i, m := range members.Items {
		row := memberRow{Member: m}
		for _, d := range m.Departments {
			if n, ok := names[d]; ok {
				row.DepartmentNames = append(row.DepartmentNames, n)
			} else {
				row.DepartmentNames = append(row.DepartmentNames, "#"+strconv.FormatInt(d, 10))
			}
		}
		if m.UserID != nil {
			row.LinkedUser = *m.UserID
		}
		page.Members.Items[i] = row
	}
	tasks, err := u.d.Service.ListSyncTasks(ctx, page.Auth.ID, models.Page{Page: 1, Size: 1})
	if err != nil {
		return err
	}
	if len(tasks.Items) > 0 {
		page.LastSync = &tasks.Items[0]
	}
	page.Base = "?" + url.Values{"authenticatorId": {form["authenticatorId"]}, "departmentId": {form["departmentId"]}, "q": {q}}.Encode() + "&"
	u.renderView(c, http.StatusOK, "directory", &view{Data: page, Form: form})
	return nil
}

// allDepartments reads the departments of an authenticator that WeCom still lists, up to
// maxTreeDepartments.
func (u *UI) allDepartments(ctx context.Context, authID uint64) (depts []service.Department, truncated bool, err error) {
	deleted := false
	for p := 1; len(depts) < maxTreeDepartments; p++ {
		l, err := u.d.Service.ListDepartments(ctx, service.DirectoryFilter{AuthenticatorID: authID, Deleted: &deleted}, models.Page{Page: p, Size: 200})
		if err != nil {
			return nil, false, err
		}
		depts = append(depts, l.Items...)
		if len(l.Items) < 200 || int64(len(depts)) >= l.Total {
			return depts, false, nil
		}
	}
	return depts, true, nil
}

// departmentTree nests departments under their parents; a department whose parent is not listed
// is a root. Siblings come in WeCom's order: a larger order first.
func departmentTree(depts []service.Department) []*deptNode {
	nodes := make(map[int64]*deptNode, len(depts))
	for _, d := range depts {
		nodes[d.ID] = &deptNode{Department: d}
	}
	var roots []*deptNode
	for _, d := range depts {
		n := nodes[d.ID]
		if p, ok := nodes[d.ParentID]; ok && d.ParentID != d.ID {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	var order func([]*deptNode)
	order = func(ns []*deptNode) {
		sort.SliceStable(ns, func(i, j int) bool {
			if ns[i].Order != ns[j].Order {
				return ns[i].Order > ns[j].Order
			}
			return ns[i].ID < ns[j].ID
		})
		for _, n := range ns {
			order(n.Children)
		}
	}
	order(roots)
	return roots
}
