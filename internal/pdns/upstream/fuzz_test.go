package upstream

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/miekg/dns"
)

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"192.0.2.1:53", "udp://192.0.2.1:53", "[2001:db8::1]:53", "tcp://192.0.2.1:53",
		"tls://192.0.2.1:853", "tls://192.0.2.1:853#dns.example", "tls://[fe80::1%eth0]:853#x",
		"https://dns.example/dns-query", "https://dns.example:8443/q?x=1", "https://[2001:db8::1]",
		"https://user:pass@dns.example/", "https://dns.example/%zz", "https://dns.example/a b",
		"192.0.2.1", "quic://192.0.2.1:853", "", "::1", "tls://1.2.3.4:853#",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			if s != (Spec{}) {
				t.Fatalf("error %v came with a non-zero Spec %+v", err, s)
			}
			if !strings.HasPrefix(err.Error(), "upstream: spec ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if pw := urlPassword(in); len(pw) >= 8 && strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q reveals the URL password", err)
			}
			return
		}
		name := s.String()
		if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			t.Fatalf("canonical name %q is not a clean label value", name)
		}
		again, err := ParseSpec(name)
		if err != nil || again != s {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v: not a round trip", in, s, name, again, err)
		}
		switch s.Transport {
		case UDP, TCP, TLS:
			if !s.Addr.IsValid() || s.Addr.Port() == 0 || !usable(s.Addr.Addr()) || s.URL != "" {
				t.Fatalf("%q parsed to an unusable address %+v", in, s)
			}
			if (s.Transport == TLS) != (s.ServerName != "") {
				t.Fatalf("%q: server name %q with transport %v", in, s.ServerName, s.Transport)
			}
		case HTTPS:
			u, err := url.Parse(s.URL)
			if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" || u.Fragment != "" || s.ServerName == "" {
				t.Fatalf("%q parsed to a bad DoH URL %+v (%v)", in, s, err)
			}
		default:
			t.Fatalf("%q parsed to transport %v", in, s.Transport)
		}
	})
}

// urlPassword returns the password of an https:// spec's userinfo, if any.
func urlPassword(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}

// FuzzVerifyReply checks the reply filter every transport relies on: a
// packet it accepts really answers our query (as miekg/dns reads it), and
// a genuine reply is accepted whatever the case of its name.
func FuzzVerifyReply(f *testing.F) {
	seed := func(name string, qtype uint16, edit func(*dns.Msg)) {
		q := new(query)
		if err := q.build(Question{Name: name, Type: qtype, Class: dns.ClassINET}, 0x1234); err != nil {
			panic(err)
		}
		req := new(dns.Msg)
		req.Unpack(q.wire())
		r := new(dns.Msg)
		r.SetReply(req)
		if edit != nil {
			edit(r)
		}
		pkt, _ := r.Pack()
		f.Add(name, qtype, uint16(0x1234), pkt)
	}
	seed("www.example.test.", dns.TypeA, nil)
	seed("www.example.test.", dns.TypeHTTPS, func(m *dns.Msg) { m.Question[0].Name = "WWW.EXAMPLE.TEST." })
	seed("a.b.", dns.TypeTXT, func(m *dns.Msg) { m.Id = 1 })
	seed(".", dns.TypeNS, func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure })
	f.Add("x.", uint16(1), uint16(7), []byte{0, 7, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})

	f.Fuzz(func(t *testing.T, name string, qtype uint16, id uint16, pkt []byte) {
		q := new(query)
		err := q.build(Question{Name: name, Type: qtype, Class: dns.ClassINET}, id)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuestion) {
				t.Fatalf("build error %v is not ErrInvalidQuestion", err)
			}
			return
		}
		req := new(dns.Msg)
		if err := req.Unpack(q.wire()); err != nil {
			t.Fatalf("built query for %q does not parse: %v", name, err)
		}
		if req.Id != id || !req.RecursionDesired || req.Response || len(req.Question) != 1 ||
			req.Question[0].Qtype != qtype || req.IsEdns0() == nil || req.IsEdns0().UDPSize() != ednsUDPSize {
			t.Fatalf("built query %v is not the question %q/%d with RD and EDNS0", req, name, qtype)
		}

		if matches(pkt, id, q.question()) {
			m := new(dns.Msg)
			if m.Unpack(pkt) == nil {
				if m.Id != id || !m.Response || m.Opcode != dns.OpcodeQuery || len(m.Question) != 1 ||
					m.Question[0].Qtype != qtype || m.Question[0].Qclass != dns.ClassINET ||
					!strings.EqualFold(m.Question[0].Name, req.Question[0].Name) {
					t.Fatalf("accepted %v as the reply to %v", m, req)
				}
			}
		}

		// The genuine reply, with the name's letters in a case taken from
		// the fuzz input, must be accepted.
		r := new(dns.Msg)
		r.SetReply(req)
		r.Question[0].Name = recase(r.Question[0].Name, pkt)
		genuine, err := r.Pack()
		if err != nil {
			return
		}
		if !matches(genuine, id, q.question()) {
			t.Fatalf("rejected the genuine reply %v to %v", r, req)
		}
	})
}

// recase upper-cases the letters of name whose bit in mask is set; escape
// sequences (\DDD, \.) are left alone so the name stays the same.
func recase(name string, mask []byte) string {
	if len(mask) == 0 {
		return name
	}
	b := []byte(name)
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' {
			i++
			for i+1 < len(b) && b[i] >= '0' && b[i] <= '9' && b[i+1] >= '0' && b[i+1] <= '9' {
				i++
			}
			continue
		}
		if 'a' <= b[i] && b[i] <= 'z' && mask[i/8%len(mask)]&(1<<(i%8)) != 0 {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}
