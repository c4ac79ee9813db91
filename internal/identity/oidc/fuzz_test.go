package oidc

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzCallback feeds arbitrary callback query strings to the callback
// check. Invariants: no panic; a code is returned only when the query holds
// exactly one state equal to the record's and exactly one code, which is the
// one returned; a provider error is reported only after the state matched,
// and its text is bounded printable ASCII; every other outcome is one of the
// package's callback errors.
func FuzzCallback(f *testing.F) {
	const issuer = "https://idp.example.gov"
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := State{
		State:    "c3RhdGUtc3RhdGUtc3RhdGUtc3RhdGUtc3RhdGUtMDA",
		Nonce:    "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2UtMDA",
		Verifier: "dmVyaWZpZXItdmVyaWZpZXItdmVyaWZpZXItdmVyaWZp",
		Created:  now.Add(-time.Minute),
	}
	f.Add("code=abc&state=" + st.State)
	f.Add("code=abc&state=" + st.State + "&iss=" + url.QueryEscape(issuer))
	f.Add("error=access_denied&error_description=no%0Athanks&state=" + st.State)
	f.Add("code=a&code=b&state=" + st.State)
	f.Add("state=" + st.State + "&state=" + st.State + "&code=x")
	f.Add("code=%zz&state=")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the HTTP layer refuses such a query before Finish
		}
		stateOK := len(q["state"]) == 1 && q.Get("state") == st.State
		code, err := parseCallback(st, issuer, q, now)
		if err == nil {
			if !stateOK || len(q["code"]) != 1 || q.Get("code") != code || code == "" || len(q["error"]) != 0 {
				t.Fatalf("accepted code %q from %q", code, raw)
			}
			return
		}
		var pe *ProviderError
		switch {
		case errors.As(err, &pe):
			if !stateOK {
				t.Fatalf("provider error reported without a matching state: %q", raw)
			}
			for _, s := range []string{pe.Code, pe.Description} {
				if len(s) > maxOutsideText || strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
					t.Fatalf("provider text %q not cleaned", s)
				}
			}
		case errors.Is(err, ErrStateMismatch):
			if stateOK {
				t.Fatalf("matching state refused: %q", raw)
			}
		case errors.Is(err, ErrBadCallback):
			if !stateOK {
				t.Fatalf("bad callback reported before the state check: %q", raw)
			}
		default:
			t.Fatalf("unexpected error %v for %q", err, raw)
		}
	})
}
