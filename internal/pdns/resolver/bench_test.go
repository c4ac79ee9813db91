package resolver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// benchEngine is an engine without listeners: the benchmarks call the
// query path the UDP reader calls, so they measure it alone.
func benchEngine(b *testing.B, logging bool) (*Engine, *worker) {
	cfg := Config{Upstream: &fakeUpstream{}}
	if logging {
		cfg.QueryLog = querylog.NewQueue(1 << 16)
	}
	e, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	e.SetSnapshot(twoTenants(b))
	return e, newWorker(e, 0)
}

func packed(b testing.TB, name string, qtype uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	p, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchAnswer(b *testing.B, w *worker, src, name string, wantRcode int) {
	r := request{pkt: packed(b, name, dns.TypeA), src: netip.MustParseAddrPort(src + ":5353"), tr: querylog.UDP, wait: true}
	resp, _ := w.answer(&r) // fills the cache
	if resp == nil || int(resp[3]&0xf) != wantRcode {
		b.Fatalf("rcode %v, want %d", resp, wantRcode)
	}
	r.wait = false
	sink := make([]querylog.Record, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp, miss := w.answer(&r); resp == nil || miss {
			b.Fatal("no answer")
		}
		if w.e.cfg.QueryLog != nil && i&1023 == 0 {
			w.e.cfg.QueryLog.Drain(sink)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	_, w := benchEngine(b, true)
	benchAnswer(b, w, "127.0.0.2", "www.example.com.", dns.RcodeSuccess)
}

func BenchmarkCacheHitNoLog(b *testing.B) {
	_, w := benchEngine(b, false)
	benchAnswer(b, w, "127.0.0.2", "www.example.com.", dns.RcodeSuccess)
}

func BenchmarkBlock(b *testing.B) {
	_, w := benchEngine(b, true)
	benchAnswer(b, w, "127.0.0.2", "a.b.malware.test.", dns.RcodeNameError)
}

func BenchmarkSinkhole(b *testing.B) {
	_, w := benchEngine(b, true)
	benchAnswer(b, w, "127.0.0.3", "a.b.phish.test.", dns.RcodeSuccess)
}

func BenchmarkRefuse(b *testing.B) {
	_, w := benchEngine(b, true)
	benchAnswer(b, w, "127.0.0.9", "www.example.com.", dns.RcodeRefused)
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	e, err := New(Config{Upstream: &fakeUpstream{}, QueryLog: querylog.NewQueue(1 << 16)})
	if err != nil {
		t.Fatal(err)
	}
	e.SetSnapshot(twoTenants(t))
	w := newWorker(e, 0)
	for _, tc := range []struct{ name, src, qname string }{
		{"cache hit", "127.0.0.2", "www.example.com."},
		{"block", "127.0.0.2", "a.malware.test."},
		{"sinkhole", "127.0.0.3", "a.phish.test."},
		{"refused", "127.0.0.9", "www.example.com."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request{pkt: packed(t, tc.qname, dns.TypeA), src: netip.MustParseAddrPort(tc.src + ":5353"), tr: querylog.UDP, wait: true}
			w.answer(&r)
			r.wait = false
			if n := testing.AllocsPerRun(200, func() {
				if resp, _ := w.answer(&r); resp == nil {
					t.Fatal("no answer")
				}
			}); n != 0 {
				t.Fatalf("%.1f allocations per query", n)
			}
		})
	}
}
