package template

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Vars are the values a template reads.
type Vars struct {
	Context map[string]any    // $context: the trigger's data; a direct send's "data" is $context.data
	Jobs    map[string]any    // $jobs: results of the workflow's earlier nodes, by node key
	Env     map[string]string // $env: only the allow-listed names, already filtered by the caller
	// Now is $system.now; zero means time.Now() at the start of the render.
	Now time.Time
	// Location is the time zone of $system.now, $system.date and the date filter; nil is UTC.
	Location *time.Location
}

// frame is the item of an {{#each}} being rendered.
type frame struct {
	item  any
	index int
	count int
	key   any // the map key, or the index for lists
}

// state is one rendering in progress.
type state struct {
	vars    *Vars
	loc     *time.Location
	now     time.Time
	out     strings.Builder
	scratch []byte
	frames  []frame
	steps   int
	err     error
}

func (st *state) init(v *Vars) {
	st.vars = v
	st.loc = v.Location
	if st.loc == nil {
		st.loc = time.UTC
	}
	st.now = v.Now
	if st.now.IsZero() {
		st.now = time.Now()
	}
	st.now = st.now.In(st.loc)
}

// Render renders the template to text. Missing variables render as empty; the only error is
// ErrTooLarge.
func (t *Template) Render(v Vars) (string, error) {
	if t.plain {
		return t.src, nil
	}
	return t.render(v)
}

// render is Render's slow path, apart so that the fast one does not move v to the heap.
func (t *Template) render(v Vars) (string, error) {
	var st state
	st.init(&v)
	return st.render(t)
}

func (st *state) render(t *Template) (string, error) {
	st.out.Grow(len(t.src) + 16)
	st.nodes(t.nodes)
	if st.err == nil && st.out.Len() > maxOutput {
		st.err = ErrTooLarge
	}
	if st.err != nil {
		return "", st.err
	}
	return st.out.String(), nil
}

// Value renders the template keeping the type of a lone variable: when the template is exactly
// one variable expression (filters allowed, surrounding whitespace ignored) whose value is not
// text — a list, a map, a number, a boolean — Value returns that value (lists and maps copied);
// otherwise it returns the rendered string, as Render does. A missing value gives "".
func (t *Template) Value(v Vars) (any, error) {
	if t.plain {
		return t.src, nil
	}
	if t.single == nil {
		return t.render(v)
	}
	return t.value(v)
}

func (t *Template) value(v Vars) (any, error) {
	var st state
	st.init(&v)
	val := st.eval(t.single)
	switch x := val.(type) {
	case nil:
		if t.bare {
			return "", nil
		}
	case string:
		if t.bare {
			return x, nil
		}
	default:
		return copyValue(val, 0), nil
	}
	var st2 state
	st2.init(&v)
	st2.now = st.now
	return st2.render(t)
}

// Variables lists every variable path the template reads, in order of first use and without
// repeats, written as in a template: "$context.data.items.0.name", "$context.headers[\"X-Request-Id\"]",
// "$jobs.ask.response.eventKey", "$system.now", "$env.REGION". Paths relative to an {{#each}}
// item (this, @index, bare names) are not listed; the list the {{#each}} walks is.
func (t *Template) Variables() []string {
	var out []string
	walkPaths(t.nodes, func(p *path) {
		if p.root == rootThis || p.root == rootData {
			return
		}
		if s := p.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	})
	return out
}

// walkPaths calls fn for every variable in nodes, filter arguments included.
func walkPaths(nodes []node, fn func(*path)) {
	for i := range nodes {
		n := &nodes[i]
		if n.expr != nil {
			fn(&n.expr.path)
			for j := range n.expr.filters {
				if a := n.expr.filters[j].arg.path; a != nil {
					fn(a)
				}
			}
		}
		walkPaths(n.body, fn)
		walkPaths(n.alt, fn)
	}
}

// String writes the path the canonical way: dots for names and indexes, brackets for other keys.
func (p *path) String() string {
	var b []byte
	switch p.root {
	case rootContext:
		b = append(b, "$context"...)
	case rootJobs:
		b = append(b, "$jobs"...)
	case rootSystem:
		b = append(b, "$system"...)
	case rootEnv:
		b = append(b, "$env"...)
	case rootThis:
		b = append(b, "this"...)
	case rootData:
		return "@" + p.name
	}
	for _, s := range p.segs {
		if s.key != "" && identLen(s.key) == len(s.key) {
			b = append(b, '.')
			b = append(b, s.key...)
			continue
		}
		b = append(b, '[')
		b = appendJSONString(b, s.key)
		b = append(b, ']')
	}
	return string(b)
}

func (st *state) step() bool {
	if st.err != nil {
		return false
	}
	st.steps++
	if st.steps > maxSteps || st.out.Len() > maxOutput {
		st.err = ErrTooLarge
		return false
	}
	return true
}

func (st *state) nodes(nodes []node) {
	for i := range nodes {
		if !st.step() {
			return
		}
		n := &nodes[i]
		switch n.kind {
		case textNode:
			st.out.WriteString(n.text)
		case exprNode:
			st.write(st.eval(n.expr))
		case ifNode:
			if Truthy(st.eval(n.expr)) {
				st.nodes(n.body)
			} else {
				st.nodes(n.alt)
			}
		case unlessNode:
			if !Truthy(st.eval(n.expr)) {
				st.nodes(n.body)
			} else {
				st.nodes(n.alt)
			}
		case eachNode:
			st.each(n)
		}
	}
}

