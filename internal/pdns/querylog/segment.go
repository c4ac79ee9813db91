package querylog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"unsafe"
)

// Segment file layout (all integers little-endian; see README.md):
//
//	file header, 32 bytes:
//	  magic "QSMOQLOG" | version u32 | part u32 | hour start (unix ns) i64 | reserved u32 | crc32c u32 of bytes 0..27
//	blocks, each:
//	  header, 44 bytes:
//	    magic "QBLK" | dict bytes u32 | record bytes u32 | dict entries u32 | records u32 |
//	    min time i64 | max time i64 | crc32c of header bytes 0..35 + dict | crc32c of records
//	  dict section:    entries, each uvarint length + bytes; ids continue the part's numbering
//	  records section: records, see encodeRecord
const (
	segMagic       = "QSMOQLOG"
	segVersion     = 1
	segHeaderLen   = 32
	blockMagic     = "QBLK"
	blockHeaderLen = 44

	maxBlockRecords = 1<<16 - 1 // record positions in cursors use 16 bits
	maxSectionLen   = 64 << 20  // refuse absurd lengths before allocating
	maxDictString   = 4096      // longer tenant/rule/feed strings are cut
	maxQNameDict    = 1 << 16   // query names kept in a part's dictionary; the rest inline
	minRecordLen    = 15        // smallest encoded record; bounds counts read from disk
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("querylog: corrupt segment")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
}

type segHeader struct {
	part uint32
	hour int64 // unix ns of the hour start
}

func (h segHeader) encode() []byte {
	b := make([]byte, segHeaderLen)
	copy(b, segMagic)
	binary.LittleEndian.PutUint32(b[8:], segVersion)
	binary.LittleEndian.PutUint32(b[12:], h.part)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.hour))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

func decodeSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderLen {
		return segHeader{}, corruptf("short file header")
	}
	if string(b[:8]) != segMagic {
		return segHeader{}, corruptf("bad magic")
	}
	if crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:]) {
		return segHeader{}, corruptf("file header checksum")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != segVersion {
		return segHeader{}, corruptf("unsupported version %d", v)
	}
	return segHeader{
		part: binary.LittleEndian.Uint32(b[12:]),
		hour: int64(binary.LittleEndian.Uint64(b[16:])),
	}, nil
}

// segEncoder turns records into blocks for one part. It owns the part's
// string dictionary: every tenant, rule, feed, category and upstream string,
// and up to maxQNameDict query names, is written once and then referred to
// by number.
type segEncoder struct {
	dict   map[string]uint32
	nextID uint32 // next dictionary id; ids start at 1, 0 means ""
	qnames int    // query names in the dictionary

	added []string // dictionary strings added since the last checkpoint
	ckID  uint32
	ckQN  int

	dictBuf []byte
	nDict   int
	recBuf  []byte
	last    [5]strCache // per string field: last string seen and its id
}

// strCache remembers the last string of a field by address: the strings come
// from long-lived snapshots, so consecutive records usually share the same
// backing array and a pointer comparison replaces a map lookup.
type strCache struct {
	p  *byte
	n  int
	id uint32
}

func newSegEncoder() *segEncoder {
	return &segEncoder{dict: make(map[string]uint32), nextID: 1, ckID: 1}
}

// checkpoint marks the dictionary state that rollback returns to.
func (e *segEncoder) checkpoint() {
	e.added = e.added[:0]
	e.ckID = e.nextID
	e.ckQN = e.qnames
}

// rollback forgets the dictionary entries added since the checkpoint: their
// block did not reach the file.
func (e *segEncoder) rollback() {
	for _, s := range e.added {
		delete(e.dict, s)
	}
	e.added = e.added[:0]
	e.nextID = e.ckID
	e.qnames = e.ckQN
	e.last = [5]strCache{}
}

func (e *segEncoder) intern(s string, field int) uint32 {
	if s == "" {
		return 0
	}
	if len(s) > maxDictString {
		s = s[:maxDictString]
	}
	c := &e.last[field]
	p := unsafe.StringData(s)
	if c.p == p && c.n == len(s) {
		return c.id
	}
	id, ok := e.dict[s]
	if !ok {
		id = e.addDict(s)
	}
	*c = strCache{p: p, n: len(s), id: id}
	return id
}

func (e *segEncoder) addDict(s string) uint32 {
	id := e.nextID
	e.nextID++
	e.dict[s] = id
	e.added = append(e.added, s)
	e.dictBuf = binary.AppendUvarint(e.dictBuf, uint64(len(s)))
	e.dictBuf = append(e.dictBuf, s...)
	e.nDict++
	return id
}

