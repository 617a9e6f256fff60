package template

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Template is a parsed template. It is immutable, so one Template may be rendered by many
// goroutines at once; parse once and render many times.
type Template struct {
	src   string
	plain bool   // no {{ at all: renders as src
	nodes []node // the parsed tree
	// single is set when the template is exactly one variable expression, give or take
	// whitespace and comments; bare when there is nothing around it at all.
	single *expr
	bare   bool
}

type nodeKind uint8

const (
	textNode   nodeKind = iota // text
	exprNode                   // {{expr}}
	ifNode                     // {{#if expr}} body {{else}} alt {{/if}}
	unlessNode                 // {{#unless expr}} body {{else}} alt {{/unless}}
	eachNode                   // {{#each expr}} body {{else}} alt {{/each}}
)

// node is one piece of a parsed template.
type node struct {
	kind nodeKind
	pos  int // byte offset of the node's {{
	text string
	expr *expr
	body []node
	alt  []node
	fit  *fit // an {{#each}} with maxBytes
}

// fit is an {{#each … maxBytes=N more="…"}}: the items that fit in N bytes, then the more
// sentence with {n} the number left out.
type fit struct {
	maxBytes int
	more     string
}

// defaultMore is the sentence after the items an {{#each}} with maxBytes leaves out.
const defaultMore = "… and {n} more"

type rootKind uint8

const (
	rootContext rootKind = iota + 1 // $context
	rootJobs                        // $jobs
	rootSystem                      // $system
	rootEnv                         // $env
	rootThis                        // this, and bare names inside {{#each}}
	rootData                        // @index, @first, @last, @key
)

// segment is one step of a path: a map key, or a list index when index >= 0.
type segment struct {
	key   string
	index int
}

// path is a variable reference such as $context.data.items.0.name.
type path struct {
	pos  int
	root rootKind
	name string // for rootData: index, first, last or key
	segs []segment
}

// arg is a filter argument: a literal, or (for default) a variable.
type arg struct {
	lit  any    // string, json.Number or bool
	lit2 string // where's value
	n    int    // truncate's length
	path *path
}

type filterCall struct {
	pos    int
	name   string
	filter *filter
	arg    arg
}

// expr is a variable with its filters: $context.data.name | default "-" | upper.
type expr struct {
	pos     int
	path    path
	filters []filterCall
}

// openBlock is a block whose closing tag has not been seen yet.
type openBlock struct {
	node    node
	name    string // if, unless, each
	inElse  bool
	chained bool // opened by {{else if …}}: closed by its parent's closing tag
}

type parser struct {
	src      string
	nodes    []node
	stack    []openBlock
	text     string // text seen but not yet added (a following {{~ may trim it)
	textPos  int
	trimNext bool // the previous tag ended with ~}}: trim the whitespace that follows
	// the tag being parsed
	i, end int
}

// Parse parses src. Syntax problems are returned as an *Error with the line and column; a
// string without "{{" is always valid and renders as itself.
func Parse(src string) (*Template, error) {
	if !strings.Contains(src, "{{") {
		return &Template{src: src, plain: true}, nil
	}
	// Text, variable, text…: enough room for short fields; blocks keep most nodes inside.
	p := &parser{src: src, nodes: make([]node, 0, min(2*strings.Count(src, "{{")+1, 8))}
	if err := p.parse(); err != nil {
		return nil, err
	}
	t := &Template{src: src, nodes: p.nodes}
	t.single, t.bare = singleExpr(p.nodes)
	return t, nil
}

// Check reports whether src is a valid template: the syntax *Error if it is not; otherwise, if
// it reads $env names missing from allowedEnv, an *Error with Warning set naming them.
func Check(src string, allowedEnv ...string) error {
	t, err := Parse(src)
	if err != nil {
		return err
	}
	return t.checkEnv(allowedEnv)
}

func singleExpr(nodes []node) (*expr, bool) {
	var single *expr
	bare := true
	for i := range nodes {
		n := &nodes[i]
		switch {
		case n.kind == exprNode && single == nil:
			single = n.expr
		case n.kind == textNode && strings.TrimSpace(n.text) == "":
			bare = false
		default:
			return nil, false
		}
	}
	return single, bare && single != nil
}

func (p *parser) errorf(off int, msg string) *Error { return newError(p.src, off, msg) }

