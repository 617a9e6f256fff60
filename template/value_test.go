package template

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// card is a template_card body as a user would write it in a workflow node.
func card(t testing.TB) map[string]any {
	return decode(t, `{
		"channel": "ops_wecom",
		"to": {"users": ["{{$context.data.approvers}}", "{{$context.data.owner}}"], "departments": [2]},
		"msgtype": "template_card",
		"template_card": {
			"card_type": "button_interaction",
			"main_title": {"title": "Approve order {{$context.data.id}}?", "desc": "{{$system.date}}"},
			"horizontal_content_list": [
				{"keyname": "\\{{not a variable}}", "value": "{{$context.data.amount}}"},
				{"keyname": "Customer", "value": "{{$context.data.customer | truncate 10}}"}
			],
			"button_list": [{"text": "Approve", "key": "approve"}, {"text": "Reject", "key": "reject", "style": 2}],
			"task_id": "order-{{$context.data.id}}-{{$system.timestamp}}"
		},
		"enable_id_trans": 0,
		"{{$context.data.id}}": "keys are not rendered"
	}`)
}

func TestRenderValue(t *testing.T) {
	t.Parallel()
	vars := testVars(t)
	vars.Context["data"].(map[string]any)["owner"] = "wangwu"
	in := card(t)
	before, _ := json.Marshal(in)

	out, err := RenderValue(in, vars)
	if err != nil {
		t.Fatal(err)
	}
	got := marshal(t, out)
	want := `{"channel":"ops_wecom","enable_id_trans":0,"msgtype":"template_card",` +
		`"template_card":{"button_list":[{"key":"approve","text":"Approve"},{"key":"reject","style":2,"text":"Reject"}],` +
		`"card_type":"button_interaction",` +
		`"horizontal_content_list":[{"keyname":"{{not a variable}}","value":1234.5},{"keyname":"Customer","value":"张三 <vip>"}],` +
		`"main_title":{"desc":"2024-05-01","title":"Approve order 42?"},"task_id":"order-42-1714528984"},` +
		`"to":{"departments":[2],"users":[["zhangsan","lisi"],"wangwu"]},` +
		`"{{$context.data.id}}":"keys are not rendered"}`
	if got != want {
		t.Errorf("RenderValue\n got %s\nwant %s", got, want)
	}
	after, _ := json.Marshal(in)
	if string(before) != string(after) {
		t.Errorf("RenderValue changed its input:\n%s\n%s", before, after)
	}
}

// marshal encodes v as the server sends it to WeCom: compact, without HTML escaping.
func marshal(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestRenderValueScalars(t *testing.T) {
	t.Parallel()
	vars := testVars(t)
	for _, v := range []any{nil, 3.5, json.Number("7"), true, "plain", "{{ literally? no: \\{{x}}"} {
		out, err := RenderValue(v, vars)
		if err != nil && v != "{{ literally? no: \\{{x}}" {
			t.Errorf("RenderValue(%#v): %v", v, err)
		}
		if err == nil && !reflect.DeepEqual(out, v) {
			t.Errorf("RenderValue(%#v) = %#v", v, out)
		}
	}
	out, err := RenderValue([]string{"{{$context.data.id}}", "x"}, vars)
	if err != nil || !reflect.DeepEqual(out, []any{json.Number("42"), "x"}) {
		t.Errorf("[]string: %#v, %v", out, err)
	}
	out, err = RenderValue(map[string]string{"a": "{{$env.REGION}}"}, vars)
	if err != nil || !reflect.DeepEqual(out, map[string]any{"a": "cn-east"}) {
		t.Errorf("map[string]string: %#v, %v", out, err)
	}
}

func TestRenderValueErrorPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"field", map[string]any{"textcard": map[string]any{"title": "ok", "description": "Status: {{#if $context.data.paid}}paid"}},
			"textcard.description: line 1, column 9: unclosed {{#if}}"},
		{"list item", map[string]any{"template_card": map[string]any{"button_list": []any{
			map[string]any{"text": "ok"}, map[string]any{"text": "{{range .x}}"}}}},
			`template_card.button_list[1].text: line 1, column 3: Go-template syntax "{{range" is not supported; use {{#each path}} … {{/each}}`},
		{"first in path order", map[string]any{"b": "{{$x}}", "a": map[string]any{"z": "{{$y}}"}, "c": "{{$z}}"},
			"a.z: line 1, column 3: unknown variable $y; variables start with $context, $jobs, $system or $env"},
		{"odd key", map[string]any{"a.b": "{{$x}}"}, `["a.b"]: line 1, column 3: unknown variable $x; variables start with $context, $jobs, $system or $env`},
		{"top-level string", "{{/if}}", "line 1, column 1: {{/if}} without a matching {{#if}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := RenderValue(tt.in, Vars{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("RenderValue error\n got %v\nwant %s", err, tt.want)
			}
			var fe *FieldError
			var te *Error
			if !errors.As(err, &fe) || !errors.As(err, &te) {
				t.Errorf("error %T is not a *FieldError wrapping an *Error", err)
			}
		})
	}
}

func TestCheckValue(t *testing.T) {
	t.Parallel()
	body := map[string]any{
		"msgtype": "textcard",
		"textcard": map[string]any{
			"title":       "{{$context.data.title}} in {{$env.REGION}}",
			"description": "{{$env.DB_PASSWORD}} {{#each $context.data.x}}",
			"url":         "https://example.com/{{$env.DB_PASSWORD}}/{{$env.HOME}}",
			"btntxt":      "详情",
		},
		"to": map[string]any{"users": []any{"{{$context.data.owner | upper}}", "{{ .Owner }}"}},
	}
	got := CheckValue(body, []string{"REGION"})
	want := map[string]string{
		"textcard.description": "line 1, column 22: unclosed {{#each}}",
		"textcard.url":         "line 1, column 23: $env.DB_PASSWORD and $env.HOME are not in WECOMFLOW_TEMPLATE_ENV; it renders as empty",
		"to.users[1]":          `line 1, column 4: Go-template syntax "{{.Owner" is not supported; use a full path such as {{$context.data.Owner}}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CheckValue\n got %q\nwant %q", got, want)
	}

	problems := Problems(body, []string{"REGION"})
	var paths []string
	for _, p := range problems {
		paths = append(paths, p.Path)
		if p.Err.Warning != (p.Path == "textcard.url") {
			t.Errorf("%s: Warning = %v", p.Path, p.Err.Warning)
		}
	}
	if strings.Join(paths, ",") != "textcard.description,textcard.url,to.users[1]" {
		t.Errorf("Problems paths = %v, want sorted", paths)
	}

	if got := CheckValue(map[string]any{"a": "{{$env.REGION}}", "b": []any{1, "x"}}, []string{"REGION"}); len(got) != 0 {
		t.Errorf("valid value: CheckValue = %v, want empty", got)
	}
}
