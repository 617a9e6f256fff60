package web

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// englishRe finds an English phrase: three words in a row.
var englishRe = regexp.MustCompile(`[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}`)

// TestProblemTable: every pattern has a translation that uses its arguments, and a message made
// from the English format comes out as the translation with the same arguments.
func TestProblemTable(t *testing.T) {
	raw, err := fs.ReadFile(files, "i18n/problems/zh-CN.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	maps.Copy(m, wecom.HintFormats("zh-CN"))
	tables, err := loadProblemTables(files)
	if err != nil {
		t.Fatal(err)
	}
	zh := tables["zh-CN"]
	for en, text := range m {
		p, err := compilePattern(en, text)
		if err != nil {
			t.Error(err)
			continue
		}
		args := make([]any, len(p.verbs))
		for i, verb := range p.verbs {
			args[i] = map[byte]any{'q': "a b", 'd': 7, 's': "x", 'v': "x"}[verb]
		}
		if got, want := zh.translate(fmt.Sprintf(en, args...)), fmt.Sprintf(text, args...); got != want {
			t.Errorf("%q: got %q, want %q", en, got, want)
		}
		if s := englishRe.FindString(text); s != "" {
			t.Errorf("%q: the translation %q has English (%q)", en, text, s)
		}
	}
	if got, want := zh.translate("to.users[1]: Channel does not exist."), "to.users[1]: 通道不存在。"; got != want {
		t.Errorf("a folded message: got %q, want %q", got, want)
	}
	if got := zh.translate("not a known sentence"); got != "not a known sentence" {
		t.Errorf("an unknown sentence changed: %q", got)
	}
}

// TestStoredReasons: a failed message's reason, which joins its requests' reasons, WeCom's hints
// and the sender's own sentences, comes out in Chinese sentence by sentence, with WeCom's errmsg
// as it said it, in code; a sentence the table does not know stays, and the ones around it do not.
func TestStoredReasons(t *testing.T) {
	tables, err := loadProblemTables(files)
	if err != nil {
		t.Fatal(err)
	}
	zh := tables["zh-CN"]
	for _, tt := range []struct{ stored, want string }{
		{"WeCom errcode 81013 (user & party & tag all invalid). None of the recipients can receive messages from this app: check the userids and the app's visible range (可见范围).",
			"企业微信错误码 81013（<code>user &amp; party &amp; tag all invalid</code>）。没有一个接收人能收到这个应用的消息：请核对 userid 和应用的可见范围。"},
		{"WeCom errcode 60020 (not allow to access from your ip, from ip: 10.1.2.3). WeCom refuses calls from 10.1.2.3: add it to the app's 企业可信IP (应用管理 → the app → 企业可信IP). Gave up after 3 attempts.",
			"企业微信错误码 60020（<code>not allow to access from your ip, from ip: 10.1.2.3</code>）。企业微信拒绝来自 10.1.2.3 的调用：请把它加入应用的企业可信IP（应用管理 → 该应用 → 企业可信IP）。 已尝试 3 次，不再重试。"},
		{"WeCom errcode 40003 (invalid userid). A userid is not valid in this corp. An unknown sentence. WeCom errcode 82001 (a. b). The message has no recipients.",
			"企业微信错误码 40003（<code>invalid userid</code>）。有 userid 在本企业中无效。An unknown sentence. 企业微信错误码 82001（<code>a. b</code>）。消息没有接收人。"},
		{"node notify: WeCom could not be reached: dial tcp: i/o timeout.", "节点 notify：无法连接企业微信：<code>dial tcp: i/o timeout</code>。"},
	} {
		if got := string(zh.reasonHTML(tt.stored)); got != tt.want {
			t.Errorf("%q\n got %q\nwant %q", tt.stored, got, tt.want)
		}
	}
	// Many sentences the table does not know, then one it knows: that one is still translated.
	unknown := strings.Repeat("Some words we do not know. ", 100)
	if got, want := zh.sentences(unknown+"The message has no recipients."), unknown+"消息没有接收人。"; got != want {
		t.Errorf("after 100 unknown sentences: got …%q", got[max(0, len(got)-60):])
	}
	if got, want := string(tables["en"].reasonHTML("WeCom errcode 7 (<b>x</b>). Gave up after 2 attempts.")),
		"WeCom errcode 7 (<code>&lt;b&gt;x&lt;/b&gt;</code>). Gave up after 2 attempts."; got != want {
		t.Errorf("in English: got %q, want %q", got, want)
	}
}

// TestProblemCoverage counts the messages of web/, service/, message/, workflow/, plugin/,
// problem/ and template/ (the formats sourceMessages finds) that the table translates, and fails
// on the others: they would show in English on a Chinese page.
func TestProblemCoverage(t *testing.T) {
	tables, err := loadProblemTables(files)
	if err != nil {
		t.Fatal(err)
	}
	zh := tables["zh-CN"]
	found := sourceMessages(t, ".", "../service", "../message", "../workflow", "../plugin", "../problem", "../template")
	var left []string
	for _, f := range found {
		if sample := strings.NewReplacer("%q", `"x"`, "%d", "7", "%s", "x", "%v", "x", "%%", "%").Replace(f); zh.translate(sample) == sample {
			left = append(left, f)
		}
	}
	t.Logf("translated %d of %d messages found", len(found)-len(left), len(found))
	for _, f := range left {
		t.Errorf("in English on a Chinese page: %q (add it to i18n/problems/zh-CN.json)", f)
	}
}

// sourceMessages are the literal formats of the messages the code under dirs gives users; a
// part computed at run time reads as %s (%d for strconv.Itoa).
func sourceMessages(t *testing.T, dirs ...string) []string {
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() && d.Name() == "wecomtest" {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				for _, msg := range messageArgs(n) {
					if s, literal := formatOf(msg); literal && strings.Trim(s, "%sdqv ") != "" {
						seen[s] = true
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// messageArgs are the messages of a call or literal that makes a user's error: Invalidf,
// problem.Errorf, Fields.Add and plugin/wecom's validator.fail, a problem.Fields literal, an
// Error's Message; a warning; a stored reason (storedReasons).
func messageArgs(n ast.Node) []ast.Expr {
	switch n := n.(type) {
	case *ast.CallExpr:
		if f, ok := n.Fun.(*ast.Ident); ok && f.Name == "append" && len(n.Args) >= 2 {
			// A render's or a recipient's warning: append(r.warnings, fmt.Sprintf(…)).
			if s, ok := n.Args[0].(*ast.SelectorExpr); ok && s.Sel.Name == "warnings" {
				return n.Args[1:]
			}
		}
		s, ok := n.Fun.(*ast.SelectorExpr)
		switch {
		case !ok:
		case s.Sel.Name == "warn" && len(n.Args) >= 1:
			return n.Args[:1]
		case s.Sel.Name == "Invalidf" && len(n.Args) >= 2, s.Sel.Name == "Errorf" && len(n.Args) >= 2 && fmt.Sprint(s.X) == "problem",
			(s.Sel.Name == "Add" || s.Sel.Name == "fail") && len(n.Args) == 2:
			return n.Args[1:2]
		case storedReasons[s.Sel.Name] && len(n.Args) >= 2:
			// A workflow job's or execution's error: r.end(j, status, msg), r.finish(status, msg).
			return n.Args[len(n.Args)-1:]
		}
	case *ast.AssignStmt:
		if s, ok := n.Lhs[0].(*ast.SelectorExpr); ok && storedReasons[s.Sel.Name] && len(n.Rhs) == 1 {
			return n.Rhs
		}
	case *ast.CompositeLit:
		if s, ok := n.Type.(*ast.SelectorExpr); ok && s.Sel.Name == "Fields" && fmt.Sprint(s.X) == "problem" {
			var out []ast.Expr
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					out = append(out, kv.Value)
				}
			}
			return out
		}
	case *ast.KeyValueExpr:
		if k, ok := n.Key.(*ast.Ident); ok && (k.Name == "Message" || storedReasons[k.Name]) {
			return []ast.Expr{n.Value}
		}
	}
	return nil
}

// storedReasons name the fields and calls that store a sentence pages show later: a message's or
// request's Reason, a job's or event's Error, a mass message's RefreshError, a job's end.
var storedReasons = map[string]bool{"Reason": true, "Error": true, "RefreshError": true, "end": true, "endPending": true, "finish": true}

// formatOf reads a message expression as a format; literal says whether any of it is literal.
func formatOf(e ast.Expr) (format string, literal bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, _ := strconv.Unquote(e.Value)
			return s, true
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			a, ok1 := formatOf(e.X)
			b, ok2 := formatOf(e.Y)
			return a + b, ok1 || ok2
		}
	case *ast.ParenExpr:
		return formatOf(e.X)
	case *ast.CallExpr:
		if s, ok := e.Fun.(*ast.SelectorExpr); ok {
			switch s.Sel.Name {
			case "Sprintf":
				return formatOf(e.Args[0])
			case "Itoa":
				return "%d", false
			}
		}
	}
	return "%s", false
}
