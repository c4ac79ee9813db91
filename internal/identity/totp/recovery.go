package totp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Recovery codes let a person sign in once without their authenticator app.
// Each is 16 characters of Crockford's base32 (no i, l, o or u, so nothing
// reads as another character), written in groups of four:
//
//	7kq2-xm9d-r4tv-0hbe
//
// That is 80 random bits. At that size a fast hash is enough to store them:
// even with the table of hashes in hand, finding a code would take about 2^80
// SHA-256 computations, where a slow password hash would make checking ten
// codes at sign-in too costly.
const (
	recoveryChars  = 16
	recoveryGroup  = 4
	recoveryPrefix = "sha256:"
	// maxRecoveryCodes bounds one batch.
	maxRecoveryCodes = 100
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// recoveryDomain separates these hashes from any other SHA-256 use.
const recoveryDomain = "qsmo totp recovery code v1\x00"

// ErrBadRecoveryCode means the text is not shaped like a recovery code.
var ErrBadRecoveryCode = errors.New("totp: not a recovery code")

// NewRecoveryCodes returns n new random recovery codes (1 ≤ n ≤ 100) to show
// the person once. Store only their RecoveryCodeHash values.
func NewRecoveryCodes(n int) ([]string, error) {
	if n < 1 || n > maxRecoveryCodes {
		return nil, fmt.Errorf("totp: recovery codes: count %d outside 1..%d", n, maxRecoveryCodes)
	}
	codes := make([]string, n)
	buf := make([]byte, recoveryChars)
	for i := range codes {
		rand.Read(buf) // never fails: crypto/rand aborts the program instead
		var b strings.Builder
		for j, x := range buf {
			if j > 0 && j%recoveryGroup == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(crockford[x&31]) // 256 is a multiple of 32: no bias
		}
		codes[i] = b.String()
	}
	return codes, nil
}

// RecoveryCodeHash returns the form of a recovery code to store:
// "sha256:" and the unpadded base64url SHA-256 of the normalised code.
func RecoveryCodeHash(code string) (string, error) {
	c, ok := normalizeRecovery(code)
	if !ok {
		return "", ErrBadRecoveryCode
	}
	return hashRecovery(c), nil
}

func hashRecovery(c []byte) string {
	h := sha256.New()
	h.Write([]byte(recoveryDomain))
	h.Write(c)
	return recoveryPrefix + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// VerifyRecoveryCode reports which of the stored hashes, if any, the typed
// code matches. Typing is forgiven: any case, spaces or hyphens anywhere,
// and i, l read as 1 and o as 0. Every hash is compared, in constant time,
// whatever matches. The caller must delete hashes[index] in the same
// transaction that accepts the sign-in, which is what makes a code
// single-use.
func VerifyRecoveryCode(code string, hashes []string) (index int, ok bool) {
	c, valid := normalizeRecovery(code)
	if !valid {
		return -1, false
	}
	got := []byte(hashRecovery(c))
	index = -1
	for i, h := range hashes {
		if subtle.ConstantTimeCompare(got, []byte(h)) == 1 && index < 0 {
			index = i
		}
	}
	return index, index >= 0
}

// normalizeRecovery maps typed text to the 16 canonical characters.
func normalizeRecovery(code string) ([]byte, bool) {
	if len(code) > 4*recoveryChars {
		return nil, false
	}
	out := make([]byte, 0, recoveryChars)
	for i := 0; i < len(code); i++ {
		c := code[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case ' ', '-', '\t':
			continue
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		if strings.IndexByte(crockford, c) < 0 || len(out) == recoveryChars {
			return nil, false
		}
		out = append(out, c)
	}
	return out, len(out) == recoveryChars
}
