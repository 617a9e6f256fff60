package template

import "testing"

// textcard is a typical direct send: five fields, three variables.
func textcard(b *testing.B) map[string]any {
	return decode(b, `{
		"msgtype": "textcard",
		"textcard": {
			"title": "订单 {{$context.data.id}} 已支付",
			"description": "<div class=\"gray\">{{$system.date}}</div><div class=\"normal\">{{$context.data.customer | escape}}</div>",
			"url": "https://shop.example.com/orders/42",
			"btntxt": "详情"
		}
	}`)
}

func BenchmarkRenderTextcard(b *testing.B) {
	body := textcard(b)
	vars := testVars(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderValue(body, vars); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	src := `{{#each $context.data.items}}{{@index}}. {{name | upper}} × {{qty}}{{#unless @last}}, {{/unless}}{{else}}nothing{{/each}}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderParsed(b *testing.B) {
	tmpl, err := Parse(`{{#each $context.data.items}}{{@index}}. {{name | upper}} × {{qty}}{{#unless @last}}, {{/unless}}{{else}}nothing{{/each}}`)
	if err != nil {
		b.Fatal(err)
	}
	vars := testVars(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(vars); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderValuePlain(b *testing.B) {
	var v any = "订单已支付，请查看详情"
	vars := testVars(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderValue(v, vars); err != nil {
			b.Fatal(err)
		}
	}
}
