package resolver

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/wire"
)

// FuzzAnswer runs arbitrary packets through the whole query path: it never
// panics; every reply carries the query's ID with QR set, fits the UDP
// limit, and echoes the client's question bytes unchanged.
func FuzzAnswer(f *testing.F) {
	f.Add(packed(f, "www.Example.com.", dns.TypeA), uint8(2))
	f.Add(packed(f, "a.malware.test.", dns.TypeAAAA), uint8(3))
	f.Add(packed(f, "phish.test.", dns.TypeA), uint8(3))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 2, 0, 1, 0, 0, 0, 0, 0}, uint8(2))
	e := dohEngine(f)
	w := newWorker(e, 0)
	f.Fuzz(func(t *testing.T, pkt []byte, src uint8) {
		r := request{pkt: pkt, src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, src}), 53), tr: querylog.UDP, wait: true}
		resp, _ := w.answer(&r)
		if resp == nil {
			return
		}
		if len(resp) < wire.HeaderLen || resp[0] != pkt[0] || resp[1] != pkt[1] || resp[2]&0x80 == 0 {
			t.Fatalf("reply % x to % x", resp, pkt)
		}
		var q wire.Query
		if wire.Parse(pkt, &q) != nil {
			return
		}
		if max := 512; !q.EDNS && len(resp) > max {
			t.Fatalf("reply of %d bytes to a client without EDNS", len(resp))
		}
		if !bytes.Equal(resp[wire.HeaderLen:q.QuestionEnd], pkt[wire.HeaderLen:q.QuestionEnd]) {
			t.Fatalf("question not echoed: % x vs % x", resp[:q.QuestionEnd], pkt[:q.QuestionEnd])
		}
		var m dns.Msg
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("reply does not unpack: %v (% x)", err, resp)
		}
	})
}