func (st *state) write(v any) {
	if s, ok := v.(string); ok {
		st.out.WriteString(s)
		return
	}
	st.scratch = appendText(st.scratch[:0], v)
	if len(st.scratch) > maxOutput {
		st.err = ErrTooLarge
		return
	}
	st.out.Write(st.scratch)
}

// text is v as a template shows it.
func (st *state) text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	st.scratch = appendText(st.scratch[:0], v)
	return string(st.scratch)
}

func (st *state) each(n *node) {
	if n.fit != nil {
		st.eachFit(n)
		return
	}
	if !st.items(n, nil) {
		st.nodes(n.alt)
	}
}

// items renders n's body for each item of its list and reports whether there was one. more,
// when given, is asked after each item whether to go on.
func (st *state) items(n *node, more func(count int) bool) bool {
	return iterate(st.eval(n.expr), func(item any, i, count int, key any) bool {
		if !st.step() {
			return false
		}
		st.frames = append(st.frames, frame{item: item, index: i, count: count, key: key})
		st.nodes(n.body)
		st.frames = st.frames[:len(st.frames)-1]
		return st.err == nil && (more == nil || more(count))
	})
}

// eachFit renders an {{#each}} with maxBytes: whole items while they fit, and when some do not,
// the more sentence saying how many were left out, all within maxBytes. A message then stays
// one message however long the list: an alert group of 200 is shortened, never split.
func (st *state) eachFit(n *node) {
	// The items render apart so that the last ones can be taken back. outer goes back into the
	// same field, so the Builder's copy check still sees its own address.
	outer := st.out
	st.out = strings.Builder{}
	var ends []int // the length after each item
	total := 0
	had := st.items(n, func(count int) bool {
		total = count
		ends = append(ends, st.out.Len())
		return st.out.Len() <= n.fit.maxBytes
	})
	rendered := st.out.String()
	st.out = outer
	if !had {
		st.nodes(n.alt)
		return
	}
	kept := len(ends)
	if kept == total && ends[kept-1] <= n.fit.maxBytes {
		st.out.WriteString(rendered)
		return
	}
	more := func(k int) string { return strings.ReplaceAll(n.fit.more, "{n}", strconv.Itoa(total-k)) }
	for kept > 0 && ends[kept-1]+len(more(kept)) > n.fit.maxBytes {
		kept--
	}
	if kept > 0 {
		st.out.WriteString(rendered[:ends[kept-1]])
	}
	st.out.WriteString(more(kept))
}

// eval computes an expression: the variable, then each filter in turn.
func (st *state) eval(e *expr) any {
	v := st.resolve(&e.path)
	if n, ok := v.(json.Number); ok && len(n) > 64 {
		st.charge(len(n)) // reading it (truthiness, dates) takes time in proportion
	}
	for i := range e.filters {
		f := &e.filters[i]
		v = f.filter.apply(st, v, f)
		if s, ok := v.(string); ok {
			st.charge(len(s))
		}
	}
	return v
}

// charge counts the text a filter produced against the step budget, one step per 16 bytes, so
// a loop re-encoding a large value cannot run for minutes without writing anything.
func (st *state) charge(n int) {
	st.steps += n / 16
	if st.steps > maxSteps && st.err == nil {
		st.err = ErrTooLarge
	}
}

// resolve looks a variable up; anything missing is nil.
func (st *state) resolve(p *path) any {
	var v any
	switch p.root {
	case rootContext:
		if st.vars.Context == nil {
			return nil
		}
		v = st.vars.Context
	case rootJobs:
		if st.vars.Jobs == nil {
			return nil
		}
		v = st.vars.Jobs
	case rootSystem:
		if len(p.segs) == 0 {
			return map[string]any{"now": st.system("now"), "date": st.system("date"), "timestamp": st.system("timestamp")}
		}
		return st.system(p.segs[0].key)
	case rootEnv:
		if len(p.segs) == 0 {
			if st.vars.Env == nil {
				return nil
			}
			return st.vars.Env
		}
		if s, ok := st.vars.Env[p.segs[0].key]; ok {
			return s
		}
		return nil
	case rootThis:
		if len(st.frames) == 0 {
			return nil
		}
		v = st.frames[len(st.frames)-1].item
	case rootData:
		if len(st.frames) == 0 {
			return nil
		}
		f := &st.frames[len(st.frames)-1]
		switch p.name {
		case "index":
			return f.index
		case "first":
			return f.index == 0
		case "last":
			return f.index == f.count-1
		case "key":
			return f.key
		}
		return nil
	}
	for _, s := range p.segs {
		var ok bool
		if v, ok = lookup(v, s); !ok {
			return nil
		}
	}
	return v
}

func (st *state) system(name string) any {
	switch name {
	case "now":
		return st.now.Format(time.RFC3339)
	case "date":
		return st.now.Format(time.DateOnly)
	case "timestamp":
		return st.now.Unix()
	}
	return nil
}
