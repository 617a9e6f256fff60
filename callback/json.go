package callback

import (
	"cmp"
	"slices"
	"unicode/utf8"
)

// appendObject appends the JSON that encoding/json writes for the map an element's children
// make (see ParseMessage): keys in byte order, a repeated name as a list of its values in document
// order. A child with children is already JSON, at buf[from:to].
func appendObject(buf []byte, children []child) []byte {
	var scratch [32]int
	order := scratch[:0]
	for i := range children {
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(children[a].name, children[b].name) })
	buf = append(buf, '{')
	for k := 0; k < len(order); {
		name := children[order[k]].name
		end := k + 1
		for end < len(order) && children[order[end]].name == name {
			end++
		}
		if k > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, name)
		buf = append(buf, ':')
		if end-k > 1 {
			buf = append(buf, '[')
		}
		for i := k; i < end; i++ {
			if i > k {
				buf = append(buf, ',')
			}
			if c := &children[order[i]]; c.value != nil {
				buf = append(buf, buf[c.from:c.to]...)
			} else {
				buf = appendJSONString(buf, c.text)
			}
		}
		if end-k > 1 {
			buf = append(buf, ']')
		}
		k = end
	}
	return append(buf, '}')
}

// appendJSONString appends s as encoding/json writes a string: HTML's <, > and & escaped, control
// characters, U+2028 and U+2029 as escapes, bytes that are not UTF-8 as U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '\\', '"':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
