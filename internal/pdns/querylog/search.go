package querylog

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DomainMatch selects how Filter.Domain is compared with query names.
type DomainMatch uint8

// Domain matching modes.
const (
	MatchExact     DomainMatch = iota // the name equals Domain
	MatchSuffix                       // the name is Domain or a subdomain of it
	MatchSubstring                    // Domain appears anywhere in the name
)

// Search limits.
const (
	DefaultSearchLimit = 100
	MaxSearchLimit     = 10_000
)

// Filter selects records for Search. Tenant is required unless AllTenants is
// set: a zero Filter is rejected, so a caller cannot list every agency's
// queries by forgetting the tenant.
type Filter struct {
	Tenant     string // organization ID; records of other tenants are never returned
	AllTenants bool   // office only: search every tenant (Tenant must be "")

	Domain string      // query name to look for; "" for any
	Match  DomainMatch // how Domain is compared

	Client  netip.Prefix // client address or network; zero for any
	Actions []Action     // any of these actions; empty for any
	QTypes  []uint16     // any of these query types; empty for any

	From time.Time // inclusive; zero for no lower bound
	To   time.Time // exclusive; zero for no upper bound

	Limit  int    // records per page; 0 means DefaultSearchLimit
	Cursor string // Page.Next of the previous page; "" for the first page
}

// Page is one page of search results, newest first.
type Page struct {
	Records []Record
	Next    string // cursor for the next page; "" when there are no more records
	Stats   SearchStats
}

// SearchStats tells how much a search read, for monitoring and tests.
type SearchStats struct {
	Parts   int // part files opened
	Blocks  int // blocks decoded
	Scanned int // records decoded and tested
	Skipped int // damaged blocks skipped
}

// position orders records: newest first, ties broken by part and place in
// the file so that paging is stable.
type position struct {
	time int64
	part uint32
	pos  uint64 // block offset << 16 | record index in the block
}

func (a position) compare(b position) int {
	if c := cmp.Compare(a.time, b.time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.part, b.part); c != 0 {
		return c
	}
	return cmp.Compare(a.pos, b.pos)
}

const cursorVersion = 1

