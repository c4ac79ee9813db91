package blocklist

import (
	"runtime"
	"slices"
	"strings"
	"unsafe"
)

// Builder collects names and rules and builds a List. It is not safe for
// concurrent use; build off the query path and hand the List to a snapshot.
type Builder struct {
	// Yield, when set, is called every few thousand names while Build
	// runs, so that a reload on a busy server with few cores can let the
	// query goroutines run (e.g. func() { time.Sleep(20 * time.Microsecond) }).
	Yield func()

	rules   []Rule
	ruleIdx map[ruleKey]uint32
	pending []pendingName
	bytes   int
	// The last shared rule added: a feed's entries mostly share one, so
	// most Adds skip the map.
	lastKey  ruleKey
	lastIdx  uint32
	haveLast bool
}

type ruleKey struct {
	feed       uint16
	category   uint32
	action     Action
	exact, sub bool
}

type pendingName struct {
	name string
	rule uint32
}

// NewBuilder returns a Builder expecting about n names (0 when unknown).
func NewBuilder(n int) *Builder {
	return &Builder{ruleIdx: make(map[ruleKey]uint32), pending: make([]pendingName, 0, n)}
}

// Len returns the number of names added so far (duplicates included).
func (b *Builder) Len() int { return len(b.pending) }

// Add lists name under rule. The name is a domain in presentation form,
// case-insensitive, with or without the trailing dot; a leading "*." lists
// only the subdomains (RPZ wildcard), overriding the rule's flags. A rule
// with neither Exact nor Subdomains set matches both (a plain list entry).
// Add rejects a malformed name or rule with an error and keeps nothing of it.
func (b *Builder) Add(name string, r Rule) error {
	n, wildcard, err := normalize(name)
	if err != nil {
		return err
	}
	if wildcard {
		r.Exact, r.Subdomains = false, true
	} else if !r.Exact && !r.Subdomains {
		r.Exact, r.Subdomains = true, true
	}
	if r.Action < Passthru || r.Action > Block {
		return errorf("name %q: unknown action %d", name, r.Action)
	}
	if r.Action == LocalData && len(r.Local) == 0 {
		return errorf("name %q: local data rule without records", name)
	}
	if r.Category == 0 {
		return errorf("name %q: rule without category", name)
	}
	idx, err := b.rule(r)
	if err != nil {
		return err
	}
	b.pending = append(b.pending, pendingName{name: n, rule: idx})
	b.bytes += len(n)
	return nil
}

func (b *Builder) rule(r Rule) (uint32, error) {
	if r.Action == LocalData {
		// Local data is per name; never shared.
		b.rules = append(b.rules, r)
		return uint32(len(b.rules) - 1), nil
	}
	k := ruleKey{r.Feed, r.Category, r.Action, r.Exact, r.Subdomains}
	if b.haveLast && k == b.lastKey {
		return b.lastIdx, nil
	}
	if i, ok := b.ruleIdx[k]; ok {
		b.lastKey, b.lastIdx, b.haveLast = k, i, true
		return i, nil
	}
	r.Local = nil
	b.rules = append(b.rules, r)
	i := uint32(len(b.rules) - 1)
	b.ruleIdx[k] = i
	b.lastKey, b.lastIdx, b.haveLast = k, i, true
	return i, nil
}

// Byte classes of names, for normalize's fast path.
const (
	byteName  = 1 << iota // a-z, 0-9, '-', '_', '.'
	byteUpper             // A-Z
	byteOther             // anything else
)

var byteClass = func() (t [256]uint8) {
	for c := range t {
		t[c] = byteOther
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byteName
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byteUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byteName
	}
	t['-'], t['_'], t['.'] = byteName, byteName, byteName
	return t
}()

// normalize lowercases name, strips the trailing dot and a leading "*.",
// and checks it is a hostname-like domain (letters, digits, '-', '_').
func normalize(name string) (string, bool, error) {
	wildcard := false
	if len(name) >= 2 && name[0] == '*' && name[1] == '.' {
		wildcard = true
		name = name[2:]
	}
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if len(name) == 0 || len(name) > 253 {
		return "", false, errorf("name %q: empty or longer than 253 bytes", name)
	}
	if canonical(name) {
		return name, wildcard, nil
	}
	name, err := checkName(name)
	return name, wildcard, err
}

// canonical reports, quickly, that name needs no change and no closer
// look: most names come canonical from a feed parser. One pass without
// branches over the bytes tells, and no label of a short name can be too
// long. It may say false of a good name (checkName decides then), never
// true of a bad one.
func canonical(name string) bool {
	var class uint8
	for i := 0; i < len(name); i++ {
		class |= byteClass[name[i]]
	}
	return class == byteName && len(name) > 0 && len(name) <= 63 && name[0] != '.' && name[len(name)-1] != '.' && !strings.Contains(name, "..")
}

// checkName checks and lowercases a name without its trailing dot and
// wildcard prefix, byte by byte.
func checkName(name string) (string, error) {
	lower := true
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			label++
		case c >= 'A' && c <= 'Z':
			lower = false
			label++
		case c == '.':
			if label == 0 {
				return "", errorf("name %q: empty label", name)
			}
			label = 0
			continue
		default:
			return "", errorf("name %q: invalid byte %q", name, c)
		}
		if label > 63 {
			return "", errorf("name %q: label longer than 63 bytes", name)
		}
	}
	if label == 0 {
		return "", errorf("name %q: empty label", name)
	}
	if !lower {
		bs := []byte(name)
		for i, c := range bs {
			if c >= 'A' && c <= 'Z' {
				bs[i] = c + 'a' - 'A'
			}
		}
		name = unsafe.String(&bs[0], len(bs))
	}
	return name, nil
}

