package callback

import (
	"cmp"
	"slices"

	"github.com/wecomflow/wecomflow/jsonstr"
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
		buf = jsonstr.Append(buf, name, true)
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
				buf = jsonstr.Append(buf, c.text, true)
			}
		}
		if end-k > 1 {
			buf = append(buf, ']')
		}
		k = end
	}
	return append(buf, '}')
}
