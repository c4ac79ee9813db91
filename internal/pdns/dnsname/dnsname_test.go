package dnsname

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 4 labels of 63 plus 3 dots = 255; trim to exactly 253.
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61)
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"lower-case name is unchanged", "example.com", "example.com", nil},
		{"upper case is folded", "WWW.Example.COM", "www.example.com", nil},
		{"one trailing dot is removed", "example.com.", "example.com", nil},
		{"single label is allowed", "localhost", "localhost", nil},
		{"underscore is allowed", "_dmarc.Example.com", "_dmarc.example.com", nil},
		{"hyphens anywhere are allowed", "r3---sn-abc.-x-.example", "r3---sn-abc.-x-.example", nil},
		{"digits in labels", "123.example.com", "123.example.com", nil},
		{"A-label is kept", "xn--bcher-kva.example", "xn--bcher-kva.example", nil},
		{"U-label becomes A-label", "Bücher.Example.", "xn--bcher-kva.example", nil},
		{"full-width letters and ideographic dot map", "ｅｘａｍｐｌｅ。com", "example.com", nil},
		{"sharp s is not transitional", "faß.de", "xn--fa-hia.de", nil},
		{"underscore beside a U-label", "_tcp.bücher.de", "_tcp.xn--bcher-kva.de", nil},
		{"63-character label", label63 + ".com", label63 + ".com", nil},
		{"253-character name", name253, name253, nil},
		{"253-character name with dot", name253 + ".", name253, nil},

		{"empty", "", "", ErrEmpty},
		{"root only", ".", "", ErrEmpty},
		{"two trailing dots", "example.com..", "", ErrEmptyLabel},
		{"leading dot", ".example.com", "", ErrEmptyLabel},
		{"empty inner label", "a..b", "", ErrEmptyLabel},
		{"64-character label", strings.Repeat("a", 64) + ".com", "", ErrLabelTooLong},
		{"254-character name", name253 + "b", "", ErrNameTooLong},
		{"space", "exa mple.com", "", ErrInvalidChar},
		{"slash", "example.com/path", "", ErrInvalidChar},
		{"wildcard", "*.example.com", "", ErrInvalidChar},
		{"at sign", "user@example.com", "", ErrInvalidChar},
		{"IPv4 address", "192.0.2.1", "", ErrIPAddress},
		{"IPv4 address with dot", "192.0.2.1.", "", ErrIPAddress},
		{"IPv6 address", "2001:db8::1", "", ErrIPAddress},
		{"bracketed IPv6", "[::1]", "", ErrIPAddress},
		{"numeric top-level label", "example.123", "", ErrNumericTLD},
		{"all-digit single label", "0", "", ErrNumericTLD},
		{"invalid UTF-8", "bad\xff.com", "", ErrIDNA},
		{"replacement character", "bad\uFFFD.com", "", ErrIDNA},
		{"bad punycode beside a U-label", "xn--zz-.bücher.de", "", ErrIDNA},
		{"U-label too long after conversion", strings.Repeat("bücher", 12) + ".de", "", ErrLabelTooLong},
		{"non-ASCII symbol", "a☃b/.com", "", ErrInvalidChar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Normalize(%q) = %q, %v; want error %v", tt.in, got, err, tt.err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Reason() == "" {
					t.Fatalf("error %v is not a *Error with a reason", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			b, err := AppendNormalized([]byte("prefix:"), []byte(tt.in))
			if err != nil || string(b) != "prefix:"+tt.want {
				t.Fatalf("AppendNormalized(%q) = %q, %v; want %q", tt.in, b, err, "prefix:"+tt.want)
			}
			if !IsNormalized(got) {
				t.Fatalf("IsNormalized(%q) = false for Normalize output", got)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Normalize("exa/mple.com")
	want := `dnsname: "exa/mple.com": invalid character '/' at offset 3`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v; want %s", err, want)
	}
	_, err = Normalize(strings.Repeat("x", 300))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error for a long name is not clipped: %v", err)
	}
}

func TestAppendNormalizedKeepsDstOnError(t *testing.T) {
	dst := []byte("keep")
	got, err := AppendNormalized(dst, []byte("a..b"))
	if err == nil || string(got) != "keep" {
		t.Fatalf("AppendNormalized on bad input = %q, %v; want dst unchanged and an error", got, err)
	}
}

func TestIsNormalized(t *testing.T) {
	for in, want := range map[string]bool{
		"example.com":   true,
		"Example.com":   false,
		"example.com.":  false,
		"":              false,
		"bücher.de":     false,
		"1.2.3.4":       false,
		"xn--bcher-kva": true,
	} {
		if got := IsNormalized(in); got != want {
			t.Errorf("IsNormalized(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	in := []byte("Sub.Malicious-Domain.EXAMPLE.")
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		buf, err = AppendNormalized(buf[:0], in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Normalize("already.normal.example"); err != nil {
			t.Fatal(err)
		}
		_ = IsNormalized("already.normal.example")
	})
	if allocs != 0 {
		t.Fatalf("ASCII fast path allocates %v times per run; want 0", allocs)
	}
}
