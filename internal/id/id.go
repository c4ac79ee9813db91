// Package id makes opaque, unguessable record identifiers such as
// "org_5t3kq0m2x9c1v7b4n8r6w2y0za". The prefix names the record type so logs
// and support conversations stay readable; the rest is 128 random bits.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns prefix + "_" + 26 characters of lowercase base32 carrying 128
// random bits.
func New(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + "_" + enc.EncodeToString(b[:])
}

// Secret returns n random bytes as lowercase base32, for tokens that are
// shown once and stored hashed.
func Secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return enc.EncodeToString(b)
}

// Valid reports whether s looks like an identifier with the given prefix. It
// lets handlers reject garbage early with a 404 instead of querying for it.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') || c == 'i' || c == 'l' || c == 'o' || c == 'u' {
			return false
		}
	}
	return true
}
