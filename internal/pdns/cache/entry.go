package cache

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/wire"
)

// TTLPolicy bounds how long answers live.
type TTLPolicy struct {
	// MinTTL and MaxTTL clamp positive answers (seconds).
	MinTTL, MaxTTL uint32
	// NegativeTTL is used for NXDOMAIN/NODATA without an SOA record;
	// NegativeMaxTTL caps the SOA-derived negative TTL (RFC 2308 §5).
	NegativeTTL, NegativeMaxTTL uint32
	// StaleFor is how long an expired entry may still be served when
	// upstreams fail (RFC 8767 suggests 1 to 3 days; keep it bounded).
	StaleFor time.Duration
}

// ErrNotCacheable marks answers the cache does not store (SERVFAIL,
// REFUSED, ...); the resolver treats them as upstream failures.
var ErrNotCacheable = errors.New("cache: answer not cacheable")

// NewEntry packs an upstream answer for question (qname lowercase in
// presentation form with trailing dot) into an Entry stored at now (unix
// ns). Only NOERROR and NXDOMAIN answers make entries. An entry whose TTL is
// 0 must be served but not stored.
func NewEntry(m *dns.Msg, qname string, qtype, qclass uint16, now int64, p TTLPolicy, upstream string) (*Entry, error) {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%w: rcode %s", ErrNotCacheable, dns.RcodeToString[m.Rcode])
	}
	reply := dns.Msg{
		MsgHdr:   dns.MsgHdr{Response: true, Rcode: m.Rcode, RecursionAvailable: true, RecursionDesired: true},
		Compress: true,
		Question: []dns.Question{{Name: qname, Qtype: qtype, Qclass: qclass}},
		Answer:   m.Answer,
		Ns:       m.Ns,
	}
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			reply.Extra = append(reply.Extra, rr)
		}
	}
	msg, err := reply.Pack()
	if err != nil {
		return nil, fmt.Errorf("cache: pack answer: %w", err)
	}
	e := &Entry{Msg: msg, RCode: m.Rcode, Upstream: upstream,
		AN: uint16(len(reply.Answer)), NS: uint16(len(reply.Ns)), AR: uint16(len(reply.Extra))}
	e.QEnd, err = wire.SkipName(msg, wire.HeaderLen)
	if err != nil {
		return nil, fmt.Errorf("cache: packed answer: %w", err)
	}
	e.QEnd += 4

	negative := m.Rcode == dns.RcodeNameError || len(reply.Answer) == 0
	negTTL := p.NegativeTTL
	if negative {
		for _, rr := range reply.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				negTTL = min(soa.Hdr.Ttl, soa.Minttl, p.NegativeMaxTTL)
				break
			}
		}
	}
	entryTTL := uint32(1<<32 - 1)
	err = wire.Records(msg, func(rr wire.RR) error {
		ttl := rr.TTL
		if negative {
			ttl = min(ttl, negTTL)
		} else {
			ttl = min(max(ttl, p.MinTTL), p.MaxTTL)
		}
		if rr.TTLOffset > 0xffff {
			return errors.New("cache: answer too large")
		}
		wire.PutTTL(msg, rr.TTLOffset, ttl)
		e.TTLOffsets = append(e.TTLOffsets, uint16(rr.TTLOffset))
		e.TTLs = append(e.TTLs, ttl)
		if negative || rr.Section == 0 {
			entryTTL = min(entryTTL, ttl)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache: walk answer: %w", err)
	}
	if negative && entryTTL == 1<<32-1 {
		entryTTL = negTTL
	}
	if entryTTL == 1<<32-1 {
		entryTTL = 0
	}
	e.TTL = entryTTL
	e.Stored = now
	e.Expires = now + int64(entryTTL)*int64(time.Second)
	e.StaleUntil = e.Expires + int64(p.StaleFor)
	for _, rr := range reply.Answer {
		switch rr := rr.(type) {
		case *dns.CNAME:
			e.Chain = append(e.Chain, strings.ToLower(rr.Target))
		case *dns.DNAME:
			e.Chain = append(e.Chain, strings.ToLower(rr.Target))
		case *dns.A:
			if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
				e.IPs = append(e.IPs, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
				e.IPs = append(e.IPs, a)
			}
		}
	}
	return e, nil
}

// AppendBody appends the entry's records to dst with every TTL lowered by
// the entry's age at now (never below 0), or set to ttl when ttl > 0 (stale
// answers are served with a fixed TTL). base is the offset in dst where the
// entry's message starts, so that TTL offsets land right.
func (e *Entry) AppendBody(dst []byte, base int, now int64, ttl uint32) []byte {
	dst = append(dst, e.Msg[e.QEnd:]...)
	age := uint32(0)
	if now > e.Stored {
		age = uint32((now - e.Stored) / int64(time.Second))
	}
	for i, off := range e.TTLOffsets {
		t := ttl
		if t == 0 && e.TTLs[i] > age {
			t = e.TTLs[i] - age
		}
		wire.PutTTL(dst, base+int(off), t)
	}
	return dst
}
