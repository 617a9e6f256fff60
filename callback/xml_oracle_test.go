package callback

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
)

// parseMessageXML is ParseMessage as it was written on encoding/xml's tokenizer: the oracle the
// scanner is fuzzed against (FuzzParseMessageMatchesEncodingXML).
func parseMessageXML(plain []byte) (map[string]any, error) {
	type element struct {
		name     string
		children map[string]any
		text     []byte
	}
	value := func(e element) any {
		if e.children != nil {
			return e.children
		}
		return string(e.text)
	}
	d := xml.NewDecoder(bytes.NewReader(plain))
	var (
		open  []element
		count int
		root  map[string]any
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
			addChild(parent.children, el.name, value(el))
		case xml.Directive:
			return nil, fmt.Errorf("%w: DOCTYPE and other <!…> directives are not allowed", ErrBadXML)
		}
	}
}
