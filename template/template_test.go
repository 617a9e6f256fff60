package template

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// decode reads JSON the way the server does: numbers as json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

var shanghai = time.FixedZone("CST", 8*3600)

func testVars(t testing.TB) Vars {
	return Vars{
		Context: decode(t, `{
			"data": {
				"id": 42, "amount": 1234.5, "paid": true, "unpaid": false, "zero": 0, "empty": "", "none": null,
				"customer": "张三 <vip>", "padded": "  hi  ",
				"items": [{"name": "apple", "qty": 2}, {"name": "pear", "qty": 0}, {"name": "plum", "qty": 1}],
				"tags": ["a", "b"], "nothing": [], "nomap": {},
				"approvers": ["zhangsan", "lisi"],
				"prices": {"b": 2, "a": 1},
				"matrix": [[1, 2], [3]],
				"created": "2024-05-01T02:03:04Z", "unix": 1714528984, "unixms": 1714528984000,
				"user-name": "dash", "with space": "space", "a.b": "dot"
			},
			"headers": {"X-Request-Id": "req-1"}
		}`),
		Jobs:     decode(t, `{"ask": {"status": "resolved", "response": {"eventKey": "approve", "userid": "zhangsan"}}}`),
		Env:      map[string]string{"REGION": "cn-east"},
		Now:      time.Date(2024, 5, 1, 2, 3, 4, 0, time.UTC),
		Location: shanghai,
	}
}

func render(t *testing.T, src string, v Vars) string {
	t.Helper()
	tmpl, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	out, err := tmpl.Render(v)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return out
}

