// Package wire reads and writes the few parts of DNS messages the resolver's
// hot path needs (header, question, EDNS OPT, record TTL positions) straight
// from the bytes, bounds-checked and without allocating.
package wire

import (
	"encoding/binary"
	"errors"
)

// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2).
const (
	FlagQR = 1 << 15
	FlagAA = 1 << 10
	FlagTC = 1 << 9
	FlagRD = 1 << 8
	FlagRA = 1 << 7
	FlagAD = 1 << 5
	FlagCD = 1 << 4
)

// Response codes used by the resolver.
const (
	RcodeSuccess  = 0
	RcodeFormErr  = 1
	RcodeServFail = 2
	RcodeNXDomain = 3
	RcodeNotImp   = 4
	RcodeRefused  = 5
	RcodeBadVers  = 16 // extended: upper 8 bits go in the OPT TTL
)

// Record types the resolver looks at.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypeAAAA  = 28
	TypeOPT   = 41
	TypeAXFR  = 252
	TypeIXFR  = 251
	TypeANY   = 255
	ClassIN   = 1
)

// HeaderLen is the size of the fixed DNS header.
const HeaderLen = 12

// MaxNameLen is the longest presentation name Parse produces (escapes
// included) plus the trailing dot.
const MaxNameLen = 1024

// Parse errors. ErrDrop marks packets that deserve no answer at all
// (responses, garbage shorter than a header); the others deserve FORMERR or
// NOTIMP when the header was readable.
var (
	ErrDrop   = errors.New("wire: not a query")
	ErrFormat = errors.New("wire: malformed query")
	ErrNotImp = errors.New("wire: opcode not implemented")
	ErrName   = errors.New("wire: malformed name")
)

// Query is what the hot path knows about a client's query. Name holds the
// lowercase presentation form (what policy and logs use), QuestionEnd the
// end of the question section so the client's bytes, with their 0x20 case,
// can be copied into the reply.
type Query struct {
	ID          uint16
	Flags       uint16
	QType       uint16
	QClass      uint16
	QuestionEnd int // offset just past QTYPE/QCLASS
	NameWireLen int // wire length of QNAME, root byte included

	EDNS        bool   // the query carried an OPT record
	UDPSize     uint16 // the client's advertised payload size (512 without EDNS)
	DO          bool   // DNSSEC OK
	EDNSVersion uint8

	nameLen int
	name    [MaxNameLen]byte
}

// Name returns the lowercase presentation name with its trailing dot
// ("www.example.com."; "." for the root). It aliases q.
func (q *Query) Name() []byte { return q.name[:q.nameLen] }

// Opcode returns the query's opcode.
func (q *Query) Opcode() int { return int(q.Flags>>11) & 0xf }

// Parse reads the header, the single question and an OPT record from pkt
// into q. It rejects anything a recursive resolver should not answer
// normally; it never reads outside pkt and never allocates.
func Parse(pkt []byte, q *Query) error {
	if len(pkt) < HeaderLen {
		return ErrDrop
	}
	q.ID = binary.BigEndian.Uint16(pkt[0:])
	q.Flags = binary.BigEndian.Uint16(pkt[2:])
	q.EDNS, q.DO, q.UDPSize, q.EDNSVersion = false, false, 512, 0
	q.nameLen, q.QuestionEnd, q.QType, q.QClass = 0, 0, 0, 0
	if q.Flags&FlagQR != 0 {
		return ErrDrop
	}
	if q.Opcode() != 0 {
		return ErrNotImp
	}
	qd := binary.BigEndian.Uint16(pkt[4:])
	an := binary.BigEndian.Uint16(pkt[6:])
	ns := binary.BigEndian.Uint16(pkt[8:])
	ar := binary.BigEndian.Uint16(pkt[10:])
	if qd != 1 {
		return ErrFormat
	}
	off, err := q.parseName(pkt, HeaderLen)
	if err != nil {
		return err
	}
	if off+4 > len(pkt) {
		return ErrFormat
	}
	q.QType = binary.BigEndian.Uint16(pkt[off:])
	q.QClass = binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	q.QuestionEnd = off
	// Skip answer and authority records (queries normally have none), then
	// look for OPT among the additional records.
	for i := 0; i < int(an)+int(ns); i++ {
		if off, err = skipRR(pkt, off); err != nil {
			return ErrFormat
		}
	}
	for i := 0; i < int(ar); i++ {
		start := off
		if off, err = SkipName(pkt, off); err != nil || off+10 > len(pkt) {
			return ErrFormat
		}
		typ := binary.BigEndian.Uint16(pkt[off:])
		rdlen := int(binary.BigEndian.Uint16(pkt[off+8:]))
		if off+10+rdlen > len(pkt) {
			return ErrFormat
		}
		if typ == TypeOPT {
			if q.EDNS || off-start != 1 { // a second OPT, or an owner other than the root
				return ErrFormat
			}
			q.EDNS = true
			q.UDPSize = max(binary.BigEndian.Uint16(pkt[off+2:]), 512)
			q.EDNSVersion = pkt[off+5]
			q.DO = pkt[off+6]&0x80 != 0
		}
		off += 10 + rdlen
	}
	return nil
}