// appendBlock encodes recs (at most maxBlockRecords, all of this part) as one
// block appended to dst.
func (e *segEncoder) appendBlock(dst []byte, recs []*Record) []byte {
	minT, maxT := recs[0].Time, recs[0].Time
	for _, r := range recs[1:] {
		minT = min(minT, r.Time)
		maxT = max(maxT, r.Time)
	}
	e.dictBuf = e.dictBuf[:0]
	e.nDict = 0
	e.recBuf = e.recBuf[:0]
	for _, r := range recs {
		e.encodeRecord(r, minT)
	}
	start := len(dst)
	var h [blockHeaderLen]byte
	copy(h[:], blockMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(e.dictBuf)))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(e.recBuf)))
	binary.LittleEndian.PutUint32(h[12:], uint32(e.nDict))
	binary.LittleEndian.PutUint32(h[16:], uint32(len(recs)))
	binary.LittleEndian.PutUint64(h[20:], uint64(minT))
	binary.LittleEndian.PutUint64(h[28:], uint64(maxT))
	dst = append(dst, h[:]...)
	dst = append(dst, e.dictBuf...)
	crcD := crc32.Update(crc32.Checksum(dst[start:start+36], castagnoli), castagnoli, e.dictBuf)
	binary.LittleEndian.PutUint32(dst[start+36:], crcD)
	binary.LittleEndian.PutUint32(dst[start+40:], crc32.Checksum(e.recBuf, castagnoli))
	return append(dst, e.recBuf...)
}

// encodeRecord appends one record:
//
//	uvarint time - block min time | uvarint tenant id | addr kind (0, 4, 6) + 0/4/16 bytes |
//	transport, action, cache: 1 byte each | uvarint qtype, qclass, rcode |
//	uvarint qname id, or 0 + uvarint length + bytes | uvarint rule, feed, category, upstream ids |
//	uvarint latency
func (e *segEncoder) encodeRecord(r *Record, minT int64) {
	b := e.recBuf
	b = binary.AppendUvarint(b, uint64(r.Time-minT))
	b = binary.AppendUvarint(b, uint64(e.intern(r.Tenant, 0)))
	a := r.Client.Unmap()
	switch {
	case a.Is4():
		v := a.As4()
		b = append(b, 4)
		b = append(b, v[:]...)
	case a.Is6():
		v := a.As16()
		b = append(b, 6)
		b = append(b, v[:]...)
	default:
		b = append(b, 0)
	}
	b = append(b, byte(r.Transport), byte(r.Action), byte(r.Cache))
	b = binary.AppendUvarint(b, uint64(r.QType))
	b = binary.AppendUvarint(b, uint64(r.QClass))
	b = binary.AppendUvarint(b, uint64(r.RCode))
	qn := r.qnameBytes()
	id, ok := e.dict[string(qn)]
	if !ok && e.qnames < maxQNameDict && len(qn) > 0 {
		id = e.addDict(string(qn))
		e.qnames++
		ok = true
	}
	if ok {
		b = binary.AppendUvarint(b, uint64(id))
	} else {
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(qn)))
		b = append(b, qn...)
	}
	b = binary.AppendUvarint(b, uint64(e.intern(r.Rule, 1)))
	b = binary.AppendUvarint(b, uint64(e.intern(r.Feed, 2)))
	b = binary.AppendUvarint(b, uint64(e.intern(r.Category, 3)))
	b = binary.AppendUvarint(b, uint64(e.intern(r.Upstream, 4)))
	b = binary.AppendUvarint(b, uint64(r.Latency))
	e.recBuf = b
}

// blockInfo locates one block of a part.
type blockInfo struct {
	off      int64 // start of the block header
	recsOff  int64
	recsLen  uint32
	nRecs    uint32
	crcRecs  uint32
	minT     int64
	maxT     int64
	dictBase uint32 // dictionary size before this block's entries
}

// segReader reads one part file. open scans the block headers and
// dictionary sections and stops at the first block that is torn or corrupt:
// the part is the longest valid prefix of blocks. Record sections are
// verified when read.
type segReader struct {
	ra     io.ReaderAt
	hdr    segHeader
	dict   []string // dict[id-1]
	blocks []blockInfo
	end    int64 // end of the last block accepted
	stop   error // why the scan stopped before the end of the data, nil if it did not
}

