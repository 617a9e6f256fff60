package problem

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Code is a stable, documented error code of the API (docs/api.md lists them).
type Code string

// The error catalogue: every error a client can see has one of these codes.
const (
	CodeBadRequest   Code = "bad_request"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeTooLarge     Code = "too_large"
	CodeValidation   Code = "validation_failed"
	CodeRateLimited  Code = "rate_limited"
	CodeInternal     Code = "internal"
)

// Status is the HTTP status that goes with a code.
func (c Code) Status() int {
	switch c {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeValidation:
		return http.StatusUnprocessableEntity
	case CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error a user should read: a code, a sentence and, for validation, the fields.
type Error struct {
	Code    Code
	Message string
	Fields  Fields
	// RetryAfter, on a rate_limited error, is how long the client should wait before trying
	// again: the API and the pages send it as a Retry-After header.
	RetryAfter time.Duration
	// Err is the cause, for the log only.
	Err error
}

// RetrySeconds is RetryAfter in whole seconds as Retry-After carries it: rounded up, so a client
// that waits that long is admitted, and at least 1.
func (e *Error) RetrySeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if len(e.Fields) > 0 {
		msg += " (" + e.Fields.String() + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid is a 422 naming the fields.
func Invalid(fields Fields) *Error {
	return &Error{Code: CodeValidation, Message: "Some fields are not valid: " + fields.String(), Fields: fields}
}

// Invalidf is a 422 for one field.
func Invalidf(field, format string, args ...any) *Error {
	return Invalid(Fields{field: fmt.Sprintf(format, args...)})
}

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParseID reads a resource id from a path: anything but a positive integer names no resource.
func ParseID(raw string) (uint64, error) {
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		return 0, Errorf(CodeNotFound, "No resource has the id %q.", raw)
	}
	return id, nil
}

// Kinds a store error may name (the StoreKind method of its sentinel errors), so StoreError can
// read them without this package importing the store.
const (
	KindNotFound  = "not_found"
	KindDuplicate = "duplicate"
	KindInUse     = "in_use"
)

// StoreError turns a store error into the user's error: not found, conflict, or internal (whose
// cause stays in the log, never in the response). what names the resource ("Channel").
func StoreError(what string, err error) error {
	if err == nil {
		return nil
	}
	var k interface{ StoreKind() string }
	kind := ""
	if errors.As(err, &k) {
		kind = k.StoreKind()
	}
	switch kind {
	case KindNotFound:
		return &Error{Code: CodeNotFound, Message: what + " does not exist.", Err: err}
	case KindDuplicate:
		return &Error{Code: CodeConflict, Message: what + " with that name already exists.", Err: err}
	case KindInUse:
		return &Error{Code: CodeConflict, Message: what + " is in use.", Err: err}
	default:
		return &Error{Code: CodeInternal, Message: "Something went wrong on the server; the log has the details.", Err: err}
	}
}
