package callback

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// element is an open element while ParseMessage walks the tokens.
type element struct {
	name     string
	children map[string]any // nil until the first child element: then it is not a leaf
	text     []byte
}

// ParseMessage turns a decrypted WeCom XML message into the JSON-like object subscribers and
// workflows see, with WeCom's element names: the root <xml> is dropped, a leaf element becomes a
// string (CDATA kept exactly, plain text trimmed of surrounding whitespace), an element with
// children a map[string]any, and an element repeated under the same parent a []any of its values
// — so one SelectedItem is a map and two are a list. Attributes and text between child elements
// are ignored. DOCTYPE and other directives are refused, depth and element count are bounded.
func ParseMessage(plain []byte) (map[string]any, error) {
	d := xml.NewDecoder(bytes.NewReader(plain))
	var (
		open  []element
		count int
		root  map[string]any // non-nil once the root element has closed
	)
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil {
				return nil, fmt.Errorf("%w: no root element", ErrBadXML)
			}
			return root, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadXML, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			switch {
			case root != nil:
				return nil, fmt.Errorf("%w: more than one root element", ErrBadXML)
			case len(open) == 0 && t.Name.Local != "xml":
				return nil, fmt.Errorf("%w: the root element is not <xml>", ErrBadXML)
			case len(open) == maxDepth:
				return nil, fmt.Errorf("%w: nested deeper than %d", ErrBadXML, maxDepth)
			case count > maxElements:
				return nil, fmt.Errorf("%w: more than %d elements", ErrBadXML, maxElements)
			}
			open = append(open, element{name: t.Name.Local})
		case xml.CharData:
			cdata := bytes.HasPrefix(plain[start:], []byte("<![CDATA["))
			if !cdata {
				t = bytes.TrimSpace(t)
			}
			if len(open) == 0 {
				if len(t) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrBadXML)
				}
				continue
			}
			top := &open[len(open)-1]
			top.text = append(top.text, t...)
		case xml.EndElement:
			el := open[len(open)-1]
			open = open[:len(open)-1]
			if len(open) == 0 {
				root = el.children
				if root == nil {
					root = map[string]any{}
				}
				continue
			}
			parent := &open[len(open)-1]
			if parent.children == nil {
				parent.children = map[string]any{}
			}
			addChild(parent.children, el.name, el.value())
		case xml.Directive: // encoding/xml expands no entities, but a DOCTYPE has no business here
			return nil, fmt.Errorf("%w: DOCTYPE and other <!…> directives are not allowed", ErrBadXML)
		}
	}
}

// value is what an element becomes: its children, or its text when it has none.
func (e *element) value() any {
	if e.children != nil {
		return e.children
	}
	return string(e.text)
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
