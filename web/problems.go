package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// problemTable translates the service's English sentences (field errors, refusals) into one
// language. The service and the API keep English, which machine clients read; the pages translate
// what they show. A sentence with no pattern stays English.
type problemTable struct {
	// exact are the patterns without verbs, by their English text.
	exact map[string]string
	// patterns have verbs, the longest literal text first, so "must be one of %s" wins over
	// "must be %s".
	patterns []problemPattern
}

// problemPattern is one English format (its %q, %d, %s and %v are the arguments) and its
// translation, whose verbs may name the arguments out of order (%[2]s).
type problemPattern struct {
	re    *regexp.Regexp
	verbs []byte
	text  string
	// literal is the length of the English text around the verbs.
	literal int
}

// verbRe finds the verbs of a format: %%, or %q, %d, %s, %v with an optional argument index.
var verbRe = regexp.MustCompile(`%(?:\[(\d+)\])?([qdsv%])`)

// argRes match an argument by its verb in a message.
var argRes = map[byte]string{'q': `("(?:[^"\\]|\\.)*")`, 'd': `(-?\d+)`, 's': `(.+?)`, 'v': `(.+?)`}

// loadProblemTables reads i18n/problems/<lang>.json: English format → translated format.
func loadProblemTables(fsys fs.FS) (map[string]*problemTable, error) {
	tables := map[string]*problemTable{}
	for _, lang := range languages[1:] {
		raw, err := fs.ReadFile(fsys, path.Join("i18n", "problems", lang+".json"))
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("web: problems %s: %w", lang, err)
		}
		// WeCom's hints ride in the reasons stored with failed sends and syncs; plugin/wecom has
		// them in both languages already.
		maps.Copy(m, wecom.HintFormats(lang))
		t, err := newProblemTable(m)
		if err != nil {
			return nil, fmt.Errorf("web: problems %s: %w", lang, err)
		}
		tables[lang] = t
	}
	return tables, nil
}

func newProblemTable(m map[string]string) (*problemTable, error) {
	t := &problemTable{exact: map[string]string{}}
	for en, text := range m {
		p, err := compilePattern(en, text)
		if err != nil {
			return nil, err
		}
		if len(p.verbs) == 0 {
			t.exact[en] = text
			continue
		}
		t.patterns = append(t.patterns, p)
	}
	sort.Slice(t.patterns, func(i, j int) bool { return t.patterns[i].literal > t.patterns[j].literal })
	return t, nil
}

// compilePattern checks that text uses exactly en's arguments, each with its own verb, and
// turns en into the regexp that matches the messages it formats.
func compilePattern(en, text string) (problemPattern, error) {
	p := problemPattern{text: text, literal: len(verbRe.ReplaceAllString(en, ""))}
	if strings.TrimSpace(verbRe.ReplaceAllString(en, "")) == "" {
		// A bare "%s" would match every message.
		return p, fmt.Errorf("%q has no text of its own", en)
	}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, m := range verbRe.FindAllStringSubmatchIndex(en, -1) {
		re.WriteString(regexp.QuoteMeta(en[last:m[0]]))
		last = m[1]
		verb := en[m[4]]
		if verb == '%' {
			re.WriteString("%")
			continue
		}
		if m[2] >= 0 {
			return p, fmt.Errorf("%q: the English format takes its arguments in order", en)
		}
		p.verbs = append(p.verbs, verb)
		re.WriteString(argRes[verb])
	}
	re.WriteString(regexp.QuoteMeta(en[last:]) + "$")
	p.re = regexp.MustCompile(re.String())
	if text == "" {
		return p, fmt.Errorf("%q has no translation", en)
	}
	used := make([]bool, len(p.verbs))
	next := 0
	for _, m := range verbRe.FindAllStringSubmatch(text, -1) {
		if m[2] == "%" {
			continue
		}
		i := next
		if m[1] != "" {
			i, _ = strconv.Atoi(m[1])
			i--
		}
		next = i + 1
		if i < 0 || i >= len(p.verbs) || p.verbs[i] != m[2][0] {
			return p, fmt.Errorf("%q: the translation %q does not use the argument %d with its verb", en, text, i+1)
		}
		used[i] = true
	}
	for i, ok := range used {
		if !ok {
			return p, fmt.Errorf("%q: the translation %q leaves out argument %d", en, text, i+1)
		}
	}
	return p, nil
}

