package resolver

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// RateLimit bounds the UDP queries one source address may send. A client
// over its limit gets TC=1 (so a real client retries over TCP, which a
// spoofing attacker cannot) or no answer at all.
type RateLimit struct {
	// QPS is the sustained rate per source address; 0 disables limiting.
	QPS float64
	// Burst is the bucket size (defaults to QPS).
	Burst float64
	// Table is the number of buckets kept (defaults to 65536); a source
	// that collides with another takes its bucket over with a full burst.
	Table int
	// Drop sends nothing instead of a truncated answer.
	Drop bool
}

const rlShards = 64

type limiter struct {
	rate, burst float64
	seed        maphash.Seed
	shards      [rlShards]rlShard
}

type rlShard struct {
	mu      sync.Mutex
	buckets []bucket
	_       [40]byte
}

type bucket struct {
	addr   netip.Addr
	tokens float64
	last   int64 // unix ns of the last refill
	logged int64 // unix ns of the last limited query sent to the query log
}

func newLimiter(c RateLimit) *limiter {
	if c.QPS <= 0 {
		return nil
	}
	if c.Burst <= 0 {
		c.Burst = c.QPS
	}
	if c.Table <= 0 {
		c.Table = 1 << 16
	}
	l := &limiter{rate: c.QPS / float64(time.Second), burst: c.Burst, seed: maphash.MakeSeed()}
	per := max(c.Table/rlShards, 1)
	for i := range l.shards {
		l.shards[i].buckets = make([]bucket, per)
	}
	return l
}

// allow takes a token for addr at now. When it refuses, log says whether
// this refusal should reach the query log (one per source per second, so a
// flood cannot fill the log queue; all are counted in the metrics).
func (l *limiter) allow(addr netip.Addr, now int64) (ok, log bool) {
	b16 := addr.As16()
	h := maphash.Bytes(l.seed, b16[:])
	s := &l.shards[h%rlShards]
	s.mu.Lock()
	b := &s.buckets[(h/rlShards)%uint64(len(s.buckets))]
	if b.addr != addr {
		*b = bucket{addr: addr, tokens: l.burst, last: now}
	} else if now > b.last {
		b.tokens = min(l.burst, b.tokens+float64(now-b.last)*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		s.mu.Unlock()
		return true, false
	}
	if now-b.logged >= int64(time.Second) {
		b.logged = now
		log = true
	}
	s.mu.Unlock()
	return false, log
}
