// Package blocklist is the immutable, compact set of listed domain names the
// resolver consults on every query: one million names with their rules fit in
// about 30 MB and a lookup walks the query name's suffixes without allocating.
package blocklist

import (
	"fmt"
	"unsafe"

	"github.com/miekg/dns"
)

// Action is what a matching rule asks the resolver to do.
type Action uint8

// Actions, in the order a rule wins over another rule on the same name: a
// passthru (an exception feed) beats local data, which beats the refusals.
const (
	// Passthru answers normally and stops policy for the name (RPZ PASSTHRU).
	Passthru Action = iota + 1
	// LocalData answers with the rule's records, owner rewritten to the query name.
	LocalData
	// NXDomain answers NXDOMAIN whatever the tenant's block mode.
	NXDomain
	// NoData answers NOERROR with no records.
	NoData
	// Block applies the tenant's block mode (NXDOMAIN, REFUSED, NODATA or sinkhole).
	Block
)

// String returns the lowercase name used in logs and metrics.
func (a Action) String() string {
	switch a {
	case Passthru:
		return "passthru"
	case LocalData:
		return "localdata"
	case NXDomain:
		return "nxdomain"
	case NoData:
		return "nodata"
	case Block:
		return "block"
	}
	return "unknown"
}

// Rule is one listing of a name: which feed said it, under which threat
// categories, and what to do. Rules are shared by every name with the same
// values, so a million names from a few feeds cost a few rules.
type Rule struct {
	// Feed identifies the source feed (its meaning belongs to the caller).
	Feed uint16
	// Category is a bit mask of threat categories; a rule applies to a tenant
	// when it intersects the tenant's mask.
	Category uint32
	// Action says what to answer.
	Action Action
	// Exact makes the rule match the listed name itself.
	Exact bool
	// Subdomains makes the rule match every name below the listed name.
	Subdomains bool
	// Local holds the records of a LocalData rule; their owner names are
	// rewritten to the query name when answering.
	Local []dns.RR
}

// Match is the result of a lookup.
type Match struct {
	// Name is the listed name that matched, lowercase without trailing dot.
	// It points into the list's immutable arena: no allocation, valid as
	// long as the list is reachable.
	Name string
	// Rule is the winning rule.
	Rule *Rule
	// Subdomain reports that Name is a parent of the query name.
	Subdomain bool
}

// List is an immutable set of names with rules. The zero of *List (nil) is an
// empty list, so a tenant without a deny list costs one nil check.
type List struct {
	slots  []uint64 // open addressing, linear probing; 0 = empty
	arena  []byte   // names, concatenated, lowercase, no trailing dot
	groups []uint32 // group g's rules are ruleIdx[groups[g]:groups[g+1]]
	ruleIx []uint32 // rule indexes, each group sorted by precedence
	rules  []Rule
	names  int
	cats   uint32 // union of all rules' categories, to skip lookups early
	depths uint64 // bit d set when a listed name has d labels (d >= 63 always probed)
}

// Slot layout: | arena offset (30) | group (18) | name length (8) | tag (8) |.
const (
	offBits   = 30
	groupBits = 18
	maxArena  = 1<<offBits - 1
	maxGroups = 1<<groupBits - 1
	maxLabels = 128
)

func packSlot(off uint32, group uint32, n int, tag uint8) uint64 {
	return uint64(off)<<34 | uint64(group)<<16 | uint64(n)<<8 | uint64(tag)
}

func slotOff(s uint64) uint32   { return uint32(s >> 34) }
func slotGroup(s uint64) uint32 { return uint32(s>>16) & maxGroups }
func slotLen(s uint64) int      { return int(s>>8) & 0xff }
func slotTag(s uint64) uint8    { return uint8(s) }

// Len returns the number of distinct names.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return l.names
}

// Rules returns the number of distinct rules.
func (l *List) Rules() int {
	if l == nil {
		return 0
	}
	return len(l.rules)
}

// Bytes returns the approximate memory the list holds.
func (l *List) Bytes() int {
	if l == nil {
		return 0
	}
	return len(l.slots)*8 + cap(l.arena) + len(l.groups)*4 + len(l.ruleIx)*4 + len(l.rules)*int(unsafe.Sizeof(Rule{}))
}

// Categories returns the union of the category masks of all rules.
func (l *List) Categories() uint32 {
	if l == nil {
		return 0
	}
	return l.cats
}

// hashing: FNV-1a over the name's bytes taken from the end, so one right-to-
// left pass yields the hash of every suffix; a final mix spreads the bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func reverseHash(name []byte) uint64 {
	h := uint64(fnvOffset)
	for i := len(name) - 1; i >= 0; i-- {
		h ^= uint64(name[i])
		h *= fnvPrime
	}
	return mix(h)
}

func (l *List) home(h uint64) int {
	return int(uint64(uint32(h)) * uint64(len(l.slots)) >> 32)
}

// Query is a name prepared for lookups in several lists: its suffixes and
// their hashes are computed once. Reuse one Query per goroutine.
type Query struct {
	name   []byte
	n      int
	starts [maxLabels]uint8
	hashes [maxLabels]uint64
}