// translate is msg in the table's language, or msg when no pattern matches it. A %s argument
// is itself translated (a resource's name, a nested sentence); a message moved off its own
// field ("to.users[1]: is required") keeps its path.
func (t *problemTable) translate(msg string) string {
	if t == nil || msg == "" {
		return msg
	}
	if s, ok := t.exact[msg]; ok {
		return s
	}
	for _, p := range t.patterns {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		args := make([]any, len(p.verbs))
		for i, verb := range p.verbs {
			switch verb {
			case 'q':
				args[i], _ = strconv.Unquote(m[i+1])
			case 'd':
				args[i], _ = strconv.Atoi(m[i+1])
			default:
				args[i] = t.sentences(m[i+1])
			}
		}
		return fmt.Sprintf(p.text, args...)
	}
	if field, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(field, " ") {
		if s := t.translate(rest); s != rest {
			return field + ": " + s
		}
	}
	return msg
}

// sentences is translate for a text that may join several of the service's sentences (a failed
// message's reason is its requests' reasons, one after another): the whole text if the table
// knows it, else the shortest first sentence it knows and the rest in turn. A sentence it does
// not know stays English; the ones after it are still translated.
func (t *problemTable) sentences(msg string) string {
	if len(msg) > maxSentencesText {
		// Past any reason the service writes: shown as it is rather than matched at length.
		return msg
	}
	if s := t.translate(msg); t == nil || s != msg {
		return s
	}
	first := -1
	// A first sentence is looked for among the first few ". ": one of the service's holds fewer,
	// and a long text of unknown ones then costs a few tries per sentence, not a try per pair.
	for i, tries := 0, 0; tries < maxSentenceStops; tries++ {
		j := strings.Index(msg[i:], ". ")
		if j < 0 {
			break
		}
		end := i + j + 1
		if first < 0 {
			first = end
		}
		if head, said := msg[:end], t.translate(msg[:end]); said != head {
			return said + t.sentences(msg[end+1:])
		}
		i = end + 1
	}
	if first < 0 {
		return msg
	}
	return msg[:first+1] + t.sentences(msg[first+1:])
}

// maxSentenceStops is how many ". " sentences looks through for the end of a first sentence, and
// maxSentencesText the longest text it translates.
const (
	maxSentenceStops = 8
	maxSentencesText = 8 << 10
)

// answerRe finds, in a stored reason (English or translated), WeCom's own words about an error:
// its errmsg after the errcode, or why it could not be reached. They stay as WeCom (or the
// network) said them.
var answerRe = regexp.MustCompile(`((?:WeCom errcode|企业微信错误码) -?\d+ ?[(（])(.*?)([)）][.。])|((?:WeCom could not be reached: |无法连接企业微信：))(.*?)([.。]$|[.。] )`)

// reasonHTML is a stored reason in lang's table, with WeCom's errmsg set as code.
func (t *problemTable) reasonHTML(msg string) template.HTML {
	s := template.HTMLEscapeString(t.sentences(msg))
	return template.HTML(answerRe.ReplaceAllStringFunc(s, func(m string) string {
		g := answerRe.FindStringSubmatch(m)
		if g[1] != "" {
			return g[1] + "<code>" + g[2] + "</code>" + g[3]
		}
		return g[4] + "<code>" + g[5] + "</code>" + g[6]
	}))
}

// fields translates every message of fe; nil stays nil.
func (t *problemTable) fields(fe problem.Fields) problem.Fields {
	if t == nil || fe == nil {
		return fe
	}
	out := make(problem.Fields, len(fe))
	for k, v := range fe {
		out[k] = t.translate(v)
	}
	return out
}

// SaidIn is what the service said beside an answer (a preview's warnings) in the language the
// request asks for with Accept-Language, as InLanguage does for errors.
func (u *UI) SaidIn(acceptLanguage string, said []string) []string {
	t := u.problems[acceptedLanguage(acceptLanguage)]
	if t == nil {
		return said
	}
	out := make([]string, len(said))
	for i, s := range said {
		out[i] = t.sentences(s)
	}
	return out
}

// InLanguage is an API error in the language the request asks for with Accept-Language: the
// pages' scripts send theirs, so the API's refusals show in the page's language. The code and
// the field paths stay; without a language the UI translates into, se is returned as it is.
func (u *UI) InLanguage(acceptLanguage string, se *problem.Error) *problem.Error {
	t := u.problems[acceptedLanguage(acceptLanguage)]
	if t == nil {
		return se
	}
	out := *se
	out.Message, out.Fields = t.translate(se.Message), t.fields(se.Fields)
	if len(se.Fields) > 0 && se.Message == problem.Invalid(se.Fields).Message {
		// "Some fields are not valid: " and the fields: each field's sentence is translated.
		out.Message = t.translate(problem.Invalid(out.Fields).Message)
	}
	return &out
}
