package model

import (
	"errors"
	"testing"
)

// wantCode checks that err carries code want ("" = nil error) and, for a
// validation error, that field has a message (field "" skips that check).
func wantCode(t *testing.T, err error, want Code, field string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("want nil error, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("want %s error, got nil", want)
	}
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	if e.Code != want {
		t.Fatalf("want code %s, got %s (%v)", want, e.Code, err)
	}
	if e.Message == "" {
		t.Fatalf("error %s has no message", want)
	}
	if !errors.Is(err, &Error{Code: want}) {
		t.Fatalf("errors.Is does not match code %s", want)
	}
	if field != "" {
		if e.Fields[field] == "" {
			t.Fatalf("want a message on field %q, got fields %v", field, e.Fields)
		}
	}
}