func TestRender(t *testing.T) {
	t.Parallel()
	vars := testVars(t)
	tests := []struct {
		name, src, want string
	}{
		{"plain text", "no placeholders here", "no placeholders here"},
		{"variable", "Order {{$context.data.id}} paid", "Order 42 paid"},
		{"spaces inside braces", "{{  $context.data.id  }}", "42"},
		{"chinese text around", "订单{{$context.data.id}}已支付", "订单42已支付"},
		{"jobs", "{{$jobs.ask.response.eventKey}} by {{$jobs.ask.response.userid}}", "approve by zhangsan"},
		{"system now in render zone", "{{$system.now}}", "2024-05-01T10:03:04+08:00"},
		{"system date", "{{$system.date}}", "2024-05-01"},
		{"system timestamp", "{{$system.timestamp}}", "1714528984"},
		{"env", "{{$env.REGION}}", "cn-east"},
		{"env not given", "[{{$env.SECRET}}]", "[]"},
		{"list index", "{{$context.data.items.1.name}}", "pear"},
		{"list index brackets", "{{$context.data.items[2].name}}", "plum"},
		{"nested list", "{{$context.data.matrix.0.1}}", "2"},
		{"bracket key with dash", `{{$context.headers["X-Request-Id"]}}`, "req-1"},
		{"bracket key single quotes", `{{$context.data['with space']}}`, "space"},
		{"bracket key with dot", `{{$context.data["a.b"]}}`, "dot"},
		{"bracket then dot", `{{$context["data"].items.0.name}}`, "apple"},
		{"bool", "{{$context.data.paid}}/{{$context.data.unpaid}}", "true/false"},
		{"null", "[{{$context.data.none}}]", "[]"},
		{"list as json", "{{$context.data.tags}}", `["a","b"]`},
		{"map as json, keys sorted", "{{$context.data.prices}}", `{"a":1,"b":2}`},
		{"no html escaping", "{{$context.data.customer}}", "张三 <vip>"},

		{"missing key", "[{{$context.data.nope}}]", "[]"},
		{"missing deep", "[{{$context.data.nope.deeper.still}}]", "[]"},
		{"index out of range", "[{{$context.data.items.9.name}}]", "[]"},
		{"step into a string", "[{{$context.data.customer.length}}]", "[]"},
		{"step into a number", "[{{$context.data.id.0}}]", "[]"},
		{"name on a list", "[{{$context.data.items.name}}]", "[]"},
		{"missing job", "[{{$jobs.later.response.eventKey}}]", "[]"},
		{"missing system field", "[{{$system}}]", `[{"date":"2024-05-01","now":"2024-05-01T10:03:04+08:00","timestamp":1714528984}]`},

		{"if true", "{{#if $context.data.paid}}yes{{/if}}", "yes"},
		{"if false", "[{{#if $context.data.unpaid}}yes{{/if}}]", "[]"},
		{"if else", "{{#if $context.data.unpaid}}yes{{else}}no{{/if}}", "no"},
		{"if missing", "{{#if $context.data.nope}}yes{{else}}no{{/if}}", "no"},
		{"if zero", "{{#if $context.data.zero}}yes{{else}}no{{/if}}", "no"},
		{"if empty string", "{{#if $context.data.empty}}yes{{else}}no{{/if}}", "no"},
		{"if empty list", "{{#if $context.data.nothing}}yes{{else}}no{{/if}}", "no"},
		{"if empty map", "{{#if $context.data.nomap}}yes{{else}}no{{/if}}", "no"},
		{"if list", "{{#if $context.data.tags}}yes{{else}}no{{/if}}", "yes"},
		{"if number", "{{#if $context.data.amount}}yes{{else}}no{{/if}}", "yes"},
		{"else if", "{{#if $context.data.unpaid}}a{{else if $context.data.paid}}b{{else}}c{{/if}}", "b"},
		{"else if falls through", "{{#if $context.data.unpaid}}a{{else if $context.data.zero}}b{{else}}c{{/if}}", "c"},
		{"else unless", "{{#if $context.data.unpaid}}a{{else unless $context.data.zero}}b{{/if}}", "b"},
		{"unless", "{{#unless $context.data.unpaid}}not paid{{/unless}}", "not paid"},
		{"unless else", "{{#unless $context.data.paid}}not paid{{else}}paid{{/unless}}", "paid"},
		{"if with filter", `{{#if $context.data.padded | trim}}yes{{/if}}`, "yes"},

		{"each", "{{#each $context.data.tags}}<{{this}}>{{/each}}", "<a><b>"},
		{"each fields", "{{#each $context.data.items}}{{this.name}}={{qty}};{{/each}}", "apple=2;pear=0;plum=1;"},
		{"each index first last", "{{#each $context.data.items}}{{#if @first}}[{{/if}}{{@index}}:{{name}}{{#if @last}}]{{else}},{{/if}}{{/each}}", "[0:apple,1:pear,2:plum]"},
		{"each else on empty", "{{#each $context.data.nothing}}x{{else}}none{{/each}}", "none"},
		{"each else on missing", "{{#each $context.data.nope}}x{{else}}none{{/each}}", "none"},
		{"each over a string has no items", "{{#each $context.data.customer}}x{{else}}none{{/each}}", "none"},
		{"each over a map in key order", "{{#each $context.data.prices}}{{@key}}={{this}},{{/each}}", "a=1,b=2,"},
		{"nested each", "{{#each $context.data.matrix}}[{{#each this}}{{this}}{{#unless @last}} {{/unless}}{{/each}}]{{/each}}", "[1 2][3]"},
		{"if inside each reads this and root", "{{#each $context.data.items}}{{#if qty}}{{name}}×{{this.qty}} for #{{$context.data.id}}; {{/if}}{{/each}}", "apple×2 for #42; plum×1 for #42; "},
		{"root inside each", "{{#each $context.data.tags}}{{$jobs.ask.status}}{{/each}}", "resolvedresolved"},
		{"missing field of item", "{{#each $context.data.items}}[{{colour}}]{{/each}}", "[][][]"},
		{"multi-line", "Items:\n{{#each $context.data.tags}}\n- {{this}}\n{{/each}}", "Items:\n\n- a\n\n- b\n"},
		{"trim markers", "Items:\n{{~#each $context.data.tags~}}\n- {{this}}\n{{~/each}}", "Items:- a- b"},

		{"default on missing", `{{$context.data.nope | default "n/a"}}`, "n/a"},
		{"default on empty", `{{$context.data.empty | default "n/a"}}`, "n/a"},
		{"default on null", `{{$context.data.none | default "n/a"}}`, "n/a"},
		{"default on empty list", `{{$context.data.nothing | default "n/a"}}`, "n/a"},
		{"default keeps zero", `{{$context.data.zero | default "n/a"}}`, "0"},
		{"default keeps false", `{{$context.data.unpaid | default "n/a"}}`, "false"},
		{"default single quotes", `{{$context.data.nope | default 'it\'s'}}`, "it's"},
		{"default escaped quote", `{{$context.data.nope | default "say \"hi\""}}`, `say "hi"`},
		{"default number", `{{$context.data.nope | default 0}}`, "0"},
		{"default variable", `{{$context.data.nope | default $jobs.ask.status}}`, "resolved"},
		{"default with braces in text", `{{$context.data.nope | default "}}"}}`, "}}"},
		{"upper", `{{$jobs.ask.response.eventKey | upper}}`, "APPROVE"},
		{"lower", `{{$context.headers["X-Request-Id"] | upper | lower}}`, "req-1"},
		{"trim", `[{{$context.data.padded | trim}}]`, "[hi]"},
		{"json string", `{{$context.data.customer | json}}`, `"张三 <vip>"`},
		{"json map", `{{$context.data.items.0 | json}}`, `{"name":"apple","qty":2}`},
		{"json missing", `{{$context.data.nope | json}}`, `null`},
		{"join", `{{$context.data.approvers | join "|"}}`, "zhangsan|lisi"},
		{"join empty", `[{{$context.data.nothing | join ","}}]`, "[]"},
		{"join scalar", `{{$context.data.id | join ","}}`, "42"},
		{"truncate short", `{{$context.data.customer | truncate 20}}`, "张三 <vip>"},
		{"truncate runes", `{{$context.data.customer | truncate 3}}`, "张三…"},
		{"truncate exact", `{{$context.data.customer | truncate 8}}`, "张三 <vip>"},
		{"date rfc3339", `{{$context.data.created | date "2006-01-02 15:04"}}`, "2024-05-01 10:03"},
		{"date unix", `{{$context.data.unix | date "15:04:05"}}`, "10:03:04"},
		{"date unix ms", `{{$context.data.unixms | date "15:04:05"}}`, "10:03:04"},
		{"date now", `{{$system.now | date "01/02"}}`, "05/01"},
		{"date missing", `[{{$context.data.nope | date "15:04"}}]`, "[]"},
		{"date unreadable", `{{$context.data.customer | date "15:04"}}`, "张三 <vip>"},
		{"escape", `{{$context.data.customer | escape}}`, "张三 &lt;vip&gt;"},
		{"chain", `{{$context.data.nope | default "  mixed Case " | trim | upper | truncate 4}}`, "MIX…"},

		{"comment", "a{{! a comment }}b", "ab"},
		{"long comment", "a{{!-- has }} inside --}}b", "ab"},
		{"escaped braces", `\{{$context.data.id}} is {{$context.data.id}}`, "{{$context.data.id}} is 42"},
		{"escaped backslash", `\\{{$context.data.id}}`, `\42`},
		{"lone closing braces", "a }} b {{$context.data.id}}", "a }} b 42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := render(t, tt.src, vars); got != tt.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestRenderEmptyVars(t *testing.T) {
	t.Parallel()
	src := `[{{$context.data.x}}{{$jobs.a.b}}{{$env.X}}{{#each $context.items}}x{{/each}}{{$context}}{{$env}}]`
	if got := render(t, src, Vars{}); got != "[]" {
		t.Errorf("got %q, want []", got)
	}
	// Zero Now means the current time.
	got := render(t, "{{$system.timestamp}}", Vars{})
	if got == "" || got == "0" || got == "-62135596800" {
		t.Errorf("$system.timestamp with zero Now = %q, want the current time", got)
	}
}

func TestNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json, want string
	}{
		{"42", "42"},
		{"3.5", "3.5"},
		{"-0.25", "-0.25"},
		{"1234567890123", "1234567890123"},
		{"4.2e1", "42"},
		{"4.2E+01", "42"},
		{"1.50", "1.5"},
		{"0", "0"},
		{"-0", "0"},
		{"0.000", "0"},
		{"1e-7", "0.0000001"},
		{"12345678901234567890123", "12345678901234567890123"},
		{"1.5e300", "15" + strings.Repeat("0", 299)},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			t.Parallel()
			asNumber := Vars{Context: decode(t, `{"n": `+tt.json+`}`)}
			if got := render(t, "{{$context.n}}", asNumber); got != tt.want {
				t.Errorf("json.Number %s rendered %q, want %q", tt.json, got, tt.want)
			}
			var asFloat map[string]any
			if err := json.Unmarshal([]byte(`{"n": `+tt.json+`}`), &asFloat); err != nil {
				t.Fatal(err)
			}
			if len(tt.want) > 16 {
				return // beyond float64 precision
			}
			if got := render(t, "{{$context.n}}", Vars{Context: asFloat}); got != tt.want {
				t.Errorf("float64 %s rendered %q, want %q", tt.json, got, tt.want)
			}
		})
	}
	ints := Vars{Context: map[string]any{"i": 7, "i64": int64(-1234567890123), "u": uint8(9), "f32": float32(0.5)}}
	if got := render(t, "{{$context.i}} {{$context.i64}} {{$context.u}} {{$context.f32}}", ints); got != "7 -1234567890123 9 0.5" {
		t.Errorf("Go numbers rendered %q", got)
	}
}