func (p *parser) parse() error {
	src := p.src
	pos := 0
	for pos < len(src) {
		i := strings.Index(src[pos:], "{{")
		if i < 0 {
			p.addText(pos, src[pos:])
			break
		}
		start := pos + i
		if start > pos && src[start-1] == '\\' {
			if start-1 > pos && src[start-2] == '\\' {
				// \\{{ is a backslash followed by a real tag.
				p.addText(pos, src[pos:start-1])
			} else {
				// \{{ is a literal {{.
				p.addText(pos, src[pos:start-1])
				p.addText(start-1, "{{")
				pos = start + 2
				continue
			}
		} else {
			p.addText(pos, src[pos:start])
		}
		next, err := p.tag(start)
		if err != nil {
			return err
		}
		pos = next
	}
	p.flushText(false)
	if len(p.stack) > 0 {
		b := p.stack[p.chainRoot(len(p.stack)-1)]
		return p.errorf(b.node.pos, "unclosed {{#"+b.name+"}}")
	}
	return nil
}

// addText queues text; the next tag decides whether its trailing whitespace stays.
func (p *parser) addText(pos int, s string) {
	if p.trimNext {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		p.trimNext = false
	}
	if s == "" {
		return
	}
	if p.text == "" {
		p.text, p.textPos = s, pos
		return
	}
	p.text += s
}

func (p *parser) flushText(trim bool) {
	s := p.text
	if trim {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	p.text = ""
	if s != "" {
		p.appendNode(node{kind: textNode, pos: p.textPos, text: s})
	}
}

// current is the list new nodes go to.
func (p *parser) current() *[]node {
	if len(p.stack) == 0 {
		return &p.nodes
	}
	b := &p.stack[len(p.stack)-1]
	if b.inElse {
		return &b.node.alt
	}
	return &b.node.body
}

func (p *parser) appendNode(n node) {
	l := p.current()
	*l = append(*l, n)
}

// chainRoot is the index of the block that {{else if}} block i belongs to.
func (p *parser) chainRoot(i int) int {
	for i > 0 && p.stack[i].chained {
		i--
	}
	return i
}

// inItem reports whether an {{#each}} item is in scope (this, @index, bare names).
func (p *parser) inItem() bool {
	for i := range p.stack {
		if b := &p.stack[i]; b.name == "each" && !b.inElse {
			return true
		}
	}
	return false
}

// tag parses the tag whose {{ is at start and returns the offset after its }}.
func (p *parser) tag(start int) (int, error) {
	src := p.src
	i := start + 2
	if i < len(src) && src[i] == '{' {
		return 0, p.errorf(start, "triple braces {{{…}}} are not needed: {{path}} never HTML-escapes; use {{path | escape}} to escape")
	}
	trimLeft := false
	if i < len(src) && src[i] == '~' {
		trimLeft = true
		i++
	}
	if i < len(src) && src[i] == '!' {
		return p.comment(start, i, trimLeft)
	}
	j := i
	for {
		if j+1 >= len(src) {
			return 0, p.errorf(start, `unclosed "{{": missing "}}"`)
		}
		c := src[j]
		if c == '"' || c == '\'' {
			k, ok := skipString(src, j)
			if !ok {
				return 0, p.errorf(j, "unterminated string")
			}
			j = k
			continue
		}
		if c == '}' && src[j+1] == '}' {
			break
		}
		if c == '{' && src[j+1] == '{' {
			return 0, p.errorf(start, `unclosed "{{": missing "}}" before the next "{{"`)
		}
		j++
	}
	end := j
	trimRight := false
	if end > i && src[end-1] == '~' {
		trimRight = true
		end--
	}
	p.flushText(trimLeft)
	if err := p.content(start, i, end); err != nil {
		return 0, err
	}
	p.trimNext = trimRight
	return j + 2, nil
}

// comment skips {{! … }} or {{!-- … --}} starting with the ! at i.
func (p *parser) comment(start, i int, trimLeft bool) (int, error) {
	src := p.src
	next, trimRight := -1, false
	if strings.HasPrefix(src[i:], "!--") {
		rest := src[i+3:]
		a, b := strings.Index(rest, "--}}"), strings.Index(rest, "--~}}")
		switch {
		case a >= 0 && (b < 0 || a < b):
			next = i + 3 + a + len("--}}")
		case b >= 0:
			next, trimRight = i+3+b+len("--~}}"), true
		default:
			return 0, p.errorf(start, `unclosed comment "{{!--": missing "--}}"`)
		}
	} else {
		k := strings.Index(src[i:], "}}")
		if k < 0 {
			return 0, p.errorf(start, `unclosed comment "{{!": missing "}}"`)
		}
		next, trimRight = i+k+2, k > 1 && src[i+k-1] == '~'
	}
	p.flushText(trimLeft)
	p.trimNext = trimRight
	return next, nil
}

// skipString returns the offset after the string literal whose quote is at i.
func skipString(src string, i int) (int, bool) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return j + 1, true
		}
	}
	return 0, false
}

