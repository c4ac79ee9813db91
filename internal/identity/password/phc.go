package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// maxThreads bounds the lanes accepted from a stored hash: x/crypto starts
// one goroutine per lane.
const maxThreads = 16

// b64 is the PHC alphabet: standard base64 without padding. Strict decoding
// rejects non-zero trailing bits so that each hash has one spelling.
var b64 = base64.RawStdEncoding.Strict()

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses an argon2id PHC string. It accepts exactly the form the
// reference implementation writes (fields in the order m, t, p; version 19)
// and rejects parameters that are invalid for argon2id or above the limits
// that keep Verify's work bounded.
func decode(s string, maxMemory uint32) (p Params, salt, key []byte, err error) {
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("not a PHC string with six $-separated fields")
	}
	if parts[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("version is not 19")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return fail("parameters are not m, t and p")
	}
	m, ok := param(kv[0], "m=")
	if !ok {
		return fail("bad memory parameter")
	}
	t, ok := param(kv[1], "t=")
	if !ok {
		return fail("bad time parameter")
	}
	threads, ok := param(kv[2], "p=")
	if !ok {
		return fail("bad parallelism parameter")
	}
	switch {
	case threads < 1 || threads > maxThreads:
		return fail("parallelism out of range")
	case t < 1 || t > maxTime:
		return fail("time out of range")
	case m < 8*threads || m > uint64(maxMemory):
		return fail("memory out of range")
	}
	if !isB64(parts[4]) || !isB64(parts[5]) {
		return fail("salt or key has characters outside the base64 alphabet")
	}
	salt, err = b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return fail("bad salt")
	}
	key, err = b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return fail("bad key")
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}

// param parses "name=decimal" with no sign and no leading zero.
func param(s, name string) (uint64, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return n, err == nil
}

// isB64 reports whether s uses only the base64 alphabet. The decoder alone
// would skip carriage returns and newlines, letting two spellings of one hash
// verify.
func isB64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