func TestValueKeepsType(t *testing.T) {
	t.Parallel()
	vars := testVars(t)
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"list", "{{$context.data.approvers}}", []any{"zhangsan", "lisi"}},
		{"list with whitespace around", "  {{ $context.data.approvers }}\n", []any{"zhangsan", "lisi"}},
		{"list through default", `{{$context.data.approvers | default "nobody"}}`, []any{"zhangsan", "lisi"}},
		{"default replaces", `{{$context.data.nothing | default "nobody"}}`, "nobody"},
		{"default number", `{{$context.data.nope | default 0}}`, json.Number("0")},
		{"number", "{{$context.data.id}}", json.Number("42")},
		{"bool", "{{$context.data.paid}}", true},
		{"map", "{{$context.data.prices}}", map[string]any{"a": json.Number("1"), "b": json.Number("2")}},
		{"timestamp", "{{$system.timestamp}}", int64(1714528984)},
		{"string stays as is", "{{$context.data.customer}}", "张三 <vip>"},
		{"string keeps its whitespace", " {{$context.data.customer}}", " 张三 <vip>"},
		{"missing is empty text", "{{$context.data.nope}}", ""},
		{"filter making text", "{{$context.data.approvers | join \",\"}}", "zhangsan,lisi"},
		{"json filter is text", "{{$context.data.id | json}}", "42"},
		{"text around makes text", "to: {{$context.data.approvers}}", `to: ["zhangsan","lisi"]`},
		{"two variables make text", "{{$context.data.id}}{{$context.data.id}}", "4242"},
		{"blocks make text", "{{#if $context.data.paid}}{{$context.data.id}}{{/if}}", "42"},
		{"comment around ignored", "{{! who approves }}{{$context.data.approvers}}", []any{"zhangsan", "lisi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Value(vars)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, tt.want) {
				t.Errorf("Value(%q) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

// jsonEqual compares values by type and JSON encoding.
func jsonEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb) && typeName(a) == typeName(b)
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	case json.Number:
		return "number"
	case int64:
		return "int64"
	case bool:
		return "bool"
	}
	return "other"
}

