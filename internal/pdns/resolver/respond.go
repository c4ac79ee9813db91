package resolver

import (
	"encoding/binary"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/cache"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/wire"
)

// begin starts a reply in w.out: header (counts set by end) and the
// client's own question bytes, so its 0x20 letter case comes back intact.
func (w *worker) begin(pkt []byte, rcode int, flags uint16) {
	q := &w.q
	w.out = wire.AppendHeader(w.out[:0], q.ID, wire.ReplyFlags(q.Flags, rcode)|flags, 1, 0, 0, 0)
	w.out = append(w.out, pkt[wire.HeaderLen:q.QuestionEnd]...)
}

// end appends our OPT when the client used EDNS and writes the counts.
func (w *worker) end(rcode int, an, ns, ar uint16) []byte {
	if w.q.EDNS {
		w.out = wire.AppendOPT(w.out, w.e.cfg.UDPSize, rcode, w.q.DO)
		ar++
	}
	binary.BigEndian.PutUint16(w.out[6:], an)
	binary.BigEndian.PutUint16(w.out[8:], ns)
	binary.BigEndian.PutUint16(w.out[10:], ar)
	return w.out
}

// empty is a reply with no records.
func (w *worker) empty(pkt []byte, rcode int, flags uint16) []byte {
	w.begin(pkt, rcode, flags)
	return w.end(rcode, 0, 0, 0)
}

// fromEntry copies a cached answer behind the client's header and
// question, ages its TTLs (or sets them all to staleTTL), and truncates it
// (TC=1, no records) when it does not fit in max bytes.
func (w *worker) fromEntry(pkt []byte, ent *cache.Entry, now int64, staleTTL uint32, max int) []byte {
	if ent.QEnd != w.q.QuestionEnd {
		// Cannot happen for a name read from the wire; answer from the
		// entry's own question rather than misplace compression pointers.
		w.out = append(w.out[:0], ent.Msg[:ent.QEnd]...)
		binary.BigEndian.PutUint16(w.out[0:], w.q.ID)
		binary.BigEndian.PutUint16(w.out[2:], wire.ReplyFlags(w.q.Flags, ent.RCode))
	} else {
		w.begin(pkt, ent.RCode, 0)
	}
	w.out = ent.AppendBody(w.out, 0, now, staleTTL)
	w.ttl = w.e.cfg.StaleTTL
	if staleTTL == 0 {
		w.ttl = ent.TTL - min(ent.TTL, uint32((now-ent.Stored)/1e9))
	}
	resp := w.end(ent.RCode, ent.AN, ent.NS, ent.AR)
	if len(resp) > max {
		return w.empty(pkt, ent.RCode, wire.FlagTC)
	}
	return resp
}

// block answers a blocked query as the verdict and the tenant's mode say.
func (w *worker) block(pkt []byte, t *tenant, o *outcome, max int) []byte {
	w.ttl = t.blockTTL
	o.action = querylog.Blocked
	switch o.v.kind {
	case vNXDomain:
		o.rcode = wire.RcodeNXDomain
		return w.empty(pkt, o.rcode, 0)
	case vNoData:
		o.rcode = wire.RcodeSuccess
		return w.empty(pkt, o.rcode, 0)
	case vLocal:
		o.action = querylog.LocalData
		return w.local(pkt, o, max)
	}
	switch t.mode {
	case BlockRefused:
		o.rcode = wire.RcodeRefused
	case BlockNoData:
		o.rcode = wire.RcodeSuccess
	case BlockSinkhole:
		o.rcode = wire.RcodeSuccess
		switch {
		case w.q.QType == wire.TypeA && t.sink4.IsValid():
			a := t.sink4.As4()
			o.action = querylog.Sinkholed
			return w.sinkhole(pkt, t.blockTTL, wire.TypeA, a[:])
		case w.q.QType == wire.TypeAAAA && t.sink6.IsValid():
			a := t.sink6.As16()
			o.action = querylog.Sinkholed
			return w.sinkhole(pkt, t.blockTTL, wire.TypeAAAA, a[:])
		}
	default:
		o.rcode = wire.RcodeNXDomain
	}
	return w.empty(pkt, o.rcode, 0)
}

// sinkhole answers with one address record owned by the question name.
func (w *worker) sinkhole(pkt []byte, ttl uint32, typ uint16, addr []byte) []byte {
	w.begin(pkt, wire.RcodeSuccess, 0)
	w.out = append(w.out, 0xC0, wire.HeaderLen, byte(typ>>8), byte(typ), 0, wire.ClassIN,
		byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), 0, byte(len(addr)))
	w.out = append(w.out, addr...)
	return w.end(wire.RcodeSuccess, 1, 0, 0)
}

// local answers with a rule's records of the asked type (or a CNAME),
// owner rewritten to the query name. Local data is rare: this path uses
// miekg/dns and allocates.
func (w *worker) local(pkt []byte, o *outcome, max int) []byte {
	q := &w.q
	name := string(q.Name())
	m := new(dns.Msg)
	m.Id = q.ID
	m.Response = true
	m.RecursionDesired = q.Flags&wire.FlagRD != 0
	m.RecursionAvailable = true
	m.Question = []dns.Question{{Name: name, Qtype: q.QType, Qclass: q.QClass}}
	for _, rr := range o.v.local {
		if h := rr.Header(); h.Rrtype == q.QType || h.Rrtype == dns.TypeCNAME {
			c := dns.Copy(rr)
			c.Header().Name = name
			m.Answer = append(m.Answer, c)
		}
	}
	if len(m.Answer) > 0 {
		w.ttl = m.Answer[0].Header().Ttl
	}
	if q.EDNS {
		m.SetEdns0(w.e.cfg.UDPSize, q.DO)
	}
	o.rcode = dns.RcodeSuccess
	packed, err := m.PackBuffer(w.out[:0])
	if err != nil || len(packed) > max || len(packed) < q.QuestionEnd {
		tc := uint16(0)
		if err == nil {
			tc = wire.FlagTC
		} else {
			o.rcode, o.action = wire.RcodeServFail, querylog.Failed
		}
		return w.empty(pkt, o.rcode, tc)
	}
	copy(packed[wire.HeaderLen:q.QuestionEnd], pkt[wire.HeaderLen:q.QuestionEnd])
	w.out = packed
	return packed
}
