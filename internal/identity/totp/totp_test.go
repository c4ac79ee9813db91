package totp

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The shared secret of RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1).
var rfcSecret = []byte("12345678901234567890")

func TestHOTPVectorsRFC4226(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489"}
	for count, w := range want {
		if got := HOTP(rfcSecret, uint64(count)); got != w {
			t.Errorf("HOTP(count %d) = %s, want %s", count, got, w)
		}
	}
}

func TestTOTPVectorsRFC6238(t *testing.T) {
	// Appendix B lists 8-digit codes; the 6-digit code is the same value
	// modulo 10^6, i.e. its last six digits.
	for _, v := range []struct {
		unix int64
		step string // T in hex, as in the RFC table
		want string
	}{
		{59, "0000000000000001", "94287082"},
		{1111111109, "00000000023523EC", "07081804"},
		{1111111111, "00000000023523ED", "14050471"},
		{1234567890, "000000000273EF07", "89005924"},
		{2000000000, "0000000003F940AA", "69279037"},
		{20000000000, "0000000027BC86AA", "65353130"},
	} {
		at := time.Unix(v.unix, 0).UTC()
		s := Step(at)
		if got := fmt.Sprintf("%016X", s); got != v.step {
			t.Errorf("Step(%d) = %s, want %s", v.unix, got, v.step)
		}
		if got := hotp(rfcSecret, uint64(s), 8); got != v.want {
			t.Errorf("8-digit TOTP at %d = %s, want %s", v.unix, got, v.want)
		}
		if got := Code(rfcSecret, at); got != v.want[2:] {
			t.Errorf("Code at %d = %s, want %s", v.unix, got, v.want[2:])
		}
		if step, ok := Validate(rfcSecret, v.want[2:], at, 0); !ok || step != s {
			t.Errorf("Validate(RFC code at %d) = %d, %v; want %d, true", v.unix, step, ok, s)
		}
	}
}

