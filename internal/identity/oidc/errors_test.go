package oidc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrStateExpired, "took too long"},
		{fmt.Errorf("wrapped: %w", ErrStateMismatch), "not valid for this browser"},
		{&ProviderError{Code: "access_denied", Description: "secret <b>html</b>"}, "cancelled or refused"},
		{&ProviderError{Code: "login_required"}, "sign in again"},
		{fmt.Errorf("%w: got %q", ErrACRMismatch, "x"), "level of assurance"},
		{ErrNonceMismatch, "could not complete sign-in"},
		{errors.New("dial tcp: connection refused"), "could not complete sign-in"},
	} {
		got := Message(tc.err)
		if !strings.Contains(got, tc.want) || strings.Contains(got, "html") || strings.Contains(got, "dial") {
			t.Errorf("Message(%v) = %q, want it to contain %q and nothing from the error", tc.err, got, tc.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	if got := cleanText("a\r\nb\x00c\u00e9"); got != "a??b?c?" {
		t.Errorf("cleanText = %q", got)
	}
	if got := cleanText(strings.Repeat("x", 500)); len(got) != maxOutsideText {
		t.Errorf("cleanText kept %d bytes, want %d", len(got), maxOutsideText)
	}
}

func TestOutsideErrorKeepsChain(t *testing.T) {
	base := fmt.Errorf("oidc: expected audience \"a\" got \"b\nlevel=ERROR\": %w", ErrNonceMismatch)
	err := fmt.Errorf("%w: %w", ErrIDToken, outside(base))
	if !errors.Is(err, ErrIDToken) || !errors.Is(err, ErrNonceMismatch) {
		t.Error("wrapping lost the chain")
	}
	if strings.ContainsAny(err.Error(), "\n") {
		t.Errorf("error text %q keeps a newline", err)
	}
}
