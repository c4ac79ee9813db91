package upstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func buildQuery(t testing.TB, name string, qtype uint16, id uint16) *query {
	t.Helper()
	q := new(query)
	if err := q.build(Question{Name: name, Type: qtype, Class: dns.ClassINET}, id); err != nil {
		t.Fatal(err)
	}
	return q
}

func TestQueryWireFormat(t *testing.T) {
	q := buildQuery(t, "www.example.test.", dns.TypeAAAA, 0xbeef)
	m := new(dns.Msg)
	if err := m.Unpack(q.wire()); err != nil {
		t.Fatalf("unpack built query: %v", err)
	}
	if m.Id != 0xbeef || m.Response || !m.RecursionDesired || m.Opcode != dns.OpcodeQuery {
		t.Errorf("header = id %#x QR %v RD %v opcode %d, want id 0xbeef, query, RD, QUERY", m.Id, m.Response, m.RecursionDesired, m.Opcode)
	}
	if len(m.Question) != 1 || m.Question[0] != (dns.Question{Name: "www.example.test.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}) {
		t.Errorf("question = %v", m.Question)
	}
	if len(m.Answer)+len(m.Ns) != 0 || len(m.Extra) != 1 {
		t.Fatalf("sections = %d/%d/%d, want only the OPT record", len(m.Answer), len(m.Ns), len(m.Extra))
	}
	opt := m.IsEdns0()
	if opt == nil || opt.UDPSize() != 1232 || opt.Version() != 0 || opt.Do() || len(opt.Option) != 0 {
		t.Errorf("OPT = %v, want EDNS0 version 0, payload 1232, no flags or options", opt)
	}
	framed := q.framed()
	if int(framed[0])<<8|int(framed[1]) != len(q.wire()) {
		t.Errorf("length prefix %d, message %d bytes", int(framed[0])<<8|int(framed[1]), len(q.wire()))
	}
	q.setID(7)
	if q.id() != 7 {
		t.Errorf("id after setID(7) = %d", q.id())
	}
}

func TestQueryRejectsBadNames(t *testing.T) {
	for _, name := range []string{
		"",
		"example.test",                        // not fully qualified
		"a..example.",                         // empty label
		strings.Repeat("a", 64) + ".example.", // label over 63
		strings.Repeat("abcdefg.", 32) + "x.", // over 255 octets on the wire
	} {
		err := new(query).build(Question{Name: name, Type: dns.TypeA, Class: dns.ClassINET}, 1)
		if !errors.Is(err, ErrInvalidQuestion) {
			t.Errorf("build(%q) error = %v, want ErrInvalidQuestion", name, err)
		}
	}
	if err := new(query).build(Question{Name: ".", Type: dns.TypeNS, Class: dns.ClassINET}, 1); err != nil {
		t.Errorf("root question rejected: %v", err)
	}
}

func reply(t testing.TB, q *query, edit func(*dns.Msg)) []byte {
	t.Helper()
	req := new(dns.Msg)
	if err := req.Unpack(q.wire()); err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	r.SetReply(req)
	a, _ := dns.NewRR(req.Question[0].Name + " 60 IN A 192.0.2.1")
	r.Answer = append(r.Answer, a)
	if edit != nil {
		edit(r)
	}
	b, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMatches(t *testing.T) {
	q := buildQuery(t, "www.example.test.", dns.TypeHTTPS, 0x1234)
	tests := []struct {
		name string
		edit func(*dns.Msg)
		want bool
	}{
		{"real reply", nil, true},
		{"name in other case", func(m *dns.Msg) { m.Question[0].Name = "WWW.Example.TEST." }, true},
		{"NXDOMAIN is still a reply", func(m *dns.Msg) { m.Rcode = dns.RcodeNameError }, true},
		{"other ID", func(m *dns.Msg) { m.Id++ }, false},
		{"QR clear", func(m *dns.Msg) { m.Response = false }, false},
		{"other opcode", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, false},
		{"other name", func(m *dns.Msg) { m.Question[0].Name = "www.example.tesu." }, false},
		{"name a label longer", func(m *dns.Msg) { m.Question[0].Name = "x.www.example.test." }, false},
		// Type 65 (HTTPS) is the byte 'A'; folding must not reach the type.
		{"type that folds to ours", func(m *dns.Msg) { m.Question[0].Qtype = 97 }, false},
		{"other class", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, false},
		{"no question", func(m *dns.Msg) { m.Question = nil }, false},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(reply(t, q, tt.edit), q.id(), q.question()); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
	if matches(nil, q.id(), q.question()) || matches(q.wire()[:5], q.id(), q.question()) {
		t.Error("short packet matched")
	}
}

func TestIDSourceIsNotPredictable(t *testing.T) {
	a, b := newIDSource(), newIDSource()
	const n = 256
	seen := make(map[uint16]bool, n)
	same, steps := 0, 0
	prev := a.next()
	for range n {
		id := a.next()
		seen[id] = true
		if id == b.next() {
			same++ // two sources seeded alike would agree everywhere
		}
		if id == prev+1 {
			steps++ // a counter would step by one
		}
		prev = id
	}
	// With 256 uniform 16-bit draws about 0.5 collide; 10 would be absurd.
	if len(seen) < n-10 {
		t.Errorf("%d distinct IDs in %d draws", len(seen), n)
	}
	if same > 5 || steps > 5 {
		t.Errorf("IDs look predictable: %d equal to another source's, %d sequential", same, steps)
	}
}
