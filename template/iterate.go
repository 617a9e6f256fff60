package template

import (
	"reflect"
	"slices"
	"strings"
)

// iterate calls fn for each item of a list, or each entry of a map in key order, and reports
// whether there was at least one. Anything else has no items. fn returns false to stop.
func iterate(v any, fn func(item any, i, count int, key any) bool) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		for i, e := range x {
			if !fn(e, i, len(x), i) {
				break
			}
		}
		return len(x) > 0
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if !fn(x[k], i, len(keys), k) {
				break
			}
		}
		return len(keys) > 0
	case []string:
		for i, e := range x {
			if !fn(e, i, len(x), i) {
				break
			}
		}
		return len(x) > 0
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := rv.Len()
		for i := range n {
			if !fn(interfaceOf(rv.Index(i)), i, n, i) {
				break
			}
		}
		return n > 0
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return false
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for i, k := range keys {
			if !fn(interfaceOf(rv.MapIndex(k)), i, len(keys), k.String()) {
				break
			}
		}
		return len(keys) > 0
	}
	return false
}
