package workflow

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// vars is what a condition sees in the tests: data as stored (numbers as json.Number), a job
// result, an allowed env name and a fixed time.
func vars() Vars {
	return Vars{
		Context: map[string]any{"data": map[string]any{
			"amount": json.Number("5000"), "price": json.Number("12.5"), "paid": true, "note": "costs $5",
			"list": []any{}, "items": []any{json.Number("1"), json.Number("2")}, "name": "", "zero": json.Number("0"),
			"order-id": json.Number("7"), "empty": map[string]any{},
		}},
		Jobs: map[string]any{"ask": map[string]any{"response": map[string]any{"eventKey": "approve", "userid": "zhangsan"}},
			"wait": map[string]any{"until": "2026-11-02T10:00:00Z"}},
		Env: map[string]string{"REGION": "cn"},
		Now: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC),
	}
}

func TestExpressionEval(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src    string
		truthy bool
		value  any
	}{
		// Every root.
		{`$context.data.paid`, true, true},
		{`$jobs.ask.response.eventKey == "approve"`, true, true},
		{`$jobs["ask"].response.userid`, true, "zhangsan"},
		{`$system.now`, true, "2026-11-02T09:30:00Z"},
		{`$system.date == "2026-11-02"`, true, true},
		{`$system.timestamp`, true, int64(1793611800)},
		{`$env.REGION == "cn"`, true, true},
		{`$env.HOME`, false, nil},
		{`$context.data["order-id"] == 7`, true, true},
		// Stored numbers compare and compute as numbers, integers and decimals alike.
		{`$context.data.amount > 1000`, true, true},
		{`$context.data.amount == 5000`, true, true},
		{`$context.data.amount > 1000.5 && $context.data.amount < 5000.5`, true, true},
		{`$context.data.price * 2 == 25`, true, true},
		{`$context.data.price < $context.data.amount`, true, true},
		{`$context.data.amount`, true, 5000},
		{`$context.data.items[1] + 1 == 3`, true, true},
		// Truthiness: false, nil, 0, "" and empty lists and maps are false.
		{`$context.data.missing`, false, nil},
		{`$context.data.list`, false, []any{}},
		{`$context.data.empty`, false, map[string]any{}},
		{`$context.data.items`, true, []any{1, 2}},
		{`$context.data.name`, false, ""},
		{`$context.data.note`, true, "costs $5"},
		{`$context.data.zero`, false, 0},
		{`!$context.data.paid`, false, false},
		{`len($context.data.list) == 0`, true, true},
		// A $ inside a string literal is text, not a root; quotes and escapes are respected.
		{`$context.data.note == "costs $5"`, true, true},
		{`'$context' == "$" + "context"`, true, true},
		{"`$jobs.ask` != $jobs.ask.response.eventKey", true, true},
		{`"a \" $context" == 'a " $' + "context"`, true, true},
		{`$context.data.note contains '$'`, true, true},
	}
	for _, c := range cases {
		x, err := CompileExpression(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		truthy, value, err := x.Eval(vars())
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if truthy != c.truthy || toJSON(value) != toJSON(c.value) {
			t.Errorf("%s = %#v (truthy %v), want %#v (truthy %v)", c.src, value, truthy, c.value, c.truthy)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A compile error names the line and column (counted in characters) of the problem.
func TestExpressionErrorsNameThePosition(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		{`$context.data.amount > 1000 )`, "line 1, column 29: unexpected token"},
		{"$context.data.amount > 1000 &&\n  )", "line 2, column 3: unexpected token"},
		{`"订单" == $context.data.kind )`, "line 1, column 28:"},
		{`$context.data.amount = 5`, "line 1, column 22:"},
		{`$foo.bar > 1`, "line 1, column 1: unknown variable $foo: use $context, $jobs, $system or $env"},
		{`$context.data.amount > 1 && $data.x`, "line 1, column 29: unknown variable $data"},
		{"\"é\" == $context.data.x ||\n\t$ctx", "line 2, column 2: unknown variable $ctx"},
		{`$ > 1`, "line 1, column 1: unknown variable $:"},
		{`amount > 1000`, "line 1, column 1: unknown name amount"},
		{`"$nope" == $nope`, "line 1, column 12: unknown variable $nope"},
	}
	for _, c := range cases {
		_, err := CompileExpression(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to say %q", c.src, err, c.want)
		}
	}
}

// JobKeys names the nodes an expression reads, whichever way it spells the access, and nothing
// inside a string literal.
func TestExpressionJobKeys(t *testing.T) {
	t.Parallel()
	x, err := CompileExpression(`$jobs.ask.response.eventKey == "approve" && $jobs["wait"].until != "" || "$jobs.text" == $context.data.jobs`)
	if err != nil {
		t.Fatal(err)
	}
	got := x.JobKeys()
	slices.Sort(got)
	if !slices.Equal(got, []string{"ask", "wait"}) {
		t.Fatalf("JobKeys = %v, want [ask wait]", got)
	}
}

// A path through a missing value is nil, as in templates, not an error.
func TestExpressionPathsThroughMissingValuesAreNil(t *testing.T) {
	vars := Vars{Context: map[string]any{"data": map[string]any{"amount": json.Number("5")}}, Jobs: map[string]any{}}
	for src, want := range map[string]bool{
		`$jobs.ask.response.eventKey == "approve"`:    false,
		`$jobs.ask.response.eventKey != "approve"`:    true,
		`$context.data.items[0].name == nil`:          true,
		`($context.data.missing.deep ?? 0) < 1`:       true,
		`$context.data.amount > 1 && $jobs.x == nil`:  true,
		`len($context.data.nothing?.list ?? []) == 0`: true,
	} {
		x, err := CompileExpression(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, _, err := x.Eval(vars)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
}
