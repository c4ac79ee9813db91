package upstream

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/miekg/dns"
)

const (
	// ednsUDPSize is the EDNS0 payload size we advertise: the DNS Flag Day
	// 2020 value, small enough to avoid IP fragmentation on common paths
	// (fragments are how off-path attackers slip forged records in).
	ednsUDPSize = 1232
	headerLen   = 12
	optLen      = 11 // root name, type, class, TTL, empty RDATA
	maxNameLen  = 255
	maxQueryLen = headerLen + maxNameLen + 4 + optLen
)

// idSource hands out query IDs. A ChaCha8 stream seeded from crypto/rand is
// a cryptographically strong generator, so an off-path attacker cannot
// predict the next ID from the ones seen, and it is far cheaper than a
// crypto/rand read per query.
type idSource struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
}

func newIDSource() *idSource {
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand panics instead, Go 1.24+)
	return &idSource{rng: rand.NewChaCha8(seed)}
}

func (s *idSource) next() uint16 {
	s.mu.Lock()
	v := s.rng.Uint64()
	s.mu.Unlock()
	return uint16(v)
}

// query is one wire-format query, built fresh from a Question: header with
// RD=1, the question, and an EDNS0 OPT record. buf keeps room for the
// two-byte length prefix of stream transports in front, so TCP and TLS
// write it in one call. Queries are pooled: build, use, put back.
type query struct {
	buf  [2 + maxQueryLen]byte
	n    int // message length, prefix excluded
	qlen int // question section length: name, type, class
}

var queryPool = sync.Pool{New: func() any { return new(query) }}

func getQuery() *query  { return queryPool.Get().(*query) }
func putQuery(q *query) { queryPool.Put(q) }

// build writes the query for question with the given ID.
func (q *query) build(question Question, id uint16) error {
	name := question.Name
	if !dns.IsFqdn(name) {
		return fmt.Errorf("%w: name %q is not fully qualified", ErrInvalidQuestion, name)
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return fmt.Errorf("%w: name %q is not a domain name", ErrInvalidQuestion, name)
	}
	msg := q.buf[2:]
	clear(msg[:headerLen])
	binary.BigEndian.PutUint16(msg[0:], id)
	msg[2] = 0x01                           // RD: we ask a recursive resolver
	binary.BigEndian.PutUint16(msg[4:], 1)  // QDCOUNT
	binary.BigEndian.PutUint16(msg[10:], 1) // ARCOUNT: the OPT record
	end, err := dns.PackDomainName(name, msg[:headerLen+maxNameLen], headerLen, nil, false)
	if err != nil {
		return fmt.Errorf("%w: name %q: %v", ErrInvalidQuestion, name, err)
	}
	binary.BigEndian.PutUint16(msg[end:], question.Type)
	binary.BigEndian.PutUint16(msg[end+2:], question.Class)
	end += 4
	q.qlen = end - headerLen

	msg[end] = 0 // OPT owner: the root
	binary.BigEndian.PutUint16(msg[end+1:], dns.TypeOPT)
	binary.BigEndian.PutUint16(msg[end+3:], ednsUDPSize) // CLASS carries the payload size
	binary.BigEndian.PutUint32(msg[end+5:], 0)           // extended RCODE, version 0, no flags
	binary.BigEndian.PutUint16(msg[end+9:], 0)           // no options
	end += optLen
	q.n = end
	binary.BigEndian.PutUint16(q.buf[0:], uint16(end))
	return nil
}

// wire is the query as sent over UDP and DoH.
func (q *query) wire() []byte { return q.buf[2 : 2+q.n] }

// framed is the query with its two-byte length prefix (TCP, TLS).
func (q *query) framed() []byte { return q.buf[:2+q.n] }

func (q *query) id() uint16 { return binary.BigEndian.Uint16(q.buf[2:]) }

func (q *query) setID(id uint16) { binary.BigEndian.PutUint16(q.buf[2:], id) }

// question is the question section as sent, for verifying replies.
func (q *query) question() []byte { return q.buf[2+headerLen : 2+headerLen+q.qlen] }

// matches reports whether pkt is a reply to the query with this ID and
// question section: QR set, opcode QUERY, exactly one question, equal to
// ours with the name compared case-insensitively (RFC 4343) and type and
// class exactly. A question written with a compression pointer does not
// match; no honest server compresses the first name of a message.
func matches(pkt []byte, id uint16, question []byte) bool {
	if len(pkt) < headerLen+len(question) || len(question) < 5 {
		return false
	}
	if binary.BigEndian.Uint16(pkt) != id {
		return false
	}
	if pkt[2]&0x80 == 0 || pkt[2]&0x78 != 0 { // QR clear, or opcode not QUERY
		return false
	}
	if binary.BigEndian.Uint16(pkt[4:]) != 1 {
		return false
	}
	got := pkt[headerLen : headerLen+len(question)]
	nameLen := len(question) - 4
	for i := range nameLen {
		if lower(got[i]) != lower(question[i]) {
			return false
		}
	}
	return string(got[nameLen:]) == string(question[nameLen:])
}

// lower folds ASCII letters only. Label length bytes are below 64, so they
// are never folded and a length cannot be mistaken for a letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
