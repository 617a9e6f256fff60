package wecomtest

import (
	"sort"
)

// maxDepth bounds ancestor walks: WeCom allows 15 levels, and a cycle in test setup must not hang.
const maxDepth = 64

// deptVisible reports whether a department is inside the app's visible range (the range is
// recursive: a visible department makes its whole subtree visible).
func (c *corp) deptVisible(app *appState, id int) bool {
	if _, ok := c.depts[id]; !ok {
		return false
	}
	if app.visible == nil {
		return true
	}
	for i := 0; i < maxDepth; i++ {
		if app.visible[id] {
			return true
		}
		d, ok := c.depts[id]
		if !ok || d.ParentID == 0 {
			return false
		}
		id = d.ParentID
	}
	return false
}

func (c *corp) userVisible(app *appState, u *User) bool {
	if app.visible == nil {
		return true
	}
	for _, d := range u.Departments {
		if c.deptVisible(app, d) {
			return true
		}
	}
	return false
}

// sortedChildren lists a department's children as WeCom orders them: larger order first.
func (c *corp) sortedChildren(id int) []int {
	kids := append([]int(nil), c.children[id]...)
	sort.Slice(kids, func(i, j int) bool {
		a, b := c.depts[kids[i]], c.depts[kids[j]]
		if a.Order != b.Order {
			return a.Order > b.Order
		}
		return a.ID < b.ID
	})
	return kids
}

// subtree returns id and its descendants, parents before children.
func (c *corp) subtree(id int) []*Department {
	var out []*Department
	var walk func(id, depth int)
	walk = func(id, depth int) {
		d, ok := c.depts[id]
		if !ok || depth > maxDepth {
			return
		}
		out = append(out, d)
		for _, k := range c.sortedChildren(id) {
			walk(k, depth+1)
		}
	}
	walk(id, 0)
	return out
}

// visibleRoots are the tops of the app's visible range: the departments listed in it that are
// not below another listed one, or the corp's roots when the whole corp is visible.
func (c *corp) visibleRoots(app *appState) []int {
	var roots []int
	for id, d := range c.depts {
		_, hasParent := c.depts[d.ParentID]
		switch {
		case app.visible == nil:
			// Departments whose parent is unknown count as roots: test setups may add subtrees only.
			if !hasParent {
				roots = append(roots, id)
			}
		case app.visible[id]:
			if !hasParent || !c.deptVisible(app, d.ParentID) {
				roots = append(roots, id)
			}
		}
	}
	sort.Ints(roots)
	return roots
}

// visibleDepartments is the whole visible tree, each root followed by its subtree.
func (c *corp) visibleDepartments(app *appState) []*Department {
	var out []*Department
	for _, r := range c.visibleRoots(app) {
		out = append(out, c.subtree(r)...)
	}
	return out
}

// membersOf calls fn for each member of the departments (deduplicated, in the order found).
func (c *corp) membersOf(depts []*Department, seen map[string]bool, fn func(*User)) {
	for _, d := range depts {
		for _, key := range c.deptUsers[d.ID] {
			if seen[key] {
				continue
			}
			seen[key] = true
			fn(c.users[key])
		}
	}
}

// departmentMembers lists the members of one department, or of its subtree with recursive.
func (c *corp) departmentMembers(id int, recursive bool) []*User {
	depts := []*Department{c.depts[id]}
	if recursive {
		depts = c.subtree(id)
	}
	var out []*User
	c.membersOf(depts, map[string]bool{}, func(u *User) { out = append(out, u) })
	return out
}
