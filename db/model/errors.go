// Package model holds Guildhall's record types and its pure rules: roles,
// permissions, slugs, validation. It imports only the standard library, so the
// rules stay free of I/O and are tested with plain table tests.
package model

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Code is a machine-readable error code of the JSON envelope (SPEC 11).
type Code string

const (
	CodeUnauthorized      Code = "unauthorized"
	CodeForbidden         Code = "forbidden"
	CodeNotFound          Code = "not_found"
	CodeConflict          Code = "conflict"
	CodeValidation        Code = "validation_error"
	CodeInsufficientFunds Code = "insufficient_funds"
	CodeRateLimited       Code = "rate_limited"
	CodePlanLimit         Code = "plan_limit"
)

// Error is the one error value the store and the rules return for anything a
// client did; web/errors.go maps its Code to an HTTP status once. Anything that
// is not an *Error is an internal failure (500).
type Error struct {
	Code    Code
	Message string
	// Fields holds per-field messages of a validation error (form re-render).
	Fields map[string]string
	// Details is extra data for the JSON envelope (e.g. what blocks a delete).
	Details any
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return string(e.Code) + ": " + e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return string(e.Code) + ": " + e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Is makes errors.Is(err, ErrNotFound) and friends match on the code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; they carry only a code.
var (
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrForbidden    = &Error{Code: CodeForbidden}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrValidation   = &Error{Code: CodeValidation}
	ErrUnauthorized = &Error{Code: CodeUnauthorized}
)

// NotFound says what was not found. Use it also for things the caller may not see.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Forbidden refuses an action the caller's role does not allow.
func Forbidden(format string, a ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, a...)}
}

// Conflict refuses an action the current state does not allow.
func Conflict(format string, a ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, a...)}
}

// ConflictField is a conflict tied to one field (a taken email, slug or
// name): 409 in the API, the field's message on a form.
func ConflictField(field, msg string) *Error {
	return &Error{Code: CodeConflict, Message: msg, Fields: map[string]string{field: msg}}
}

// Invalid is a validation error with one message per field.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: CodeValidation, Message: "Please correct the highlighted fields.", Fields: fields}
}

// InvalidField is a validation error on one field.
func InvalidField(field, msg string) *Error {
	return &Error{Code: CodeValidation, Message: msg, Fields: map[string]string{field: msg}}
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns the code of err, or "" for an internal error.
func CodeOf(err error) Code {
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return ""
}

// Fields collects validation messages; Err returns nil when there are none.
type Fields map[string]string

// Add records msg for field unless the field already has a message.
func (f Fields) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns a validation error, or nil if no field failed.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(map[string]string(f))
}
