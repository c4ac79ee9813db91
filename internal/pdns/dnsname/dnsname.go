// Package dnsname turns domain names from outside input (threat feeds, policy
// forms) into the single form the resolver matches on: lower-case ASCII
// A-labels without a trailing dot.
package dnsname

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Limits of a name in presentation form without the trailing dot (RFC 1035:
// 255 octets on the wire, which leaves 253 characters to print).
const (
	MaxNameLen  = 253
	MaxLabelLen = 63
)

// Reasons a name is rejected. Every error returned by this package is an
// *Error that wraps exactly one of them, so callers can test with errors.Is.
var (
	ErrEmpty        = errors.New("empty name")
	ErrNameTooLong  = fmt.Errorf("name longer than %d characters", MaxNameLen)
	ErrLabelTooLong = fmt.Errorf("label longer than %d characters", MaxLabelLen)
	ErrEmptyLabel   = errors.New("empty label")
	ErrInvalidChar  = errors.New("invalid character")
	ErrIPAddress    = errors.New("IP address, not a domain name")
	ErrNumericTLD   = errors.New("top-level label is all digits")
	ErrIDNA         = errors.New("invalid internationalized name")
)

// Error reports a rejected name with the reason and where it was found.
type Error struct {
	Name   string // the input, clipped to keep logs and reports short
	Err    error  // one of the Err* values of this package
	Detail string // optional precision, such as the offending character
}

// Error formats the rejection as `dnsname: "name": reason detail`.
func (e *Error) Error() string {
	msg := "dnsname: " + fmt.Sprintf("%q", e.Name) + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += " " + e.Detail
	}
	return msg
}

// Unwrap returns the reason, one of the Err* values.
func (e *Error) Unwrap() error { return e.Err }

// Reason returns the message without the package prefix and the name, for
// reports that already show the name beside it.
func (e *Error) Reason() string {
	if e.Detail != "" {
		return e.Err.Error() + " " + e.Detail
	}
	return e.Err.Error()
}

// profile maps internationalized names the way a stub resolver would before
// sending a query (UTS #46 lookup mapping: case folding, width mapping,
// non-transitional, Bidi rule). Two checks of idna.Lookup are relaxed so
// that both paths of Normalize agree on what a valid label is: the STD3
// character rule (it refuses '_', which real feeds and DNS use, e.g.
// _dmarc) and the hyphen rule (it refuses "r3---sn-abc" style labels, which
// are common on the wire). The characters allowed in the output are checked
// afterwards by the ASCII validator.
var profile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
)

// Normalize returns the canonical form of a domain name: one trailing dot
// removed, letters in lower case, internationalized labels converted to
// A-labels ("Bücher.Example." gives "xn--bcher-kva.example"). It rejects
// empty names and labels, names longer than MaxNameLen, labels longer than
// MaxLabelLen, characters other than letters, digits, '-' and '_', and IP
// addresses or names whose last label is all digits.
//
// Names that are already canonical are returned as they are, without
// allocation; other ASCII names cost one allocation. Only names holding a
// non-ASCII byte go through IDNA processing. Normalize is idempotent.
func Normalize(s string) (string, error) {
	t := trimDot(s)
	r := scan(t)
	switch r.code {
	case codeOK:
		if !r.upper {
			return t, nil
		}
		return string(appendLower(make([]byte, 0, len(t)), t)), nil
	case codeNonASCII:
		return normalizeIDNA(s)
	default:
		return "", r.err(s)
	}
}

// AppendNormalized appends the canonical form of name (see Normalize) to dst
// and returns the extended buffer. For ASCII input it does not allocate when
// dst has room, which is what loading millions of feed names needs; it falls
// back to IDNA processing only when a non-ASCII byte appears. On error dst is
// returned unchanged.
func AppendNormalized(dst, name []byte) ([]byte, error) {
	t := trimDot(name)
	r := scan(t)
	switch r.code {
	case codeOK:
		return appendLower(dst, t), nil
	case codeNonASCII:
		s, err := normalizeIDNA(string(name))
		if err != nil {
			return dst, err
		}
		return append(dst, s...), nil
	default:
		return dst, r.err(string(name))
	}
}

// IsNormalized reports whether s is already canonical: Normalize(s) would
// return s unchanged. It does not allocate.
func IsNormalized(s string) bool {
	r := scan(s)
	return r.code == codeOK && !r.upper
}

