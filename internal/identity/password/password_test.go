package password

import (
	"context"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fast are parameters cheap enough for tests that are not about cost.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, o Options) *Hasher {
	t.Helper()
	h, err := NewHasher(o)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

// Vectors from the Argon2 reference implementation (phc-winner-argon2,
// src/test.c, "Test Argon2id version number: 13"): password, salt
// "somesalt" or "diffsalt", and the PHC string it must produce.
var referenceVectors = []struct {
	pw, encoded, rawHex string
}{
	{"password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"},
	{"password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe"},
	{"password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
		"6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037"},
	{"password", "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg",
		"f6a5adc1ba723dddef9b5ac1d464e180fcd9dffc9d1cbf76cca2fed795d9ca98"},
	{"differentpassword", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94",
		"0b84d652cf6b0c4beaef0dfe278ba6a80df6696281d7e0d2891b817d8c458fde"},
	{"password", "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw",
		"bdf32b05ccc42eb15d58fd19b1f856b113da1e9a5874fdcc544308565aa8141c"},
}

func TestReferenceVectors(t *testing.T) {
	h := newHasher(t, Options{})
	ctx := context.Background()
	for _, v := range referenceVectors {
		t.Run(v.encoded[:40], func(t *testing.T) {
			p, salt, key, err := decode(v.encoded, h.maxMemory)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := hex.EncodeToString(key); got != v.rawHex {
				t.Fatalf("decoded key = %s, want %s", got, v.rawHex)
			}
			if got := encode(p, salt, key); got != v.encoded {
				t.Fatalf("encode(decode(s)) = %s, want %s", got, v.encoded)
			}
			ok, rehash, err := h.Verify(ctx, v.pw, v.encoded)
			if err != nil || !ok {
				t.Fatalf("Verify(right password) = %v, %v, %v; want ok", ok, rehash, err)
			}
			if !rehash {
				t.Error("reference parameters differ from the defaults, so needsRehash must be true")
			}
			if p.Memory > 256 {
				return // one wrong-password check per cheap vector keeps the suite fast
			}
			if ok, _, err := h.Verify(ctx, v.pw+"x", v.encoded); ok || err != nil {
				t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

// TestPinnedDefault pins one hash made with DefaultParams and a fixed salt,
// so that a change to the parameters, the normalisation or the encoding is
// noticed. The expected string was computed once with the reference
// implementation's command-line tool (Debian package argon2):
//
//	echo -n "correct horse battery staple" | argon2 qsmo-pinned-salt -id -t 1 -m 16 -p 1 -l 32
func TestPinnedDefault(t *testing.T) {
	const pw = "correct horse battery staple"
	const pinned = "$argon2id$v=19$m=65536,t=1,p=1$cXNtby1waW5uZWQtc2FsdA$v4xYGLOZXvMgA3xTnaLgPDgkaVG7extpC01VPlcbC/Q"
	salt := []byte("qsmo-pinned-salt")
	h := newHasher(t, Options{})
	key, err := h.derive(context.Background(), pw, salt, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(DefaultParams, salt, key); got != pinned {
		t.Fatalf("hash = %s\nwant   %s", got, pinned)
	}
	ok, rehash, err := h.Verify(context.Background(), pw, pinned)
	if !ok || rehash || err != nil {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestHashRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, Options{})
	a, err := h.Hash(ctx, "tulip-lantern-orbit")
	if err != nil {
		t.Fatal(err)
	}
	shape := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !shape.MatchString(a) {
		t.Fatalf("hash %q is not a default-parameter PHC string", a)
	}
	b, _ := h.Hash(ctx, "tulip-lantern-orbit")
	if a == b {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if ok, rehash, err := h.Verify(ctx, "tulip-lantern-orbit", a); !ok || rehash || err != nil {
		t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if ok, _, err := h.Verify(ctx, "tulip-lantern-orbiT", a); ok || err != nil {
		t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
	}
}

func TestPackageFunctions(t *testing.T) {
	enc, err := Hash("package level password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := Verify("package level password", enc); !ok || rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v", ok, rehash, err)
	}
	if err := VerifyAbsent("anything"); err != nil {
		t.Errorf("VerifyAbsent: %v", err)
	}
}

func TestNormalisation(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, Options{Params: fast})
	composed, decomposed := "caf\u00e9-au-lait-2", "cafe\u0301-au-lait-2"
	enc, err := h.Hash(ctx, composed)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := h.Verify(ctx, decomposed, enc); !ok {
		t.Error("decomposed spelling of the same password does not verify")
	}
	fullWidth := "pin\uff11\uff12\uff13" // full-width digits fold to "pin123"
	enc, _ = h.Hash(ctx, "pin123")
	if ok, _, _ := h.Verify(ctx, fullWidth, enc); !ok {
		t.Error("full-width digits do not verify against ASCII digits")
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, Options{Params: fast})
	enc, err := old.Hash(ctx, "an older password hash")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params Params
		want   bool
	}{
		{"same parameters", fast, false},
		{"more memory now", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more passes now", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"longer key now", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
		{"longer salt now", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHasher(t, Options{Params: tc.params})
			ok, rehash, err := h.Verify(ctx, "an older password hash", enc)
			if !ok || err != nil {
				t.Fatalf("Verify = %v, %v", ok, err)
			}
			if rehash != tc.want {
				t.Errorf("needsRehash = %v, want %v", rehash, tc.want)
			}
		})
	}
	t.Run("wrong password never asks for a rehash", func(t *testing.T) {
		ok, rehash, _ := newHasher(t, Options{}).Verify(ctx, "not it", enc)
		if ok || rehash {
			t.Errorf("Verify = %v, %v; want false, false", ok, rehash)
		}
	})
}

func TestMalformed(t *testing.T) {
	h := newHasher(t, Options{Params: fast})
	good := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	if _, _, err := h.Verify(context.Background(), "x", good); err != nil {
		t.Fatalf("baseline string rejected: %v", err)
	}
	for name, enc := range map[string]string{
		"empty":                   "",
		"bcrypt":                  "$2b$12$abcdefghijklmnopqrstuu5Fh0d0jU9E2dQ5.1oQO0rJ4F5p1C5y.",
		"argon2i":                 strings.Replace(good, "argon2id", "argon2i", 1),
		"argon2d":                 strings.Replace(good, "argon2id", "argon2d", 1),
		"version 16":              strings.Replace(good, "v=19", "v=16", 1),
		"missing version":         "$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"parameters reordered":    strings.Replace(good, "m=64,t=1,p=1", "t=1,m=64,p=1", 1),
		"extra parameter":         strings.Replace(good, "p=1", "p=1,keyid=AA", 1),
		"leading zero":            strings.Replace(good, "m=64", "m=064", 1),
		"signed number":           strings.Replace(good, "m=64", "m=+64", 1),
		"huge number":             strings.Replace(good, "m=64", "m=99999999999", 1),
		"zero passes":             strings.Replace(good, "t=1", "t=0", 1),
		"too many passes":         strings.Replace(good, "t=1", "t=17", 1),
		"zero lanes":              strings.Replace(good, "p=1", "p=0", 1),
		"too many lanes":          strings.Replace(good, "p=1", "p=17", 1),
		"memory below 8 per lane": strings.Replace(strings.Replace(good, "m=64", "m=15", 1), "p=1", "p=2", 1),
		"memory above limit":      strings.Replace(good, "m=64", "m=65537", 1),
		"salt too short":          strings.Replace(good, "c29tZXNhbHQ", "c29tZQ", 1),
		"salt not base64":         strings.Replace(good, "c29tZXNhbHQ", "c29tZXNh*HQ", 1),
		"salt with padding":       strings.Replace(good, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1),
		"salt non-canonical":      strings.Replace(good, "c29tZXNhbHQ", "c29tZXNhbHR", 1),
		"key too short":           strings.Replace(good, "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", "nf65EOgLrQ", 1),
		"trailing field":          good + "$",
		"no leading dollar":       good[1:],
		"newline in salt":         strings.Replace(good, "c29tZX", "c29t\nZX", 1),
		"spaces":                  strings.Replace(good, ",", ", ", 1),
	} {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "x", enc)
			if !errors.Is(err, ErrMalformed) || ok || rehash {
				t.Errorf("Verify(%q) = %v, %v, %v; want ErrMalformed", enc, ok, rehash, err)
			}
		})
	}
}

func TestTooLong(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, Options{Params: fast})
	long := strings.Repeat("a", MaxLength+1)
	if _, err := h.Hash(ctx, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(129 bytes) error = %v, want ErrTooLong", err)
	}
	enc, _ := h.Hash(ctx, long[:MaxLength])
	if ok, _, _ := h.Verify(ctx, long[:MaxLength], enc); !ok {
		t.Error("a password of exactly MaxLength bytes does not verify")
	}
	if ok, _, err := h.Verify(ctx, long, enc); ok || err != nil {
		t.Errorf("Verify(129 bytes) = %v, %v; want false, nil", ok, err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	h := newHasher(t, Options{Params: fast, MaxConcurrent: 1, MaxWait: 30 * time.Millisecond})
	enc, err := h.Hash(context.Background(), "limit test")
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // every slot taken, as by a hash in progress

	t.Run("callers beyond the limit get ErrBusy after MaxWait", func(t *testing.T) {
		if _, err := h.Hash(context.Background(), "limit test"); !errors.Is(err, ErrBusy) {
			t.Errorf("Hash error = %v, want ErrBusy", err)
		}
		if _, _, err := h.Verify(context.Background(), "limit test", enc); !errors.Is(err, ErrBusy) {
			t.Errorf("Verify error = %v, want ErrBusy", err)
		}
		if err := h.VerifyAbsent(context.Background(), "limit test"); !errors.Is(err, ErrBusy) {
			t.Errorf("VerifyAbsent error = %v, want ErrBusy", err)
		}
	})
	t.Run("a cancelled caller stops waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		h := newHasher(t, Options{Params: fast, MaxConcurrent: 1, MaxWait: time.Hour})
		h.slots <- struct{}{}
		if _, err := h.Hash(ctx, "limit test"); !errors.Is(err, context.Canceled) {
			t.Errorf("Hash error = %v, want context.Canceled", err)
		}
	})
	t.Run("a waiter proceeds when a slot frees", func(t *testing.T) {
		h := newHasher(t, Options{Params: fast, MaxConcurrent: 1, MaxWait: 10 * time.Second})
		h.slots <- struct{}{}
		done := make(chan error, 1)
		go func() {
			ok, _, err := h.Verify(context.Background(), "limit test", enc)
			if err == nil && !ok {
				err = errors.New("not ok")
			}
			done <- err
		}()
		<-h.slots
		if err := <-done; err != nil {
			t.Errorf("waiting Verify: %v", err)
		}
		if len(h.slots) != 0 {
			t.Errorf("%d slots still held after all work finished", len(h.slots))
		}
	})
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	for name, o := range map[string]Options{
		"no passes":          {Params: Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		"memory per lane":    {Params: Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
		"short salt":         {Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		"short key":          {Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}},
		"limit below memory": {Params: fast, MaxMemory: 32},
	} {
		if _, err := NewHasher(o); err == nil {
			t.Errorf("%s: NewHasher accepted %+v", name, o)
		}
	}
}

// BenchmarkHash measures the default parameters beside the other settings
// RFC 9106 and OWASP allow, in one run, so that their time ratio can be read
// on the machine at hand.
func BenchmarkHash(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Params
	}{
		{"default_m=64MiB_t=1", DefaultParams},
		{"owasp_m=46MiB_t=1", Params{Memory: 46 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"owasp_m=19MiB_t=2", Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHasher(b, Options{Params: bc.p, MaxConcurrent: 1})
			ctx := context.Background()
			for b.Loop() {
				if _, err := h.Hash(ctx, "benchmark password"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
