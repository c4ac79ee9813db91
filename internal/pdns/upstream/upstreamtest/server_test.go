package upstreamtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	return m
}

func exchange(t *testing.T, net, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 2 * time.Second}
	if net == "tcp-tls" {
		c.TLSConfig = ClientTLSConfig()
		c.TLSConfig.ServerName = ServerName
	}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange over %s: %v", net, err)
	}
	return resp
}

func TestZoneAnswers(t *testing.T) {
	s := Start(t, Config{})
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		rcode     int
		answers   int
		lastType  uint16
		negTTL    uint32 // SOA TTL in authority, 0 when none expected
		answerTTL uint32
	}{
		{"A record", "www.example.test.", dns.TypeA, dns.RcodeSuccess, 1, dns.TypeA, 0, 300},
		{"AAAA record", "www.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 1, dns.TypeAAAA, 0, 300},
		{"CNAME chased inside the zone", "alias.example.test.", dns.TypeA, dns.RcodeSuccess, 2, dns.TypeA, 0, 300},
		{"MX record", "example.test.", dns.TypeMX, dns.RcodeSuccess, 1, dns.TypeMX, 0, 300},
		{"TXT record", "example.test.", dns.TypeTXT, dns.RcodeSuccess, 1, dns.TypeTXT, 0, 300},
		{"name matched case-insensitively", "WWW.Example.TEST.", dns.TypeA, dns.RcodeSuccess, 1, dns.TypeA, 0, 300},
		{"NXDOMAIN carries SOA with negative TTL", "nope.example.test.", dns.TypeA, dns.RcodeNameError, 0, 0, 60, 0},
		{"NODATA carries SOA", "www.example.test.", dns.TypeMX, dns.RcodeSuccess, 0, 0, 60, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := exchange(t, "udp", s.Addr(), query(tt.qname, tt.qtype))
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if len(resp.Answer) != tt.answers {
				t.Fatalf("answers = %d, want %d: %v", len(resp.Answer), tt.answers, resp.Answer)
			}
			if tt.answers > 0 {
				last := resp.Answer[len(resp.Answer)-1].Header()
				if last.Rrtype != tt.lastType || last.Ttl != tt.answerTTL {
					t.Errorf("last answer = %v, want type %s TTL %d", resp.Answer[len(resp.Answer)-1], dns.TypeToString[tt.lastType], tt.answerTTL)
				}
			}
			if tt.negTTL > 0 {
				if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA || resp.Ns[0].Header().Ttl != tt.negTTL {
					t.Errorf("authority = %v, want one SOA with TTL %d", resp.Ns, tt.negTTL)
				}
			}
			if resp.Question[0].Name != tt.qname {
				t.Errorf("question name = %q, want %q as sent", resp.Question[0].Name, tt.qname)
			}
		})
	}
}

func TestZoneAddIsAllOrNothing(t *testing.T) {
	z, err := NewZone("a.test. 60 IN A 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Add("b.test. 60 IN A 192.0.2.2", "c.test. 60 IN A not-an-ip"); err == nil {
		t.Fatal("Add accepted a bad record")
	}
	resp := z.Reply(query("b.test.", dns.TypeA))
	if len(resp.Answer) != 0 {
		t.Errorf("b.test. was added although a sibling record failed: %v", resp.Answer)
	}
}

func TestModes(t *testing.T) {
	s := Start(t, Config{})
	t.Run("servfail", func(t *testing.T) {
		s.SetMode(ServFail)
		if r := exchange(t, "udp", s.Addr(), query("www.example.test.", dns.TypeA)); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("rcode = %d, want SERVFAIL", r.Rcode)
		}
	})
	t.Run("refused", func(t *testing.T) {
		s.SetMode(Refused)
		if r := exchange(t, "udp", s.Addr(), query("www.example.test.", dns.TypeA)); r.Rcode != dns.RcodeRefused {
			t.Errorf("rcode = %d, want REFUSED", r.Rcode)
		}
	})
	t.Run("truncate over UDP, full over TCP", func(t *testing.T) {
		s.SetMode(Truncate)
		r := exchange(t, "udp", s.Addr(), query("www.example.test.", dns.TypeA))
		if !r.Truncated || len(r.Answer) != 0 {
			t.Errorf("UDP reply TC=%v answers=%d, want TC and none", r.Truncated, len(r.Answer))
		}
		r = exchange(t, "tcp", s.Addr(), query("www.example.test.", dns.TypeA))
		if r.Truncated || len(r.Answer) != 1 {
			t.Errorf("TCP reply TC=%v answers=%d, want full answer", r.Truncated, len(r.Answer))
		}
	})
	t.Run("large answer truncated by size", func(t *testing.T) {
		s.SetMode(Answer)
		m := new(dns.Msg)
		m.SetQuestion("big.example.test.", dns.TypeTXT) // no EDNS0: 512 bytes
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		r, _, err := c.Exchange(m, s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if !r.Truncated {
			t.Errorf("reply of a large RRset without EDNS0 is not truncated")
		}
	})
	t.Run("timeout never replies", func(t *testing.T) {
		s.SetMode(Timeout)
		before := s.Count(UDP)
		c := &dns.Client{Net: "udp", Timeout: 150 * time.Millisecond}
		if _, _, err := c.Exchange(query("www.example.test.", dns.TypeA), s.Addr()); err == nil {
			t.Error("got a reply in timeout mode")
		}
		if got := s.Count(UDP) - before; got != 1 {
			t.Errorf("UDP count grew by %d, want 1", got)
		}
	})
	t.Run("delay", func(t *testing.T) {
		s.SetMode(Answer)
		s.SetDelay(100 * time.Millisecond)
		defer s.SetDelay(0)
		c := &dns.Client{Net: "udp", Timeout: 50 * time.Millisecond}
		if _, _, err := c.Exchange(query("www.example.test.", dns.TypeA), s.Addr()); err == nil {
			t.Error("reply came before the delay")
		}
	})
}

