package callback

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadXML is returned for a body or decrypted message that is not the XML WeCom sends; the
// handler answers 400.
var ErrBadXML = errors.New("callback: malformed XML")

// Bounds on hostile input: WeCom's deepest message (xml/SelectedItems/SelectedItem/OptionIds/
// OptionId) has depth 5 and its largest (update_tag with user lists) a few thousand elements.
const (
	maxDepth    = 16
	maxElements = 10_000
)

// Envelope is the POST body <xml><ToUserName/><AgentID/><Encrypt/></xml>; only Encrypt is
// signed, so the other two are hints until the decrypted message confirms them.
type Envelope struct {
	ToUserName string
	AgentID    string
	Encrypt    string
}

// ParseEnvelope reads a POST body with the same hardened parser as ParseMessage, since it runs
// before the signature is checked. A body without Encrypt is ErrBadXML.
func ParseEnvelope(body []byte) (Envelope, error) {
	m, err := ParseMessage(body)
	if err != nil {
		return Envelope{}, err
	}
	env := Envelope{Encrypt: leaf(m, "Encrypt"), ToUserName: leaf(m, "ToUserName"), AgentID: leaf(m, "AgentID")}
	if env.Encrypt == "" {
		return Envelope{}, fmt.Errorf("%w: no Encrypt element", ErrBadXML)
	}
	return env, nil
}

// leaf is m[name] when it is a single text element, else "".
func leaf(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

// ParseMessage turns a decrypted WeCom XML message into the JSON-like object subscribers and
// workflows see, with WeCom's element names: the root <xml> is dropped, a leaf element becomes a
// string (CDATA kept exactly, plain text trimmed of surrounding whitespace), an element with
// children a map[string]any, and an element repeated under the same parent a []any of its values
// — so one SelectedItem is a map and two are a list. Attributes and text between child elements
// are ignored. DOCTYPE and other directives are refused, depth and element count are bounded.
func ParseMessage(plain []byte) (map[string]any, error) {
	s := scanner{src: string(plain)}
	var (
		stack [maxDepth]element
		open  = stack[:0]
		// kids are the children of the open elements so far, in one list (kept on the stack), so
		// that each element's map is made when it closes, at its final size.
		scratch [32]child
		kids    = scratch[:0]
		count   int
		root    map[string]any // set when the root element closes
	)
	for {
		t, err := s.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tokenEOF:
			switch {
			case len(open) > 0:
				return nil, fmt.Errorf("%w: <%s> is not closed", ErrBadXML, open[len(open)-1].name)
			case root == nil:
				return nil, fmt.Errorf("%w: no root element", ErrBadXML)
			}
			return root, nil
		case tokenStart:
			count++
			switch {
			case root != nil:
				return nil, fmt.Errorf("%w: more than one root element", ErrBadXML)
			case len(open) == 0 && t.local != "xml":
				return nil, fmt.Errorf("%w: the root element is not <xml>", ErrBadXML)
			case len(open) == maxDepth:
				return nil, fmt.Errorf("%w: nested deeper than %d", ErrBadXML, maxDepth)
			case count > maxElements:
				return nil, fmt.Errorf("%w: more than %d elements", ErrBadXML, maxElements)
			}
			open = append(open, element{name: t.name, local: t.local, first: len(kids)})
			if t.empty {
				open, kids, root = closeElement(open, kids)
			}
		case tokenText, tokenCDATA:
			text := t.text
			if t.kind == tokenText {
				text = strings.TrimSpace(text)
			}
			if len(open) == 0 {
				if text != "" {
					return nil, fmt.Errorf("%w: text outside the root element", ErrBadXML)
				}
				continue
			}
			if top := &open[len(open)-1]; len(kids) == top.first { // text beside children is dropped
				top.addText(text)
			}
		case tokenEnd:
			if len(open) == 0 || open[len(open)-1].name != t.name {
				return nil, fmt.Errorf("%w: unexpected </%s>", ErrBadXML, t.name)
			}
			open, kids, root = closeElement(open, kids)
		}
	}
}

// element is an open element.
type element struct {
	name, local string
	first       int // its children are kids[first:]
	// text is the element's one piece of text; joined collects several (text, CDATA, text around
	// a comment), which few elements have.
	text   string
	joined []byte
}

type child struct {
	name  string
	value any
}

// closeElement ends the innermost open element: it becomes its parent's child, or, the last one,
// the root returned (nil otherwise: nothing opens after the root has closed).
func closeElement(open []element, kids []child) ([]element, []child, map[string]any) {
	el := &open[len(open)-1]
	open = open[:len(open)-1]
	var m map[string]any
	if children := kids[el.first:]; len(children) > 0 {
		m = make(map[string]any, len(children))
		for _, c := range children {
			addChild(m, c.name, c.value)
		}
		kids = kids[:el.first]
	}
	switch {
	case len(open) == 0:
		if m == nil {
			m = map[string]any{}
		}
		return open, kids, m
	case m != nil:
		kids = append(kids, child{el.local, m})
	case el.joined != nil:
		kids = append(kids, child{el.local, string(el.joined)})
	default:
		kids = append(kids, child{el.local, el.text})
	}
	return open, kids, nil
}

func (e *element) addText(text string) {
	switch {
	case text == "":
	case e.text == "" && e.joined == nil:
		e.text = text
	default:
		if e.joined == nil {
			e.joined = append([]byte(nil), e.text...)
		}
		e.joined = append(e.joined, text...)
	}
}

// addChild stores v under name, turning a repeated name into a list. Values are only ever
// strings or maps, so an existing []any can only be a list made here.
func addChild(children map[string]any, name string, v any) {
	switch prev := children[name].(type) {
	case nil:
		children[name] = v
	case []any:
		children[name] = append(prev, v)
	default:
		children[name] = []any{prev, v}
	}
}
