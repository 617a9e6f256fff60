package callback

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanner splits WeCom's XML into tokens with encoding/xml's rules — the same documents accepted
// and the same ones refused, which FuzzParseMessageMatchesEncodingXML holds it to — without its
// allocations per token: names and most text are substrings of the input, copied once. Comments
// and processing instructions are checked and skipped; <!DOCTYPE> and every other directive is
// refused.
type scanner struct {
	src string
	pos int
	// buf collects text that is not the input as it stands (entities, \r\n); reused.
	buf []byte
}

type tokenKind int

const (
	tokenEOF tokenKind = iota
	tokenStart
	tokenEnd
	tokenText
	tokenCDATA
)

type token struct {
	kind tokenKind
	// name is an element's name as written (with its prefix: an end tag must repeat it), local the
	// part after the prefix.
	name, local string
	// empty marks <a/>: no end tag follows.
	empty bool
	// text is character data with entities replaced and line ends normalized.
	text string
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrBadXML, fmt.Sprintf(format, args...), s.pos)
}

// next returns the next element tag or run of character data, or tokenEOF at the end.
func (s *scanner) next() (token, error) {
	for {
		if s.pos == len(s.src) {
			return token{kind: tokenEOF}, nil
		}
		if s.src[s.pos] != '<' {
			text, err := s.text(0, false)
			return token{kind: tokenText, text: text}, err
		}
		s.pos++
		b, err := s.byte()
		if err != nil {
			return token{}, err
		}
		switch b {
		case '/':
			// Not checked as a name: only the start tag's name, checked already, closes it.
			start := s.pos
			s.skipName()
			name := s.src[start:s.pos]
			s.space()
			if err := s.expect('>'); err != nil {
				return token{}, err
			}
			return token{kind: tokenEnd, name: name}, nil
		case '?':
			if err := s.instruction(); err != nil {
				return token{}, err
			}
		case '!':
			switch {
			case strings.HasPrefix(s.src[s.pos:], "--"):
				s.pos += 2
				if err := s.comment(); err != nil {
					return token{}, err
				}
			case strings.HasPrefix(s.src[s.pos:], "[CDATA["):
				s.pos += len("[CDATA[")
				if text, ok := s.cdataAsIs(); ok {
					return token{kind: tokenCDATA, text: text}, nil
				}
				text, err := s.text(0, true)
				return token{kind: tokenCDATA, text: text}, err
			default: // encoding/xml expands no entities, but a DOCTYPE has no business here
				return token{}, s.errorf("DOCTYPE and other <!…> directives are not allowed")
			}
		default:
			s.pos--
			return s.startTag()
		}
	}
}

// startTag reads <name attr="value"…> or <name…/>; attributes are checked and dropped.
func (s *scanner) startTag() (token, error) {
	name, local, err := s.qualifiedName()
	if err != nil {
		return token{}, err
	}
	for {
		s.space()
		b, err := s.byte()
		if err != nil {
			return token{}, err
		}
		switch b {
		case '>':
			return token{kind: tokenStart, name: name, local: local}, nil
		case '/':
			if err := s.expect('>'); err != nil {
				return token{}, err
			}
			return token{kind: tokenStart, name: name, local: local, empty: true}, nil
		}
		s.pos--
		if _, _, err := s.qualifiedName(); err != nil {
			return token{}, err
		}
		s.space()
		if err := s.expect('='); err != nil {
			return token{}, err
		}
		s.space()
		quote, err := s.byte()
		if err != nil {
			return token{}, err
		}
		if quote != '"' && quote != '\'' {
			return token{}, s.errorf("unquoted attribute value")
		}
		if _, err := s.text(quote, false); err != nil {
			return token{}, err
		}
	}
}

// instruction checks a processing instruction after its "<?". Like encoding/xml it takes an
// <?xml …?> declaration only for version 1.0 and UTF-8.
func (s *scanner) instruction() error {
	target, ok := s.name()
	if !ok {
		return s.errorf("expected a target name after <?")
	}
	s.space()
	end := strings.Index(s.src[s.pos:], "?>")
	if end < 0 {
		s.pos = len(s.src)
		return s.errorf("unexpected end in a processing instruction")
	}
	body := s.src[s.pos : s.pos+end]
	s.pos += end + len("?>")
	if target == "xml" {
		if v := declared("version", body); v != "" && v != "1.0" {
			return s.errorf("unsupported XML version %q", v)
		}
		if enc := declared("encoding", body); enc != "" && !strings.EqualFold(enc, "utf-8") {
			return s.errorf("unsupported encoding %q", enc)
		}
	}
	return nil
}

// declared is param's value in an <?xml …?> declaration as encoding/xml reads it: after the first
// `param=` that a quote follows, up to the next such quote; "" if there is none.
func declared(param, body string) string {
	param += "="
	i := 0
	var quote byte
	for i < len(body) {
		sub := body[i:]
		k := strings.Index(sub, param)
		if k < 0 || k+len(param) >= len(sub) {
			return ""
		}
		i += k + len(param) + 1
		if c := sub[k+len(param)]; c == '"' || c == '\'' {
			quote = c
			break
		}
	}
	if quote == 0 {
		return ""
	}
	j := strings.IndexByte(body[i:], quote)
	if j < 0 {
		return ""
	}
	return body[i : i+j]
}