func normalizeIDNA(s string) (string, error) {
	if !utf8.ValidString(s) {
		// The mapping would turn bad bytes into U+FFFD and encode that.
		return "", &Error{Name: clip(s), Err: ErrIDNA, Detail: "(not valid UTF-8)"}
	}
	a, err := profile.ToASCII(s)
	if err != nil {
		return "", &Error{Name: clip(s), Err: ErrIDNA, Detail: "(" + strings.TrimPrefix(err.Error(), "idna: ") + ")"}
	}
	t := trimDot(a)
	r := scan(t)
	switch r.code {
	case codeOK:
		if r.upper {
			t = string(appendLower(make([]byte, 0, len(t)), t))
		}
		return t, nil
	case codeNonASCII:
		// ToASCII succeeded, so this cannot happen; refuse rather than
		// return a name the resolver could never match.
		return "", &Error{Name: clip(s), Err: ErrIDNA, Detail: "(conversion left non-ASCII characters)"}
	default:
		return "", r.err(s)
	}
}

type code uint8

const (
	codeOK code = iota
	codeNonASCII
	codeEmpty
	codeNameTooLong
	codeLabelTooLong
	codeEmptyLabel
	codeInvalidChar
	codeNumericTLD
)

// result is what scan found, kept free of pointers and strings so that the
// fast path does not allocate; err builds the error only when needed.
type result struct {
	code  code
	upper bool
	at    int  // offset of the first problem
	char  byte // the invalid character, for codeInvalidChar
}

// Byte classes for scan, from a table so the loop costs one load a byte.
const (
	clsInvalid uint8 = iota
	clsLetter        // a-z, '-', '_'
	clsUpper         // A-Z
	clsDigit
	clsDot
	clsNonASCII
)

var classes = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsLetter
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = clsUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	t['-'], t['_'], t['.'] = clsLetter, clsLetter, clsDot
	for c := 0x80; c < 0x100; c++ {
		t[c] = clsNonASCII
	}
	return t
}()

// scan validates a name whose trailing dot, if any, was removed. It looks at
// every byte so that a non-ASCII byte anywhere sends the name to IDNA
// processing even when an ASCII problem comes first (the mapping may remove
// or change characters).
func scan[T string | []byte](s T) result {
	if len(s) == 0 {
		return result{code: codeEmpty}
	}
	var r result
	start := 0     // start of the current label
	digits := true // current label is all digits so far
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch classes[c] {
		case clsLetter:
			digits = false
		case clsDigit:
		case clsDot:
			if r.code == codeOK {
				if n := i - start; n == 0 {
					r.code, r.at = codeEmptyLabel, i
				} else if n > MaxLabelLen {
					r.code, r.at = codeLabelTooLong, start
				}
			}
			start, digits = i+1, true
		case clsUpper:
			r.upper, digits = true, false
		case clsNonASCII:
			return result{code: codeNonASCII, at: i}
		default:
			if r.code == codeOK {
				r.code, r.at, r.char = codeInvalidChar, i, c
			}
			digits = false
		}
	}
	if r.code != codeOK {
		return r
	}
	switch n := len(s) - start; {
	case n == 0:
		r.code, r.at = codeEmptyLabel, len(s)
	case n > MaxLabelLen:
		r.code, r.at = codeLabelTooLong, start
	case len(s) > MaxNameLen:
		r.code, r.at = codeNameTooLong, MaxNameLen
	case digits:
		r.code, r.at = codeNumericTLD, start
	}
	return r
}

func (r result) err(name string) error {
	e := &Error{Name: clip(name)}
	switch r.code {
	case codeEmpty:
		e.Err = ErrEmpty
	case codeNameTooLong:
		e.Err = ErrNameTooLong
	case codeLabelTooLong:
		e.Err = ErrLabelTooLong
		e.Detail = fmt.Sprintf("at offset %d", r.at)
	case codeEmptyLabel:
		e.Err = ErrEmptyLabel
		e.Detail = fmt.Sprintf("at offset %d", r.at)
	case codeInvalidChar:
		if looksLikeAddress(name) {
			e.Err = ErrIPAddress
			break
		}
		e.Err = ErrInvalidChar
		e.Detail = fmt.Sprintf("%q at offset %d", rune(r.char), r.at)
	case codeNumericTLD:
		if looksLikeAddress(name) {
			e.Err = ErrIPAddress
			break
		}
		e.Err = ErrNumericTLD
	default:
		e.Err = ErrInvalidChar
	}
	return e
}

// looksLikeAddress reports whether a rejected name is in fact an IPv4 or
// IPv6 address (possibly in brackets), so the error says so plainly.
func looksLikeAddress(s string) bool {
	s = trimDot(s)
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

func trimDot[T string | []byte](s T) T {
	if n := len(s); n > 0 && s[n-1] == '.' {
		return s[:n-1]
	}
	return s
}

func appendLower[T string | []byte](dst []byte, s T) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(s))[:n+len(s)]
	out := dst[n:]
	for i := 0; i < len(s) && i < len(out); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return dst
}

// clip shortens a rejected input so that an absurd line cannot flood a log
// or a report.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
