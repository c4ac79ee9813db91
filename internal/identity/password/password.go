// Package password hashes and verifies user passwords with argon2id and
// decides whether a new password is acceptable (length, common-password list,
// personal information), so that sign-in code never handles raw hashes.
//
// Hashes are stored in the PHC string format used by the reference
// implementation and most other libraries:
//
//	$argon2id$v=19$m=65536,t=1,p=1$<salt>$<key>
//
// # Parameters
//
// DefaultParams is argon2id with m=64 MiB, t=1, p=1, a 16-byte salt and a
// 32-byte key. RFC 9106 §4 says to pick the most memory the server can
// afford, then the number of passes that fits the time budget. On a 2-core
// server hashing two passwords at once, 64 MiB each (128 MiB in all) is
// affordable, and one pass takes about 50 ms of one core on an idle machine
// (BenchmarkHash): interactive. Against the OWASP baseline (m=19 MiB, t=2)
// it costs an attacker about 1.7 times as much per guess (memory × passes:
// 64 vs 38 MiB) for the same factor of server time, and the larger memory
// is what GPUs and ASICs find hardest to provide in parallel. One lane (p=1)
// keeps each hash on one core; parallelism across sign-ins comes from the
// concurrency limit instead.
//
// # Concurrency limit
//
// Each hash allocates Params.Memory. A burst of sign-ins could otherwise
// allocate gigabytes at once, so every Hasher admits at most MaxConcurrent
// hash computations at a time (default: one per CPU, beyond which hashing
// gains no throughput). Callers beyond that wait for a free slot for at most
// MaxWait (default 5 s) or until their context ends, then get ErrBusy. Peak
// memory for hashing is therefore bounded by MaxConcurrent × MaxMemory.
//
// Passwords are normalised to Unicode NFKC before hashing, as NIST SP 800-63B
// §5.1.1.2 recommends, so the same password typed on different keyboards
// (composed or decomposed accents, full-width digits) verifies.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// MaxLength is the longest password accepted, in bytes of UTF-8. It bounds
// the work done on untrusted input; NIST SP 800-63B asks for at least 64
// characters to be allowed.
const MaxLength = 128

// Params are the argon2id cost parameters of one hash.
type Params struct {
	Memory  uint32 // memory in KiB (the PHC "m")
	Time    uint32 // number of passes (the PHC "t")
	Threads uint8  // lanes (the PHC "p")
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of derived key
}

// DefaultParams are the parameters new hashes use; see the package comment
// for why.
var DefaultParams = Params{Memory: 64 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits of parameters accepted from stored hashes. They keep a corrupt or
// hostile stored string from making Verify allocate or compute without bound.
const (
	defaultMaxMemory = 64 * 1024 // KiB
	maxTime          = 16
	minSaltLen       = 8 // RFC 9106 §3.1 minimum
	maxSaltLen       = 64
	minKeyLen        = 16
	maxKeyLen        = 64
)

// Errors returned by Hasher methods. Compare with errors.Is.
var (
	// ErrMalformed means a stored hash is not an argon2id PHC string this
	// package can verify. It points at corrupt data, not at a wrong password.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrBusy means too many hashes were being computed for the caller to
	// get a slot within MaxWait; the caller should answer "try again".
	ErrBusy = errors.New("password: too many sign-ins in progress")
	// ErrTooLong means the password is longer than MaxLength bytes.
	ErrTooLong = errors.New("password: longer than 128 bytes")
)

// Options configure a Hasher. The zero value gives the defaults.
type Options struct {
	// Params for new hashes; zero means DefaultParams.
	Params Params
	// MaxConcurrent hash computations; zero means runtime.GOMAXPROCS(0).
	MaxConcurrent int
	// MaxWait for a free slot before ErrBusy; zero means 5 s.
	MaxWait time.Duration
	// MaxMemory in KiB accepted from a stored hash; zero means the larger
	// of 64 MiB and Params.Memory.
	MaxMemory uint32
}

// Hasher hashes and verifies passwords with bounded concurrency. It is safe
// for concurrent use; one per process is the intent.
type Hasher struct {
	params    Params
	maxMemory uint32
	maxWait   time.Duration
	slots     chan struct{}
}

// NewHasher returns a Hasher with the given options, or an error if the
// parameters are outside what argon2id allows.
func NewHasher(o Options) (*Hasher, error) {
	p := o.Params
	if p == (Params{}) {
		p = DefaultParams
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("password: new hasher: %w", err)
	}
	n := o.MaxConcurrent
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	wait := o.MaxWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	maxMem := o.MaxMemory
	if maxMem == 0 {
		maxMem = max(defaultMaxMemory, p.Memory)
	}
	if maxMem < p.Memory {
		return nil, fmt.Errorf("password: new hasher: MaxMemory %d KiB is below Params.Memory %d KiB", maxMem, p.Memory)
	}
	return &Hasher{params: p, maxMemory: maxMem, maxWait: wait, slots: make(chan struct{}, n)}, nil
}

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return fmt.Errorf("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("memory %d KiB below 8 KiB per thread", p.Memory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of a new argon2id hash of pw with a fresh
// random salt. It returns ErrTooLong for passwords over MaxLength bytes and
// ErrBusy (or the context's error) when no slot frees up in time.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if len(pw) > MaxLength {
		return "", ErrTooLong
	}
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt) // never fails: crypto/rand aborts the program instead
	key, err := h.derive(ctx, pw, salt, h.params)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether pw matches the stored PHC string encoded, comparing
// in constant time. needsRehash is true when ok and the stored hash was made
// with parameters other than the Hasher's: the caller should then store the
// result of Hash(pw) in its place. A password over MaxLength bytes never
// matches (and costs no hashing). err is ErrMalformed for a stored string
// that cannot be parsed, or ErrBusy / a context error when no slot was free.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := decode(encoded, h.maxMemory)
	if err != nil {
		return false, false, err
	}
	if len(pw) > MaxLength {
		return false, false, nil
	}
	got, err := h.derive(ctx, pw, salt, p)
	if err != nil {
		return false, false, fmt.Errorf("password: verify: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyAbsent does the work of a Verify that fails, for a sign-in whose
// account does not exist, so that response time does not tell an attacker
// which accounts exist. It returns only ErrBusy or a context error.
func (h *Hasher) VerifyAbsent(ctx context.Context, pw string) error {
	if len(pw) > MaxLength {
		return nil
	}
	var salt [maxSaltLen]byte
	if _, err := h.derive(ctx, pw, salt[:h.params.SaltLen], h.params); err != nil {
		return fmt.Errorf("password: verify: %w", err)
	}
	return nil
}

// derive computes the argon2id key once a concurrency slot is held.
func (h *Hasher) derive(ctx context.Context, pw string, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	b := norm.NFKC.Bytes([]byte(pw))
	return argon2.IDKey(b, salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrBusy
	}
}

var defaultHasher, _ = NewHasher(Options{})

// Hash hashes pw with DefaultParams under the process-wide concurrency limit
// (one hash per CPU; callers wait up to 5 s, then get ErrBusy).
func Hash(pw string) (string, error) {
	return defaultHasher.Hash(context.Background(), pw)
}

// Verify checks pw against encoded with the process-wide Hasher; see
// Hasher.Verify for the results.
func Verify(pw, encoded string) (ok, needsRehash bool, err error) {
	return defaultHasher.Verify(context.Background(), pw, encoded)
}

// VerifyAbsent spends the time of a failed Verify with the process-wide
// Hasher; see Hasher.VerifyAbsent.
func VerifyAbsent(pw string) error {
	return defaultHasher.VerifyAbsent(context.Background(), pw)
}
