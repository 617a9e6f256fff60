package template

import (
	"fmt"
	"strings"
	"testing"
)

// alerts is a data set of n alerts, every third one resolved.
func alerts(n int) Vars {
	list := make([]any, n)
	for i := range list {
		status := "firing"
		if i%3 == 2 {
			status = "resolved"
		}
		list[i] = map[string]any{"status": status, "labels": map[string]any{"alertname": fmt.Sprintf("Alert%03d", i)}}
	}
	return Vars{Context: map[string]any{"data": map[string]any{"alerts": list}}}
}

func TestEachMaxBytesShortensTheList(t *testing.T) {
	t.Parallel()
	// Each item renders "- AlertNNN\n": 11 bytes.
	src := `{{#each $context.data.alerts maxBytes=40 more="… and {n} more"}}- {{labels.alertname}}` + "\n" + `{{else}}none{{/each}}`
	tests := []struct {
		n    int
		want string
	}{
		{0, "none"},
		{3, "- Alert000\n- Alert001\n- Alert002\n"},
		{4, "- Alert000\n- Alert001\n… and 2 more"},
		{200, "- Alert000\n- Alert001\n… and 198 more"},
	}
	for _, tc := range tests {
		got := render(t, src, alerts(tc.n))
		if got != tc.want {
			t.Errorf("%d alerts: %q, want %q", tc.n, got, tc.want)
		}
		if len(got) > 40 {
			t.Errorf("%d alerts: %d bytes, over maxBytes", tc.n, len(got))
		}
	}
}

func TestEachMaxBytesDefaultSentenceAndNesting(t *testing.T) {
	t.Parallel()
	src := `[{{#each $context.data.alerts maxBytes=25}}{{labels.alertname}} {{/each}}]`
	if got, want := render(t, src, alerts(10)), "[Alert000 … and 9 more]"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	// A budget smaller than any item still says how many there are.
	if got, want := render(t, `{{#each $context.data.alerts maxBytes=3 more="+{n}"}}{{labels.alertname}}{{/each}}`, alerts(5)), "+5"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	// Lists inside a bounded list are bounded on their own.
	nested := `{{#each $context.data.groups maxBytes=100}}{{#each this maxBytes=8 more="+{n}"}}{{this}}{{/each}};{{/each}}`
	v := Vars{Context: map[string]any{"data": map[string]any{"groups": []any{[]any{"aaa", "bbb", "ccc"}, []any{"d"}}}}}
	if got, want := render(t, nested, v), "aaabbb+1;d;"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestWhereAndLength(t *testing.T) {
	t.Parallel()
	v := alerts(6)
	tests := []struct{ src, want string }{
		{`{{$context.data.alerts | where "status" "firing" | length}} firing`, "4 firing"},
		{`{{#each $context.data.alerts | where "status" "resolved"}}{{labels.alertname}} {{/each}}`, "Alert002 Alert005 "},
		{`{{#if $context.data.alerts | where "status" "pending"}}yes{{else}}none pending{{/if}}`, "none pending"},
		{`{{$context.data.missing | where "a" "b" | length}}`, "0"},
		{`{{$context.data.alerts.0.labels.alertname | length}}`, "8"},
		{`{{$context.data.alerts.0.labels | length}}`, "1"},
	}
	for _, tc := range tests {
		if got := render(t, tc.src, v); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestEachOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{`{{#each $context.data.a maxBytes=0}}{{/each}}`, "maxBytes needs a positive whole number"},
		{`{{#each $context.data.a maxBytes=x}}{{/each}}`, "maxBytes needs a positive whole number"},
		{`{{#each $context.data.a more="x"}}{{/each}}`, "more belongs with maxBytes"},
		{`{{#each $context.data.a more=x maxBytes=3}}{{/each}}`, "more needs a quoted text"},
		{`{{#each $context.data.a limit=3}}{{/each}}`, `unknown option "limit" of {{#each}}`},
		{`{{#if $context.data.a maxBytes=3}}{{/if}}`, `unexpected "maxBytes"`},
		{`{{$context.data.a | where "status"}}`, `filter where needs two quoted texts, e.g. where "status" "firing"`},
	}
	for _, tc := range tests {
		_, err := Parse(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.src, err, tc.want)
		}
	}
}
