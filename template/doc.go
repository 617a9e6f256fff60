// Package template is wecomflow's template language (SPEC §5): the {{…}} placeholders in the
// string fields of a message, filled from live data by direct sends and by workflow nodes. It
// is the Handlebars family — {{path}}, {{#if}}, {{#each}} — kept small: rendering only reads
// the data it is given, never files, the network, the environment beyond an allow-list, or
// methods of values.
//
// # Variables
//
//	{{$context.data.id}}                 the trigger's data; a direct send's "data" is $context.data
//	{{$jobs.ask.response.eventKey}}      the result of the workflow node with key "ask"
//	{{$system.now}}                      render time, RFC 3339 in the render's time zone
//	{{$system.date}}                     render date, 2006-01-02
//	{{$system.timestamp}}                render time, unix seconds
//	{{$env.REGION}}                      an environment variable listed in WECOMFLOW_TEMPLATE_ENV
//
// Paths use dots; a number steps into a list ($context.data.items.0.name, or items[0]); a key
// with dashes, spaces or dots needs brackets: $context.headers["X-Request-Id"]. Anything
// missing — a key, an index out of range, a step into a string — renders as empty, never as
// "<no value>" and never as an error. An $env name outside the allow-list renders as empty and
// Check reports it as a warning.
//
// Values render as: text as it is; numbers in plain decimal (42, 3.5, 1234567890123 — a
// json.Number exactly, never 4.2e+01); true and false; null as empty; lists and maps as
// compact JSON. Nothing is HTML-escaped unless asked for with the escape filter.
//
// # Filters
//
// A variable may go through filters, left to right: {{$context.data.name | default "-" | upper}}.
//
//	default "x"        a missing, null or empty ("", [], {}) value becomes "x"; 0 and false stay.
//	                   The argument may be a number, true/false, or another variable.
//	upper, lower       letter case
//	trim               strips surrounding whitespace
//	json               the value as compact JSON: a string gets quotes, missing is null
//	join ", "          a list's items joined with the separator
//	truncate 20        at most 20 characters (runes), the last being "…" when text was cut
//	date "2006-01-02 15:04"
//	                   a time in Go's layout, in the render's time zone. Reads RFC 3339 text,
//	                   "2006-01-02 15:04:05", "2006-01-02", and unix times (numbers or digit
//	                   strings; 13 digits and more are milliseconds). Other values show unchanged.
//	escape             HTML-escapes & < > " ' (for textcard descriptions, which WeCom reads as HTML)
//	where "f" "v"      the items of a list whose field f shows as v (firing alerts, then resolved)
//	length             the number of items of a list or object, or of characters of text
//
// Filter arguments are quoted with " or ' (a backslash escapes the next character; \n and \t
// are a newline and a tab).
//
// # Blocks
//
//	{{#if $context.data.paid}}paid{{else if $context.data.due}}due{{else}}open{{/if}}
//	{{#unless $context.data.items}}nothing to do{{/unless}}
//	{{#each $context.data.items}}{{@index}}. {{name}} {{this.price}}{{#unless @last}}, {{/unless}}{{else}}no items{{/each}}
//
// {{#if}} is false for missing, null, false, "", 0 and empty lists and maps. {{#each}} walks a
// list, or a map in key order; inside it this is the item, a bare name is a field of the item
// (name is this.name), and @index (from 0), @first, @last and @key (the map key, or the index)
// describe the position. Root variables ($context, $jobs, …) remain available. {{else}} in an
// {{#each}} renders when there are no items. {{#each list maxBytes=1500 more="… and {n} more"}}
// keeps whole items while they fit in 1500 bytes and then says how many it left out, so that a
// message stays within WeCom's size limit however long the list.
//
// Also: {{! comment }} and {{!-- comment with }} inside --}} render nothing; \{{ is a literal
// {{; a ~ inside the braces trims the whitespace on that side: "a  {{~ $context.x ~}}  b".
//
// Go-template syntax ({{if}}, {{range}}, {{end}}, {{with}}, {{.x}}, {{$x := …}}, {{- … -}},
// {{printf …}}) is rejected with the position and the Handlebars way to write it.
//
// # Types
//
// A string field that is exactly one variable, filters allowed and whitespace around ignored,
// keeps the variable's type: "{{$context.data.approvers}}" gives the list itself, so a
// recipient list stays a list, and "{{$context.data.amount}}" a number. With any other text
// around it the field is a string. Template.Value and RenderValue apply this rule; Render always
// returns text.
//
// # Use
//
// Parse once and render many times: a *Template is immutable and safe for concurrent use.
// RenderValue renders every string in a message body; Check, CheckValue and Problems validate
// at save time. Strings without "{{" are never parsed and are returned as they are. A render
// that would produce more than 1 MiB or take more than a million steps stops with ErrTooLarge.
package template
