package totp

import (
	"strings"
	"testing"
	"time"
	"unicode"
)

// FuzzValidate feeds arbitrary typed codes, times and last-used steps.
// Invariants: no panic; a success returns a step later than lastUsedStep,
// within Skew of the current step, whose code equals the input with white
// space removed; and validating again with that step as lastUsedStep at the
// same time fails (no replay).
func FuzzValidate(f *testing.F) {
	secret := []byte("12345678901234567890")
	f.Add("287082", int64(30), int64(0))
	f.Add(" 287 082 ", int64(59), int64(0))
	f.Add("94287082", int64(59), int64(0))
	f.Add("", int64(-1), int64(-5))
	f.Add("１２３４５６", int64(1e9), int64(0))
	f.Fuzz(func(t *testing.T, code string, unix, last int64) {
		// Keep the time representable: Step works on Unix seconds.
		unix %= 1 << 40
		now := time.Unix(unix, 0)
		step, ok := Validate(secret, code, now, last)
		if !ok {
			if step != 0 {
				t.Fatalf("failure returned step %d", step)
			}
			return
		}
		cur := Step(now)
		if step <= last || step < cur-Skew || step > cur+Skew {
			t.Fatalf("accepted step %d (current %d, last used %d)", step, cur, last)
		}
		digits := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, code)
		if HOTP(secret, uint64(step)) != digits {
			t.Fatalf("accepted %q for step %d whose code is %s", code, step, HOTP(secret, uint64(step)))
		}
		if again, ok := Validate(secret, code, now, step); ok && again <= step {
			t.Fatalf("replay accepted: step %d after %d", again, step)
		}
	})
}

// FuzzRecoveryCode checks that normalisation never panics, that anything
// accepted hashes, and that a code's hash is found only under its canonical
// form.
func FuzzRecoveryCode(f *testing.F) {
	f.Add("7kq2-xm9d-r4tv-0hbe")
	f.Add("7KQ2 XM9D R4TV OHBE")
	f.Add("----")
	f.Fuzz(func(t *testing.T, code string) {
		h, err := RecoveryCodeHash(code)
		idx, ok := VerifyRecoveryCode(code, []string{"sha256:x", h})
		if err != nil {
			if ok || idx != -1 {
				t.Fatalf("malformed %q verified", code)
			}
			return
		}
		if !ok || idx != 1 {
			t.Fatalf("%q does not verify against its own hash", code)
		}
		c, _ := normalizeRecovery(code)
		if len(c) != recoveryChars || strings.Trim(string(c), crockford) != "" {
			t.Fatalf("normalised %q to %q", code, c)
		}
	})
}

// FuzzDecodeSecret: no panic, and an accepted secret re-encodes to the
// input with case, spaces, hyphens and padding removed.
func FuzzDecodeSecret(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("gezd gnbv gy3t qojq gezd gnbv gy3t qojq")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeSecret(s)
		if err != nil {
			return
		}
		if len(b) < minSecretSize {
			t.Fatalf("accepted a %d-byte secret", len(b))
		}
		canon := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == '-' || r == '=' {
				return -1
			}
			return unicode.ToUpper(r)
		}, s)
		if EncodeSecret(b) != canon {
			t.Fatalf("%q decoded to %x which encodes as %q", s, b, EncodeSecret(b))
		}
	})
}
