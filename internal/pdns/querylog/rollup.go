package querylog

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"slices"
	"strings"
)

// Counts is a number of queries split by action.
type Counts struct {
	Queries  uint64             `json:"queries"`   // all queries
	ByAction [NumActions]uint64 `json:"by_action"` // queries per Action, indexed by the Action value
}

// Blocked returns the queries blocked by policy (Blocked and Sinkholed).
func (c Counts) Blocked() uint64 { return c.ByAction[Blocked] + c.ByAction[Sinkholed] }

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Queries += o.Queries
	for i := range c.ByAction {
		c.ByAction[i] += o.ByAction[i]
	}
}

func (c *Counts) addAction(a Action) {
	c.Queries++
	c.ByAction[a]++
}

// Limits on what one part's rollup tracks per tenant, so that a flood of
// random names or spoofed sources cannot grow memory without bound.
const (
	maxTrackedBlocked  = 1 << 15 // distinct blocked names per tenant in an open part
	maxTrackedSuspects = 1 << 14 // distinct suspected clients per tenant in a part
	sealedTopBlocked   = 256     // blocked names per tenant kept when a part is sealed
)

// The threat categories that make a client "suspected infected".
const (
	CategoryC2      = "c2"
	CategoryMalware = "malware"
)

// rollup aggregates the records of one part (one hour).
type rollup struct {
	hour    int64 // unix ns of the hour start
	records uint64
	tenants map[string]*tenantRoll
}

type tenantRoll struct {
	minutes  [60]Counts
	top      map[string]*topEntry // blocked query names
	topOther uint64               // blocks whose name is not in top (cap reached or cut at seal)
	suspects map[netip.Addr]*suspectStat
}

type topEntry struct {
	count    uint64
	category string
}

type suspectStat struct {
	c2, malware uint64
	first, last int64 // unix ns
}

func newRollup(hour int64) *rollup {
	return &rollup{hour: hour, tenants: make(map[string]*tenantRoll)}
}

func (ro *rollup) tenant(t string) *tenantRoll {
	tr := ro.tenants[t]
	if tr == nil {
		tr = &tenantRoll{top: make(map[string]*topEntry), suspects: make(map[netip.Addr]*suspectStat)}
		ro.tenants[t] = tr
	}
	return tr
}

// add counts one record of this part's hour.
func (ro *rollup) add(r *Record, tr *tenantRoll) {
	ro.records++
	m := (r.Time - ro.hour) / 60e9
	if m < 0 || m > 59 || !r.Action.Valid() {
		return // cannot happen for records routed to this part; keep memory safe anyway
	}
	tr.minutes[m].addAction(r.Action)
	if r.Action.IsBlock() {
		qn := r.qnameBytes()
		if e := tr.top[string(qn)]; e != nil {
			e.count++
			e.category = r.Category
		} else if len(tr.top) < maxTrackedBlocked {
			tr.top[string(qn)] = &topEntry{count: 1, category: r.Category}
		} else {
			tr.topOther++
		}
	}
	c2, mal := isCategory(r.Category, CategoryC2), isCategory(r.Category, CategoryMalware)
	if (c2 || mal) && r.Client.IsValid() {
		a := r.Client.Unmap().WithZone("")
		s := tr.suspects[a]
		if s == nil {
			if len(tr.suspects) >= maxTrackedSuspects {
				return
			}
			s = &suspectStat{first: r.Time, last: r.Time}
			tr.suspects[a] = s
		}
		if c2 {
			s.c2++
		} else {
			s.malware++
		}
		s.first = min(s.first, r.Time)
		s.last = max(s.last, r.Time)
	}
}

func isCategory(got, want string) bool { return len(got) == len(want) && strings.EqualFold(got, want) }

// totals returns the queries of the whole part per tenant.
func (ro *rollup) totals() map[string]Counts {
	out := make(map[string]Counts, len(ro.tenants))
	for t, tr := range ro.tenants {
		var c Counts
		for _, m := range tr.minutes {
			c.Add(m)
		}
		out[t] = c
	}
	return out
}

// cutTop keeps the sealedTopBlocked most blocked names of each tenant.
func (ro *rollup) cutTop() {
	for _, tr := range ro.tenants {
		if len(tr.top) <= sealedTopBlocked {
			continue
		}
		type kv struct {
			name string
			e    *topEntry
		}
		all := make([]kv, 0, len(tr.top))
		for k, v := range tr.top {
			all = append(all, kv{k, v})
		}
		slices.SortFunc(all, func(a, b kv) int {
			if c := cmp.Compare(b.e.count, a.e.count); c != 0 {
				return c
			}
			return strings.Compare(a.name, b.name)
		})
		for _, x := range all[sealedTopBlocked:] {
			tr.topOther += x.e.count
			delete(tr.top, x.name)
		}
	}
}

// Sidecar (".sum") layout, little-endian, varints as in encoding/binary:
//
//	magic "QSMOQSUM" | version u32 |
//	uvarint part | varint hour | uvarint valid length | uvarint records | uvarint tenants
//	per tenant (sorted): str tenant |
//	  uvarint minutes used | per minute: byte minute, uvarint n, n uvarint counts by action |
//	  uvarint top other | uvarint top entries | per entry: str name, uvarint count, str category |
//	  uvarint suspects | per suspect: addr kind+bytes, uvarint c2, uvarint malware, varint first-hour, varint last-hour
//	crc32c u32 of all preceding bytes
//
// str is uvarint length + bytes. Writing the number of actions per minute
// lets a newer build add actions without breaking older files.
const (
	sumMagic   = "QSMOQSUM"
	sumVersion = 1
)