var goKeywords = map[string]string{
	"if":       `Go-template syntax "{{if" is not supported; use {{#if path}} … {{/if}}`,
	"range":    `Go-template syntax "{{range" is not supported; use {{#each path}} … {{/each}}`,
	"with":     `Go-template syntax "{{with" is not supported; use {{#if path}} … {{/if}} and full paths`,
	"end":      `Go-template syntax "{{end}}" is not supported; close blocks with {{/if}}, {{/unless}} or {{/each}}`,
	"define":   `Go-template syntax "{{define" is not supported; a template cannot define or include others`,
	"template": `Go-template syntax "{{template" is not supported; a template cannot define or include others`,
	"block":    `Go-template syntax "{{block" is not supported; a template cannot define or include others`,
	"break":    `Go-template syntax "{{break}}" is not supported`,
	"continue": `Go-template syntax "{{continue}}" is not supported`,
}

var goFuncs = map[string]bool{
	"printf": true, "print": true, "println": true, "len": true, "index": true, "slice": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true, "and": true, "or": true,
	"not": true, "call": true, "html": true, "js": true, "urlquery": true,
}

// content parses the inside of a tag: src[i:end], the tag's {{ being at start.
func (p *parser) content(start, i, end int) error {
	p.i, p.end = i, end
	p.skipSpace()
	if p.i >= p.end {
		return p.errorf(start, "empty {{}}: write a variable such as {{$context.data.name}}")
	}
	src := p.src
	c := src[p.i]
	switch c {
	case '#':
		p.i++
		at := p.i
		name := p.word()
		switch name {
		case "if", "unless", "each":
		case "":
			return p.errorf(at, "expected if, unless or each after {{#")
		default:
			return p.errorf(at, "unknown block {{#"+name+"}}; blocks are {{#if}}, {{#unless}} and {{#each}}")
		}
		return p.open(start, name, false)
	case '/':
		p.i++
		if p.i < p.end && src[p.i] == '*' {
			return p.errorf(p.i-1, `Go-template comment "{{/*" is not supported; use {{!-- … --}}`)
		}
		return p.close(start)
	case '-':
		if p.i+1 >= p.end || isSpace(src[p.i+1]) {
			return p.errorf(p.i, `Go-template syntax "{{-" is not supported; use {{~ to trim whitespace`)
		}
	case '.':
		name := p.src[p.i+1 : p.i+1+identLen(p.src[p.i+1:p.end])]
		if name == "" {
			return p.errorf(p.i, `Go-template syntax "{{." is not supported; use a full path such as {{$context.data}}`)
		}
		return p.errorf(p.i, `Go-template syntax "{{.`+name+`" is not supported; use a full path such as {{$context.data.`+name+`}}`)
	case '>':
		return p.errorf(p.i, "partials {{> …}} are not supported")
	case '&':
		return p.errorf(p.i, "{{& …}} is not needed: {{path}} never HTML-escapes")
	case '^':
		return p.errorf(p.i, "{{^…}} is not supported; use {{#unless path}} or {{else}}")
	case '$':
		name := p.src[p.i+1 : p.i+1+identLen(p.src[p.i+1:p.end])]
		if name == "" {
			return p.errorf(p.i, `Go-template syntax "{{$" is not supported; use {{$context}}`)
		}
		rest := strings.TrimLeft(p.src[p.i+1+len(name):p.end], " \t\r\n")
		if strings.HasPrefix(rest, ":=") || (strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==")) {
			return p.errorf(p.i, `Go-template syntax "{{$`+name+` :=" is not supported; a template cannot declare variables`)
		}
	}
	at := p.i
	w := p.src[p.i : p.i+identLen(p.src[p.i:p.end])]
	if w == "else" {
		p.i += len(w)
		return p.elseTag(start)
	}
	if msg, ok := goKeywords[w]; ok {
		return p.errorf(at, msg)
	}
	if goFuncs[w] {
		rest := strings.TrimLeft(p.src[p.i+len(w):p.end], " \t\r\n")
		if len(rest) < len(p.src[p.i+len(w):p.end]) && rest != "" && rest[0] != '|' {
			return p.errorf(at, `Go-template syntax "{{`+w+`" is not supported; use a filter: {{path | filter}}`)
		}
	}
	e, err := p.expr()
	if err != nil {
		return err
	}
	if err := p.tagEnd(); err != nil {
		return err
	}
	p.appendNode(node{kind: exprNode, pos: start, expr: e})
	return nil
}

