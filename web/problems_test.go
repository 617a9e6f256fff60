package web

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
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

// TestProblemCoverage counts the messages of web/, service/, message/, workflow/, plugin/,
// problem/ and template/ (the formats sourceMessages finds) that the table translates, and lists
// the others (go test -v): they show in English.
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
		t.Logf("in English: %q", f)
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
// Error's Message.
func messageArgs(n ast.Node) []ast.Expr {
	switch n := n.(type) {
	case *ast.CallExpr:
		s, ok := n.Fun.(*ast.SelectorExpr)
		switch {
		case !ok:
		case s.Sel.Name == "Invalidf" && len(n.Args) >= 2, s.Sel.Name == "Errorf" && len(n.Args) >= 2 && fmt.Sprint(s.X) == "problem",
			(s.Sel.Name == "Add" || s.Sel.Name == "fail") && len(n.Args) == 2:
			return n.Args[1:2]
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
		if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Message" {
			return []ast.Expr{n.Value}
		}
	}
	return nil
}

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
