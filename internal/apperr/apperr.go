// Package apperr is qsmo's one error type: a short code that the web and API
// layers map to an HTTP status once, a message safe to show users, and the
// wrapped cause that only goes to the log.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for callers; it is stable and appears in API
// responses as {"error":{"code":...}}.
type Code string

// The code set. Keep it short: every caller must be able to act on a code.
const (
	Invalid      Code = "invalid"      // bad input; nothing changed
	NotFound     Code = "not_found"    // no such record, or not visible to the caller
	Conflict     Code = "conflict"     // the record's state does not allow the change
	Unauthorized Code = "unauthorized" // not signed in or bad credentials
	Forbidden    Code = "forbidden"    // visible, but the caller's role lacks the function
	TooMany      Code = "rate_limited" // slow down; Retry tells when
	Internal     Code = "internal"     // our fault; details are in the log only
)

// Error is an application error. Message is written for the person using the
// product; Err carries the technical cause for the log.
type Error struct {
	Code    Code
	Message string
	// Fields holds per-field messages for form and API validation errors.
	Fields map[string]string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	default:
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a user-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an internal error that keeps cause for the log.
func Wrap(cause error, format string, args ...any) *Error {
	return &Error{Code: Internal, Message: "Something went wrong on our side.", Err: fmt.Errorf(format+": %w", append(args, cause)...)}
}

// Validation returns an Invalid error carrying per-field messages.
func Validation(fields map[string]string) *Error {
	msg := "Please correct the highlighted fields."
	if len(fields) == 1 {
		for _, m := range fields {
			msg = m
		}
	}
	return &Error{Code: Invalid, Message: msg, Fields: fields}
}

// NotFoundf is shorthand for the most common error in a multi-tenant system:
// the record does not exist or the caller may not know it exists.
func NotFoundf(what string) *Error {
	return &Error{Code: NotFound, Message: what + " not found."}
}

// CodeOf returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the user-facing message of err; internal errors get a
// generic sentence so nothing technical leaks.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" && e.Code != Internal {
		return e.Message
	}
	return "Something went wrong on our side. The error has been logged."
}

// FieldsOf returns the per-field messages of err, if any.
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return CodeOf(err) == code }
