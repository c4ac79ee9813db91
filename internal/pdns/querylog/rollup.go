package querylog

import (
	"cmp"
	"encoding/binary"
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
