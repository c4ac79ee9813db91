package password

import (
	"context"
	"errors"
	"testing"
)

// FuzzVerify feeds arbitrary stored strings and passwords to Verify.
// Invariants: it never panics; an error is always ErrMalformed (the limiter
// has room); a string that parses re-encodes to itself (one spelling per
// hash); and an arbitrary string never verifies, except the seeds built from
// the password itself.
func FuzzVerify(f *testing.F) {
	h, err := NewHasher(Options{Params: fast, MaxMemory: 1024, MaxConcurrent: 4})
	if err != nil {
		f.Fatal(err)
	}
	// Built with a fixed salt: each fuzzing worker process runs this setup
	// again and must arrive at the same seed.
	salt := []byte("fixed-fuzz-salt!")
	key, err := h.derive(context.Background(), "seed password", salt, fast)
	if err != nil {
		f.Fatal(err)
	}
	valid := encode(fast, salt, key)
	f.Add("seed password", valid)
	f.Add("password", referenceVectors[1].encoded)
	f.Add("x", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4")
	f.Add("", "$argon2id$v=19$m=,t=,p=$$")
	f.Add("pw", "$$$$$$")
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		ok, rehash, err := h.Verify(context.Background(), pw, encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify error %v is not ErrMalformed", err)
			}
			if ok || rehash {
				t.Fatal("error together with ok or needsRehash")
			}
			return
		}
		p, salt, key, err := decode(encoded, h.maxMemory)
		if err != nil {
			t.Fatalf("Verify accepted a string decode rejects: %v", err)
		}
		if again := encode(p, salt, key); again != encoded {
			t.Fatalf("non-canonical hash accepted:\n %q\n re-encodes as %q", encoded, again)
		}
		if ok && encoded != valid && encoded != referenceVectors[1].encoded {
			t.Fatalf("arbitrary string %q verified password %q", encoded, pw)
		}
		if !ok && rehash {
			t.Fatal("needsRehash without a match")
		}
	})
}

// FuzzCheck runs the policy on arbitrary input. Invariants: no panic; a
// rejection is always a *PolicyError with a known rule; an accepted password is valid UTF-8 within MaxLength
// bytes and at least DefaultMinLength characters.
func FuzzCheck(f *testing.F) {
	f.Add("mosaic harbour violin sunrise", "jane.doe@example.gov")
	f.Add("password2024", "")
	f.Add("\xff\xfe", "@")
	f.Fuzz(func(t *testing.T, pw, ctx string) {
		err := Check(pw, ctx)
		if err == nil {
			if len(pw) > MaxLength || len([]rune(pw)) < DefaultMinLength {
				t.Fatalf("accepted %q of %d bytes", pw, len(pw))
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *PolicyError", err)
		}
		switch pe.Rule {
		case RuleTooShort, RuleTooLong, RuleEncoding, RuleCommon, RulePersonal:
		default:
			t.Fatalf("unknown rule %q", pe.Rule)
		}
	})
}
