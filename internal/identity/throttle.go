package identity

import (
	"sync"
	"time"
)

// Throttle limits failed sign-in attempts per account and per client
// address within a sliding window. It counts unknown accounts the same way
// as real ones, so its answers never reveal whether an account exists. State
// is per process and bounded: the oldest keys are dropped past MaxKeys.
type Throttle struct {
	Window     time.Duration
	PerAccount int
	PerIP      int
	MaxKeys    int
	Now        func() time.Time

	mu   sync.Mutex
	hits map[string][]time.Time
}

// NewThrottle returns a throttle allowing 5 failures per account and 30 per
// address in 15 minutes.
func NewThrottle() *Throttle {
	return &Throttle{Window: 15 * time.Minute, PerAccount: 5, PerIP: 30, MaxKeys: 100_000, Now: time.Now, hits: map[string][]time.Time{}}
}

// Blocked reports whether sign-in for the account or from the address is
// paused, and for how long.
func (t *Throttle) Blocked(account, ip string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	wait := time.Duration(0)
	for _, k := range []struct {
		key   string
		limit int
	}{{"a:" + account, t.PerAccount}, {"i:" + ip, t.PerIP}} {
		recent := t.prune(k.key, now)
		if len(recent) >= k.limit {
			if w := recent[0].Add(t.Window).Sub(now); w > wait {
				wait = w
			}
		}
	}
	return wait > 0, wait
}

// Fail records a failed attempt.
func (t *Throttle) Fail(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	if len(t.hits) >= t.MaxKeys {
		t.evict(now)
	}
	for _, k := range []string{"a:" + account, "i:" + ip} {
		t.hits[k] = append(t.prune(k, now), now)
	}
}

// Succeed clears the account's failures after a successful sign-in.
func (t *Throttle) Succeed(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.hits, "a:"+account)
}

func (t *Throttle) prune(key string, now time.Time) []time.Time {
	list := t.hits[key]
	i := 0
	for i < len(list) && now.Sub(list[i]) >= t.Window {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(t.hits, key)
		return nil
	}
	t.hits[key] = list
	return list
}

// evict drops expired keys, and if still full, an arbitrary half.
func (t *Throttle) evict(now time.Time) {
	for k := range t.hits {
		t.prune(k, now)
	}
	if len(t.hits) < t.MaxKeys {
		return
	}
	n := 0
	for k := range t.hits {
		delete(t.hits, k)
		n++
		if n >= t.MaxKeys/2 {
			return
		}
	}
}