func (p position) cursor() string {
	b := []byte{cursorVersion}
	b = binary.AppendVarint(b, p.time)
	b = binary.AppendUvarint(b, uint64(p.part))
	b = binary.AppendUvarint(b, p.pos)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (position, error) {
	bad := fmt.Errorf("querylog: %w: malformed cursor", ErrInvalid)
	if len(s) > 64 {
		return position{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1 || b[0] != cursorVersion {
		return position{}, bad
	}
	d := recDecoder{b: b[1:]}
	p := position{time: d.varint()}
	part := d.uvarint()
	p.pos = d.uvarint()
	if d.err != nil || len(d.b) != 0 || part > 1<<32-1 {
		return position{}, bad
	}
	p.part = uint32(part)
	return p, nil
}

// matcher is a compiled Filter.
type matcher struct {
	f        Filter
	domain   []byte
	from, to int64
	after    *position // return only records before this position
	actions  uint32    // bit set; 0 for any
}

func compileFilter(f Filter) (*matcher, error) {
	invalid := func(msg string) error { return fmt.Errorf("querylog: search: %w: %s", ErrInvalid, msg) }
	switch {
	case f.AllTenants && f.Tenant != "":
		return nil, invalid("tenant and all tenants are exclusive")
	case !f.AllTenants && f.Tenant == "":
		return nil, invalid("tenant is required")
	case f.Limit < 0 || f.Limit > MaxSearchLimit:
		return nil, invalid(fmt.Sprintf("limit must be between 1 and %d", MaxSearchLimit))
	case f.Match > MatchSubstring:
		return nil, invalid("unknown domain match")
	case !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To):
		return nil, invalid("from must be before to")
	case f.Client != (netip.Prefix{}) && !f.Client.IsValid():
		return nil, invalid("client network is not valid")
	}
	m := &matcher{f: f, from: minTime, to: maxTime}
	if f.Limit == 0 {
		m.f.Limit = DefaultSearchLimit
	}
	if f.Domain != "" {
		d := strings.ToLower(strings.TrimSuffix(f.Domain, "."))
		if d == "" || len(d) > MaxQNameLen {
			return nil, invalid("domain is empty or too long")
		}
		m.domain = []byte(d)
	}
	if f.Client.IsValid() {
		m.f.Client = f.Client.Masked()
		if m.f.Client.Addr().Is4In6() {
			m.f.Client = netip.PrefixFrom(m.f.Client.Addr().Unmap(), max(m.f.Client.Bits()-96, 0))
		}
	}
	for _, a := range f.Actions {
		if !a.Valid() {
			return nil, invalid("unknown action")
		}
		m.actions |= 1 << a
	}
	if !f.From.IsZero() {
		m.from = f.From.UnixNano()
	}
	if !f.To.IsZero() {
		m.to = f.To.UnixNano()
	}
	if f.Cursor != "" {
		p, err := parseCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		m.after = &p
	}
	return m, nil
}

const (
	minTime = -1 << 63
	maxTime = 1<<63 - 1
)

func (m *matcher) match(r *Record) bool {
	if r.Time < m.from || r.Time >= m.to {
		return false
	}
	if !m.f.AllTenants && r.Tenant != m.f.Tenant {
		return false
	}
	if m.actions != 0 && m.actions&(1<<r.Action) == 0 {
		return false
	}
	if len(m.f.QTypes) > 0 && !slices.Contains(m.f.QTypes, r.QType) {
		return false
	}
	if m.f.Client.IsValid() && !m.f.Client.Contains(r.Client) {
		return false
	}
	if m.domain != nil {
		qn := r.qnameBytes()
		switch m.f.Match {
		case MatchExact:
			return bytes.Equal(qn, m.domain)
		case MatchSuffix:
			if !bytes.HasSuffix(qn, m.domain) {
				return false
			}
			return len(qn) == len(m.domain) || qn[len(qn)-len(m.domain)-1] == '.'
		case MatchSubstring:
			return bytes.Contains(qn, m.domain)
		}
	}
	return true
}

// hit is a matching record and its position.
type hit struct {
	pos position
	rec Record
}

// topHits keeps the k newest hits: a min-heap on position.
type topHits struct {
	k     int
	items []*hit
	spare *hit
}

func (h *topHits) Len() int           { return len(h.items) }
func (h *topHits) Less(i, j int) bool { return h.items[i].pos.compare(h.items[j].pos) < 0 }
func (h *topHits) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topHits) Push(x any)         { h.items = append(h.items, x.(*hit)) }
func (h *topHits) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

func (h *topHits) full() bool { return len(h.items) >= h.k }

// oldest returns the smallest position held; only valid when full.
func (h *topHits) oldest() position { return h.items[0].pos }

func (h *topHits) offer(p position, r *Record) {
	if h.full() {
		if p.compare(h.oldest()) <= 0 {
			return
		}
		h.spare = heap.Pop(h).(*hit)
	}
	x := h.spare
	h.spare = nil
	if x == nil {
		x = new(hit)
	}
	x.pos = p
	x.rec.copyFrom(r)
	heap.Push(h, x)
}

// indexEntry caches the block index and dictionary of a part. For an open
// part the snapshot is extended as the file grows; extension is serialized
// by mu, and published snapshots are never modified (extension only appends
// beyond their length).
type indexEntry struct {
	mu   sync.Mutex
	snap atomic.Pointer[segReader]
}

type searchPart struct {
	key  partKey
	name string
	size int64
}

// Search returns the records matching f, newest first, one page at a time.
// It reads only the parts whose hour overlaps [f.From, f.To), and within a
// part only the blocks that can still hold one of the newest matches.
// Tenancy is the caller's duty: pass the organization the user may see.
func (s *Store) Search(ctx context.Context, f Filter) (Page, error) {
	m, err := compileFilter(f)
	if err != nil {
		return Page{}, err
	}
	upper := m.to
	if m.after != nil {
		upper = min(upper, m.after.time+1)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Page{}, ErrClosed
	}
	var parts []searchPart
	for k, meta := range s.parts {
		if k.hour+hourNs <= m.from || k.hour >= upper {
			continue
		}
		parts = append(parts, searchPart{key: k, name: meta.name, size: meta.size})
	}
	s.mu.Unlock()
	// Newest hour first; parts of one hour are merged through the heap.
	slices.SortFunc(parts, func(a, b searchPart) int {
		if c := cmp.Compare(b.key.hour, a.key.hour); c != 0 {
			return c
		}
		return cmp.Compare(b.key.part, a.key.part)
	})
	top := &topHits{k: m.f.Limit + 1}
	var page Page
	for i := 0; i < len(parts); {
		hour := parts[i].key.hour
		if top.full() && top.oldest().time >= hour+hourNs {
			break // every older hour holds only older records
		}
		for ; i < len(parts) && parts[i].key.hour == hour; i++ {
			if err := ctx.Err(); err != nil {
				return Page{}, err
			}
			if err := s.searchPart(ctx, parts[i], m, top, &page.Stats); err != nil {
				return Page{}, err
			}
		}
	}
	hits := top.items
	slices.SortFunc(hits, func(a, b *hit) int { return b.pos.compare(a.pos) })
	if len(hits) > m.f.Limit {
		hits = hits[:m.f.Limit]
		page.Next = hits[len(hits)-1].pos.cursor()
	}
	page.Records = make([]Record, len(hits))
	for i, h := range hits {
		page.Records[i] = h.rec
	}
	return page, nil
}

func (s *Store) searchPart(ctx context.Context, sp searchPart, m *matcher, top *topHits, st *SearchStats) error {
	f, err := os.Open(filepath.Join(s.dir, sp.name+".seg"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed by retention since the list was taken
	}
	if err != nil {
		return fmt.Errorf("querylog: search: open %s: %w", sp.name, err)
	}
	defer f.Close()
	seg, err := s.partIndex(sp, f)
	if err != nil {
		s.log.Warn("querylog: search: unreadable segment skipped", "file", sp.name, "err", err)
		return nil
	}
	st.Parts++
	if !m.f.AllTenants && !slices.Contains(seg.dict, m.f.Tenant) {
		return nil // the tenant has no record in this part
	}
	// prefMax[i] is the newest time in blocks 0..i: once the heap is full
	// and holds only newer records, no earlier block can contribute.
	prefMax := make([]int64, len(seg.blocks))
	for i, b := range seg.blocks {
		prefMax[i] = b.maxT
		if i > 0 {
			prefMax[i] = max(prefMax[i], prefMax[i-1])
		}
	}
	var buf []byte
	for i := len(seg.blocks) - 1; i >= 0; i-- {
		b := &seg.blocks[i]
		if top.full() && prefMax[i] < top.oldest().time {
			break
		}
		if b.maxT < m.from || b.minT >= m.to || (m.after != nil && b.minT > m.after.time) {
			continue
		}
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st.Blocks++
		buf, err = seg.readBlock(i, buf, func(idx int, r *Record) bool {
			st.Scanned++
			if !m.match(r) {
				return true
			}
			p := position{time: r.Time, part: sp.key.part, pos: uint64(b.off)<<16 | uint64(idx)}
			if m.after != nil && p.compare(*m.after) >= 0 {
				return true
			}
			top.offer(p, r)
			return true
		})
		if err != nil {
			st.Skipped++
			s.log.Warn("querylog: search: damaged block skipped", "file", sp.name, "offset", b.off, "err", err)
		}
	}
	return nil
}

// partIndex returns the block index of a part read up to sp.size, from the
// cache when possible.
func (s *Store) partIndex(sp searchPart, f *os.File) (*segReader, error) {
	e, ok := s.indexes.get(sp.key)
	if !ok {
		e = &indexEntry{}
		s.indexes.put(sp.key, e)
	}
	if snap := e.snap.Load(); snap != nil && (snap.end >= sp.size || snap.stop != nil) {
		seg := *snap
		seg.ra = f
		return &seg, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var seg segReader
	if snap := e.snap.Load(); snap != nil {
		seg = *snap
		seg.ra = f
		if seg.end < sp.size && seg.stop == nil {
			seg.scan(sp.size)
		}
	} else {
		r, err := openSegment(f, sp.size)
		if err != nil {
			return nil, err
		}
		seg = *r
	}
	pub := seg
	pub.ra = nil
	e.snap.Store(&pub)
	return &seg, nil
}
