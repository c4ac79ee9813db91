package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
)

// BenchmarkResolve measures a cache miss forwarded to a loopback server,
// next to miekg/dns's own client doing the same exchange (fresh query with
// EDNS0, new UDP socket or new TLS connection per query) against the same
// server in the same run, so the ratio is what to read on a noisy machine.
// The fake server's cost is in both.
func BenchmarkResolve(b *testing.B) {
	s := upstreamtest.Start(b, upstreamtest.Config{TLS: true})
	ctx := context.Background()

	resolve := func(b *testing.B, p *Pool) {
		b.ReportAllocs()
		for b.Loop() {
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := p.Resolve(c, www)
			cancel()
			if err != nil || len(resp.Answer) != 1 {
				b.Fatalf("resolve: %v %v", resp, err)
			}
		}
	}
	exchange := func(b *testing.B, c *dns.Client, addr string) {
		b.ReportAllocs()
		for b.Loop() {
			m := new(dns.Msg)
			m.SetQuestion(www.Name, www.Type)
			m.SetEdns0(ednsUDPSize, false)
			cx, cancel := context.WithTimeout(ctx, 2*time.Second)
			resp, _, err := c.ExchangeContext(cx, m, addr)
			cancel()
			if err != nil || len(resp.Answer) != 1 {
				b.Fatalf("exchange: %v %v", resp, err)
			}
		}
	}
	tlsClient := func() *dns.Client {
		cfg := upstreamtest.ClientTLSConfig()
		cfg.ServerName = upstreamtest.ServerName
		return &dns.Client{Net: "tcp-tls", TLSConfig: cfg, Timeout: 2 * time.Second}
	}

	b.Run("udp/pool", func(b *testing.B) { resolve(b, newPool(b, Options{}, s.UDPSpec())) })
	b.Run("udp/miekg", func(b *testing.B) { exchange(b, &dns.Client{Net: "udp", Timeout: 2 * time.Second}, s.Addr()) })
	b.Run("dot/pool", func(b *testing.B) { resolve(b, newPool(b, Options{}, s.TLSSpec())) })
	b.Run("dot/miekg", func(b *testing.B) { exchange(b, tlsClient(), s.TLSAddr()) })
}

// BenchmarkResolveParallel is BenchmarkResolve with concurrent callers,
// where pipelining on pooled DoT connections matters.
func BenchmarkResolveParallel(b *testing.B) {
	s := upstreamtest.Start(b, upstreamtest.Config{TLS: true})
	run := func(b *testing.B, p *Pool) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := p.Resolve(c, www)
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("udp/pool", func(b *testing.B) { run(b, newPool(b, Options{}, s.UDPSpec())) })
	b.Run("dot/pool", func(b *testing.B) { run(b, newPool(b, Options{}, s.TLSSpec())) })
}

// BenchmarkVerify is the per-packet cost of checking a reply.
func BenchmarkVerify(b *testing.B) {
	q := buildQuery(b, "www.example.test.", dns.TypeA, 0x1234)
	pkt := reply(b, q, nil)
	b.ReportAllocs()
	for b.Loop() {
		if !matches(pkt, q.id(), q.question()) {
			b.Fatal("no match")
		}
	}
}