func (p *parser) open(start int, name string, chained bool) error {
	if len(p.stack) >= maxDepth {
		return p.errorf(start, "blocks nested more than "+strconv.Itoa(maxDepth)+" deep")
	}
	p.skipSpace()
	if p.i >= p.end {
		return p.errorf(start, "{{#"+name+"}} needs a value, e.g. {{#"+name+" $context.data.items}}")
	}
	e, err := p.expr()
	if err != nil {
		return err
	}
	n := node{pos: start, expr: e, kind: ifNode}
	switch name {
	case "unless":
		n.kind = unlessNode
	case "each":
		n.kind = eachNode
		if n.fit, err = p.eachOptions(); err != nil {
			return err
		}
	}
	if err := p.tagEnd(); err != nil {
		return err
	}
	p.stack = append(p.stack, openBlock{node: n, name: name, chained: chained})
	return nil
}

// eachOptions parses the options after an {{#each}}'s list: maxBytes=N and more="…".
func (p *parser) eachOptions() (*fit, error) {
	var f *fit
	moreAt := -1
	for {
		p.skipSpace()
		at := p.i
		opt := p.word()
		if opt == "" || p.i >= p.end || p.src[p.i] != '=' {
			p.i = at
			break
		}
		p.i++
		switch opt {
		case "maxBytes":
			k := p.i
			for k < p.end && '0' <= p.src[k] && p.src[k] <= '9' {
				k++
			}
			n, err := strconv.Atoi(p.src[p.i:k])
			if err != nil || n <= 0 {
				return nil, p.errorf(p.i, "maxBytes needs a positive whole number of bytes, e.g. maxBytes=1500")
			}
			p.i = k
			if f == nil {
				f = &fit{more: defaultMore}
			}
			f.maxBytes = n
		case "more":
			k, ok := skipString(p.src, p.i)
			if p.i >= p.end || (p.src[p.i] != '"' && p.src[p.i] != '\'') || !ok || k > p.end {
				return nil, p.errorf(p.i, `more needs a quoted text, e.g. more="… and {n} more"`)
			}
			if f == nil {
				f = &fit{}
			}
			f.more, moreAt = unquote(p.src[p.i:k]), at
			p.i = k
		default:
			return nil, p.errorf(at, "unknown option "+strconv.Quote(opt)+" of {{#each}}; options are maxBytes and more")
		}
	}
	if f != nil && f.maxBytes == 0 {
		return nil, p.errorf(moreAt, "more belongs with maxBytes, e.g. {{#each $context.data.items maxBytes=1500 more=\"… and {n} more\"}}")
	}
	return f, nil
}

func (p *parser) close(start int) error {
	at := p.i
	name := p.word()
	if name == "" {
		return p.errorf(at, "expected if, unless or each after {{/")
	}
	if err := p.tagEnd(); err != nil {
		return err
	}
	if len(p.stack) == 0 {
		return p.errorf(start, "{{/"+name+"}} without a matching {{#"+name+"}}")
	}
	root := p.chainRoot(len(p.stack) - 1)
	if b := &p.stack[root]; b.name != name {
		ob := newError(p.src, b.node.pos, "")
		return p.errorf(start, "{{/"+name+"}} does not match {{#"+b.name+"}} opened at line "+
			strconv.Itoa(ob.Line)+", column "+strconv.Itoa(ob.Column))
	}
	for len(p.stack) > root {
		b := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		p.appendNode(b.node)
	}
	return nil
}

