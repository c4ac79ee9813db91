// Package totp implements the second sign-in factor: time-based one-time
// passwords (RFC 6238, on HOTP from RFC 4226) as shown by authenticator apps,
// single-use recovery codes, and the QR code used to enrol an app.
//
// Codes are HMAC-SHA1, 6 digits, 30-second steps: the parameters every
// authenticator app supports. Validate accepts the previous, current and next
// step to allow for clock drift (RFC 6238 §5.2) and refuses any step at or
// before the last one used, so an observed code cannot be replayed. Callers
// must also limit failed attempts per account (RFC 4226 §7.3): each guess has
// a 3-in-a-million chance.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Parameters of the codes this package makes and accepts.
const (
	SecretSize = 20 // bytes: 160 bits, the size RFC 4226 §4 recommends
	Digits     = 6
	Period     = 30 * time.Second
	// Skew is how many steps before or after the current one Validate
	// accepts.
	Skew = 1
)

// minSecretSize is the shortest secret accepted from outside (RFC 4226 §4
// requires at least 128 bits).
const minSecretSize = 16

// b32 is the authenticator-app spelling of secrets: RFC 4648 base32, upper
// case, without padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrBadSecret means a secret given as text is not base32 of at least 128
// bits.
var ErrBadSecret = errors.New("totp: secret is not base32 of at least 16 bytes")

// NewSecret returns a new random secret of SecretSize bytes.
func NewSecret() []byte {
	s := make([]byte, SecretSize)
	rand.Read(s) // never fails: crypto/rand aborts the program instead
	return s
}

// EncodeSecret returns the secret as upper-case base32 without padding, the
// form authenticator apps expect for manual entry.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret parses a base32 secret as a person may type it: any case,
// with spaces or hyphens between groups, with or without padding. The
// unused low bits of the last character must be zero, as EncodeSecret
// writes them.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' || r == '=' {
			return -1
		}
		return unicode.ToUpper(r)
	}, s)
	b, err := b32.DecodeString(s)
	// Re-encoding must give the input back: otherwise unused low bits were
	// set, and two spellings would stand for one secret.
	if err != nil || len(b) < minSecretSize || b32.EncodeToString(b) != s {
		return nil, ErrBadSecret
	}
	return b, nil
}

// HOTP returns the RFC 4226 one-time password for counter: HMAC-SHA1,
// dynamic truncation, Digits decimal digits.
func HOTP(secret []byte, counter uint64) string {
	return hotp(secret, counter, Digits)
}

func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Step returns the RFC 6238 time step of t: whole periods since the Unix
// epoch.
func Step(t time.Time) int64 {
	return floorDiv(t.Unix(), int64(Period/time.Second))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Code returns the code an authenticator app shows at time t.
func Code(secret []byte, t time.Time) string {
	return HOTP(secret, uint64(Step(t)))
}

// Validate reports whether code is the code for a step within Skew of now
// that is later than lastUsedStep (pass 0 when no code has been used yet).
// On success it returns the matched step, which the caller must store as the
// new lastUsedStep before accepting the sign-in, so the same code cannot be
// used twice. Spaces in code are ignored ("123 456"); anything other than
// exactly Digits decimal digits fails. The comparison takes the same time
// whichever digits are wrong.
func Validate(secret []byte, code string, now time.Time, lastUsedStep int64) (step int64, ok bool) {
	c, valid := normalizeCode(code)
	if !valid || len(secret) == 0 {
		return 0, false
	}
	cur := Step(now)
	var matched int64
	found := 0
	for d := int64(-Skew); d <= Skew; d++ {
		s := cur + d
		if s <= lastUsedStep || s < 0 {
			continue
		}
		eq := subtle.ConstantTimeCompare([]byte(HOTP(secret, uint64(s))), c)
		// Keep the latest matching step: storing it refuses the most.
		if eq == 1 {
			matched = s
			found = 1
		}
	}
	return matched, found == 1
}

// maxCodeInput bounds the text Validate looks at; a real code with spaces is
// far shorter.
const maxCodeInput = 64

// normalizeCode drops white space and returns the digits, or false if what
// remains is not exactly Digits ASCII digits.
func normalizeCode(code string) ([]byte, bool) {
	if len(code) > maxCodeInput || !utf8.ValidString(code) {
		return nil, false
	}
	out := make([]byte, 0, Digits)
	for _, r := range code {
		switch {
		case unicode.IsSpace(r):
		case '0' <= r && r <= '9' && len(out) < Digits:
			out = append(out, byte(r))
		default:
			return nil, false
		}
	}
	return out, len(out) == Digits
}

// URI returns the otpauth:// URI that enrols the secret in an authenticator
// app (Google's Key Uri Format, understood by all common apps), labelled
// "issuer:account". Neither issuer nor account may be empty or contain a
// colon or control characters.
func URI(issuer, account string, secret []byte) (string, error) {
	for _, f := range []struct{ name, v string }{{"issuer", issuer}, {"account", account}} {
		if strings.TrimSpace(f.v) == "" || strings.ContainsRune(f.v, ':') || !utf8.ValidString(f.v) ||
			strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return "", fmt.Errorf("totp: uri: %s must be non-empty text without colons", f.name)
		}
	}
	if len(secret) < minSecretSize {
		return "", fmt.Errorf("totp: uri: %w", ErrBadSecret)
	}
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label +
		"?secret=" + EncodeSecret(secret) +
		"&issuer=" + queryEscape(issuer) +
		"&algorithm=SHA1&digits=6&period=30", nil
}

// queryEscape escapes a query value with %20 for spaces: some apps show a
// literal "+" in the issuer name.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
