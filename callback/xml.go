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
// before the signature is checked, and accepts and refuses the same bodies; it only makes no
// objects of the elements it does not keep. A body without Encrypt is ErrBadXML.
func ParseEnvelope(body []byte) (Envelope, error) {
	sh := shallow{names: envelopeFields[:]}
	if _, err := parse(string(body), &sh); err != nil {
		return Envelope{}, err
	}
	env := Envelope{Encrypt: sh.values[0], ToUserName: sh.values[1], AgentID: sh.values[2]}
	if env.Encrypt == "" {
		return Envelope{}, fmt.Errorf("%w: no Encrypt element", ErrBadXML)
	}
	return env, nil
}

// envelopeFields are the envelope's elements, in the order ParseEnvelope reads them.
var envelopeFields = [...]string{"Encrypt", "ToUserName", "AgentID"}

// leaf is what ParseMessage's map holds under name when that is a string — the text of the one
// child of that name without children of its own — else "".
func leaf(top []child, name string) string {
	var text string
	n := 0
	for _, c := range top {
		if c.name == name {
			if n++; n > 1 || c.value != nil {
				return ""
			}
			text = c.text
		}
	}
	return text
}

// ParseMessage turns a decrypted WeCom XML message into the JSON-like object subscribers and
// workflows see, with WeCom's element names: the root <xml> is dropped, a leaf element becomes a
// string (CDATA kept exactly, plain text trimmed of surrounding whitespace), an element with
// children a map[string]any, and an element repeated under the same parent a []any of its values
// — so one SelectedItem is a map and two are a list. Attributes and text between child elements
// are ignored. DOCTYPE and other directives are refused, depth and element count are bounded.
func ParseMessage(plain []byte) (map[string]any, error) {
	return parse(string(plain), nil)
}

// parsedEvent is a decrypted message as the handler stores it: the JSON of ParseMessage's object,
// written as the elements close without making the maps, and the fields the event's columns hold
// (each what that object holds under its name when that is a string, else "").
type parsedEvent struct {
	payload                                                 []byte
	msgID, createTime, msgType, event, changeType, fromUser string
}

// eventFields are the message's elements that parsedEvent holds, in parseEvent's order.
var eventFields = [...]string{"MsgId", "CreateTime", "MsgType", "Event", "ChangeType", "FromUserName"}

// parseEvent reads a decrypted message as ParseMessage does (the same messages refused) into a
// parsedEvent: payload is byte for byte json.Marshal of ParseMessage's object.
func parseEvent(plain []byte) (parsedEvent, error) {
	sh := shallow{names: eventFields[:], json: true, buf: make([]byte, 0, len(plain))}
	if _, err := parse(string(plain), &sh); err != nil {
		return parsedEvent{}, err
	}
	v := &sh.values
	return parsedEvent{payload: sh.buf[sh.root:], msgID: v[0], createTime: v[1], msgType: v[2], event: v[3], changeType: v[4], fromUser: v[5]}, nil
}

// shallow, given to parse, asks it for no maps: only the root's string children named in names
// (into values, in their order), and with json set the object ParseMessage would return as JSON,
// written into buf.
type shallow struct {
	names  []string
	values [len(eventFields)]string
	json   bool
	// buf holds the JSON of each closed element with children, its parent's after its own; the
	// root's, from root on, is the message's.
	buf  []byte
	root int
}

// parse is ParseMessage over src; with sh, it makes no maps and returns nil (see shallow).
func parse(src string, sh *shallow) (map[string]any, error) {
	s := scanner{src: src}
	var (
		stack [maxDepth]element
		open  = stack[:0]
		// kids are the children of the open elements so far, in one list (kept on the stack), so
		// that each element's map is made when it closes, at its final size.
		scratch [32]child
		kids    = scratch[:0]
		count   int
		done    bool // the root element has closed
		root    map[string]any
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
			case !done:
				return nil, fmt.Errorf("%w: no root element", ErrBadXML)
			}
			return root, nil
		case tokenStart:
			count++
			switch {
			case done:
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
				open, kids, root, done = closeElement(open, kids, sh)
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
			open, kids, root, done = closeElement(open, kids, sh)
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

// child is a closed element waiting for its parent to close: a leaf's text, or (value) the map an
// element with children became — in a shallow parse only hasChildren{}, the mark that it had some,
// and with JSON its object's place in the shallow buffer, buf[from:to].
type child struct {
	name     string
	text     string
	value    any
	from, to int
}

// hasChildren marks, in a shallow parse, a child that had children.
type hasChildren struct{}

// closeElement ends the innermost open element: it becomes its parent's child, or, the last one,
// the root returned as a map (in a shallow parse, its fields and JSON), with done set.
func closeElement(open []element, kids []child, sh *shallow) (_ []element, _ []child, root map[string]any, done bool) {
	el := &open[len(open)-1]
	open = open[:len(open)-1]
	children := kids[el.first:]
	kids = kids[:el.first]
	var from int
	if sh != nil && sh.json && (len(children) > 0 || len(open) == 0) {
		from = len(sh.buf)
		sh.buf = appendObject(sh.buf, children)
	}
	if len(open) == 0 {
		if sh != nil {
			sh.root = from
			for i, name := range sh.names {
				sh.values[i] = leaf(children, name)
			}
			return open, kids, nil, true
		}
		return open, kids, childMap(children), true
	}
	switch {
	case len(children) > 0 && sh != nil:
		kids = append(kids, child{name: el.local, value: hasChildren{}, from: from, to: len(sh.buf)})
	case len(children) > 0:
		kids = append(kids, child{name: el.local, value: childMap(children)})
	case el.joined != nil:
		kids = append(kids, child{name: el.local, text: string(el.joined)})
	default:
		kids = append(kids, child{name: el.local, text: el.text})
	}
	return open, kids, nil, false
}

// childMap is an element's object: its children by name, at its final size.
func childMap(children []child) map[string]any {
	m := make(map[string]any, len(children))
	for _, c := range children {
		if c.value != nil {
			addChild(m, c.name, c.value)
		} else {
			addChild(m, c.name, c.text)
		}
	}
	return m
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
