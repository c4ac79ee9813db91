package resolver

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

func TestRateLimit(t *testing.T) {
	for _, drop := range []bool{false, true} {
		name := "truncate"
		if drop {
			name = "drop"
		}
		t.Run(name, func(t *testing.T) {
			e := startEngine(t, &fakeUpstream{}, twoTenants(t), func(c *Config) {
				c.RateLimit = RateLimit{QPS: 1, Burst: 5, Drop: drop}
			})
			conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(e.Addr(querylog.UDP))))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			answered, truncated, silent := 0, 0, 0
			buf := make([]byte, 1500)
			start := time.Now()
			for i := 0; i < 20; i++ {
				q := new(dns.Msg)
				q.SetQuestion("www.example.com.", dns.TypeA)
				p, _ := q.Pack()
				_, _ = conn.Write(p)
				_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, err := conn.Read(buf)
				if err != nil {
					silent++
					continue
				}
				var m dns.Msg
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				if m.Truncated && len(m.Answer) == 0 {
					truncated++
				} else {
					answered++
				}
			}
			// The burst of 5, plus one token per second of the run.
			if most := 5 + int(time.Since(start).Seconds()) + 1; answered < 5 || answered > most {
				t.Errorf("%d answered, want 5 to %d", answered, most)
			}
			if drop && (truncated != 0 || silent != 20-answered) {
				t.Errorf("drop mode: %d truncated, %d unanswered", truncated, silent)
			}
			if !drop && (silent != 0 || truncated != 20-answered) {
				t.Errorf("truncate mode: %d truncated, %d unanswered", truncated, silent)
			}
			// Another source has its own bucket.
			if m := exchange(t, e, "udp", "127.0.0.3", "www.example.com.", dns.TypeA); m.Truncated || m.Rcode != dns.RcodeSuccess {
				t.Errorf("another client was limited too: %v", m)
			}
		})
	}
}

func TestTCPPipelining(t *testing.T) {
	up := &fakeUpstream{delay: 50 * time.Millisecond}
	e := startEngine(t, up, twoTenants(t), nil)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err := d.Dial("tcp", e.Addr(querylog.TCP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Ten queries in one write: a slow miss first, then blocks and hits.
	names := []string{"slow.example.com.", "malware.test.", "a.malware.test.", "b.malware.test.", "c.malware.test.", "d.malware.test.", "e.malware.test.", "f.malware.test.", "g.malware.test.", "h.malware.test."}
	var batch []byte
	for i, n := range names {
		q := new(dns.Msg)
		q.SetQuestion(n, dns.TypeA)
		q.Id = uint16(i + 1)
		p, _ := q.Pack()
		batch = append(batch, byte(len(p)>>8), byte(len(p)))
		batch = append(batch, p...)
	}
	if _, err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var order []uint16
	for range names {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			t.Fatal(err)
		}
		order = append(order, binary.BigEndian.Uint16(msg))
	}
	if order[len(order)-1] != 1 {
		t.Errorf("answer order %v: the slow miss (id 1) should come last, after the blocks", order)
	}
}

func TestTCPIdleTimeoutAndConnectionLimit(t *testing.T) {
	e := startEngine(t, &fakeUpstream{}, twoTenants(t), func(c *Config) {
		c.TCPIdleTimeout = 200 * time.Millisecond
		c.TCPMaxConns = 2
	})
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", e.Addr(querylog.TCP))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	time.Sleep(50 * time.Millisecond)
	extra, err := net.Dial("tcp", e.Addr(querylog.TCP))
	if err != nil {
		t.Fatal(err)
	}
	_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Error("a connection over the limit was kept open")
	}
	extra.Close()
	_ = conns[0].SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	if _, err := conns[0].Read(make([]byte, 1)); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("idle connection not closed after the idle timeout (err %v after %s)", err, time.Since(start))
	}
}