// elseTag handles {{else}}, {{else if …}} and {{else unless …}}; the word else is consumed.
func (p *parser) elseTag(start int) error {
	if p.i < p.end && !isSpace(p.src[p.i]) {
		// else.field or else["x"]: a field named else of an {{#each}} item.
		p.i -= len("else")
		e, err := p.expr()
		if err != nil {
			return err
		}
		if err := p.tagEnd(); err != nil {
			return err
		}
		p.appendNode(node{kind: exprNode, pos: start, expr: e})
		return nil
	}
	if len(p.stack) == 0 {
		return p.errorf(start, "{{else}} outside {{#if}}, {{#unless}} or {{#each}}")
	}
	b := &p.stack[len(p.stack)-1]
	if b.inElse {
		root := p.stack[p.chainRoot(len(p.stack)-1)]
		ob := newError(p.src, root.node.pos, "")
		return p.errorf(start, "a second {{else}} in the {{#"+root.name+"}} opened at line "+
			strconv.Itoa(ob.Line)+", column "+strconv.Itoa(ob.Column))
	}
	b.inElse = true
	p.skipSpace()
	if p.i >= p.end {
		return nil
	}
	at := p.i
	switch w := p.word(); w {
	case "if", "unless":
		return p.open(start, w, true)
	default:
		return p.errorf(at, "expected }} or if/unless after else")
	}
}

// tagEnd checks that nothing but whitespace is left in the tag.
func (p *parser) tagEnd() error {
	p.skipSpace()
	if p.i >= p.end {
		return nil
	}
	rest := p.src[p.i:p.end]
	if rest == "-" {
		return p.errorf(p.i, `Go-template syntax "-}}" is not supported; use ~}} to trim whitespace`)
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if w := p.src[p.i : p.i+identLen(rest)]; w != "" {
		return p.errorf(p.i, "unexpected "+strconv.Quote(w)+"; use | to apply a filter, e.g. {{path | default \"-\"}}")
	}
	return p.errorf(p.i, "unexpected "+strconv.Quote(string(r)))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skipSpace() {
	for p.i < p.end && isSpace(p.src[p.i]) {
		p.i++
	}
}

// word consumes a run of name characters.
func (p *parser) word() string {
	n := identLen(p.src[p.i:p.end])
	w := p.src[p.i : p.i+n]
	p.i += n
	return w
}

func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// identLen is the length in bytes of the name at the start of s: letters, digits, _.
func identLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if c < utf8.RuneSelf {
			if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				n++
				continue
			}
			break
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if r == utf8.RuneError || !isIdentRune(r) {
			break
		}
		n += size
	}
	return n
}

const variablesHint = "variables start with $context, $jobs, $system or $env"

// expr parses a variable and its filters.
func (p *parser) expr() (*expr, error) {
	e := &expr{pos: p.i}
	if err := p.path(&e.path, false); err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if p.i >= p.end || p.src[p.i] != '|' {
			return e, nil
		}
		p.i++
		p.skipSpace()
		f := filterCall{pos: p.i}
		f.name = p.word()
		if f.name == "" {
			return nil, p.errorf(f.pos, "expected a filter name after |")
		}
		f.filter = filters[f.name]
		if f.filter == nil {
			return nil, p.errorf(f.pos, "unknown filter "+strconv.Quote(f.name)+"; filters are "+filterNames)
		}
		if err := p.filterArg(&f); err != nil {
			return nil, err
		}
		e.filters = append(e.filters, f)
	}
}