func TestValueCopiesLists(t *testing.T) {
	t.Parallel()
	vars := testVars(t)
	tmpl, _ := Parse("{{$context.data.approvers}}")
	got, _ := tmpl.Value(vars)
	got.([]any)[0] = "changed"
	if first := vars.Context["data"].(map[string]any)["approvers"].([]any)[0]; first != "zhangsan" {
		t.Errorf("changing the result changed the data: %v", first)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		// Go-template syntax
		{"go if", "{{if .paid}}yes{{end}}", `line 1, column 3: Go-template syntax "{{if" is not supported; use {{#if path}} … {{/if}}`},
		{"go range", "Items: {{ range .items }}", `line 1, column 11: Go-template syntax "{{range" is not supported; use {{#each path}} … {{/each}}`},
		{"go end", "{{#if $context.x}}{{end}}", `line 1, column 21: Go-template syntax "{{end}}" is not supported; close blocks with {{/if}}, {{/unless}} or {{/each}}`},
		{"go with", "{{with $context.x}}", `line 1, column 3: Go-template syntax "{{with" is not supported; use {{#if path}} … {{/if}} and full paths`},
		{"go dot", "Hi {{.Name}}", `line 1, column 6: Go-template syntax "{{.Name" is not supported; use a full path such as {{$context.data.Name}}`},
		{"go lone dot", "{{.}}", `line 1, column 3: Go-template syntax "{{." is not supported; use a full path such as {{$context.data}}`},
		{"go variable", "{{ $x := .a }}", `line 1, column 4: Go-template syntax "{{$x :=" is not supported; a template cannot declare variables`},
		{"go trim left", "{{- $context.x }}", `line 1, column 3: Go-template syntax "{{-" is not supported; use {{~ to trim whitespace`},
		{"go trim right", "{{ $context.x -}}", `line 1, column 15: Go-template syntax "-}}" is not supported; use ~}} to trim whitespace`},
		{"go printf", `{{printf "%d" .n}}`, `line 1, column 3: Go-template syntax "{{printf" is not supported; use a filter: {{path | filter}}`},
		{"go comment", "{{/* note */}}", `line 1, column 3: Go-template comment "{{/*" is not supported; use {{!-- … --}}`},
		{"go template", `{{template "x"}}`, `line 1, column 3: Go-template syntax "{{template" is not supported; a template cannot define or include others`},

		// blocks, with positions counted in runes across lines
		{"unclosed if", "Status: {{#if $context.data.paid}}paid", "line 1, column 9: unclosed {{#if}}"},
		{"unclosed each after chinese", "第一行\n状态：{{#each $context.data.items}}\n{{name}}", "line 2, column 4: unclosed {{#each}}"},
		{"innermost unclosed", "{{#if $context.a}}\n  {{#each $context.b}}\n{{/if}}", "line 3, column 1: {{/if}} does not match {{#each}} opened at line 2, column 3"},
		{"mismatched close after chinese", "订单\n金额：{{#if $context.x}}大{{/each}}", "line 2, column 23: {{/each}} does not match {{#if}} opened at line 2, column 4"},
		{"stray close", "ok {{/if}}", "line 1, column 4: {{/if}} without a matching {{#if}}"},
		{"stray else", "{{else}}", "line 1, column 1: {{else}} outside {{#if}}, {{#unless}} or {{#each}}"},
		{"second else", "{{#if $context.a}}a{{else}}b{{else}}c{{/if}}", "line 1, column 29: a second {{else}} in the {{#if}} opened at line 1, column 1"},
		{"else if closed by other", "{{#if $context.a}}a{{else if $context.b}}b{{/each}}", "line 1, column 43: {{/each}} does not match {{#if}} opened at line 1, column 1"},
		{"unknown block", "{{#with $context.a}}{{/with}}", "line 1, column 4: unknown block {{#with}}; blocks are {{#if}}, {{#unless}} and {{#each}}"},
		{"if without value", "{{#if}}x{{/if}}", "line 1, column 1: {{#if}} needs a value, e.g. {{#if $context.data.items}}"},
		{"unclosed braces", "Hello {{$context.name", `line 1, column 7: unclosed "{{": missing "}}"`},
		{"unclosed before next", "{{$context.a {{$context.b}}", `line 1, column 1: unclosed "{{": missing "}}" before the next "{{"`},
		{"empty", "a {{ }} b", "line 1, column 3: empty {{}}: write a variable such as {{$context.data.name}}"},
		{"unclosed comment", "{{!-- never closed }}", `line 1, column 1: unclosed comment "{{!--": missing "--}}"`},
		{"triple", "{{{$context.a}}}", "line 1, column 1: triple braces {{{…}}} are not needed: {{path}} never HTML-escapes; use {{path | escape}} to escape"},
		{"too deep", strings.Repeat("{{#if $context.a}}", 65), "line 1, column 1153: blocks nested more than 64 deep"},

		// variables and paths
		{"unknown root", "{{$ctx.a}}", "line 1, column 3: unknown variable $ctx; variables start with $context, $jobs, $system or $env"},
		{"bare name outside each", "{{name}}", `line 1, column 3: unknown variable "name"; variables start with $context, $jobs, $system or $env`},
		{"root without dollar", "{{context.data.x}}", `line 1, column 3: unknown variable "context"; variables start with $context, $jobs, $system or $env (did you mean $context?)`},
		{"this outside each", "{{this.name}}", "line 1, column 3: this is only available inside {{#each}}"},
		{"index outside each", "{{@index}}", "line 1, column 3: @index is only available inside {{#each}}"},
		{"this in each else", "{{#each $context.a}}{{else}}{{this}}{{/each}}", "line 1, column 31: this is only available inside {{#each}}"},
		{"unknown at", "{{#each $context.a}}{{@count}}{{/each}}", "line 1, column 24: unknown @count; inside {{#each}} use @index, @first, @last or @key"},
		{"dash needs brackets", "{{$context.headers.X-Request-Id}}", `line 1, column 21: a key with "-" needs the bracket form: $context.headers["X-Request-Id"]`},
		{"dash in item field", "{{#each $context.a}}{{user-name}}{{/each}}", `line 1, column 27: a key with "-" needs the bracket form: this["user-name"]`},
		{"unknown system field", "{{$system.today}}", "line 1, column 3: unknown variable $system.today; $system has now, date and timestamp"},
		{"env field", "{{$env.A.b}}", "line 1, column 3: $env.A has no fields"},
		{"unclosed bracket", `{{$context.headers["a"}}`, `line 1, column 19: unclosed [: write ["key"] or [0]`},
		{"bad bracket", `{{$context.headers[a]}}`, `line 1, column 20: expected a quoted key or a number in [ ]: write ["key"] or [0]`},
		{"empty segment", `{{$context..a}}`, `line 1, column 12: expected a name after .`},
		{"literal as variable", `{{"text"}}`, "line 1, column 3: expected a variable such as $context.data.name, not a literal"},
		{"two words", `{{$context.a $context.b}}`, `line 1, column 14: unexpected "$"`},
		{"word after variable", `{{$context.a default}}`, `line 1, column 14: unexpected "default"; use | to apply a filter, e.g. {{path | default "-"}}`},

		// filters
		{"unknown filter", "名字：{{$context.name | capitalize}}", `line 1, column 22: unknown filter "capitalize"; filters are default, upper, lower, trim, json, join, truncate, date, escape, where and length`},
		{"missing filter name", "{{$context.name | }}", "line 1, column 19: expected a filter name after |"},
		{"filter needs arg", "{{$context.name | default}}", `line 1, column 19: filter default needs an argument, e.g. default "-"`},
		{"filter takes none", `{{$context.name | upper "x"}}`, "line 1, column 25: filter upper takes no argument"},
		{"truncate needs count", `{{$context.name | truncate "x"}}`, "line 1, column 28: filter truncate needs a positive whole number, e.g. truncate 20"},
		{"truncate zero", `{{$context.name | truncate 0}}`, "line 1, column 28: filter truncate needs a positive whole number, e.g. truncate 20"},
		{"join needs text", `{{$context.name | join 1}}`, `line 1, column 24: filter join needs a quoted text argument, e.g. join ", "`},
		{"date needs text", `{{$context.name | date $context.layout}}`, `line 1, column 24: filter date needs a quoted text argument, e.g. date "2006-01-02 15:04"`},
		{"unquoted default", `{{$context.name | default none}}`, `line 1, column 27: unknown variable "none"; variables start with $context, $jobs, $system or $env; quote text arguments: default "none"`},
		{"unterminated string", `{{$context.name | default "x}}`, `line 1, column 27: unterminated string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.src)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tt.src, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Parse(%q) error %T is not *Error", tt.src, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tt.src, err, tt.want)
			}
			if te.Warning {
				t.Errorf("syntax error marked as a warning")
			}
			if Check(tt.src) == nil {
				t.Errorf("Check(%q) = nil, want the parse error", tt.src)
			}
		})
	}
}

func TestErrorPosition(t *testing.T) {
	t.Parallel()
	src := "标题\n\t你好 {{$context.x | nope}}"
	_, err := Parse(src)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("got %v", err)
	}
	// Column counts runes: tab, 你, 好, space, {, {, "$context.x", space, |, space — nope is rune 20.
	if te.Line != 2 || te.Column != 20 || src[te.Offset:te.Offset+4] != "nope" {
		t.Errorf("position = line %d column %d offset %d, want line 2 column 20 at \"nope\"", te.Line, te.Column, te.Offset)
	}
}

func TestEnvAllowList(t *testing.T) {
	t.Parallel()
	src := "{{$env.REGION}}/{{$env.SECRET}}/{{$env.TOKEN | default \"-\"}}"
	// The caller passes only allowed names, so SECRET and TOKEN are absent and render empty.
	got := render(t, src, Vars{Env: map[string]string{"REGION": "cn-east"}})
	if got != "cn-east//-" {
		t.Errorf("got %q", got)
	}

	if err := Check("{{$env.REGION}}", "REGION", "ZONE"); err != nil {
		t.Errorf("allowed name: Check = %v", err)
	}
	err := Check(src, "REGION")
	var te *Error
	if !errors.As(err, &te) || !te.Warning {
		t.Fatalf("Check = %#v, want a warning *Error", err)
	}
	want := "line 1, column 19: $env.SECRET and $env.TOKEN are not in WECOMFLOW_TEMPLATE_ENV; it renders as empty"
	if err.Error() != want {
		t.Errorf("Check\n got %s\nwant %s", err, want)
	}
	if err := Check("{{$env.A}}"); err == nil || err.Error() != "line 1, column 3: $env.A is not in WECOMFLOW_TEMPLATE_ENV; it renders as empty" {
		t.Errorf("no allow-list: Check = %v", err)
	}
	if err := Check("{{$env}}"); err != nil {
		t.Errorf("$env as a whole: Check = %v", err)
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	src := `{{$context.data.items.0.name}} {{$context.headers["X-Request-Id"]}} {{$context.data.items.0.name}}
{{#each $context.data.items}}{{this.name}}{{@index}}{{$jobs.ask.response.eventKey}}{{/each}}
{{#if $system.now}}{{$env.REGION | default $context.data["region name"]}}{{/if}}{{$context.m[3]}}`
	tmpl, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"$context.data.items.0.name", `$context.headers["X-Request-Id"]`, "$context.data.items",
		"$jobs.ask.response.eventKey", "$system.now", "$env.REGION", `$context.data["region name"]`, "$context.m.3",
	}
	got := tmpl.Variables()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Variables()\n got %q\nwant %q", got, want)
	}
	if plain, _ := Parse("no variables"); len(plain.Variables()) != 0 {
		t.Errorf("plain text has variables %q", plain.Variables())
	}
}

// spy would show up if rendering called a method of a value.
type spy struct{ called *bool }

func (s spy) String() string               { *s.called = true; return "called" }
func (s spy) MarshalJSON() ([]byte, error) { *s.called = true; return []byte(`"called"`), nil }

func TestRenderCallsNoMethods(t *testing.T) {
	t.Parallel()
	called := false
	vars := Vars{Context: map[string]any{"s": spy{&called}, "list": []any{spy{&called}}}}
	got := render(t, "[{{$context.s}}|{{$context.list}}|{{$context.s | json}}|{{$context.s | upper}}]", vars)
	if called {
		t.Error("rendering called a method of a value")
	}
	if got != "[|[null]|null|]" {
		t.Errorf("got %q", got)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	wide := map[string]any{}
	for i := range 2000 {
		wide["key"+itoa(i)] = "value"
	}
	vars := Vars{Context: map[string]any{
		"l":    make([]any, 1000),
		"big":  strings.Repeat("x", 600<<10),
		"wide": wide,
		"n":    json.Number("0." + strings.Repeat("0", 100000) + "1"),
	}}
	for _, src := range []string{
		"{{#each $context.l}}{{#each $context.l}}x{{/each}}{{/each}}",
		"{{$context.big}}{{$context.big}}",
		// No output, but each step re-encodes a large value: filters pay for the text they make.
		"{{#each $context.l}}{{#each $context.l}}{{#if $context.wide | json}}{{/if}}{{/each}}{{/each}}",
		"{{#each $context.l}}{{#each $context.l}}{{#if $context.n}}{{/if}}{{/each}}{{/each}}",
	} {
		tmpl, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmpl.Render(vars); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Render(%.40q…) error = %v, want ErrTooLarge", src, err)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse("{{#each $context.items}}{{this}}{{#unless @last}},{{/unless}}{{/each}} at {{$system.timestamp}}")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			vars := Vars{Context: map[string]any{"items": []any{i, i + 1}}, Now: time.Unix(int64(i), 0)}
			got, err := tmpl.Render(vars)
			want := strings.Join([]string{itoa(i), ",", itoa(i + 1), " at ", itoa(i)}, "")
			if err != nil || got != want {
				t.Errorf("goroutine %d: got %q, %v; want %q", i, got, err, want)
			}
		})
	}
	wg.Wait()
}

func itoa(i int) string { return string(appendText(nil, i)) }

func TestPlainTextDoesNotAllocate(t *testing.T) {
	vars := testVars(t)
	plain := "订单已支付，请查看详情"
	tmpl, _ := Parse(plain)
	if n := testing.AllocsPerRun(100, func() {
		if s, _ := tmpl.Render(vars); s != plain {
			t.Fatal(s)
		}
	}); n != 0 {
		t.Errorf("Render of plain text: %v allocations, want 0", n)
	}
	var v any = plain
	if n := testing.AllocsPerRun(100, func() {
		if out, _ := RenderValue(v, vars); out != v {
			t.Fatal(out)
		}
	}); n != 0 {
		t.Errorf("RenderValue of plain text: %v allocations, want 0", n)
	}
}