func TestValidate(t *testing.T) {
	secret := NewSecret()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	cur := Step(now)
	at := func(step int64) string { return HOTP(secret, uint64(step)) }

	for _, tc := range []struct {
		name     string
		code     string
		last     int64
		wantStep int64
		wantOK   bool
	}{
		{"current step", at(cur), 0, cur, true},
		{"previous step (clock behind)", at(cur - 1), 0, cur - 1, true},
		{"next step (clock ahead)", at(cur + 1), 0, cur + 1, true},
		{"two steps old", at(cur - 2), 0, 0, false},
		{"two steps ahead", at(cur + 2), 0, 0, false},
		{"replay of the step just used", at(cur), cur, 0, false},
		{"an earlier step after a later one was used", at(cur - 1), cur, 0, false},
		{"the next step after the current was used", at(cur + 1), cur, cur + 1, true},
		{"spaces between groups", at(cur)[:3] + " " + at(cur)[3:], 0, cur, true},
		{"surrounding white space", "\t " + at(cur) + " \n", 0, cur, true},
		{"five digits", at(cur)[:5], 0, 0, false},
		{"seven digits", at(cur) + "0", 0, 0, false},
		{"letters", "12a456", 0, 0, false},
		{"hyphen", at(cur)[:3] + "-" + at(cur)[3:], 0, 0, false},
		{"full-width digits", "１２３４５６", 0, 0, false},
		{"empty", "", 0, 0, false},
		{"very long input", strings.Repeat(" ", 100) + at(cur), 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := Validate(secret, tc.code, now, tc.last)
			if ok != tc.wantOK || step != tc.wantStep {
				t.Errorf("Validate(%q, last %d) = %d, %v; want %d, %v", tc.code, tc.last, step, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		if _, ok := Validate(NewSecret(), at(cur), now, 0); ok {
			t.Error("a code for another secret was accepted")
		}
	})
	t.Run("empty secret", func(t *testing.T) {
		if _, ok := Validate(nil, HOTP(nil, uint64(cur)), now, 0); ok {
			t.Error("an empty secret was accepted")
		}
	})
	t.Run("code accepted once across its whole window", func(t *testing.T) {
		code := at(cur)
		step, ok := Validate(secret, code, now.Add(-Period), 0) // seen early, as the next step
		if !ok {
			t.Fatal("first use refused")
		}
		for _, later := range []time.Duration{0, Period / 2, Period} {
			if _, ok := Validate(secret, code, now.Add(later), step); ok {
				t.Errorf("replayed %v later: accepted", later)
			}
		}
	})
}

func TestStepBeforeEpoch(t *testing.T) {
	if got := Step(time.Unix(-1, 0)); got != -1 {
		t.Errorf("Step(-1s) = %d, want -1", got)
	}
	if _, ok := Validate(rfcSecret, "000000", time.Unix(-100, 0), -10); ok {
		t.Error("a code for a negative step was accepted")
	}
}

func TestSecretEncoding(t *testing.T) {
	s := NewSecret()
	if len(s) != SecretSize {
		t.Fatalf("secret has %d bytes, want %d", len(s), SecretSize)
	}
	if bytes.Equal(s, NewSecret()) {
		t.Fatal("two secrets are equal")
	}
	enc := EncodeSecret(s)
	if len(enc) != 32 || strings.ContainsAny(enc, "=abcdefghijklmnopqrstuvwxyz") {
		t.Fatalf("EncodeSecret = %q, want 32 upper-case characters without padding", enc)
	}
	typed := strings.ToLower(enc[:4] + " " + enc[4:8] + "-" + enc[8:] + "\u00a0")
	got, err := DecodeSecret(typed)
	if err != nil || !bytes.Equal(got, s) {
		t.Fatalf("DecodeSecret(%q) = %x, %v; want %x", typed, got, err, s)
	}
	if got, err := DecodeSecret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"); err != nil || !bytes.Equal(got, rfcSecret) {
		t.Errorf("RFC secret in base32 = %q, %v", got, err)
	}
	for _, bad := range []string{"", "GEZDGNBV", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", "not base32 at all!!"} {
		if _, err := DecodeSecret(bad); err != ErrBadSecret {
			t.Errorf("DecodeSecret(%q) error = %v, want ErrBadSecret", bad, err)
		}
	}
}

func TestURI(t *testing.T) {
	got, err := URI("Cyber QSMO", "jane.doe@example.gov", rfcSecret)
	if err != nil {
		t.Fatal(err)
	}
	want := "otpauth://totp/Cyber%20QSMO:jane.doe@example.gov?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Cyber%20QSMO&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Fatalf("URI =\n %s\nwant\n %s", got, want)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Cyber QSMO:jane.doe@example.gov" ||
		q.Get("secret") != EncodeSecret(rfcSecret) || q.Get("issuer") != "Cyber QSMO" {
		t.Errorf("URI parses as scheme %q host %q path %q query %v", u.Scheme, u.Host, u.Path, q)
	}
	t.Run("reserved characters are escaped", func(t *testing.T) {
		got, err := URI("A&B Office", "x?y#z/w", rfcSecret)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(got)
		if err != nil || u.Path != "/A&B Office:x?y#z/w" || u.Query().Get("issuer") != "A&B Office" || u.Query().Get("digits") != "6" {
			t.Errorf("URI %s parses as path %q query %v (%v)", got, u.Path, u.Query(), err)
		}
	})
	for name, tc := range map[string][2]string{
		"colon in issuer":  {"a:b", "jane"},
		"colon in account": {"QSMO", "jane:doe"},
		"empty issuer":     {" ", "jane"},
		"empty account":    {"QSMO", ""},
		"control":          {"QSMO", "jane\n"},
	} {
		if _, err := URI(tc[0], tc[1], rfcSecret); err == nil {
			t.Errorf("%s: URI accepted %q, %q", name, tc[0], tc[1])
		}
	}
	if _, err := URI("QSMO", "jane", []byte("short")); err == nil {
		t.Error("URI accepted a 5-byte secret")
	}
}
