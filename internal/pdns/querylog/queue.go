package querylog

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// DefaultQueueCapacity is used by NewQueue for a capacity below 1: about
// 0.4 s of queries at 150k/s, long enough to ride out a slow disk write.
const DefaultQueueCapacity = 1 << 16

// Queue is a bounded multi-producer, single-consumer queue of records.
//
// It is a set of shards, each a ring of preallocated slots with one sequence
// number per slot (D. Vyukov's bounded queue). A producer picks a shard at
// random, claims a slot with one compare-and-swap on that shard's tail,
// copies the record into the slot and publishes it by storing the slot's
// sequence. Shards spread the tail counters over separate cache lines so
// that many UDP workers do not all fight over one.
//
// Push never blocks and never allocates. When the chosen shard is full the
// others are tried; when all are full the record is dropped and counted
// (Dropped). Records from one producer may come out in a different order
// than they went in (they can land in different shards); readers sort by
// time.
type Queue struct {
	shards []shard
	mask   int

	drainMu sync.Mutex // Drain is single-consumer; the mutex makes misuse safe
	next    int        // shard where the next Drain starts, for fairness
}

type shard struct {
	tail    atomic.Uint64 // next position to claim; shared by producers
	_       [120]byte
	head    atomic.Uint64 // next position to read; written by the consumer only
	_       [120]byte
	dropped atomic.Uint64
	_       [120]byte
	slots   []slot
	mask    uint64
}

type slot struct {
	// seq == pos:   free for the producer that claims position pos
	// seq == pos+1: holds the record of position pos, ready for the consumer
	seq atomic.Uint64
	rec Record
}

// NewQueue returns a queue holding at least capacity records (a capacity
// below 1 selects DefaultQueueCapacity). The capacity is rounded up so that
// each shard is a power of two; Cap reports the result. All slots are
// allocated here, once.
func NewQueue(capacity int) *Queue {
	if capacity < 1 {
		capacity = DefaultQueueCapacity
	}
	n := ceilPow2(2 * runtime.GOMAXPROCS(0))
	n = min(n, 32)
	for n > 1 && capacity/n < 256 {
		n /= 2
	}
	per := ceilPow2((capacity + n - 1) / n)
	q := &Queue{shards: make([]shard, n), mask: n - 1}
	for i := range q.shards {
		s := &q.shards[i]
		s.slots = make([]slot, per)
		s.mask = uint64(per - 1)
		for j := range s.slots {
			s.slots[j].seq.Store(uint64(j))
		}
	}
	return q
}

func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// Push copies r into the queue. It returns false, and counts the record as
// dropped, when the queue is full. It never blocks and never allocates; r
// may be reused as soon as Push returns.
func (q *Queue) Push(r *Record) bool {
	if q.mask == 0 {
		if q.shards[0].push(r) {
			return true
		}
		q.shards[0].dropped.Add(1)
		return false
	}
	start := int(rand.Uint32()) // #nosec G404 -- shard choice spreads contention, not security
	for i := 0; i <= q.mask; i++ {
		if q.shards[(start+i)&q.mask].push(r) {
			return true
		}
	}
	q.shards[start&q.mask].dropped.Add(1)
	return false
}

func (s *shard) push(r *Record) bool {
	pos := s.tail.Load()
	for {
		sl := &s.slots[pos&s.mask]
		seq := sl.seq.Load()
		switch diff := int64(seq - pos); {
		case diff == 0:
			if s.tail.CompareAndSwap(pos, pos+1) {
				sl.rec.copyFrom(r)
				sl.seq.Store(pos + 1)
				return true
			}
			pos = s.tail.Load()
		case diff < 0:
			// The slot still holds the record of the previous lap: full.
			return false
		default:
			// Another producer claimed pos first; catch up.
			pos = s.tail.Load()
		}
	}
}

// Drain moves up to len(dst) records into dst and returns how many it moved.
// It is meant for the single Writer goroutine; concurrent calls are
// serialized. A slot claimed by a producer that has not finished copying
// ends that shard's turn; its record comes with a later Drain.
func (q *Queue) Drain(dst []Record) int {
	q.drainMu.Lock()
	defer q.drainMu.Unlock()
	n := 0
	nsh := len(q.shards)
	for i := 0; i < nsh && n < len(dst); i++ {
		s := &q.shards[(q.next+i)%nsh]
		n += s.drain(dst[n:])
	}
	q.next = (q.next + 1) % nsh
	return n
}

func (s *shard) drain(dst []Record) int {
	pos := s.head.Load()
	n := 0
	for n < len(dst) {
		sl := &s.slots[pos&s.mask]
		if sl.seq.Load() != pos+1 {
			break
		}
		dst[n].copyFrom(&sl.rec)
		// Drop references so that an old feed snapshot is not kept alive
		// by a slot that waits a whole lap to be overwritten.
		sl.rec.Tenant, sl.rec.Rule, sl.rec.Feed, sl.rec.Category, sl.rec.Upstream = "", "", "", "", ""
		sl.seq.Store(pos + s.mask + 1)
		pos++
		n++
	}
	s.head.Store(pos)
	return n
}

// Dropped returns how many records Push has dropped because the queue was
// full, since the queue was created.
func (q *Queue) Dropped() uint64 {
	var n uint64
	for i := range q.shards {
		n += q.shards[i].dropped.Load()
	}
	return n
}

// Len returns about how many records wait in the queue.
func (q *Queue) Len() int {
	n := 0
	for i := range q.shards {
		s := &q.shards[i]
		h, t := s.head.Load(), s.tail.Load()
		if t > h {
			n += int(t - h)
		}
	}
	return n
}

// Cap returns how many records the queue holds when full.
func (q *Queue) Cap() int { return len(q.shards) * len(q.shards[0].slots) }