// readAll collects every UDP packet that arrives for one query within wait.
func readAll(t *testing.T, addr string, m *dns.Msg, wait time.Duration) []*dns.Msg {
	t.Helper()
	conn, err := dns.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	var out []*dns.Msg
	conn.SetReadDeadline(time.Now().Add(wait))
	for {
		r, err := conn.ReadMsg()
		if err != nil {
			return out
		}
		out = append(out, r)
	}
}

func TestForgedModes(t *testing.T) {
	s := Start(t, Config{})
	q := query("www.example.test.", dns.TypeA)

	s.SetMode(ForgeID)
	got := readAll(t, s.Addr(), q, 300*time.Millisecond)
	if len(got) != 2 {
		t.Fatalf("forge-id sent %d packets, want forged then real", len(got))
	}
	if got[0].Id == q.Id || got[0].Answer[0].(*dns.A).A.String() != ForgedA {
		t.Errorf("first packet is not a forgery with another ID: %v", got[0])
	}
	if got[1].Id != q.Id || got[1].Answer[0].(*dns.A).A.String() != "192.0.2.10" {
		t.Errorf("second packet is not the real answer: %v", got[1])
	}

	s.SetMode(ForgeQuestion)
	got = readAll(t, s.Addr(), q, 300*time.Millisecond)
	if len(got) != 2 {
		t.Fatalf("forge-question sent %d packets, want 2", len(got))
	}
	if got[0].Id != q.Id || got[0].Question[0].Name != ForgedName {
		t.Errorf("first packet does not forge the question: %v", got[0])
	}
	if got[1].Question[0].Name != "www.example.test." {
		t.Errorf("second packet is not the real answer: %v", got[1])
	}
}

func TestDoTAndDoH(t *testing.T) {
	s := Start(t, Config{TLS: true, HTTPS: true})
	r := exchange(t, "tcp-tls", s.TLSAddr(), query("www.example.test.", dns.TypeA))
	if len(r.Answer) != 1 {
		t.Errorf("DoT answers = %v", r.Answer)
	}
	if s.Count(TLS) != 1 {
		t.Errorf("TLS count = %d, want 1", s.Count(TLS))
	}

	tr := &http.Transport{TLSClientConfig: ClientTLSConfig(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	wire, _ := query("www.example.test.", dns.TypeAAAA).Pack()
	resp, err := client.Post(s.URL(), "application/dns-message", bytes.NewReader(wire))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/dns-message" {
		t.Fatalf("DoH status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	m := new(dns.Msg)
	if err := m.Unpack(body); err != nil || len(m.Answer) != 1 {
		t.Fatalf("DoH answer %v err %v", m, err)
	}
	qs := s.Queries()
	if last := qs[len(qs)-1]; last.Transport != HTTPS || last.Proto != "HTTP/2.0" {
		t.Errorf("last query transport %s proto %q, want https over HTTP/2.0", last.Transport, last.Proto)
	}
}

func TestKillAndRevive(t *testing.T) {
	s := Start(t, Config{TLS: true})
	addr := s.Addr()
	s.Kill()
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(query("www.example.test.", dns.TypeA), addr); err == nil {
		t.Fatal("dead server answered over UDP")
	}
	tc := &dns.Client{Net: "tcp", Timeout: 300 * time.Millisecond}
	if _, _, err := tc.Exchange(query("www.example.test.", dns.TypeA), addr); err == nil {
		t.Fatal("dead server answered over TCP")
	}
	if err := s.Revive(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("address changed across revive: %s -> %s", addr, s.Addr())
	}
	exchange(t, "udp", addr, query("www.example.test.", dns.TypeA))
	exchange(t, "tcp", addr, query("www.example.test.", dns.TypeA))
	exchange(t, "tcp-tls", s.TLSAddr(), query("www.example.test.", dns.TypeA))
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := NewServer(Config{TLS: true, HTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	s.SetMode(Timeout)
	// Leave handlers in flight: a silent UDP query, an open TCP connection.
	c := &dns.Client{Net: "udp", Timeout: 50 * time.Millisecond}
	c.Exchange(query("www.example.test.", dns.TypeA), s.Addr())
	conn, err := dns.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMsg(query("www.example.test.", dns.TypeA))
	s.SetMode(Answer)
	s.SetDelay(time.Hour)
	conn.WriteMsg(query("www.example.test.", dns.TypeA))
	time.Sleep(20 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
	for runtime.NumGoroutine() > before && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left after Close, had %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
