package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// invalidUTF8 names the first value (or key) of a JSON body whose text is not valid UTF-8.
// encoding/json would replace such bytes with U+FFFD without a word, so two different inputs could
// become one userid; the caller refuses the body instead. found is false for a valid body; path
// is "" when the place cannot be named.
func invalidUTF8(body []byte) (path string, found bool) {
	if utf8.Valid(body) {
		return "", false
	}
	var at jsonPosition
	dec := json.NewDecoder(bytes.NewReader(body))
	prev := int64(0)
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", true
		}
		cur := dec.InputOffset()
		// Only strings can hold the bytes; the separators around them are ASCII.
		bad := !utf8.Valid(body[prev:cur])
		prev = cur
		isKey := false
		switch top := at.top(); {
		case top != nil && top.object && top.wantKey:
			if tok == json.Delim('}') {
				at.pop()
				continue
			}
			top.key, top.wantKey, isKey = tok.(string), false, true
		case tok == json.Delim('{') || tok == json.Delim('['):
			at.push(tok == json.Delim('{'))
			continue
		case tok == json.Delim(']'):
			at.pop()
			continue
		}
		if bad {
			return at.String(), true
		}
		if !isKey {
			at.valueDone()
		}
	}
}

// jsonPosition is where a JSON token stream is: the open objects and arrays, outermost first.
type jsonPosition []*jsonFrame

type jsonFrame struct {
	object  bool   // an object, else an array
	wantKey bool   // an object waiting for its next key
	key     string // an object's current key
	index   int    // an array's current index
}

func (p *jsonPosition) top() *jsonFrame {
	if len(*p) == 0 {
		return nil
	}
	return (*p)[len(*p)-1]
}

func (p *jsonPosition) push(object bool) {
	*p = append(*p, &jsonFrame{object: object, wantKey: object})
}

// pop closes the innermost object or array, which completes a value of the one around it.
func (p *jsonPosition) pop() {
	*p = (*p)[:len(*p)-1]
	p.valueDone()
}

func (p *jsonPosition) valueDone() {
	if f := p.top(); f != nil {
		if f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
}

// String is the field path of the position, as field errors name fields: "[3].set.name".
func (p jsonPosition) String() string {
	var b strings.Builder
	for _, f := range p {
		if !f.object {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.key)
	}
	return b.String()
}
