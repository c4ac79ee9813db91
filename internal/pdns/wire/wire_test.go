package wire

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func packQuery(t testing.TB, name string, qtype uint16, edns bool) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0xbeef
	if edns {
		m.SetEdns0(4096, true)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	var q Query
	pkt := packQuery(t, "WwW.ExAmple.COM.", dns.TypeAAAA, true)
	if err := Parse(pkt, &q); err != nil {
		t.Fatal(err)
	}
	if got := string(q.Name()); got != "www.example.com." {
		t.Errorf("name = %q", got)
	}
	if q.ID != 0xbeef || q.QType != dns.TypeAAAA || q.QClass != dns.ClassINET || !q.EDNS || q.UDPSize != 4096 || !q.DO {
		t.Errorf("parsed %+v", q)
	}
	if q.QuestionEnd != 12+len("WwW.ExAmple.COM.")+1+4 || string(pkt[13:16]) != "WwW" {
		t.Errorf("QuestionEnd = %d", q.QuestionEnd)
	}
	if err := Parse(packQuery(t, ".", dns.TypeNS, false), &q); err != nil || string(q.Name()) != "." || q.UDPSize != 512 || q.EDNS {
		t.Errorf("root: err %v name %q size %d", err, q.Name(), q.UDPSize)
	}
}

func TestParseRejects(t *testing.T) {
	var q Query
	good := packQuery(t, "a.test.", dns.TypeA, false)
	resp := append([]byte(nil), good...)
	resp[2] |= 0x80
	notimp := append([]byte(nil), good...)
	notimp[2] |= 2 << 3
	twoQ := append([]byte(nil), good...)
	twoQ[5] = 2
	ptr := append(append([]byte(nil), good[:12]...), 0xC0, 12, 0, 1, 0, 1)
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"short", good[:11], ErrDrop},
		{"response", resp, ErrDrop},
		{"notify opcode", notimp, ErrNotImp},
		{"two questions", twoQ, ErrFormat},
		{"truncated question", good[:len(good)-2], ErrFormat},
		{"compressed question name", ptr, ErrName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Parse(tc.pkt, &q); err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	pkt := packQuery(t, "www.example.com.", dns.TypeA, true)
	var q Query
	if n := testing.AllocsPerRun(100, func() { _ = Parse(pkt, &q) }); n != 0 {
		t.Fatalf("Parse allocates %.0f times", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(packQuery(f, "www.example.com.", dns.TypeA, true))
	f.Add(packQuery(f, "a\\.b\\000c.test.", dns.TypeTXT, false))
	f.Add(packQuery(f, ".", dns.TypeNS, true))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var q Query
		err := Parse(pkt, &q)
		if err == nil {
			if q.QuestionEnd > len(pkt) || q.QuestionEnd != HeaderLen+q.NameWireLen+4 {
				t.Fatalf("QuestionEnd %d NameWireLen %d len %d", q.QuestionEnd, q.NameWireLen, len(pkt))
			}
		}
		// Oracle: on a packet miekg/dns reads as a plain query, we agree.
		var m dns.Msg
		if m.Unpack(pkt) != nil || m.Response || m.Opcode != 0 || len(m.Question) != 1 {
			return
		}
		if len(pkt) > 12 && pkt[12]&0xC0 != 0 {
			return // compressed question name: we refuse those on purpose
		}
		if end, err := SkipName(pkt, HeaderLen); err != nil || end+4 > len(pkt) {
			return // miekg reads a truncated question as type 0; we refuse it
		}
		if len(m.Answer) != int(pkt[6])<<8|int(pkt[7]) || len(m.Ns) != int(pkt[8])<<8|int(pkt[9]) || len(m.Extra) != int(pkt[10])<<8|int(pkt[11]) {
			return // miekg stops quietly at the end of a short message; we refuse it
		}
		opts := 0
		for _, rr := range m.Extra {
			if rr.Header().Rrtype == dns.TypeOPT {
				opts++
				if rr.Header().Name != "." {
					return // we refuse an OPT not owned by the root
				}
			}
		}
		if opts > 1 {
			return
		}
		if err != nil {
			t.Fatalf("Parse: %v on a packet miekg reads as %v", err, m.Question[0])
		}
		if want := strings.ToLower(m.Question[0].Name); string(q.Name()) != want {
			t.Fatalf("name %q, miekg %q", q.Name(), want)
		}
		if q.QType != m.Question[0].Qtype || q.QClass != m.Question[0].Qclass || q.ID != m.Id {
			t.Fatalf("type/class/id %d/%d/%d, miekg %d/%d/%d", q.QType, q.QClass, q.ID, m.Question[0].Qtype, m.Question[0].Qclass, m.Id)
		}
		opt := m.IsEdns0()
		if (opt != nil) != q.EDNS {
			t.Fatalf("EDNS %v, miekg %v", q.EDNS, opt != nil)
		}
		if opt != nil && (q.UDPSize != max(opt.UDPSize(), 512) || q.DO != opt.Do() || q.EDNSVersion != opt.Version()) {
			t.Fatalf("OPT size %d do %v v%d, miekg %d %v %d", q.UDPSize, q.DO, q.EDNSVersion, opt.UDPSize(), opt.Do(), opt.Version())
		}
	})
}

func TestRecordsFindsTTLs(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("a.test.", dns.TypeA)
	m.Response = true
	rr1, _ := dns.NewRR("a.test. 300 IN CNAME b.test.")
	rr2, _ := dns.NewRR("b.test. 60 IN A 192.0.2.1")
	soa, _ := dns.NewRR("test. 900 IN SOA ns.test. h.test. 1 2 3 4 5")
	m.Answer = []dns.RR{rr1, rr2}
	m.Ns = []dns.RR{soa}
	m.Compress = true
	b, _ := m.Pack()
	var ttls []uint32
	var types []uint16
	err := Records(b, func(rr RR) error {
		ttls = append(ttls, rr.TTL)
		types = append(types, rr.Type)
		if got := uint32(b[rr.TTLOffset])<<24 | uint32(b[rr.TTLOffset+1])<<16 | uint32(b[rr.TTLOffset+2])<<8 | uint32(b[rr.TTLOffset+3]); got != rr.TTL {
			t.Errorf("TTL offset reads %d, want %d", got, rr.TTL)
		}
		return nil
	})
	if err != nil || len(ttls) != 3 || ttls[0] != 300 || ttls[1] != 60 || ttls[2] != 900 || types[2] != dns.TypeSOA {
		t.Fatalf("err %v ttls %v types %v", err, ttls, types)
	}
	if Records(b[:len(b)-3], func(RR) error { return nil }) == nil {
		t.Fatal("truncated message accepted")
	}
}
