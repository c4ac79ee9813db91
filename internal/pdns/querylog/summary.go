package querylog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"os"
	"slices"
)

// Rollup file (".sum") layout, little-endian, varints as in encoding/binary:
//
//	prefix, 16 bytes: magic "QSMOQSUM" | version u32 | index length u32
//	index (index length bytes):
//	  uvarint part | varint hour | uvarint valid segment length | uvarint records | uvarint tenants
//	  per tenant, sorted: str name | counts (the whole hour) | uvarint c2+malware queries |
//	                      uvarint section offset | uvarint section length | crc32c u32 of the section
//	  crc32c u32 of the prefix and the index before it
//	sections, offsets counted from the end of the index; per tenant:
//	  uvarint minutes used | per minute: byte minute, counts
//	  uvarint top other | uvarint top entries | per entry: str name, uvarint count, str category
//	  uvarint suspects | per suspect: byte kind 0/4/6 + address, uvarint c2, uvarint malware,
//	                     varint first - hour, varint last - hour
//
// counts is uvarint n followed by n uvarints, the queries per action:
// writing n lets a later version add actions without breaking old files.
// str is uvarint length + bytes.
//
// The index is small (a few dozen bytes per tenant) and is kept in memory
// for every sealed part, so totals over whole hours need no file read; a
// tenant's section is read only when its minutes, blocked names or suspects
// are asked for, so a one-agency query over 30 days reads 720 small
// sections, not 720 files of every agency.
const (
	sumMagic     = "QSMOQSUM"
	sumVersion   = 1
	sumPrefixLen = 16
	maxSumIndex  = 64 << 20
)

// partSummary is the in-memory index of a sealed part's rollup file.
type partSummary struct {
	part     uint32
	hour     int64
	validLen int64
	records  uint64
	base     int64 // file offset of the first section
	tenants  map[string]*tenantSummary
}

type tenantSummary struct {
	totals Counts
	threat uint64 // queries of c2 and malware names: 0 means no suspects
	off    int64  // section offset from base
	n      int64  // section length
	crc    uint32
	mem    *tenantRoll // set when there is no file to read from
}

func (ps *partSummary) totals() map[string]Counts {
	out := make(map[string]Counts, len(ps.tenants))
	for t, ts := range ps.tenants {
		out[t] = ts.totals
	}
	return out
}

func (tr *tenantRoll) threatHits() uint64 {
	var n uint64
	for _, st := range tr.suspects {
		n += st.c2 + st.malware
	}
	return n
}

func (tr *tenantRoll) total() Counts {
	var c Counts
	for _, m := range tr.minutes {
		c.Add(m)
	}
	return c
}