type sidecar struct {
	part     uint32
	validLen int64
	roll     *rollup
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (sc *sidecar) encode() []byte {
	ro := sc.roll
	b := []byte(sumMagic)
	b = binary.LittleEndian.AppendUint32(b, sumVersion)
	b = binary.AppendUvarint(b, uint64(sc.part))
	b = binary.AppendVarint(b, ro.hour)
	b = binary.AppendUvarint(b, uint64(sc.validLen))
	b = binary.AppendUvarint(b, ro.records)
	names := make([]string, 0, len(ro.tenants))
	for t := range ro.tenants {
		names = append(names, t)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, t := range names {
		tr := ro.tenants[t]
		b = appendStr(b, t)
		used := 0
		for _, m := range tr.minutes {
			if m.Queries > 0 {
				used++
			}
		}
		b = binary.AppendUvarint(b, uint64(used))
		for i, m := range tr.minutes {
			if m.Queries == 0 {
				continue
			}
			b = append(b, byte(i))
			b = binary.AppendUvarint(b, uint64(NumActions))
			for _, v := range m.ByAction {
				b = binary.AppendUvarint(b, v)
			}
		}
		b = binary.AppendUvarint(b, tr.topOther)
		top := make([]string, 0, len(tr.top))
		for k := range tr.top {
			top = append(top, k)
		}
		slices.Sort(top)
		b = binary.AppendUvarint(b, uint64(len(top)))
		for _, k := range top {
			b = appendStr(b, k)
			b = binary.AppendUvarint(b, tr.top[k].count)
			b = appendStr(b, tr.top[k].category)
		}
		addrs := make([]netip.Addr, 0, len(tr.suspects))
		for a := range tr.suspects {
			addrs = append(addrs, a)
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		b = binary.AppendUvarint(b, uint64(len(addrs)))
		for _, a := range addrs {
			s := tr.suspects[a]
			b = appendAddr(b, a)
			b = binary.AppendUvarint(b, s.c2)
			b = binary.AppendUvarint(b, s.malware)
			b = binary.AppendVarint(b, s.first-ro.hour)
			b = binary.AppendVarint(b, s.last-ro.hour)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	case a.Is6():
		v := a.As16()
		return append(append(b, 6), v[:]...)
	}
	return append(b, 0)
}

// decodeSidecar parses a sidecar file; any damage is an error (the caller
// rebuilds the rollup from the segment).
func decodeSidecar(data []byte) (*sidecar, error) {
	if len(data) < len(sumMagic)+8 || string(data[:len(sumMagic)]) != sumMagic {
		return nil, corruptf("sidecar: bad magic")
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, corruptf("sidecar: checksum")
	}
	if v := binary.LittleEndian.Uint32(body[len(sumMagic):]); v != sumVersion {
		return nil, corruptf("sidecar: unsupported version %d", v)
	}
	d := &recDecoder{b: body[len(sumMagic)+4:]}
	part := d.uvarint()
	hour := d.varint()
	validLen := d.uvarint()
	records := d.uvarint()
	nt := d.uvarint()
	if d.err != nil || part > 1<<32-1 || validLen > 1<<50 || nt > uint64(len(d.b)) {
		return nil, corruptf("sidecar: header")
	}
	ro := newRollup(hour)
	ro.records = records
	for i := uint64(0); i < nt && d.err == nil; i++ {
		t := d.rawStr()
		if _, dup := ro.tenants[t]; dup {
			return nil, corruptf("sidecar: tenant listed twice")
		}
		tr := ro.tenant(t)
		nm := d.uvarint()
		if nm > 60 {
			return nil, corruptf("sidecar: minutes")
		}
		for j := uint64(0); j < nm && d.err == nil; j++ {
			mb := d.bytes(1)
			na := d.uvarint()
			if d.err != nil || mb[0] > 59 || na > 32 {
				return nil, corruptf("sidecar: minute entry")
			}
			c := &tr.minutes[mb[0]]
			for k := uint64(0); k < na; k++ {
				v := d.uvarint()
				if k < uint64(NumActions) {
					c.ByAction[k] += v
					c.Queries += v
				}
			}
		}
		tr.topOther = d.uvarint()
		ntop := d.uvarint()
		if ntop > uint64(len(d.b)) {
			return nil, corruptf("sidecar: top entries")
		}
		for j := uint64(0); j < ntop && d.err == nil; j++ {
			name := d.rawStr()
			n := d.uvarint()
			cat := d.rawStr()
			tr.top[name] = &topEntry{count: n, category: cat}
		}
		ns := d.uvarint()
		if ns > uint64(len(d.b)) {
			return nil, corruptf("sidecar: suspects")
		}
		for j := uint64(0); j < ns && d.err == nil; j++ {
			a := d.addr()
			s := &suspectStat{c2: d.uvarint(), malware: d.uvarint()}
			s.first = hour + d.varint()
			s.last = hour + d.varint()
			if d.err == nil {
				tr.suspects[a] = s
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, corruptf("sidecar: trailing bytes")
	}
	return &sidecar{part: uint32(part), validLen: int64(validLen), roll: ro}, nil
}

func (d *recDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = corruptf("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) rawStr() string {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = corruptf("string cut short")
	}
	return string(d.bytes(int(n)))
}

func (d *recDecoder) addr() netip.Addr {
	k := d.bytes(1)
	if d.err != nil {
		return netip.Addr{}
	}
	switch k[0] {
	case 4:
		if b := d.bytes(4); d.err == nil {
			return netip.AddrFrom4([4]byte(b))
		}
	case 6:
		if b := d.bytes(16); d.err == nil {
			return netip.AddrFrom16([16]byte(b))
		}
	case 0:
		return netip.Addr{}
	default:
		d.err = corruptf("bad address kind")
	}
	return netip.Addr{}
}
