// Package cache holds upstream answers as pre-packed wire messages, shared by
// every tenant: policy is applied after a lookup, never stored in an entry.
// It is sharded, bounded in bytes and evicts with SIEVE.
package cache

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Entry is one cached answer. Everything but the counters is immutable once
// the entry is stored; a refresh stores a new Entry.
type Entry struct {
	// Msg is the packed upstream answer with a lowercase question, header
	// ID 0 and no OPT record; names in its records may point into the
	// question, whose length equals the client's.
	Msg []byte
	// QEnd is the offset just past the question section in Msg.
	QEnd int
	// TTLOffsets are the offsets of every record's TTL field in Msg, and
	// TTLs the values (already clamped) they had when stored.
	TTLOffsets []uint16
	TTLs       []uint32
	// RCode is NOERROR or NXDOMAIN.
	RCode int
	// AN, NS, AR are the record counts of Msg.
	AN, NS, AR uint16
	// Stored, Expires and StaleUntil are unix nanoseconds: the entry is
	// fresh before Expires and may be served stale until StaleUntil.
	Stored, Expires, StaleUntil int64
	// TTL is the entry's lifetime in seconds (the smallest record TTL).
	TTL uint32
	// Chain lists the CNAME/DNAME targets in the answer (lowercase
	// presentation form with trailing dot) so policy can check every name
	// of the chain without unpacking.
	Chain []string
	// IPs lists the A and AAAA addresses of the answer for response-IP
	// policy.
	IPs []netip.Addr
	// Upstream names the server that answered.
	Upstream string

	hits       atomic.Uint32
	refreshing atomic.Bool
}

// Body returns the records part of the message (after the question).
func (e *Entry) Body() []byte { return e.Msg[e.QEnd:] }

// Hit counts a use of the entry and returns the count so far.
func (e *Entry) Hit() uint32 { return e.hits.Add(1) }

// ClaimRefresh reports whether the caller is the first to ask for a
// refresh of this entry; later callers get false.
func (e *Entry) ClaimRefresh() bool { return e.refreshing.CompareAndSwap(false, true) }

// ReleaseRefresh lets another refresh be claimed (after a failed one).
func (e *Entry) ReleaseRefresh() { e.refreshing.Store(false) }

// Cost is the memory the entry accounts for, key and bookkeeping included.
func (e *Entry) cost(key string) int64 {
	c := 160 + len(key) + cap(e.Msg) + 6*len(e.TTLs) + 24*len(e.IPs)
	for _, s := range e.Chain {
		c += 16 + len(s)
	}
	return int64(c)
}

const numShards = 64

// Cache maps a question key to its Entry.
type Cache struct {
	seed   maphash.Seed
	shards [numShards]shard
}

type node struct {
	key        string
	entry      atomic.Pointer[Entry]
	visited    atomic.Bool
	prev, next *node // guarded by the shard's mutex; head is the newest
	cost       int64
}

type shard struct {
	mu         sync.RWMutex
	m          map[string]*node
	head, tail *node
	hand       *node
	bytes      int64
	budget     int64
	evictions  uint64
	_          [32]byte
}

// New returns a cache that holds about maxBytes of entries.
func New(maxBytes int64) *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	per := max(maxBytes/numShards, 4096)
	for i := range c.shards {
		c.shards[i].m = make(map[string]*node)
		c.shards[i].budget = per
	}
	return c
}

func (c *Cache) shard(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)%numShards]
}

// Get returns the entry stored under key, or nil. The entry may be expired:
// the caller compares its times with the clock (serve-stale needs them).
// Get does not allocate.
func (c *Cache) Get(key []byte) *Entry {
	s := c.shard(key)
	s.mu.RLock()
	n := s.m[string(key)]
	s.mu.RUnlock()
	if n == nil {
		return nil
	}
	if !n.visited.Load() {
		n.visited.Store(true)
	}
	return n.entry.Load()
}

// Set stores e under key, replacing any entry, and evicts entries the
// SIEVE hand finds unvisited until the shard fits its budget.
func (c *Cache) Set(key []byte, e *Entry) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.m[string(key)]; n != nil {
		cost := e.cost(n.key)
		s.bytes += cost - n.cost
		n.cost = cost
		n.entry.Store(e)
		s.evict()
		return
	}
	n := &node{key: string(key)}
	n.cost = e.cost(n.key)
	n.entry.Store(e)
	s.m[n.key] = n
	n.next = s.head
	if s.head != nil {
		s.head.prev = n
	}
	s.head = n
	if s.tail == nil {
		s.tail = n
	}
	s.bytes += n.cost
	s.evict()
}

// Delete removes key.
func (c *Cache) Delete(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if n := s.m[string(key)]; n != nil {
		s.remove(n)
	}
	s.mu.Unlock()
}

// evict runs SIEVE: the hand walks from the oldest entry towards the
// newest, sparing (and clearing) visited entries, removing the first
// unvisited one, until the shard is within budget.
func (s *shard) evict() {
	for s.bytes > s.budget && s.tail != nil {
		n := s.hand
		if n == nil {
			n = s.tail
		}
		for n.visited.Load() {
			n.visited.Store(false)
			n = n.prev
			if n == nil {
				n = s.tail
			}
		}
		s.hand = n.prev
		s.remove(n)
		s.evictions++
	}
}

func (s *shard) remove(n *node) {
	if s.hand == n {
		s.hand = n.prev
	}
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		s.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		s.tail = n.prev
	}
	n.prev, n.next = nil, nil
	delete(s.m, n.key)
	s.bytes -= n.cost
}

// Stats is a point-in-time summary of the cache.
type Stats struct {
	Entries   int
	Bytes     int64
	Evictions uint64
}

// Stats sums the shards.
func (c *Cache) Stats() Stats {
	var st Stats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		st.Entries += len(s.m)
		st.Bytes += s.bytes
		st.Evictions += s.evictions
		s.mu.RUnlock()
	}
	return st
}

// AppendKey appends the cache key of a question: the lowercase
// presentation name, the type and the class.
func AppendKey(dst []byte, name []byte, qtype, qclass uint16) []byte {
	dst = append(dst, name...)
	return append(dst, byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass))
}