// summaryOf indexes a rollup held in memory (a part whose rollup file
// could not be written).
func summaryOf(part uint32, validLen int64, ro *rollup) *partSummary {
	ps := &partSummary{part: part, hour: ro.hour, validLen: validLen, records: ro.records, tenants: make(map[string]*tenantSummary, len(ro.tenants))}
	for t, tr := range ro.tenants {
		ps.tenants[t] = &tenantSummary{totals: tr.total(), threat: tr.threatHits(), mem: tr}
	}
	return ps
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendCounts(b []byte, c Counts) []byte {
	b = binary.AppendUvarint(b, uint64(NumActions))
	for _, v := range c.ByAction {
		b = binary.AppendUvarint(b, v)
	}
	return b
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

// encodeSummary returns the rollup file of a part.
func encodeSummary(part uint32, validLen int64, ro *rollup) []byte {
	names := make([]string, 0, len(ro.tenants))
	for t := range ro.tenants {
		names = append(names, t)
	}
	slices.Sort(names)
	var sections []byte
	idx := binary.AppendUvarint(nil, uint64(part))
	idx = binary.AppendVarint(idx, ro.hour)
	idx = binary.AppendUvarint(idx, uint64(validLen))
	idx = binary.AppendUvarint(idx, ro.records)
	idx = binary.AppendUvarint(idx, uint64(len(names)))
	for _, t := range names {
		tr := ro.tenants[t]
		start := len(sections)
		sections = appendSection(sections, ro.hour, tr)
		sec := sections[start:]
		idx = appendStr(idx, t)
		idx = appendCounts(idx, tr.total())
		idx = binary.AppendUvarint(idx, tr.threatHits())
		idx = binary.AppendUvarint(idx, uint64(start))
		idx = binary.AppendUvarint(idx, uint64(len(sec)))
		idx = binary.LittleEndian.AppendUint32(idx, crc32.Checksum(sec, castagnoli))
	}
	out := []byte(sumMagic)
	out = binary.LittleEndian.AppendUint32(out, sumVersion)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(idx)+4))
	out = append(out, idx...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
	return append(out, sections...)
}

func appendSection(b []byte, hour int64, tr *tenantRoll) []byte {
	used := 0
	for _, m := range tr.minutes {
		if m.Queries > 0 {
			used++
		}
	}
	b = binary.AppendUvarint(b, uint64(used))
	for i, m := range tr.minutes {
		if m.Queries > 0 {
			b = append(b, byte(i))
			b = appendCounts(b, m)
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
		st := tr.suspects[a]
		b = appendAddr(b, a)
		b = binary.AppendUvarint(b, st.c2)
		b = binary.AppendUvarint(b, st.malware)
		b = binary.AppendVarint(b, st.first-hour)
		b = binary.AppendVarint(b, st.last-hour)
	}
	return b
}

// readSummary reads the prefix and index of a rollup file of size bytes.
func readSummary(r io.ReaderAt, size int64) (*partSummary, error) {
	var pre [sumPrefixLen]byte
	if size < sumPrefixLen {
		return nil, corruptf("rollup file: too short")
	}
	if _, err := r.ReadAt(pre[:], 0); err != nil {
		return nil, fmt.Errorf("querylog: read rollup file: %w", err)
	}
	if string(pre[:8]) != sumMagic {
		return nil, corruptf("rollup file: bad magic")
	}
	if v := binary.LittleEndian.Uint32(pre[8:]); v != sumVersion {
		return nil, corruptf("rollup file: unsupported version %d", v)
	}
	n := int64(binary.LittleEndian.Uint32(pre[12:]))
	if n < 4 || n > maxSumIndex || n > size-sumPrefixLen {
		return nil, corruptf("rollup file: bad index length")
	}
	buf := make([]byte, sumPrefixLen+n)
	copy(buf, pre[:])
	if _, err := r.ReadAt(buf[sumPrefixLen:], sumPrefixLen); err != nil {
		return nil, fmt.Errorf("querylog: read rollup index: %w", err)
	}
	body := buf[:len(buf)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(buf[len(buf)-4:]) {
		return nil, corruptf("rollup file: index checksum")
	}
	d := &recDecoder{b: body[sumPrefixLen:]}
	part := d.uvarint()
	ps := &partSummary{hour: d.varint(), base: sumPrefixLen + n}
	validLen := d.uvarint()
	ps.records = d.uvarint()
	nt := d.uvarint()
	if d.err != nil || part == 0 || part > 1<<32-1 || validLen > 1<<50 || nt > uint64(len(d.b)) {
		return nil, corruptf("rollup file: index header")
	}
	ps.part, ps.validLen = uint32(part), int64(validLen)
	ps.tenants = make(map[string]*tenantSummary, nt)
	secSpace := size - ps.base
	for i := uint64(0); i < nt && d.err == nil; i++ {
		name := d.rawStr()
		ts := &tenantSummary{totals: d.counts(), threat: d.uvarint()}
		off, ln := d.uvarint(), d.uvarint()
		c := d.bytes(4)
		if d.err != nil {
			break
		}
		if off > uint64(secSpace) || ln > uint64(secSpace)-off {
			return nil, corruptf("rollup file: section outside the file")
		}
		if _, dup := ps.tenants[name]; dup {
			return nil, corruptf("rollup file: tenant listed twice")
		}
		ts.off, ts.n, ts.crc = int64(off), int64(ln), binary.LittleEndian.Uint32(c)
		ps.tenants[name] = ts
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, corruptf("rollup file: trailing index bytes")
	}
	return ps, nil
}

// readSection reads and decodes one tenant's section.
func readSection(r io.ReaderAt, ps *partSummary, ts *tenantSummary) (*tenantRoll, error) {
	buf := make([]byte, ts.n)
	if _, err := r.ReadAt(buf, ps.base+ts.off); err != nil {
		return nil, fmt.Errorf("querylog: read rollup section: %w", err)
	}
	if crc32.Checksum(buf, castagnoli) != ts.crc {
		return nil, corruptf("rollup file: section checksum")
	}
	return decodeSection(buf, ps.hour)
}

func decodeSection(b []byte, hour int64) (*tenantRoll, error) {
	tr := &tenantRoll{top: make(map[string]*topEntry), suspects: make(map[netip.Addr]*suspectStat)}
	d := &recDecoder{b: b}
	nm := d.uvarint()
	if nm > 60 {
		return nil, corruptf("rollup section: minutes")
	}
	for j := uint64(0); j < nm && d.err == nil; j++ {
		mb := d.bytes(1)
		if d.err != nil {
			break
		}
		if mb[0] > 59 {
			return nil, corruptf("rollup section: minute %d", mb[0])
		}
		c := d.counts()
		tr.minutes[mb[0]].Add(c)
	}
	tr.topOther = d.uvarint()
	ntop := d.uvarint()
	if ntop > uint64(len(d.b)) {
		return nil, corruptf("rollup section: top entries")
	}
	for j := uint64(0); j < ntop && d.err == nil; j++ {
		name := d.rawStr()
		n := d.uvarint()
		cat := d.rawStr()
		tr.top[name] = &topEntry{count: n, category: cat}
	}
	ns := d.uvarint()
	if ns > uint64(len(d.b)) {
		return nil, corruptf("rollup section: suspects")
	}
	for j := uint64(0); j < ns && d.err == nil; j++ {
		a := d.addr()
		st := &suspectStat{c2: d.uvarint(), malware: d.uvarint()}
		st.first = hour + d.varint()
		st.last = hour + d.varint()
		if d.err == nil {
			tr.suspects[a] = st
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, corruptf("rollup section: trailing bytes")
	}
	return tr, nil
}

// counts reads a counts field, ignoring actions this version does not know.
func (d *recDecoder) counts() Counts {
	var c Counts
	n := d.uvarint()
	if n > 32 {
		d.err = corruptf("too many actions")
		return c
	}
	for k := uint64(0); k < n && d.err == nil; k++ {
		v := d.uvarint()
		if k < uint64(NumActions) {
			c.ByAction[k] += v
			c.Queries += v
		}
	}
	return c
}

// readSummaryFile opens path and reads its index.
func readSummaryFile(path string) (*partSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return readSummary(f, fi.Size())
}
