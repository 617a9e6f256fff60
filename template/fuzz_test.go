package template

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "plain", "{{", "}}", "{{}}", "{{{x}}}", `\{{x}}`, `\\{{$context.a}}`,
		"Order {{$context.data.id}} paid",
		`{{$context.headers["X-Request-Id"] | default "-" | upper | truncate 5}}`,
		"{{#if $context.a}}a{{else if $context.b}}b{{else}}c{{/if}}",
		"{{#each $context.data.items}}{{@index}}{{this.name}}{{#if @last}}.{{/if}}{{else}}none{{/each}}",
		"{{#unless $jobs.x.y}}{{$system.now | date \"15:04\"}}{{/unless}}",
		"{{~ $context.a ~}} {{!-- c --}} {{! d }}", "{{if .x}}{{end}}", "{{$x := 1}}", "{{- .x -}}",
		"第一行\n{{#each $context.x}}{{/if}}", `{{$context.a | join ", " | json | escape}}`,
		`{{$context.a | default $context.b}}`, `{{$context.a[0]["b c"].d}}`, "{{$env.A}}{{$env}}",
		"{{#each $context.m}}{{#each this}}{{@key}}={{this}}{{/each}}{{/each}}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	vars := testVars(f)
	vars.Context["m"] = map[string]any{"x": []any{1, "two", map[string]any{"k": nil}}, "y": map[string]any{"z": true}}
	vars.Context["a"] = []any{"1", 2.5, []any{}, map[string]any{"b c": map[string]any{"d": "deep"}}}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Parse(%q) error %T is not *Error", src, err)
			}
			if te.Line < 1 || te.Column < 1 || te.Offset < 0 || te.Offset > len(src) {
				t.Fatalf("Parse(%q): bad position %+v", src, te)
			}
			return
		}
		out, err := tmpl.Render(vars)
		if err != nil && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Render(%q): %v", src, err)
		}
		if err == nil && utf8.ValidString(src) && !utf8.ValidString(out) {
			t.Fatalf("Render(%q) = %q: invalid UTF-8 from valid input", src, out)
		}
		if _, err := tmpl.Value(vars); err != nil && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Value(%q): %v", src, err)
		}
		tmpl.Variables()
		_ = Check(src)
		if _, err := RenderValue(map[string]any{"k": []any{src}}, vars); err != nil && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("RenderValue(%q): %v", src, err)
		}
	})
}
