package totp

import (
	"regexp"
	"strings"
	"testing"
)

func TestRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes(10)
	if err != nil {
		t.Fatal(err)
	}
	shape := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)
	seen := map[string]bool{}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		if !shape.MatchString(c) {
			t.Errorf("code %q is not four groups of four Crockford characters", c)
		}
		if seen[c] {
			t.Errorf("code %q generated twice", c)
		}
		seen[c] = true
		if hashes[i], err = RecoveryCodeHash(c); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hashes[i], c) || strings.Contains(hashes[i], strings.ReplaceAll(c, "-", "")) {
			t.Fatalf("hash %q contains the code", hashes[i])
		}
	}

	t.Run("each code matches its own hash", func(t *testing.T) {
		for i, c := range codes {
			if idx, ok := VerifyRecoveryCode(c, hashes); !ok || idx != i {
				t.Errorf("VerifyRecoveryCode(%q) = %d, %v; want %d, true", c, idx, ok, i)
			}
		}
	})
	t.Run("typing is forgiven", func(t *testing.T) {
		c := codes[3]
		typed := " " + strings.ToUpper(strings.ReplaceAll(c, "-", " ")) + " "
		typed = strings.NewReplacer("1", "l", "0", "O").Replace(typed)
		if idx, ok := VerifyRecoveryCode(typed, hashes); !ok || idx != 3 {
			t.Errorf("VerifyRecoveryCode(%q) = %d, %v; want 3, true", typed, idx, ok)
		}
	})
	t.Run("a used code no longer matches once its hash is deleted", func(t *testing.T) {
		rest := append(append([]string{}, hashes[:2]...), hashes[3:]...)
		if _, ok := VerifyRecoveryCode(codes[2], rest); ok {
			t.Error("code matched after its hash was removed")
		}
	})
	t.Run("wrong and malformed codes", func(t *testing.T) {
		for _, c := range []string{"", "0000-0000-0000-0000", codes[0][:18], codes[0] + "x", codes[0] + "-0000", "uuuu-uuuu-uuuu-uuuu", strings.Repeat("-", 1000)} {
			if idx, ok := VerifyRecoveryCode(c, hashes); ok || idx != -1 {
				t.Errorf("VerifyRecoveryCode(%q) = %d, %v; want -1, false", c, idx, ok)
			}
		}
	})
	t.Run("a malformed code has no hash", func(t *testing.T) {
		if _, err := RecoveryCodeHash("abc"); err != ErrBadRecoveryCode {
			t.Errorf("RecoveryCodeHash(abc) error = %v", err)
		}
	})
}

func TestRecoveryCodeHashIsStable(t *testing.T) {
	// Pinned so that a change to normalisation or hashing, which would make
	// every stored code unusable, is noticed. Computed independently with
	//
	//	printf 'qsmo totp recovery code v1\0007kq2xm9dr4tv0hbe' |
	//	  openssl dgst -sha256 -binary | basenc --base64url | tr -d =
	got, err := RecoveryCodeHash("7kq2-xm9d-r4tv-0hbe")
	if err != nil {
		t.Fatal(err)
	}
	const want = "sha256:B9H0QTrDJpcTaUigkg_nP17UskNYMlqRhjCFOSEAdS8"
	if got != want {
		t.Errorf("RecoveryCodeHash = %s, want %s", got, want)
	}
}

func TestRecoveryCodeCount(t *testing.T) {
	for _, n := range []int{0, -1, 101} {
		if _, err := NewRecoveryCodes(n); err == nil {
			t.Errorf("NewRecoveryCodes(%d) succeeded", n)
		}
	}
	if c, err := NewRecoveryCodes(100); err != nil || len(c) != 100 {
		t.Errorf("NewRecoveryCodes(100) = %d codes, %v", len(c), err)
	}
}
