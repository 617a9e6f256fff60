package template_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/template"
)

// A direct send's body: every string is rendered, a lone variable keeps its type.
func ExampleRenderValue() {
	var body, data map[string]any
	dec := json.NewDecoder(strings.NewReader(`{
		"to": {"users": "{{$context.data.approvers}}"},
		"msgtype": "textcard",
		"textcard": {
			"title": "Order {{$context.data.id}} paid",
			"description": "{{$context.data.customer | escape}}, {{$context.data.amount}} CNY",
			"url": "https://shop.example.com/orders/{{$context.data.id}}",
			"btntxt": "详情"
		}
	}`))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		panic(err)
	}
	dec = json.NewDecoder(strings.NewReader(`{"id": 42, "amount": 1234567890123, "customer": "A&B Ltd", "approvers": ["zhangsan", "lisi"]}`))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		panic(err)
	}

	out, err := template.RenderValue(body, template.Vars{Context: map[string]any{"data": data}})
	if err != nil {
		panic(err)
	}
	card := out.(map[string]any)["textcard"].(map[string]any)
	fmt.Println(card["title"])
	fmt.Println(card["description"])
	fmt.Println(card["url"])
	fmt.Printf("%#v\n", out.(map[string]any)["to"].(map[string]any)["users"])
	// Output:
	// Order 42 paid
	// A&amp;B Ltd, 1234567890123 CNY
	// https://shop.example.com/orders/42
	// []interface {}{"zhangsan", "lisi"}
}

// RenderValue names the string that does not parse.
func ExampleRenderValue_error() {
	body := map[string]any{"textcard": map[string]any{"description": "Status: {{#if $context.data.paid}}paid"}}
	_, err := template.RenderValue(body, template.Vars{})
	fmt.Println(err)
	// Output:
	// textcard.description: line 1, column 9: unclosed {{#if}}
}

// Parse once, render many times.
func ExampleTemplate_Render() {
	tmpl, err := template.Parse(`{{#each $context.data.items}}{{@index}}. {{name}} × {{qty | default 1}}
{{else}}no items
{{/each}}{{$jobs.ask.response.eventKey | default "pending" | upper}} at {{$system.now | date "15:04"}}`)
	if err != nil {
		panic(err)
	}
	out, err := tmpl.Render(template.Vars{
		Context: map[string]any{"data": map[string]any{"items": []any{
			map[string]any{"name": "apple", "qty": 3},
			map[string]any{"name": "pear"},
		}}},
		Now:      time.Date(2024, 5, 1, 2, 30, 0, 0, time.UTC),
		Location: time.FixedZone("CST", 8*3600),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output:
	// 0. apple × 3
	// 1. pear × 1
	// PENDING at 10:30
}

// A field that is exactly one variable keeps the variable's type.
func ExampleTemplate_Value() {
	vars := template.Vars{Context: map[string]any{"data": map[string]any{"approvers": []any{"zhangsan", "lisi"}}}}
	for _, src := range []string{"{{$context.data.approvers}}", "to: {{$context.data.approvers}}"} {
		tmpl, _ := template.Parse(src)
		v, _ := tmpl.Value(vars)
		fmt.Printf("%#v\n", v)
	}
	// Output:
	// []interface {}{"zhangsan", "lisi"}
	// "to: [\"zhangsan\",\"lisi\"]"
}

// Go-template syntax is rejected with its position and the way to write it here.
func ExampleParse_goTemplate() {
	_, err := template.Parse("{{if .paid}}paid{{end}}")
	fmt.Println(err)
	// Output:
	// line 1, column 3: Go-template syntax "{{if" is not supported; use {{#if path}} … {{/if}}
}

// Save-time validation of a whole message body, with the $env allow-list.
func ExampleCheckValue() {
	body := map[string]any{"markdown": map[string]any{
		"content": "{{$env.REGION}}: {{$env.DB_PASSWORD}} **{{$context.data.id}}** {{#each $context.data.x}}",
	}, "text": map[string]any{"content": "ok {{$env.REGION}}"}}
	for path, msg := range template.CheckValue(body, []string{"REGION"}) {
		fmt.Println(path, "→", msg)
	}
	fmt.Println(template.Check("{{$env.DB_PASSWORD}}", "REGION"))
	// Output:
	// markdown.content → line 1, column 64: unclosed {{#each}}
	// line 1, column 3: $env.DB_PASSWORD is not in WECOMFLOW_TEMPLATE_ENV; it renders as empty
}

// Variables lists what a template reads, for the editor's variable check.
func ExampleTemplate_Variables() {
	tmpl, _ := template.Parse(`{{$jobs.ask.response.eventKey}} {{$context.headers["X-Request-Id"]}} {{#each $context.data.items}}{{name}}{{/each}}`)
	fmt.Println(strings.Join(tmpl.Variables(), "\n"))
	// Output:
	// $jobs.ask.response.eventKey
	// $context.headers["X-Request-Id"]
	// $context.data.items
}
