package template

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RenderValue renders every string inside a JSON-like value — map[string]any, []any (and
// []string, map[string]string), strings; numbers, booleans and nil pass through — and returns a
// new value; v is not modified. Map keys are not rendered. Each string follows the typed rule
// of Template.Value: "{{$context.data.approvers}}" becomes the list itself. Strings without
// "{{" are returned as they are, without parsing.
//
// The error, if any, is a *FieldError naming the JSON path of the failing string
// ("textcard.description: line 1, column 8: unclosed {{#if}}"); when several strings fail, the
// first in path order is reported. All of them share one $system.now.
func RenderValue(v any, vars Vars) (any, error) {
	if s, ok := v.(string); ok && !strings.Contains(s, "{{") {
		return v, nil
	}
	return renderValue(v, vars)
}

func renderValue(v any, vars Vars) (any, error) {
	if vars.Now.IsZero() {
		vars.Now = time.Now()
	}
	r := valueWalker{vars: &vars}
	out, err := r.render(v, 0)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pathStep is one step of a JSON path: a key, or an index when key is empty and index >= 0.
type pathStep struct {
	key   string
	index int
}

type valueWalker struct {
	vars  *Vars
	steps []pathStep
}

func (w *valueWalker) path() string {
	var b []byte
	for _, s := range w.steps {
		if s.index >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
			continue
		}
		if strings.ContainsAny(s.key, `.[]" `) || s.key == "" {
			b = append(b, '[')
			b = appendJSONString(b, s.key)
			b = append(b, ']')
			continue
		}
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.key...)
	}
	return string(b)
}

func (w *valueWalker) fail(err error) *FieldError { return &FieldError{Path: w.path(), Err: err} }

// render walks v. In a map every entry is rendered and the error of the smallest key kept, so
// the error reported does not depend on map order.
func (w *valueWalker) render(v any, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, w.fail(ErrTooLarge)
	}
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, "{{") {
			return v, nil
		}
		t, err := Parse(x)
		if err != nil {
			return nil, w.fail(err)
		}
		out, err := t.Value(*w.vars)
		if err != nil {
			return nil, w.fail(err)
		}
		return out, nil
	case map[string]any:
		if x == nil {
			return v, nil
		}
		return renderMap(w, x, depth)
	case map[string]string:
		return renderMap(w, x, depth)
	case []any:
		if x == nil {
			return v, nil
		}
		return renderList(w, x, depth)
	case []string:
		return renderList(w, x, depth)
	}
	return v, nil
}

// Problem is one string of a value that CheckValue or Problems found wrong.
type Problem struct {
	Path string // JSON path of the string, as in FieldError
	// Err is the syntax error, or, with Err.Warning set, the $env names that are not in the
	// allow-list (the string is valid and renders those names as empty).
	Err *Error
}

// Problems checks every string inside v, as RenderValue would walk it, and returns what is
// wrong, sorted by path: syntax errors, and $env names missing from allowedEnv (warnings). It
// is nil when everything is fine.
func Problems(v any, allowedEnv []string) []Problem {
	w := valueWalker{}
	var out []Problem
	w.check(v, allowedEnv, &out, 0)
	slices.SortFunc(out, func(a, b Problem) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// CheckValue is Problems as a map from JSON path to message, for save-time validation
// ("textcard.description": "line 1, column 8: unclosed {{#if}}"). The map is empty when v is
// fine. Warnings about $env names are included; use Problems to tell them apart.
func CheckValue(v any, allowedEnv []string) map[string]string {
	out := map[string]string{}
	for _, p := range Problems(v, allowedEnv) {
		out[p.Path] = p.Err.Error()
	}
	return out
}

func (w *valueWalker) check(v any, allowedEnv []string, out *[]Problem, depth int) {
	if depth > maxJSONDepth {
		return
	}
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, "{{") {
			return
		}
		t, err := Parse(x)
		if err == nil {
			err = t.checkEnv(allowedEnv)
		}
		if err != nil {
			*out = append(*out, Problem{Path: w.path(), Err: err.(*Error)})
		}
	case map[string]any:
		for k, e := range x {
			w.steps = append(w.steps, pathStep{key: k, index: -1})
			w.check(e, allowedEnv, out, depth+1)
			w.steps = w.steps[:len(w.steps)-1]
		}
	case map[string]string:
		for k, e := range x {
			w.steps = append(w.steps, pathStep{key: k, index: -1})
			w.check(e, allowedEnv, out, depth+1)
			w.steps = w.steps[:len(w.steps)-1]
		}
	case []any:
		for i, e := range x {
			w.steps = append(w.steps, pathStep{index: i})
			w.check(e, allowedEnv, out, depth+1)
			w.steps = w.steps[:len(w.steps)-1]
		}
	case []string:
		for i, e := range x {
			w.steps = append(w.steps, pathStep{index: i})
			w.check(e, allowedEnv, out, depth+1)
			w.steps = w.steps[:len(w.steps)-1]
		}
	}
}

// checkEnv returns a warning *Error naming the $env variables not in allowed, or nil.
func (t *Template) checkEnv(allowed []string) error {
	var names []string
	pos := -1
	walkPaths(t.nodes, func(p *path) {
		if p.root != rootEnv || len(p.segs) == 0 {
			return
		}
		name := p.segs[0].key
		if slices.Contains(allowed, name) || slices.Contains(names, name) {
			return
		}
		if pos < 0 {
			pos = p.pos
		}
		names = append(names, name)
	})
	if len(names) == 0 {
		return nil
	}
	for i, n := range names {
		names[i] = "$env." + n
	}
	var msg string
	switch len(names) {
	case 1:
		msg = names[0] + " is not in WECOMFLOW_TEMPLATE_ENV"
	default:
		msg = strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " are not in WECOMFLOW_TEMPLATE_ENV"
	}
	msg += "; it renders as empty"
	e := newError(t.src, pos, msg)
	e.Warning = true
	return e
}

// renderMap renders every value of a map (keys are left alone) into a new map[string]any,
// reporting the error of the smallest failing key so the result does not depend on map order.
func renderMap[V any](w *valueWalker, x map[string]V, depth int) (any, error) {
	out := make(map[string]any, len(x))
	var firstErr error
	var firstKey string
	for k, e := range x {
		w.steps = append(w.steps, pathStep{key: k, index: -1})
		r, err := w.render(e, depth+1)
		w.steps = w.steps[:len(w.steps)-1]
		if err != nil {
			if firstErr == nil || k < firstKey {
				firstErr, firstKey = err, k
			}
			continue
		}
		out[k] = r
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// renderList renders every element of a list into a new []any, reporting the first failure.
func renderList[V any](w *valueWalker, x []V, depth int) (any, error) {
	out := make([]any, len(x))
	for i, e := range x {
		w.steps = append(w.steps, pathStep{index: i})
		r, err := w.render(e, depth+1)
		w.steps = w.steps[:len(w.steps)-1]
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