// openSegment reads the header and the block index of a part of size bytes.
// It fails only when the file header itself is unusable.
func openSegment(ra io.ReaderAt, size int64) (*segReader, error) {
	var hb [segHeaderLen]byte
	if size < segHeaderLen {
		return nil, corruptf("file shorter than its header")
	}
	if _, err := ra.ReadAt(hb[:], 0); err != nil {
		return nil, fmt.Errorf("querylog: read segment header: %w", err)
	}
	hdr, err := decodeSegHeader(hb[:])
	if err != nil {
		return nil, err
	}
	s := &segReader{ra: ra, hdr: hdr, end: segHeaderLen}
	s.scan(size)
	return s, nil
}

func (s *segReader) scan(size int64) {
	var h [blockHeaderLen]byte
	var dictBuf []byte
	off := s.end // resume where an earlier scan of a growing part stopped
	for off < size {
		if size-off < blockHeaderLen {
			s.stop = corruptf("torn block header at %d", off)
			return
		}
		if _, err := s.ra.ReadAt(h[:], off); err != nil {
			s.stop = fmt.Errorf("querylog: read block header at %d: %w", off, err)
			return
		}
		if string(h[:4]) != blockMagic {
			s.stop = corruptf("bad block magic at %d", off)
			return
		}
		dictLen := binary.LittleEndian.Uint32(h[4:])
		recsLen := binary.LittleEndian.Uint32(h[8:])
		nDict := binary.LittleEndian.Uint32(h[12:])
		nRecs := binary.LittleEndian.Uint32(h[16:])
		minT := int64(binary.LittleEndian.Uint64(h[20:]))
		maxT := int64(binary.LittleEndian.Uint64(h[28:]))
		switch {
		case dictLen > maxSectionLen || recsLen > maxSectionLen:
			s.stop = corruptf("block at %d: section too long", off)
			return
		case int64(blockHeaderLen)+int64(dictLen)+int64(recsLen) > size-off:
			s.stop = corruptf("torn block at %d", off)
			return
		case nRecs == 0 || nRecs > maxBlockRecords || uint64(nRecs)*minRecordLen > uint64(recsLen):
			s.stop = corruptf("block at %d: bad record count %d", off, nRecs)
			return
		case uint64(nDict)*2 > uint64(dictLen):
			s.stop = corruptf("block at %d: bad dictionary count %d", off, nDict)
			return
		case minT > maxT:
			s.stop = corruptf("block at %d: time range inverted", off)
			return
		}
		dictBuf = grow(dictBuf, int(dictLen))
		if _, err := s.ra.ReadAt(dictBuf, off+blockHeaderLen); err != nil {
			s.stop = fmt.Errorf("querylog: read dictionary at %d: %w", off, err)
			return
		}
		crc := crc32.Update(crc32.Checksum(h[:36], castagnoli), castagnoli, dictBuf)
		if crc != binary.LittleEndian.Uint32(h[36:]) {
			s.stop = corruptf("block at %d: dictionary checksum", off)
			return
		}
		base := uint32(len(s.dict))
		entries, err := parseDict(dictBuf, nDict)
		if err != nil {
			s.stop = fmt.Errorf("block at %d: %w", off, err)
			return
		}
		s.dict = append(s.dict, entries...)
		s.blocks = append(s.blocks, blockInfo{
			off:      off,
			recsOff:  off + blockHeaderLen + int64(dictLen),
			recsLen:  recsLen,
			nRecs:    nRecs,
			crcRecs:  binary.LittleEndian.Uint32(h[40:]),
			minT:     minT,
			maxT:     maxT,
			dictBase: base,
		})
		off += blockHeaderLen + int64(dictLen) + int64(recsLen)
		s.end = off
	}
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func parseDict(b []byte, n uint32) ([]string, error) {
	out := make([]string, 0, n)
	for i := uint32(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l == 0 || l > maxDictString || l > uint64(len(b)-k) {
			return nil, corruptf("dictionary entry %d", i)
		}
		out = append(out, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, corruptf("dictionary has %d trailing bytes", len(b))
	}
	return out, nil
}

// readBlock reads and verifies the records of block i and calls fn for each
// with its index in the block. The *Record passed to fn is reused.
func (s *segReader) readBlock(i int, buf []byte, fn func(idx int, r *Record) bool) ([]byte, error) {
	bi := &s.blocks[i]
	buf = grow(buf, int(bi.recsLen))
	if _, err := s.ra.ReadAt(buf, bi.recsOff); err != nil {
		return buf, fmt.Errorf("querylog: read records at %d: %w", bi.recsOff, err)
	}
	if crc32.Checksum(buf, castagnoli) != bi.crcRecs {
		return buf, corruptf("block at %d: records checksum", bi.off)
	}
	// Records may only use dictionary entries defined up to their block.
	dict := s.dict[:int(bi.dictBase)+s.blockDictLen(i)]
	d := recDecoder{b: buf, dict: dict}
	var r Record
	for k := 0; k < int(bi.nRecs); k++ {
		if err := d.record(&r, bi.minT, bi.maxT); err != nil {
			return buf, fmt.Errorf("block at %d record %d: %w", bi.off, k, err)
		}
		if !fn(k, &r) {
			return buf, nil
		}
	}
	if len(d.b) != 0 {
		return buf, corruptf("block at %d: %d trailing bytes", bi.off, len(d.b))
	}
	return buf, nil
}

func (s *segReader) blockDictLen(i int) int {
	if i+1 < len(s.blocks) {
		return int(s.blocks[i+1].dictBase - s.blocks[i].dictBase)
	}
	return len(s.dict) - int(s.blocks[i].dictBase)
}

type recDecoder struct {
	b    []byte
	dict []string
	err  error
}

func (d *recDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = corruptf("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = corruptf("record cut short")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) str() string {
	id := d.uvarint()
	if id == 0 || d.err != nil {
		return ""
	}
	if id > uint64(len(d.dict)) {
		d.err = corruptf("dictionary id %d out of range", id)
		return ""
	}
	return d.dict[id-1]
}

func (d *recDecoder) u16() uint16 {
	v := d.uvarint()
	if v > 0xffff {
		d.err = corruptf("16-bit field out of range")
	}
	return uint16(v)
}

func (d *recDecoder) record(r *Record, minT, maxT int64) error {
	dt := d.uvarint()
	if d.err == nil && dt > uint64(maxT-minT) {
		d.err = corruptf("time outside block range")
	}
	r.Time = minT + int64(dt)
	r.Tenant = d.str()
	switch kind := d.bytes(1); {
	case d.err != nil:
	case kind[0] == 0:
		r.Client = netip.Addr{}
	case kind[0] == 4:
		if b := d.bytes(4); d.err == nil {
			r.Client = netip.AddrFrom4([4]byte(b))
		}
	case kind[0] == 6:
		if b := d.bytes(16); d.err == nil {
			r.Client = netip.AddrFrom16([16]byte(b))
		}
	default:
		d.err = corruptf("bad address kind %d", kind[0])
	}
	if e := d.bytes(3); d.err == nil {
		r.Transport, r.Action, r.Cache = Transport(e[0]), Action(e[1]), CacheStatus(e[2])
		if !r.Transport.Valid() || !r.Action.Valid() || !r.Cache.Valid() {
			d.err = corruptf("enum out of range")
		}
	}
	r.QType = d.u16()
	r.QClass = d.u16()
	r.RCode = d.u16()
	if id := d.uvarint(); d.err == nil {
		if id == 0 {
			n := d.uvarint()
			if d.err == nil && n > MaxQNameLen {
				d.err = corruptf("query name too long")
			}
			if b := d.bytes(int(n)); d.err == nil {
				r.setQNameRaw(b)
			}
		} else if id > uint64(len(d.dict)) {
			d.err = corruptf("dictionary id %d out of range", id)
		} else if s := d.dict[id-1]; len(s) > MaxQNameLen {
			d.err = corruptf("query name too long")
		} else {
			r.qlen = uint8(copy(r.qname[:], s))
		}
	}
	r.Rule = d.str()
	r.Feed = d.str()
	r.Category = d.str()
	r.Upstream = d.str()
	lat := d.uvarint()
	if lat > 0xffffffff {
		d.err = corruptf("latency out of range")
	}
	r.Latency = uint32(lat)
	return d.err
}

// decodeAll returns every record of the valid prefix of a part held in
// memory, in file order. It is the reference reader used by tests and fuzzing.
func decodeAll(data []byte) ([]Record, error) {
	s, err := openSegment(readerAt(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var out []Record
	var buf []byte
	for i := range s.blocks {
		buf, err = s.readBlock(i, buf, func(_ int, r *Record) bool {
			out = append(out, *r)
			return true
		})
		if err != nil {
			return out, err
		}
	}
	return out, s.stop
}

type readerAt []byte

func (b readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
