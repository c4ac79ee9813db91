package oidc

import (
	"errors"
	"strings"
)

// Errors from Finish. Compare with errors.Is; Message turns any of them into
// a sentence for the person signing in.
var (
	// ErrStateExpired means the sign-in attempt is older than StateTTL (or
	// its record is empty).
	ErrStateExpired = errors.New("oidc: sign-in attempt expired")
	// ErrStateMismatch means the callback's state is not the one stored for
	// this browser: a forged or crossed callback.
	ErrStateMismatch = errors.New("oidc: callback state does not match the sign-in attempt")
	// ErrBadCallback means the callback has no usable code or is malformed.
	ErrBadCallback = errors.New("oidc: malformed callback")
	// ErrIDToken means the ID token failed verification: signature, issuer,
	// audience, expiry or authorized party.
	ErrIDToken = errors.New("oidc: ID token rejected")
	// ErrNonceMismatch means the ID token was not issued for this sign-in
	// attempt (a replayed or injected token).
	ErrNonceMismatch = errors.New("oidc: ID token nonce does not match the sign-in attempt")
	// ErrACRMismatch means the IdP authenticated at a level other than the
	// one required.
	ErrACRMismatch = errors.New("oidc: authentication context (acr) is not one of those requested")
	// ErrSubjectMismatch means the user info response is about another
	// subject than the ID token.
	ErrSubjectMismatch = errors.New("oidc: user info subject differs from the ID token subject")
)

// ProviderError is an error the IdP reported, on the callback (the user
// declined, the request was refused) or from the token endpoint. Code and
// Description come from outside: they are reduced to printable ASCII and
// bounded in length before being kept.
type ProviderError struct {
	Code        string // RFC 6749 error code, e.g. access_denied
	Description string // error_description, possibly empty
	// AtToken is true when the token endpoint, not the callback, refused.
	AtToken bool
}

func (e *ProviderError) Error() string {
	where := "authorization"
	if e.AtToken {
		where = "token request"
	}
	s := "oidc: identity provider refused " + where + ": " + e.Code
	if e.Description != "" {
		s += " (" + e.Description + ")"
	}
	return s
}

// maxOutsideText bounds error text copied from the IdP.
const maxOutsideText = 200

// cleanText keeps printable ASCII, turning anything else into '?', and cuts
// the text to maxOutsideText bytes, so that IdP text cannot forge log lines
// or flood them.
func cleanText(s string) string {
	if len(s) > maxOutsideText {
		s = s[:maxOutsideText]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
}

// outsideError keeps a wrapped error for errors.Is and errors.As but shows
// its text cleaned: messages from the libraries below quote what the IdP
// sent (claims, response bodies).
type outsideError struct {
	msg string
	err error
}

func (e *outsideError) Error() string { return e.msg }
func (e *outsideError) Unwrap() error { return e.err }

// maxErrorText bounds the text of a wrapped library error.
const maxErrorText = 400

func outside(err error) error {
	msg := err.Error()
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText]
	}
	return &outsideError{msg: strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, msg), err: err}
}

// Message returns a sentence to show the person whose sign-in failed with
// err. It never includes text from the IdP.
func Message(err error) string {
	var pe *ProviderError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrStateExpired):
		return "Your sign-in took too long to complete. Please sign in again."
	case errors.Is(err, ErrStateMismatch), errors.Is(err, ErrBadCallback):
		return "This sign-in link is not valid for this browser. Please sign in again from the start."
	case errors.As(err, &pe) && pe.Code == "access_denied":
		return "Sign-in was cancelled or refused by your identity provider. Please try again, or contact your administrator."
	case errors.As(err, &pe) && pe.Code == "login_required":
		return "Your identity provider asked you to sign in again. Please try again."
	case errors.Is(err, ErrACRMismatch):
		return "Your identity provider did not confirm the required level of assurance. Please sign in again, or contact your administrator."
	default:
		return "We could not complete sign-in with your identity provider. Please try again later."
	}
}
