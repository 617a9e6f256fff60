package template

import (
	"encoding/json"
	"html"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A filter transforms a value: {{path | name arg}}. Filters are pure: they read the value and
// their argument and nothing else — no files, network, environment or methods of the value.

type argKind uint8

const (
	noArg     argKind = iota
	anyArg            // a literal or a variable (default)
	stringArg         // a quoted text (join, date)
	countArg          // a positive whole number (truncate)
	pairArg           // two quoted texts (where)
)

type filter struct {
	arg     argKind
	example string
	apply   func(st *state, v any, f *filterCall) any
}

// filterNames lists the filters in the order the documentation gives them.
const filterNames = "default, upper, lower, trim, json, join, truncate, date, escape, where and length"

var filters = map[string]*filter{
	"default":  {arg: anyArg, example: `default "-"`, apply: filterDefault},
	"upper":    {apply: func(st *state, v any, _ *filterCall) any { return strings.ToUpper(st.text(v)) }},
	"lower":    {apply: func(st *state, v any, _ *filterCall) any { return strings.ToLower(st.text(v)) }},
	"trim":     {apply: func(st *state, v any, _ *filterCall) any { return strings.TrimSpace(st.text(v)) }},
	"json":     {apply: filterJSON},
	"join":     {arg: stringArg, example: `join ", "`, apply: filterJoin},
	"truncate": {arg: countArg, example: `truncate 20`, apply: filterTruncate},
	"date":     {arg: stringArg, example: `date "2006-01-02 15:04"`, apply: filterDate},
	"escape":   {apply: func(st *state, v any, _ *filterCall) any { return html.EscapeString(st.text(v)) }},
	"where":    {arg: pairArg, example: `where "status" "firing"`, apply: filterWhere},
	"length":   {apply: filterLength},
}

// filterWhere keeps the items of a list (or an object's values, in key order) whose field shows
// as the given text, so that one list can be shown in parts: firing alerts, then resolved ones.
// Anything else has no items.
func filterWhere(st *state, v any, f *filterCall) any {
	field, want := segment{key: f.arg.lit.(string), index: -1}, f.arg.lit2
	out := []any{}
	iterate(v, func(item any, _, _ int, _ any) bool {
		if got, ok := lookup(item, field); ok && st.text(got) == want {
			out = append(out, item)
		}
		return true
	})
	return out
}

// filterLength is the number of items of a list or entries of an object, or of characters of
// text; missing is 0.
func filterLength(st *state, v any, _ *filterCall) any {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return utf8.RuneCountInString(x)
	case map[string]any:
		return len(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len()
	}
	return utf8.RuneCountInString(st.text(v))
}

// filterDefault replaces a missing, null or empty value ("", [], {}) by its argument; zero and
// false are values and stay.
func filterDefault(st *state, v any, f *filterCall) any {
	if !isEmpty(v) {
		return v
	}
	if f.arg.path != nil {
		return st.resolve(f.arg.path)
	}
	return f.arg.lit
}

// filterJSON encodes the value as compact JSON: a string gets its quotes, missing is null.
func filterJSON(st *state, v any, _ *filterCall) any {
	return string(appendJSON(nil, v, 0))
}

// filterJoin joins a list's items, each shown as {{item}} would show it.
func filterJoin(st *state, v any, f *filterCall) any {
	sep := f.arg.lit.(string)
	var b []byte
	add := func(i int, e any) {
		if i > 0 {
			b = append(b, sep...)
		}
		b = appendText(b, e)
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			add(i, e)
		}
	case []string:
		return strings.Join(x, sep)
	default:
		rv := reflect.ValueOf(v)
		if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
			return st.text(v)
		}
		for i := range rv.Len() {
			add(i, interfaceOf(rv.Index(i)))
		}
	}
	return string(b)
}

// filterTruncate shortens text to at most n characters (runes), the last one being "…" when
// something was cut.
func filterTruncate(st *state, v any, f *filterCall) any {
	s := st.text(v)
	n := f.arg.n
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, kept := 0, 0
	for kept < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		kept++
	}
	return s[:i] + "…"
}

// filterDate formats a time with a Go layout in the render's time zone. It reads RFC 3339
// text ("2024-05-01T10:00:00+08:00"), "2006-01-02 15:04:05" and "2006-01-02" (in the render's
// zone), and unix times in seconds (numbers or digit strings; 13 digits and more are read as
// milliseconds). Anything else is shown unchanged.
func filterDate(st *state, v any, f *filterCall) any {
	if v == nil {
		return ""
	}
	t, ok := toTime(v, st.loc)
	if !ok {
		return st.text(v)
	}
	return t.In(st.loc).Format(f.arg.lit.(string))
}

func toTime(v any, loc *time.Location) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		s := strings.TrimSpace(x)
		if isPlainInt(s) {
			n, err := strconv.ParseInt(s, 10, 64)
			return unixTime(float64(n), n), err == nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
		for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return unixTime(float64(n), n), true
		}
		f, err := x.Float64()
		return unixTime(f, 0), err == nil && !math.IsInf(f, 0)
	case float64:
		return unixTime(x, 0), !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return unixTime(float64(x), int64(x)), true
	case int64:
		return unixTime(float64(x), x), true
	}
	return time.Time{}, false
}

// unixTime reads seconds, or milliseconds from 1e12 on (year 33658 in seconds). n carries an
// integer exactly when f came from one.
func unixTime(f float64, n int64) time.Time {
	if math.Abs(f) >= 1e12 {
		if n != 0 || f == 0 {
			return time.UnixMilli(n)
		}
		return time.UnixMilli(int64(f))
	}
	if n != 0 || f == 0 {
		return time.Unix(n, 0)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}