func TestQueryLogAndMetrics(t *testing.T) {
	q := querylog.NewQueue(1 << 10)
	e := startEngine(t, &fakeUpstream{}, twoTenants(t), func(c *Config) { c.QueryLog = q })
	exchange(t, e, "udp", "127.0.0.2", "www.Example.com.", dns.TypeA)
	exchange(t, e, "udp", "127.0.0.2", "www.example.com.", dns.TypeA)
	exchange(t, e, "udp", "127.0.0.2", "x.malware.test.", dns.TypeA)
	exchange(t, e, "udp", "127.0.0.3", "phish.test.", dns.TypeA)
	exchange(t, e, "tcp", "127.0.0.9", "www.example.com.", dns.TypeA)
	recs := make([]querylog.Record, 16)
	n := q.Drain(recs)
	if n != 5 {
		t.Fatalf("%d records, want 5", n)
	}
	want := []struct {
		tenant string
		action querylog.Action
		cache  querylog.CacheStatus
		rule   string
		tr     querylog.Transport
	}{
		{"tenant-a", querylog.Allowed, querylog.Miss, "", querylog.UDP},
		{"tenant-a", querylog.Allowed, querylog.Hit, "", querylog.UDP},
		{"tenant-a", querylog.Blocked, querylog.None, "malware.test", querylog.UDP},
		{"tenant-b", querylog.Sinkholed, querylog.None, "phish.test", querylog.UDP},
		{"", querylog.Refused, querylog.None, "", querylog.TCP},
	}
	byName := map[string]int{}
	for i := 0; i < n; i++ {
		byName[recs[i].QName()+"/"+recs[i].Tenant+"/"+recs[i].Cache.String()] = i
	}
	for _, w := range want {
		found := false
		for i := 0; i < n; i++ {
			r := &recs[i]
			if r.Tenant == w.tenant && r.Action == w.action && r.Cache == w.cache && r.Rule == w.rule && r.Transport == w.tr {
				found = true
				if w.action == querylog.Blocked && (r.Feed != "test-feed" || r.Category != "malware" || r.RCode != dns.RcodeNameError) {
					t.Errorf("block record %+v lacks feed, category or rcode", r)
				}
				if r.Client.IsUnspecified() || r.QName() == "" {
					t.Errorf("record %+v lacks client or name", r)
				}
			}
		}
		if !found {
			t.Errorf("no record like %+v among %v", w, byName)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, f := range families {
		got[f.GetName()] = map[string]float64{}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			got[f.GetName()][strings.Join(labels, ",")] = v
		}
	}
	for _, name := range []string{"qsmo_dns_queries_total", "qsmo_dns_cache_total", "qsmo_dns_list_entries", "qsmo_dns_list_reload_seconds", "qsmo_dns_querylog_dropped_total", "qsmo_dns_tenant_queries_total", "qsmo_dns_tenant_blocks_total"} {
		if len(got[name]) == 0 {
			t.Errorf("metric %s missing", name)
		}
	}
	checks := map[string]float64{
		"qsmo_dns_tenant_blocks_total/tenant=tenant-a":                        1,
		"qsmo_dns_tenant_blocks_total/tenant=tenant-b":                        1,
		"qsmo_dns_tenant_queries_total/tenant=tenant-a":                       3,
		"qsmo_dns_queries_total/action=refused,rcode=REFUSED,transport=tcp":   1,
		"qsmo_dns_queries_total/action=blocked,rcode=NXDOMAIN,transport=udp":  1,
		"qsmo_dns_queries_total/action=sinkholed,rcode=NOERROR,transport=udp": 1,
		"qsmo_dns_cache_total/result=hit":                                     1,
		"qsmo_dns_cache_total/result=miss":                                    1,
		"qsmo_dns_list_entries/list=shared":                                   3,
	}
	for key, want := range checks {
		name, labels, _ := strings.Cut(key, "/")
		if v := got[name][labels]; v != want {
			t.Errorf("%s{%s} = %v, want %v (have %v)", name, labels, v, want, got[name])
		}
	}
}

func TestPrefetchRefreshesPopularEntries(t *testing.T) {
	up := &fakeUpstream{}
	clk := &clock{t: time.Now()}
	e, err := New(Config{Upstream: up, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.SetSnapshot(twoTenants(t))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	w := newWorker(e, 0)
	r := request{pkt: packed(t, "pop.example.com.", dns.TypeA), src: netip.MustParseAddrPort("127.0.0.2:53"), tr: querylog.UDP, wait: true}
	w.answer(&r)
	if up.calls.Load() != 1 {
		t.Fatalf("%d upstream calls after the first query", up.calls.Load())
	}
	clk.Advance(275 * time.Second) // 25 s left of 300: the last tenth
	for i := 0; i < 3; i++ {
		w.answer(&r)
	}
	deadline := time.Now().Add(2 * time.Second)
	for up.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if up.calls.Load() != 2 {
		t.Fatalf("%d upstream calls, want one prefetch", up.calls.Load())
	}
	clk.Advance(30 * time.Second) // past the old expiry: the refreshed entry answers
	w.answer(&r)
	if up.calls.Load() != 2 {
		t.Fatalf("the refreshed entry was not used: %d upstream calls", up.calls.Load())
	}
}

func TestShutdownDrainsQueriesInFlight(t *testing.T) {
	up := &fakeUpstream{delay: 300 * time.Millisecond}
	e, err := New(Config{UDPAddr: "127.0.0.1:0", Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	e.SetSnapshot(twoTenants(t))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan *dns.Msg)
	go func() {
		m, _ := tryExchange(e, "udp", "127.0.0.2", "slow.example.com.", dns.TypeA)
		done <- m
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if m := <-done; m == nil || firstA(m) != "192.0.2.1" {
		t.Fatalf("the query in flight got %v, want its answer", m)
	}
}

func TestNewSnapshotRejectsBadInput(t *testing.T) {
	p := netip.MustParsePrefix("127.0.0.2/32")
	tests := map[string][]TenantConfig{
		"empty ID":              {{Sources: []netip.Prefix{p}}},
		"duplicate ID":          {{ID: "a"}, {ID: "a"}},
		"shared source":         {{ID: "a", Sources: []netip.Prefix{p}}, {ID: "b", Sources: []netip.Prefix{p}}},
		"shared token":          {{ID: "a", DoHTokens: []string{"0123456789abcdef"}}, {ID: "b", DoHTokens: []string{"0123456789abcdef"}}},
		"short token":           {{ID: "a", DoHTokens: []string{"short"}}},
		"sinkhole without ip":   {{ID: "a", Mode: BlockSinkhole}},
		"bad deny name":         {{ID: "a", Deny: []string{"bad name"}}},
		"v6 address as v4 hole": {{ID: "a", Mode: BlockSinkhole, SinkholeV4: netip.MustParseAddr("::1")}},
	}
	for name, tcs := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewSnapshot(SnapshotConfig{Tenants: tcs}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestLongestPrefixWins(t *testing.T) {
	s := mustSnapshot(t, SnapshotConfig{Tenants: []TenantConfig{
		{ID: "wide", Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}},
		{ID: "narrow", Sources: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("2001:db8:1::/48")}},
	}})
	for addr, want := range map[string]string{
		"10.9.9.9": "wide", "10.1.2.3": "narrow", "::ffff:10.1.2.3": "narrow", "11.0.0.1": "",
		"2001:db8:2::1": "wide", "2001:db8:1::5": "narrow", "2001:db9::1": "",
	} {
		got, _ := s.TenantFor(netip.MustParseAddr(addr))
		if got != want {
			t.Errorf("TenantFor(%s) = %q, want %q", addr, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.tenantFor(netip.MustParseAddr("2001:db8:1::5")) }); n != 0 {
		t.Errorf("tenant lookup allocates %.0f times", n)
	}
}
