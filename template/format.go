package template

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/jsonstr"
)

// This file turns data into text. It only reads values: it never calls a method of a value
// (no String, Error or MarshalJSON), so rendering cannot run code that came with the data.
// Types it does not know as data (structs, functions, channels) render as empty.

// appendText appends v as a template shows it: strings as they are, numbers in plain decimal,
// true/false, nothing for nil, lists and maps as compact JSON.
func appendText(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return dst
	case string:
		return append(dst, x...)
	case map[string]any, []any:
		return appendJSON(dst, v, 0)
	case time.Time:
		return x.AppendFormat(dst, time.RFC3339Nano)
	case json.RawMessage:
		return appendJSON(dst, v, 0)
	}
	if s, ok := scalarText(dst, v); ok {
		return s
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return append(dst, rv.String()...)
	case reflect.Map, reflect.Slice, reflect.Array:
		if rv.Kind() != reflect.Array && rv.IsNil() {
			return dst
		}
		return appendJSON(dst, v, 0)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return dst
		}
		return appendText(dst, rv.Elem().Interface())
	}
	return dst
}

// scalarText appends numbers and booleans; ok is false for anything else.
func scalarText(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(dst, x), true
	case json.Number:
		return appendNumber(dst, string(x)), true
	case float64:
		return appendFloat(dst, x, 64), true
	case float32:
		return appendFloat(dst, float64(x), 32), true
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), true
	case reflect.Float32:
		return appendFloat(dst, rv.Float(), 32), true
	case reflect.Float64:
		return appendFloat(dst, rv.Float(), 64), true
	}
	return dst, false
}

// appendFloat writes f in plain decimal, without exponent or trailing zeros: 42, 3.5, -0.25.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if f == 0 {
		return append(dst, '0') // also -0
	}
	return strconv.AppendFloat(dst, f, 'f', -1, bits)
}

// appendNumber writes a JSON number exactly, in plain decimal: "4.2e+01" → 42,
// "1234567890123" → 1234567890123, "1.50" → 1.5. A string that is not a JSON number is
// written as it is.
func appendNumber(dst []byte, s string) []byte {
	if isPlainInt(s) {
		return append(dst, s...)
	}
	neg, digits, point, ok := decimal(s)
	if !ok {
		return append(dst, s...)
	}
	if digits == "" {
		return append(dst, '0')
	}
	if point > len(digits)+400 || point < -400 {
		// Absurd exponents: a float64 is as good as anything, and stays short.
		f, _ := strconv.ParseFloat(s, 64)
		if math.IsInf(f, 0) || f == 0 {
			return append(dst, s...)
		}
		return appendFloat(dst, f, 64)
	}
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case point <= 0:
		dst = append(dst, "0."...)
		for range -point {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	case point >= len(digits):
		dst = append(dst, digits...)
		for range point - len(digits) {
			dst = append(dst, '0')
		}
	default:
		dst = append(dst, digits[:point]...)
		dst = append(dst, '.')
		dst = append(dst, digits[point:]...)
	}
	return dst
}

