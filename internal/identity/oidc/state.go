package oidc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"
)

// StateTTL is how long a sign-in attempt stays valid: long enough for a
// person to sign in at the IdP, including a second factor, short enough that
// a stolen record is soon useless.
const StateTTL = 10 * time.Minute

// randomLen is the number of random bytes in state and nonce: 256 bits,
// 43 base64url characters (Login.gov asks for at least 22).
const randomLen = 32

// State is one sign-in attempt, made by Start and consumed by Finish. The
// caller keeps it server-side, bound to the browser that started the
// attempt (for example keyed by a short-lived, HttpOnly cookie), and deletes
// it before calling Finish, so that each record serves one callback only.
// It holds secrets (the PKCE verifier and nonce): never log it or send it to
// the browser.
type State struct {
	State    string    `json:"state"`    // value of the state parameter, compared on callback
	Nonce    string    `json:"nonce"`    // expected ID token nonce
	Verifier string    `json:"verifier"` // PKCE code verifier (RFC 7636)
	Created  time.Time `json:"created"`  // when Start made it, UTC
}

// Expired reports whether the attempt is older than StateTTL at now, or is
// not a record Start made (zero or created in the future beyond a minute of
// clock difference).
func (s State) Expired(now time.Time) bool {
	if s.Created.IsZero() || len(s.State) < randomLen || len(s.Nonce) < randomLen || s.Verifier == "" {
		return true
	}
	return now.Sub(s.Created) > StateTTL || s.Created.Sub(now) > time.Minute
}

func randomString() string {
	b := make([]byte, randomLen)
	rand.Read(b) // never fails: crypto/rand aborts the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxCodeLen bounds the authorization code accepted from the callback.
const maxCodeLen = 2048

// parseCallback checks the redirect's query against the stored attempt and
// returns the authorization code. Order matters: the state is checked
// before anything else in the query is believed, so a forged callback can
// neither show an IdP error nor submit a code.
func parseCallback(st State, issuer string, q url.Values, now time.Time) (string, error) {
	if st.Expired(now) {
		return "", ErrStateExpired
	}
	got, ok := single(q, "state")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(st.State)) != 1 {
		return "", ErrStateMismatch
	}
	// RFC 9207: when the IdP names itself, it must be the one we asked;
	// this stops a mix-up between several configured IdPs.
	if iss, present := q["iss"]; present && (len(iss) != 1 || iss[0] != issuer) {
		return "", fmt.Errorf("%w: iss parameter names another issuer", ErrBadCallback)
	}
	if _, present := q["error"]; present {
		code, _ := single(q, "error")
		desc, _ := single(q, "error_description")
		if code == "" {
			code = "unspecified"
		}
		return "", &ProviderError{Code: cleanText(code), Description: cleanText(desc)}
	}
	code, ok := single(q, "code")
	if !ok || code == "" || len(code) > maxCodeLen || !isToken(code) {
		return "", fmt.Errorf("%w: missing or invalid code", ErrBadCallback)
	}
	return code, nil
}

// single returns the only value of key; a repeated parameter is refused
// rather than guessing which one counts.
func single(q url.Values, key string) (string, bool) {
	v := q[key]
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}