// comment skips a comment after its "<!--": it ends at the first "--", which must be "-->".
func (s *scanner) comment() error {
	end := strings.Index(s.src[s.pos:], "--")
	if end < 0 || s.pos+end+2 >= len(s.src) {
		s.pos = len(s.src)
		return s.errorf("unexpected end in a comment")
	}
	s.pos += end + 2
	if s.src[s.pos] != '>' {
		return s.errorf(`"--" inside a comment`)
	}
	s.pos++
	return nil
}

// text reads character data: up to the next '<' (or the end), up to quote inside an attribute
// value, or up to "]]>" in a CDATA section. As in encoding/xml, entities are replaced (outside
// CDATA), \r\n and \r become \n, "]]>" outside CDATA and '<' inside a value are refused, and so is
// anything that is not UTF-8 or not a character XML allows.
func (s *scanner) text(quote byte, cdata bool) (string, error) {
	start := s.pos
	decoded := false // the text is s.buf, not s.src[start:end]
	var b0, b1 byte  // the two bytes before b, for "]]>"
	end := -1
	for end < 0 {
		from := s.pos
		if err := s.skipPlain(); err != nil {
			return "", err
		}
		if s.pos > from {
			if decoded {
				s.buf = append(s.buf, s.src[from:s.pos]...)
			}
			b0, b1 = 0, 0 // neither ']' nor '\r', which is all they are asked
		}
		if s.pos == len(s.src) {
			if cdata || quote != 0 {
				return "", s.errorf("unexpected end in character data")
			}
			end = s.pos
			break
		}
		at, b := s.pos, s.src[s.pos]
		s.pos++
		switch {
		case quote == 0 && b0 == ']' && b1 == ']' && b == '>':
			if !cdata {
				return "", s.errorf(`"]]>" outside a CDATA section`)
			}
			end = at - 2
			if decoded {
				s.buf = s.buf[:len(s.buf)-2]
			}
			continue
		case b == '<' && !cdata:
			if quote != 0 {
				return "", s.errorf("'<' inside an attribute value")
			}
			s.pos = at
			end = at
			continue
		case quote != 0 && b == quote:
			end = at
			continue
		case b < 0x20 && b != '\t' && b != '\n' && b != '\r':
			return "", s.errorf("control character %#x in text", b)
		}
		if !decoded && (b == '&' && !cdata || b == '\r') {
			s.buf = append(s.buf[:0], s.src[start:at]...)
			decoded = true
		}
		switch {
		case b == '&' && !cdata:
			r, err := s.entity()
			if err != nil {
				return "", err
			}
			s.buf = utf8.AppendRune(s.buf, r)
			b0, b1 = 0, 0
			continue
		case b == '\r':
			s.buf = append(s.buf, '\n')
			if strings.HasPrefix(s.src[s.pos:], "\n") {
				s.pos++ // \r\n is one line end
			}
			b0, b1 = 0, 0
			continue
		case decoded:
			s.buf = append(s.buf, b)
		}
		b0, b1 = b1, b
	}
	if decoded {
		return string(s.buf), nil
	}
	return s.src[start:end], nil
}

// plainLow has a bit for each byte below 64 that text passes over as it is: tab, newline, and
// the printable ones but markup and quotes. Above 63 only ']' needs a look (and bytes beyond
// ASCII a UTF-8 check).
const plainLow uint64 = 1<<'\t' | 1<<'\n' | (1<<64-1)&^(1<<' '-1)&^(1<<'"'|1<<'&'|1<<'\''|1<<'<'|1<<'>')

// skipPlain passes over what text has nothing to do with: ASCII that is neither markup, a quote
// nor a control character, and whole UTF-8 characters beyond ASCII, which it checks.
func (s *scanner) skipPlain() error {
	src, i := s.src, s.pos // locals: the loop is the scanner's hottest
	for i < len(src) {
		switch b := src[i]; {
		case b < 64:
			if plainLow>>b&1 == 0 {
				s.pos = i
				return nil
			}
			i++
		case b < utf8.RuneSelf:
			if b == ']' {
				s.pos = i
				return nil
			}
			i++
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 || !xmlChar(r) {
				s.pos = i
				return s.errorf("text that is not UTF-8 or has a character XML does not allow")
			}
			i += size
		}
	}
	s.pos = i
	return nil
}