// isPlainInt reports whether s is -?[1-9][0-9]* or 0: already in its plain form.
func isPlainInt(s string) bool {
	t := strings.TrimPrefix(s, "-")
	if t == "" || (t[0] == '0' && len(t) > 1) || (t == "0" && len(s) > 1) {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

// decimal splits a JSON number into its sign, significant digits (no leading or trailing
// zeros) and the position of the decimal point relative to those digits.
func decimal(s string) (neg bool, digits string, point int, ok bool) {
	if !validNumber(s) {
		return false, "", 0, false
	}
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil {
			return false, "", 0, false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	all := intPart + frac
	point = len(intPart) + exp
	trimmed := strings.TrimLeft(all, "0")
	point -= len(all) - len(trimmed)
	digits = strings.TrimRight(trimmed, "0")
	if digits == "" {
		neg = false
	}
	return neg, digits, point, true
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || (n > 1 && s[start] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

const maxJSONDepth = 1000

// appendJSON appends v as compact JSON, map keys sorted, without HTML escaping. It stops early
// once dst is larger than maxOutput (the caller reports ErrTooLarge).
func appendJSON(dst []byte, v any, depth int) []byte {
	if depth > maxJSONDepth || len(dst) > maxOutput {
		return append(dst, "null"...)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONString(dst, x)
	case json.Number:
		if !validNumber(string(x)) {
			return appendJSONString(dst, string(x))
		}
		return appendNumber(dst, string(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return append(dst, "null"...)
		}
	case map[string]any:
		if x == nil {
			return append(dst, "null"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSON(dst, x[k], depth+1)
		}
		return append(dst, '}')
	case []any:
		if x == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e, depth+1)
		}
		return append(dst, ']')
	case time.Time:
		dst = append(dst, '"')
		dst = x.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case json.RawMessage:
		if json.Valid(x) {
			n := len(dst)
			dst = append(dst, x...)
			return compactJSON(dst, n)
		}
		return appendJSONString(dst, string(x))
	}
	if s, ok := scalarText(dst, v); ok {
		return s
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return appendJSONString(dst, rv.String())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...)
		}
		return appendJSON(dst, rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i := range rv.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, interfaceOf(rv.Index(i)), depth+1)
		}
		return append(dst, ']')
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String || rv.IsNil() {
			return append(dst, "null"...)
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k.String())
			dst = append(dst, ':')
			dst = appendJSON(dst, interfaceOf(rv.MapIndex(k)), depth+1)
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

// compactJSON removes the whitespace outside strings from dst[from:], which holds valid JSON.
func compactJSON(dst []byte, from int) []byte {
	w := from
	inString := false
	for r := from; r < len(dst); r++ {
		c := dst[r]
		if inString {
			dst[w] = c
			w++
			switch c {
			case '\\':
				r++
				dst[w] = dst[r]
				w++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		}
		dst[w] = c
		w++
	}
	return dst[:w]
}

// interfaceOf is rv's value, or nil for what cannot be read (unexported fields).
func interfaceOf(rv reflect.Value) any {
	if !rv.IsValid() || !rv.CanInterface() {
		return nil
	}
	return rv.Interface()
}

// appendJSONString appends s as a JSON string; unlike encoding/json it leaves <, > and & alone.
func appendJSONString(dst []byte, s string) []byte { return jsonstr.Append(dst, s, false) }

// Truthy is how {{#if}} and {{#unless}} — and workflow conditions — read a value: missing, null,
// false, "", 0 and empty lists and maps are false; everything else is true.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		_, digits, _, ok := decimal(string(x))
		return !ok || digits != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	case int:
		return x != 0
	case int64:
		return x != 0
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	case time.Time:
		return !x.IsZero()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool()
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return rv.Len() > 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint() != 0
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		return f != 0 && !math.IsNaN(f)
	case reflect.Pointer, reflect.Interface:
		return !rv.IsNil() && Truthy(rv.Elem().Interface())
	}
	return false
}

// isEmpty is what the default filter replaces: missing, null, "" and empty lists and maps.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Map, reflect.Slice:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// lookup steps from v into one path segment; ok is false when there is nothing there.
func lookup(v any, s segment) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		r, ok := x[s.key]
		return r, ok
	case []any:
		if s.index >= 0 && s.index < len(x) {
			return x[s.index], true
		}
		return nil, false
	case map[string]string:
		r, ok := x[s.key]
		return r, ok
	case []string:
		if s.index >= 0 && s.index < len(x) {
			return x[s.index], true
		}
		return nil, false
	case nil, string, json.Number, float64, bool:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		kt := rv.Type().Key()
		if kt.Kind() != reflect.String {
			return nil, false
		}
		r := rv.MapIndex(reflect.ValueOf(s.key).Convert(kt))
		if !r.IsValid() {
			return nil, false
		}
		return interfaceOf(r), true
	case reflect.Slice, reflect.Array:
		if s.index >= 0 && s.index < rv.Len() {
			return interfaceOf(rv.Index(s.index)), true
		}
	}
	return nil, false
}

// copyValue deep-copies the JSON containers in v, so a typed result never shares a list or
// map with the data it came from.
func copyValue(v any, depth int) any {
	if depth > maxJSONDepth {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyValue(e, depth+1)
		}
		return m
	case []any:
		if x == nil {
			return x
		}
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyValue(e, depth+1)
		}
		return l
	case map[string]string:
		m := make(map[string]string, len(x))
		for k, e := range x {
			m[k] = e
		}
		return m
	case []string:
		return slices.Clone(x)
	}
	return v
}
