package template

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error is a problem in a template's source, with its position. Parse and Check return it for
// syntax problems; Check, CheckValue and Problems also use it, with Warning set, for an $env name
// that is not in the allow-list (the template still renders, that name as empty).
type Error struct {
	Line    int    // 1-based line of the problem
	Column  int    // 1-based column, counted in runes (characters), not bytes
	Offset  int    // 0-based byte offset in the source
	Msg     string // what is wrong and, where it helps, what to write instead
	Warning bool   // the template is valid but reads an $env name the server does not allow
}

// Error returns "line L, column C: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// newError builds an *Error for the byte offset off of src.
func newError(src string, off int, msg string) *Error {
	if off < 0 {
		off = 0
	}
	if off > len(src) {
		off = len(src)
	}
	before := src[:off]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return &Error{
		Line:   1 + strings.Count(before, "\n"),
		Column: 1 + utf8.RuneCountInString(before[lineStart:]),
		Offset: off,
		Msg:    msg,
	}
}

// FieldError is the error RenderValue returns when one string of the value is not a valid
// template: it names the string by its JSON path ("textcard.description",
// "template_card.button_list[1].text"; empty for a top-level string).
type FieldError struct {
	Path string
	Err  error // an *Error, or ErrTooLarge
}

// Error returns "path: err", or err alone when the path is empty.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, so errors.As finds the *Error.
func (e *FieldError) Unwrap() error { return e.Err }

// ErrTooLarge is returned by Render, Value and RenderValue when a template would produce more
// than 1 MiB of text or take more than a million steps (nested {{#each}} over large lists;
// filters count one step per 16 bytes of text they produce).
// WeCom messages are a few kilobytes; the limit only stops a runaway template.
var ErrTooLarge = errors.New("template: rendering would exceed 1 MiB of text or a million steps")

const (
	maxOutput = 1 << 20 // bytes of rendered text
	maxSteps  = 1 << 20 // nodes visited plus loop iterations
	maxDepth  = 64      // nested blocks
)