// precedence orders the rules of one name: passthru first, then local data,
// NXDOMAIN, NODATA, block; ties go to the lower feed id.
func precedence(a, b *Rule) int {
	if a.Action != b.Action {
		return int(a.Action) - int(b.Action)
	}
	return int(a.Feed) - int(b.Feed)
}

// Build returns the immutable List. The Builder can be dropped afterwards.
func (b *Builder) Build() (*List, error) {
	l := &List{rules: slices.Clip(b.rules)}
	for i := range l.rules {
		l.cats |= l.rules[i].Category
	}
	n := len(b.pending)
	if n == 0 {
		return l, nil
	}
	if b.bytes > maxArena {
		return nil, errorf("names take %d bytes, more than the %d a list holds", b.bytes, maxArena)
	}
	l.slots = make([]uint64, n+n/4+1) // load factor at most 0.8
	slotUniq := make([]int32, len(l.slots))
	uniqOf := make([]int32, n)
	arena := make([]byte, 0, b.bytes)
	uniq := int32(0)
	// The table is far larger than the processor's caches, so finding a
	// name's slot is a memory access the loop would wait for. Names go in
	// batches: their hashes first, then one load of each home slot, which
	// the processor runs at the same time, then the inserts, which find
	// those slots cached.
	var hs [insertBatch]uint64
	var touched uint64
	for i := range b.pending {
		b.pace(i, nameStep)
		k := i % insertBatch
		if k == 0 {
			m := min(insertBatch, n-i)
			for x := range m {
				hs[x] = reverseHash(unsafe.Slice(unsafe.StringData(b.pending[i+x].name), len(b.pending[i+x].name)))
			}
			for x := range m {
				touched |= l.slots[l.home(hs[x])]
			}
		}
		name := unsafe.Slice(unsafe.StringData(b.pending[i].name), len(b.pending[i].name))
		h := hs[k]
		tag := uint8(h >> 56)
		j := l.home(h)
		for {
			s := l.slots[j]
			if s == 0 {
				off := uint32(len(arena))
				arena = append(arena, name...)
				l.slots[j] = packSlot(off, 0, len(name), tag)
				l.depths |= depthBit(name)
				slotUniq[j] = uniq
				uniqOf[i] = uniq
				uniq++
				break
			}
			if slotTag(s) == tag && slotLen(s) == len(name) {
				off := slotOff(s)
				if string(arena[off:off+uint32(len(name))]) == string(name) {
					uniqOf[i] = slotUniq[j]
					break
				}
			}
			j++
			if j == len(l.slots) {
				j = 0
			}
		}
	}
	runtime.KeepAlive(touched) // the loads of the batches are wanted
	l.names = int(uniq)
	if cap(arena)-len(arena) > len(arena)/8 {
		arena = slices.Clone(arena)
	}
	l.arena = arena

	// Gather each name's rules (counting sort by name), then share groups.
	start := make([]int32, uniq+1)
	for i, u := range uniqOf {
		b.pace(i, cheapStep)
		start[u+1]++
	}
	for u := int32(0); u < uniq; u++ {
		start[u+1] += start[u]
	}
	fill := slices.Clone(start[:uniq])
	byName := make([]uint32, n)
	for i, u := range uniqOf {
		b.pace(i, cheapStep)
		byName[fill[u]] = b.pending[i].rule
		fill[u]++
	}
	groupOf := make([]uint32, uniq)
	single := make(map[uint32]uint32)
	multi := make(map[string]uint32)
	l.groups = []uint32{0}
	for u := int32(0); u < uniq; u++ {
		b.pace(int(u), nameStep)
		rs := byName[start[u]:start[u+1]]
		if len(rs) > 1 {
			slices.SortFunc(rs, func(x, y uint32) int { return precedence(&l.rules[x], &l.rules[y]) })
			rs = slices.Compact(rs)
		}
		var g uint32
		var ok bool
		var key string
		if len(rs) == 1 {
			g, ok = single[rs[0]]
		} else {
			key = unsafe.String((*byte)(unsafe.Pointer(&rs[0])), len(rs)*4)
			g, ok = multi[key]
		}
		if !ok {
			g = uint32(len(l.groups) - 1)
			if g > maxGroups {
				return nil, errorf("more than %d distinct rule combinations", maxGroups)
			}
			l.ruleIx = append(l.ruleIx, rs...)
			l.groups = append(l.groups, uint32(len(l.ruleIx)))
			if len(rs) == 1 {
				single[rs[0]] = g
			} else {
				multi[string([]byte(key))] = g
			}
		}
		groupOf[u] = g
	}
	for j, s := range l.slots {
		b.pace(j, cheapStep)
		if s != 0 {
			l.slots[j] = s | uint64(groupOf[slotUniq[j]])<<16
		}
	}
	l.groups = slices.Clip(l.groups)
	l.ruleIx = slices.Clip(l.ruleIx)
	return l, nil
}

// insertBatch is how many names Build looks up in its table at once.
const insertBatch = 8

// Yield intervals of Build's loops, in iterations: about the same work
// between two calls of Yield whatever the loop.
const (
	nameStep  = 2048     // loops that hash or look up one name per iteration
	cheapStep = 16 << 10 // loops over plain integers
)

// pace calls Yield every step iterations (step is a power of two).
func (b *Builder) pace(i, step int) {
	if b.Yield != nil && i&(step-1) == step-1 {
		b.Yield()
	}
}

func depthBit(name []byte) uint64 {
	d := 1
	for _, c := range name {
		if c == '.' {
			d++
		}
	}
	if d >= 64 {
		return 0
	}
	return 1 << d
}