// cdataAsIs returns the text of the CDATA section at s.pos when it needs nothing done — ASCII
// without control characters or '\r', as WeCom's base64 and names are — and moves past its "]]>".
// Otherwise it returns false and leaves text to read the section.
func (s *scanner) cdataAsIs() (string, bool) {
	end := strings.Index(s.src[s.pos:], "]]>")
	if end < 0 {
		return "", false
	}
	text := s.src[s.pos : s.pos+end]
	i := 0
	// Eight bytes at a time: a byte below 0x20 borrows into its high bit, one from 0x80 has it.
	for ; i+8 <= len(text); i += 8 {
		w := uint64(text[i]) | uint64(text[i+1])<<8 | uint64(text[i+2])<<16 | uint64(text[i+3])<<24 |
			uint64(text[i+4])<<32 | uint64(text[i+5])<<40 | uint64(text[i+6])<<48 | uint64(text[i+7])<<56
		if (w-0x2020202020202020|w)&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(text); i++ {
		if b := text[i]; b >= utf8.RuneSelf || b < 0x20 && b != '\t' && b != '\n' {
			return "", false
		}
	}
	s.pos += end + len("]]>")
	return text, true
}

// entity reads a reference after its '&': one of XML's five predefined entities or a character
// number. Any other name is refused, as by encoding/xml (strict, no entities defined).
func (s *scanner) entity() (rune, error) {
	if strings.HasPrefix(s.src[s.pos:], "#") {
		s.pos++
		base := 10
		if strings.HasPrefix(s.src[s.pos:], "x") {
			base = 16
			s.pos++
		}
		start := s.pos
		for s.pos < len(s.src) && digit(s.src[s.pos], base) {
			s.pos++
		}
		digits := s.src[start:s.pos]
		if err := s.expect(';'); err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(digits, base, 64)
		if err != nil || n > unicode.MaxRune {
			return 0, s.errorf("invalid character reference &#%s;", digits)
		}
		r := rune(n)
		if !utf8.ValidRune(r) {
			r = utf8.RuneError // a surrogate: what string(rune(n)) makes of it in encoding/xml
		}
		if !xmlChar(r) {
			return 0, s.errorf("character reference to %U, which XML does not allow", r)
		}
		return r, nil
	}
	start := s.pos
	s.skipName()
	name := s.src[start:s.pos]
	if err := s.expect(';'); err != nil {
		return 0, err
	}
	switch name {
	case "lt":
		return '<', nil
	case "gt":
		return '>', nil
	case "amp":
		return '&', nil
	case "apos":
		return '\'', nil
	case "quot":
		return '"', nil
	}
	return 0, s.errorf("undefined entity &%s;", name)
}

func digit(b byte, base int) bool {
	return '0' <= b && b <= '9' || base == 16 && ('a' <= b && b <= 'f' || 'A' <= b && b <= 'F')
}

// xmlChar reports whether XML allows r (its Char production).
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || 0x20 <= r && r <= 0xD7FF || 0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= unicode.MaxRune
}

// qualifiedName reads an element or attribute name: at most one ':', which splits off a prefix
// unless it is at either end.
func (s *scanner) qualifiedName() (name, local string, err error) {
	name, ok := s.name()
	if !ok || strings.Count(name, ":") > 1 {
		return "", "", s.errorf("expected a name")
	}
	if prefix, after, found := strings.Cut(name, ":"); found && prefix != "" && after != "" {
		return name, after, nil
	}
	return name, name, nil
}

// name reads a name as encoding/xml delimits one — ASCII name bytes and any byte beyond ASCII —
// and reports whether it is a name.
func (s *scanner) name() (string, bool) {
	start := s.pos
	s.skipName()
	name := s.src[start:s.pos]
	if name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return name, wideName(name)
		}
	}
	// An ASCII name starts with a letter, '_' or ':'.
	c := name[0] | 0x20
	return name, 'a' <= c && c <= 'z' || name[0] == '_' || name[0] == ':'
}

func (s *scanner) skipName() {
	for s.pos < len(s.src) && (nameByte(s.src[s.pos]) || s.src[s.pos] >= utf8.RuneSelf) {
		s.pos++
	}
}

func nameByte(b byte) bool {
	c := b | 0x20
	return 'a' <= c && c <= 'z' || '0' <= b && b <= '9' || b == '_' || b == ':' || b == '.' || b == '-'
}

// wideName reports whether name, which has bytes beyond ASCII, is a name by the character classes
// of XML 1.0's Appendix B. WeCom's names are ASCII; encoding/xml holds those 300 lines of tables,
// so its verdict on such a name (as a processing instruction's target, which it checks as nothing
// but a name) decides, rather than a copy of them.
func wideName(name string) bool {
	_, err := xml.NewDecoder(strings.NewReader("<?" + name + "?>")).RawToken()
	return err == nil
}

// space skips XML's white space.
func (s *scanner) space() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// byte reads one byte; the end of the input is an error.
func (s *scanner) byte() (byte, error) {
	if s.pos == len(s.src) {
		return 0, s.errorf("unexpected end")
	}
	s.pos++
	return s.src[s.pos-1], nil
}

// expect reads the byte want.
func (s *scanner) expect(want byte) error {
	b, err := s.byte()
	if err != nil {
		return err
	}
	if b != want {
		s.pos--
		return s.errorf("expected %q, found %q", want, b)
	}
	return nil
}