// filterArg parses and checks the argument of filter f, if it takes one.
func (p *parser) filterArg(f *filterCall) error {
	spec := f.filter
	p.skipSpace()
	at := p.i
	has := p.i < p.end && p.src[p.i] != '|'
	if spec.arg == noArg {
		if has {
			return p.errorf(at, "filter "+f.name+" takes no argument")
		}
		return nil
	}
	if !has {
		return p.errorf(f.pos, "filter "+f.name+" needs an argument, e.g. "+spec.example)
	}
	c := p.src[p.i]
	switch {
	case c == '"' || c == '\'':
		k, ok := skipString(p.src, p.i)
		if !ok || k > p.end {
			return p.errorf(at, "unterminated string")
		}
		f.arg.lit = unquote(p.src[p.i:k])
		p.i = k
	case c == '-' || '0' <= c && c <= '9':
		k := p.i
		if c == '-' {
			k++
		}
		digits := k
		for k < p.end && ('0' <= p.src[k] && p.src[k] <= '9' || p.src[k] == '.') {
			k++
		}
		num := p.src[p.i:k]
		if !validNumber(num) || k == digits {
			return p.errorf(at, "bad number "+strconv.Quote(num))
		}
		f.arg.lit = json.Number(num)
		p.i = k
	default:
		if w := p.src[p.i : p.i+identLen(p.src[p.i:p.end])]; w == "true" || w == "false" {
			f.arg.lit = w == "true"
			p.i += len(w)
			break
		}
		if spec.arg != anyArg {
			break // reported below
		}
		f.arg.path = new(path)
		if err := p.path(f.arg.path, true); err != nil {
			return err
		}
	}
	switch spec.arg {
	case stringArg:
		if _, ok := f.arg.lit.(string); !ok {
			return p.errorf(at, "filter "+f.name+" needs a quoted text argument, e.g. "+spec.example)
		}
	case pairArg:
		_, ok := f.arg.lit.(string)
		p.skipSpace()
		if !ok || p.i >= p.end || (p.src[p.i] != '"' && p.src[p.i] != '\'') {
			return p.errorf(at, "filter "+f.name+" needs two quoted texts, e.g. "+spec.example)
		}
		k, ok := skipString(p.src, p.i)
		if !ok || k > p.end {
			return p.errorf(p.i, "unterminated string")
		}
		f.arg.lit2 = unquote(p.src[p.i:k])
		p.i = k
	case countArg:
		num, _ := f.arg.lit.(json.Number)
		n, err := strconv.Atoi(string(num))
		if err != nil || n <= 0 {
			return p.errorf(at, "filter "+f.name+" needs a positive whole number, e.g. "+spec.example)
		}
		f.arg.n = n
	}
	if p.i < p.end && !isSpace(p.src[p.i]) && p.src[p.i] != '|' {
		return p.tagEnd()
	}
	return nil
}

