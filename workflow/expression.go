package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/wecomflow/wecomflow/template"
)

// roots are the variable roots of templates, as expressions spell them. expr-lang identifiers
// cannot start with "$" except its own $env, so "$context" is compiled as "_context": the same
// length, so positions in errors stay true.
var roots = []string{"context", "jobs", "system", "env"}

// Expression is a compiled condition (SPEC §4.3): expr-lang syntax over the template roots —
// $context.data.amount > 1000 && $jobs.ask.response.eventKey == "approve".
type Expression struct {
	src     string
	program *vm.Program
}

// compileEnv types the roots for the compiler: maps of anything, so any path type-checks and
// a name outside the roots is an error.
var compileEnv = map[string]any{"_context": map[string]any{}, "_jobs": map[string]any{}, "_system": map[string]any{}, "_env": map[string]any{}}

// CompileExpression parses an expression; an error names the line and column.
func CompileExpression(src string) (*Expression, error) {
	rewritten, err := rewriteRoots(src)
	if err != nil {
		return nil, err
	}
	program, err := expr.Compile(rewritten, expr.Env(compileEnv), expr.Patch(nilSafe{}),
		// The time is $system.now, from the server's clock (tests inject one); now() would bypass it.
		expr.DisableBuiltin("now"))
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("line %d, column %d: %s", fe.Line, fe.Column+1, fe.Message)
		}
		return nil, err
	}
	return &Expression{src: src, program: program}, nil
}

// expression compiles src once per engine: definitions never change, so neither do their
// expressions.
func (e *Engine) expression(src string) (*Expression, error) {
	if x, ok := e.exprs.Load(src); ok {
		return x.(*Expression), nil
	}
	x, err := CompileExpression(src)
	if err == nil {
		e.exprs.Store(src, x)
	}
	return x, err
}

// nilSafe makes every member access optional, as if written "?.": a path through a missing value
// is nil, as it renders empty in a template — $jobs.ask.response.eventKey == "approve" is false,
// not an error, when ask did not run.
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	if m, ok := (*node).(*ast.MemberNode); ok && !m.Method {
		m.Optional = true
		ast.Patch(node, &ast.ChainNode{Node: m})
	}
}

// rewriteRoots turns $context, $jobs, $system and $env outside string literals into _context, …
// and rejects any other $name.
func rewriteRoots(src string) (string, error) {
	b := []byte(src)
	line, col := 1, 1
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '$':
			name := identAt(src, i+1)
			known := false
			for _, r := range roots {
				known = known || name == r
			}
			if !known {
				return "", fmt.Errorf("line %d, column %d: unknown variable $%s: use $context, $jobs, $system or $env", line, col, name)
			}
			b[i] = '_'
		}
		if c == '\n' {
			line, col = line+1, 1
		} else if c < 0x80 || c >= 0xC0 {
			col++
		}
	}
	return string(b), nil
}

func identAt(s string, i int) string {
	j := i
	for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > i && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	return s[i:j]
}

// JobKeys are the node keys the expression reads through $jobs ($jobs.ask… or $jobs["ask"]…),
// so saving can refuse a key that no node has.
func (e *Expression) JobKeys() []string {
	var v jobKeys
	root := e.program.Node()
	ast.Walk(&root, &v)
	return v
}

type jobKeys []string

func (v *jobKeys) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "_jobs" {
		if key, ok := m.Property.(*ast.StringNode); ok {
			*v = append(*v, key.Value)
		}
	}
}

// Eval runs the expression over the variables and reports whether the result is truthy: false
// for false, nil, 0, "" and empty lists and maps.
func (e *Expression) Eval(v Vars) (bool, any, error) {
	out, err := expr.Run(e.program, map[string]any{
		"_context": plain(v.Context), "_jobs": plain(v.Jobs), "_env": stringMap(v.Env),
		"_system": map[string]any{"now": v.Now.Format(time.RFC3339), "date": v.Now.Format("2006-01-02"), "timestamp": v.Now.Unix()},
	})
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return false, nil, errors.New(fe.Message)
		}
		return false, nil, err
	}
	return template.Truthy(out), out, nil
}

// Vars are what an expression reads.
type Vars struct {
	Context map[string]any
	Jobs    map[string]any
	Env     map[string]string
	Now     time.Time
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// plain turns the exact json.Numbers of stored data into int64 or float64, which expressions
// compare and compute with.
func plain(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return int(n)
		}
		f, _ := v.Float64()
		return f
	}
	return v
}
