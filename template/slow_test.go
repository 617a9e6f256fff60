package template

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSlowProbe(t *testing.T) {
	big := map[string]any{}
	for i := range 2000 {
		big[strings.Repeat("k", 5)+itoa(i)] = "valuevaluevalue"
	}
	l := make([]any, 1000)
	vars := Vars{Context: map[string]any{"big": big, "l": l}}
	for _, src := range []string{
		"{{#each $context.l}}{{#each $context.l}}{{#if $context.big | json}}{{/if}}{{/each}}{{/each}}",
		"{{#each $context.l}}{{#each $context.big}}{{/each}}{{/each}}",
		"{{#each $context.l}}{{#each $context.l}}{{/each}}{{/each}}",
	} {
		tmpl, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = tmpl.Render(vars)
		t.Logf("%v %v %.50s", time.Since(start), err, src)
	}
}

func TestSlowProbeNumber(t *testing.T) {
	l := make([]any, 1000)
	vars := Vars{Context: map[string]any{"n": json.Number("0." + strings.Repeat("0", 100000) + "1"), "l": l}}
	tmpl, _ := Parse("{{#each $context.l}}{{#each $context.l}}{{#if $context.n}}{{/if}}{{$context.n | date \"2006\"}}{{/each}}{{/each}}")
	start := time.Now()
	_, err := tmpl.Render(vars)
	t.Logf("%v %v", time.Since(start), err)
}
