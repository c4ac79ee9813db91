package resolver

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/upstream"
	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
)

// clock is a settable clock for the engine; timers still run in real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// poolEngine starts an engine whose upstream is a real upstream.Pool over
// the given fake servers.
func poolEngine(t *testing.T, servers ...*upstreamtest.Server) (*Engine, *clock) {
	t.Helper()
	var specs []upstream.Spec
	for _, s := range servers {
		sp, err := upstream.ParseSpec(s.UDPSpec())
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, sp)
	}
	pool, err := upstream.New(specs, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	clk := &clock{t: time.Now()}
	e := startEngine(t, pool, twoTenants(t), func(c *Config) {
		c.DoTAddr, c.DoHAddr = "", ""
		c.Now = clk.Now
	})
	return e, clk
}

func ask(t *testing.T, e *Engine, name string, qtype uint16) (*dns.Msg, time.Duration) {
	t.Helper()
	start := time.Now()
	m := exchange(t, e, "udp", "127.0.0.2", name, qtype)
	return m, time.Since(start)
}

func TestUpstreamFailures(t *testing.T) {
	t.Run("timeout gives SERVFAIL within about 2 s", func(t *testing.T) {
		s := upstreamtest.Start(t, upstreamtest.Config{})
		e, _ := poolEngine(t, s)
		s.SetMode(upstreamtest.Timeout)
		m, took := ask(t, e, "www.example.test.", dns.TypeA)
		if m.Rcode != dns.RcodeServerFailure || took > 2600*time.Millisecond {
			t.Fatalf("rcode %s after %s, want SERVFAIL within ~2 s", dns.RcodeToString[m.Rcode], took)
		}
	})
	for _, mode := range []upstreamtest.Mode{upstreamtest.ServFail, upstreamtest.Refused} {
		t.Run(mode.String()+" upstream gives SERVFAIL", func(t *testing.T) {
			s := upstreamtest.Start(t, upstreamtest.Config{})
			e, _ := poolEngine(t, s)
			s.SetMode(mode)
			if m, _ := ask(t, e, "www.example.test.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
				t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
			}
		})
	}
	for _, mode := range []upstreamtest.Mode{upstreamtest.ForgeID, upstreamtest.ForgeQuestion} {
		t.Run(mode.String()+" never reaches the client", func(t *testing.T) {
			s := upstreamtest.Start(t, upstreamtest.Config{})
			e, _ := poolEngine(t, s)
			s.SetMode(mode)
			m, _ := ask(t, e, "www.example.test.", dns.TypeA)
			if m.Rcode != dns.RcodeSuccess || firstA(m) != "192.0.2.10" || strings.Contains(m.String(), upstreamtest.ForgedA) {
				t.Fatalf("got %v, want the real answer 192.0.2.10", m)
			}
		})
	}
	t.Run("truncated upstream answer is completed over TCP", func(t *testing.T) {
		s := upstreamtest.Start(t, upstreamtest.Config{})
		e, _ := poolEngine(t, s)
		s.SetMode(upstreamtest.Truncate)
		m := exchange(t, e, "tcp", "127.0.0.2", "big.example.test.", dns.TypeTXT)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 30 || m.Truncated {
			t.Fatalf("rcode %s, %d records, TC %v; want 30 TXT records", dns.RcodeToString[m.Rcode], len(m.Answer), m.Truncated)
		}
		// Over UDP the same answer does not fit the client's 1232 bytes.
		m = exchange(t, e, "udp", "127.0.0.2", "big.example.test.", dns.TypeTXT)
		if !m.Truncated || len(m.Answer) != 0 {
			t.Fatalf("UDP: TC %v with %d records, want TC=1 and none", m.Truncated, len(m.Answer))
		}
	})
	t.Run("one of two upstreams dead", func(t *testing.T) {
		a := upstreamtest.Start(t, upstreamtest.Config{})
		b := upstreamtest.Start(t, upstreamtest.Config{})
		e, _ := poolEngine(t, a, b)
		a.Kill()
		for i, name := range []string{"www.example.test.", "mail.example.test.", "alias.example.test.", "example.test."} {
			m, _ := ask(t, e, name, dns.TypeA)
			if m.Rcode != dns.RcodeSuccess {
				t.Fatalf("query %d (%s): rcode %s", i, name, dns.RcodeToString[m.Rcode])
			}
		}
	})
	t.Run("all dead: stale with TTL 30, uncached SERVFAIL, then recovery", func(t *testing.T) {
		s := upstreamtest.Start(t, upstreamtest.Config{})
		e, clk := poolEngine(t, s)
		if m, _ := ask(t, e, "www.example.test.", dns.TypeA); firstA(m) != "192.0.2.10" {
			t.Fatalf("priming: %v", m)
		}
		s.Kill()
		clk.Advance(301 * time.Second) // the 300 s answer has expired
		m, took := ask(t, e, "www.example.test.", dns.TypeA)
		if m.Rcode != dns.RcodeSuccess || firstA(m) != "192.0.2.10" || m.Answer[0].Header().Ttl != 30 || took > 2600*time.Millisecond {
			t.Fatalf("stale: rcode %s answer %v after %s, want 192.0.2.10 with TTL 30", dns.RcodeToString[m.Rcode], m.Answer, took)
		}
		m, took = ask(t, e, "mail.example.test.", dns.TypeA)
		if m.Rcode != dns.RcodeServerFailure || took > 2600*time.Millisecond {
			t.Fatalf("uncached: rcode %s after %s, want SERVFAIL within ~2 s", dns.RcodeToString[m.Rcode], took)
		}
		if err := s.Revive(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, _ = ask(t, e, "mail.example.test.", dns.TypeA)
			if m.Rcode == dns.RcodeSuccess {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no recovery after revive: rcode %s", dns.RcodeToString[m.Rcode])
			}
			time.Sleep(200 * time.Millisecond)
		}
		m, _ = ask(t, e, "www.example.test.", dns.TypeA)
		if ttl := m.Answer[0].Header().Ttl; ttl <= 30 {
			t.Fatalf("after recovery the answer is still stale (TTL %d)", ttl)
		}
	})
	t.Run("slow upstream: stale after 1.8 s", func(t *testing.T) {
		s := upstreamtest.Start(t, upstreamtest.Config{})
		e, clk := poolEngine(t, s)
		ask(t, e, "www.example.test.", dns.TypeA)
		clk.Advance(301 * time.Second)
		s.SetDelay(5 * time.Second)
		m, took := ask(t, e, "www.example.test.", dns.TypeA)
		if firstA(m) != "192.0.2.10" || m.Answer[0].Header().Ttl != 30 || took < 1700*time.Millisecond || took > 2500*time.Millisecond {
			t.Fatalf("answer %v after %s, want the stale answer with TTL 30 after ~1.8 s", m.Answer, took)
		}
	})
}