// parseName reads the question name (no compression allowed there: it is
// the first name of the message), writing its lowercase presentation form
// with the same escapes as github.com/miekg/dns.
func (q *Query) parseName(pkt []byte, off int) (int, error) {
	n := 0
	wire := 0
	for {
		if off >= len(pkt) {
			return 0, ErrFormat
		}
		c := int(pkt[off])
		off++
		if c == 0 {
			break
		}
		if c&0xC0 != 0 {
			return 0, ErrName
		}
		if off+c > len(pkt) {
			return 0, ErrFormat
		}
		wire += c + 1
		if wire >= 255 {
			return 0, ErrName
		}
		for _, b := range pkt[off : off+c] {
			switch {
			case b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_':
				q.name[n] = b
				n++
			case b >= 'A' && b <= 'Z':
				q.name[n] = b + 'a' - 'A'
				n++
			case b == '.' || b == ' ' || b == '\'' || b == '@' || b == ';' || b == '(' || b == ')' || b == '"' || b == '\\':
				q.name[n], q.name[n+1] = '\\', b
				n += 2
			case b < ' ' || b > '~':
				q.name[n] = '\\'
				q.name[n+1] = '0' + b/100
				q.name[n+2] = '0' + b/10%10
				q.name[n+3] = '0' + b%10
				n += 4
			default:
				q.name[n] = b
				n++
			}
		}
		q.name[n] = '.'
		n++
		off += c
	}
	if n == 0 {
		q.name[0] = '.'
		n = 1
	}
	q.nameLen = n
	q.NameWireLen = wire + 1
	return off, nil
}

// SkipName returns the offset just past the (possibly compressed) name at
// off. It does not follow pointers: a pointer ends the name in place.
func SkipName(msg []byte, off int) (int, error) {
	for labels := 0; labels < 128; labels++ {
		if off >= len(msg) {
			return 0, ErrName
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return 0, ErrName
			}
			return off + 2, nil
		default:
			return 0, ErrName
		}
	}
	return 0, ErrName
}

func skipRR(msg []byte, off int) (int, error) {
	off, err := SkipName(msg, off)
	if err != nil {
		return 0, err
	}
	if off+10 > len(msg) {
		return 0, ErrFormat
	}
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	if off+10+rdlen > len(msg) {
		return 0, ErrFormat
	}
	return off + 10 + rdlen, nil
}

// RR describes one resource record found by Records.
type RR struct {
	Section   int // 0 answer, 1 authority, 2 additional
	Type      uint16
	TTLOffset int // offset of the 4-byte TTL in the message
	TTL       uint32
	RDataOff  int
	RDataLen  int
}

// Records walks every record of a complete message (header first) and
// calls fn for each; it returns an error when the message is malformed.
func Records(msg []byte, fn func(rr RR) error) error {
	if len(msg) < HeaderLen {
		return ErrFormat
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	counts := [3]int{int(binary.BigEndian.Uint16(msg[6:])), int(binary.BigEndian.Uint16(msg[8:])), int(binary.BigEndian.Uint16(msg[10:]))}
	off := HeaderLen
	var err error
	for i := 0; i < qd; i++ {
		if off, err = SkipName(msg, off); err != nil {
			return err
		}
		off += 4
		if off > len(msg) {
			return ErrFormat
		}
	}
	for sec, n := range counts {
		for i := 0; i < n; i++ {
			if off, err = SkipName(msg, off); err != nil {
				return err
			}
			if off+10 > len(msg) {
				return ErrFormat
			}
			rr := RR{
				Section:   sec,
				Type:      binary.BigEndian.Uint16(msg[off:]),
				TTLOffset: off + 4,
				TTL:       binary.BigEndian.Uint32(msg[off+4:]),
				RDataOff:  off + 10,
				RDataLen:  int(binary.BigEndian.Uint16(msg[off+8:])),
			}
			off += 10 + rr.RDataLen
			if off > len(msg) {
				return ErrFormat
			}
			if err := fn(rr); err != nil {
				return err
			}
		}
	}
	return nil
}

// AppendHeader appends a header with the given fields.
func AppendHeader(b []byte, id, flags uint16, qd, an, ns, ar uint16) []byte {
	return append(b, byte(id>>8), byte(id), byte(flags>>8), byte(flags), byte(qd>>8), byte(qd),
		byte(an>>8), byte(an), byte(ns>>8), byte(ns), byte(ar>>8), byte(ar))
}

// AppendOPT appends the resolver's OPT record: root owner, our payload size,
// the extended rcode bits and the DO flag echoed, no options.
func AppendOPT(b []byte, size uint16, rcode int, do bool) []byte {
	var flags byte
	if do {
		flags = 0x80
	}
	return append(b, 0, 0, TypeOPT, byte(size>>8), byte(size), byte(rcode>>4), 0, flags, 0, 0, 0)
}

// OPTLen is the size of the record AppendOPT writes.
const OPTLen = 11

// ReplyFlags returns the header flags of a reply to a query with flags qf:
// QR and RA set, RD and CD copied, opcode QUERY, the low 4 bits of rcode.
func ReplyFlags(qf uint16, rcode int) uint16 {
	return FlagQR | FlagRA | qf&(FlagRD|FlagCD) | uint16(rcode&0xf)
}

// PutTTL writes ttl at off.
func PutTTL(msg []byte, off int, ttl uint32) {
	binary.BigEndian.PutUint32(msg[off:], ttl)
}
