package dnsname

import (
	"errors"
	"strings"
	"testing"
)

var sentinels = []error{
	ErrEmpty, ErrNameTooLong, ErrLabelTooLong, ErrEmptyLabel,
	ErrInvalidChar, ErrIPAddress, ErrNumericTLD, ErrIDNA,
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"example.com", "WWW.Example.COM.", "Bücher.Example.", "_dmarc.example.com",
		"a..b", "192.0.2.1", "::1", "xn--bcher-kva.example", "ｅｘａｍｐｌｅ。com",
		"faß.de", strings.Repeat("a", 64) + ".com", "", ".", "bad\xff", "ا.ب",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		b, berr := AppendNormalized(nil, []byte(in))
		if (err == nil) != (berr == nil) || string(b) != out {
			t.Fatalf("Normalize and AppendNormalized disagree on %q: %q,%v vs %q,%v", in, out, err, b, berr)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *Error", err)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v wraps no known reason", err)
			}
			return
		}
		checkCanonical(t, in, out)
		again, err := Normalize(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: Normalize(%q) = %q; Normalize of that = %q, %v", in, out, again, err)
		}
		if !IsNormalized(out) {
			t.Fatalf("IsNormalized(%q) = false for Normalize output", out)
		}
		if isASCII(in) {
			if want := strings.ToLower(strings.TrimSuffix(in, ".")); out != want {
				t.Fatalf("ASCII input %q gave %q; want %q", in, out, want)
			}
		}
	})
}

// checkCanonical asserts the properties every accepted name has.
func checkCanonical(t *testing.T, in, out string) {
	t.Helper()
	if out == "" || len(out) > MaxNameLen {
		t.Fatalf("Normalize(%q) = %q: length %d out of 1..%d", in, out, len(out), MaxNameLen)
	}
	if strings.HasSuffix(out, ".") {
		t.Fatalf("Normalize(%q) = %q ends with a dot", in, out)
	}
	for _, label := range strings.Split(out, ".") {
		if len(label) < 1 || len(label) > MaxLabelLen {
			t.Fatalf("Normalize(%q) = %q has label %q of length %d", in, out, label, len(label))
		}
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			t.Fatalf("Normalize(%q) = %q has byte %q", in, out, c)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