// unquote decodes a string literal: \ escapes the next character; \n and \t are a newline and
// a tab.
func unquote(s string) string {
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			c = s[i]
			switch c {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// path parses a variable reference into pt. asArg is set for a filter argument.
func (p *parser) path(pt *path, asArg bool) error {
	src := p.src
	pt.pos = p.i
	c := src[p.i]
	switch {
	case c == '$':
		p.i++
		at := p.i
		name := p.word()
		switch name {
		case "context":
			pt.root = rootContext
		case "jobs":
			pt.root = rootJobs
		case "system":
			pt.root = rootSystem
		case "env":
			pt.root = rootEnv
		default:
			if name == "" {
				return p.errorf(at, "expected a variable name after $; "+variablesHint)
			}
			return p.errorf(pt.pos, "unknown variable $"+name+"; "+variablesHint)
		}
	case c == '@':
		p.i++
		at := p.i
		pt.root, pt.name = rootData, p.word()
		switch pt.name {
		case "index", "first", "last", "key":
		default:
			return p.errorf(at, "unknown @"+pt.name+"; inside {{#each}} use @index, @first, @last or @key")
		}
		if !p.inItem() {
			return p.errorf(pt.pos, "@"+pt.name+" is only available inside {{#each}}")
		}
		if p.i < p.end && (src[p.i] == '.' || src[p.i] == '[') {
			return p.errorf(p.i, "@"+pt.name+" has no fields")
		}
		return p.pathEnd(pt)
	default:
		at := p.i
		name := p.word()
		if name == "" {
			r, _ := utf8.DecodeRuneInString(src[p.i:p.end])
			if c == '"' || c == '\'' || c == '-' || '0' <= c && c <= '9' {
				return p.errorf(at, "expected a variable such as $context.data.name, not a literal")
			}
			return p.errorf(at, "unexpected "+strconv.Quote(string(r))+"; expected a variable such as $context.data.name")
		}
		if !p.inItem() {
			if name == "this" {
				return p.errorf(at, "this is only available inside {{#each}}")
			}
			msg := "unknown variable " + strconv.Quote(name) + "; " + variablesHint
			switch name {
			case "context", "jobs", "system", "env":
				msg += " (did you mean $" + name + "?)"
			default:
				if asArg {
					msg += `; quote text arguments: default "` + name + `"`
				}
			}
			return p.errorf(at, msg)
		}
		pt.root = rootThis
		if name != "this" {
			pt.addSeg(segment{key: name, index: index(name)})
		}
	}
	for p.i < p.end {
		switch src[p.i] {
		case '.':
			p.i++
			at := p.i
			name := p.word()
			if name == "" {
				return p.errorf(at, "expected a name after .")
			}
			pt.addSeg(segment{key: name, index: index(name)})
		case '[':
			at := p.i
			p.i++
			p.skipSpace()
			if p.i >= p.end {
				return p.errorf(at, `unclosed [: write ["key"] or [0]`)
			}
			var seg segment
			switch c := src[p.i]; {
			case c == '"' || c == '\'':
				k, ok := skipString(src, p.i)
				if !ok || k > p.end {
					return p.errorf(p.i, "unterminated string")
				}
				seg.key, seg.index = unquote(src[p.i:k]), -1
				p.i = k
			case '0' <= c && c <= '9':
				k := p.i
				for k < p.end && '0' <= src[k] && src[k] <= '9' {
					k++
				}
				seg.key = src[p.i:k]
				seg.index = index(seg.key)
				p.i = k
			default:
				return p.errorf(p.i, `expected a quoted key or a number in [ ]: write ["key"] or [0]`)
			}
			p.skipSpace()
			if p.i >= p.end || src[p.i] != ']' {
				return p.errorf(at, `unclosed [: write ["key"] or [0]`)
			}
			p.i++
			pt.addSeg(seg)
		default:
			return p.pathEnd(pt)
		}
	}
	return p.pathEnd(pt)
}

func (pt *path) addSeg(s segment) {
	if pt.segs == nil {
		pt.segs = make([]segment, 0, 4)
	}
	pt.segs = append(pt.segs, s)
}

// pathEnd checks what follows a path and the fields of $system and $env.
func (p *parser) pathEnd(pt *path) error {
	if p.i < p.end {
		c := p.src[p.i]
		if c == '-' && p.i+1 < p.end && !isSpace(p.src[p.i+1]) {
			k := p.i
			for k < p.end && (p.src[k] == '-' || identLen(p.src[k:p.end]) > 0) {
				if p.src[k] == '-' {
					k++
				} else {
					k += identLen(p.src[k:p.end])
				}
			}
			written := p.src[pt.pos:p.i]
			dot, bracket := strings.LastIndexByte(written, '.'), strings.LastIndexByte(written, ']')
			var prefix, key string
			switch {
			case dot > bracket:
				prefix, key = written[:dot], p.src[pt.pos+dot+1:k]
			case dot < 0 && bracket < 0 && pt.root == rootThis:
				prefix, key = "this", p.src[pt.pos:k]
			default:
				return p.errorf(p.i, `unexpected "-" after `+written+`; a key with "-" needs the bracket form, e.g. $context.headers["X-Request-Id"]`)
			}
			return p.errorf(p.i, `a key with "-" needs the bracket form: `+prefix+`[`+strconv.Quote(key)+`]`)
		}
		if !isSpace(c) && c != '|' {
			r, _ := utf8.DecodeRuneInString(p.src[p.i:p.end])
			return p.errorf(p.i, "unexpected "+strconv.Quote(string(r))+" after "+p.src[pt.pos:p.i])
		}
	}
	switch pt.root {
	case rootSystem:
		if len(pt.segs) == 0 {
			break
		}
		switch pt.segs[0].key {
		case "now", "date", "timestamp":
		default:
			return p.errorf(pt.pos, "unknown variable "+p.src[pt.pos:p.i]+"; $system has now, date and timestamp")
		}
		if len(pt.segs) > 1 {
			return p.errorf(pt.pos, "$system."+pt.segs[0].key+" has no fields")
		}
	case rootEnv:
		if len(pt.segs) > 1 {
			return p.errorf(pt.pos, "$env."+pt.segs[0].key+" has no fields")
		}
	}
	return nil
}

// index is the list index a key stands for, or -1.
func index(key string) int {
	if key == "" || len(key) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