// Prepare sets q to name: lowercase, presentation form, with or without the
// trailing dot. The bytes are referenced, not copied, until the next Prepare.
func (q *Query) Prepare(name []byte) {
	q.n = 0
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	q.name = name
	if len(name) == 0 || len(name) > 255 {
		q.name = nil
		return
	}
	// One pass from the right computes every suffix hash at label starts;
	// the full name comes last.
	h := uint64(fnvOffset)
	for i := len(name) - 1; i >= 0; i-- {
		c := name[i]
		if c == '.' && i < len(name)-1 && q.n < maxLabels-1 && !escaped(name, i) {
			q.starts[q.n] = uint8(i + 1)
			q.hashes[q.n] = mix(h)
			q.n++
		}
		h ^= uint64(c)
		h *= fnvPrime
	}
	q.starts[q.n] = 0
	q.hashes[q.n] = mix(h)
	q.n++
}

// escaped reports whether name[i] follows an odd run of backslashes, so
// that `a\.b` (one label holding a dot) is never split at that dot.
func escaped(name []byte, i int) bool {
	n := 0
	for i > 0 && name[i-1] == '\\' {
		n++
		i--
	}
	return n&1 == 1
}

// PrepareString is Prepare for a name held in a string; it does not copy.
func (q *Query) PrepareString(name string) {
	q.Prepare(unsafe.Slice(unsafe.StringData(name), len(name)))
}

// Lookup returns the most specific rule for name, or one of its parent
// names, whose category intersects mask. name is lowercase, in presentation
// form, with or without the trailing dot. It does not allocate.
func (l *List) Lookup(name []byte, mask uint32) (Match, bool) {
	if l == nil || l.cats&mask == 0 {
		return Match{}, false
	}
	var q Query
	q.Prepare(name)
	return l.LookupQuery(&q, mask)
}

// LookupQuery is Lookup for a prepared name.
func (l *List) LookupQuery(q *Query, mask uint32) (Match, bool) {
	if l == nil || l.cats&mask == 0 || len(l.slots) == 0 {
		return Match{}, false
	}
	// Most specific first; depth is the label count of the suffix.
	for k := q.n - 1; k >= 0; k-- {
		depth := k + 1
		if depth < 64 && l.depths&(1<<depth) == 0 {
			continue
		}
		sub := k != q.n-1
		if r, listed, ok := l.probe(q.hashes[k], q.name[q.starts[k]:], mask, sub); ok {
			return Match{Name: listed, Rule: r, Subdomain: sub}, true
		}
	}
	return Match{}, false
}

// LookupString is Lookup for a string name; it does not allocate.
func (l *List) LookupString(name string, mask uint32) (Match, bool) {
	return l.Lookup(unsafe.Slice(unsafe.StringData(name), len(name)), mask)
}

// Contains reports whether name itself is listed, whatever its rules.
func (l *List) Contains(name string) bool {
	if l == nil || len(l.slots) == 0 {
		return false
	}
	b := unsafe.Slice(unsafe.StringData(name), len(name))
	_, ok := l.find(reverseHash(b), b)
	return ok
}

func (l *List) find(h uint64, name []byte) (uint64, bool) {
	if len(l.slots) == 0 {
		return 0, false
	}
	tag := uint8(h >> 56)
	i := l.home(h)
	for {
		s := l.slots[i]
		if s == 0 {
			return 0, false
		}
		if slotTag(s) == tag && slotLen(s) == len(name) {
			off := slotOff(s)
			if string(l.arena[off:off+uint32(len(name))]) == string(name) {
				return s, true
			}
		}
		i++
		if i == len(l.slots) {
			i = 0
		}
	}
}

func (l *List) probe(h uint64, name []byte, mask uint32, sub bool) (*Rule, string, bool) {
	s, ok := l.find(h, name)
	if !ok {
		return nil, "", false
	}
	g := slotGroup(s)
	for _, ri := range l.ruleIx[l.groups[g]:l.groups[g+1]] {
		r := &l.rules[ri]
		if r.Category&mask == 0 {
			continue
		}
		if (sub && r.Subdomains) || (!sub && r.Exact) {
			off := slotOff(s)
			return r, unsafe.String(&l.arena[off], slotLen(s)), true
		}
	}
	return nil, "", false
}

// Each calls fn for every name and rule in the list, in no particular order,
// until fn returns false. It is meant for exports and tests, not queries.
func (l *List) Each(fn func(name string, r *Rule) bool) {
	if l == nil {
		return
	}
	for _, s := range l.slots {
		if s == 0 {
			continue
		}
		off := slotOff(s)
		name := unsafe.String(&l.arena[off], slotLen(s))
		g := slotGroup(s)
		for _, ri := range l.ruleIx[l.groups[g]:l.groups[g+1]] {
			if !fn(name, &l.rules[ri]) {
				return
			}
		}
	}
}

// errorf formats the package's errors with its prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("blocklist: "+format, args...)
}
