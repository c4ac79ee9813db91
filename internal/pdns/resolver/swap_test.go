package resolver

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

func bigSnapshot(t testing.TB, n int, gen int) *Snapshot {
	b := blocklist.NewBuilder(n)
	for i := 0; i < n; i++ {
		_ = b.Add(fmt.Sprintf("bad%d-g%d.test", i, gen), blocklist.Rule{Feed: 1, Category: catMalware, Action: blocklist.Block})
	}
	_ = b.Add("malware.test", blocklist.Rule{Feed: 1, Category: catMalware, Action: blocklist.Block})
	l, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return mustSnapshot(t, SnapshotConfig{List: l, Global: catGlobal, Tenants: []TenantConfig{
		{ID: "tenant-a", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, Categories: catMalware},
	}})
}

func mustAddrPort(s string) netip.AddrPort {
	return netip.MustParseAddrPort(s)
}

// TestSnapshotSwapLosesNoQuery swaps the whole snapshot every few
// milliseconds while clients query over UDP for a bounded time: every
// query must be answered, and answered right.
func TestSnapshotSwapLosesNoQuery(t *testing.T) {
	snaps := []*Snapshot{bigSnapshot(t, 20000, 0), bigSnapshot(t, 20000, 1)}
	e := startEngine(t, &fakeUpstream{}, snaps[0], func(c *Config) { c.DoTAddr, c.DoHAddr, c.TCPAddr = "", "", "" })
	dur := 2 * time.Second
	if testing.Short() {
		dur = 500 * time.Millisecond
	}
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				e.SetSnapshot(snaps[i%2])
				swaps.Add(1)
			}
		}
	}()
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(dur)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(mustAddrPort(e.Addr(querylog.UDP))))
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				failed.Add(1)
				return
			}
			defer conn.Close()
			buf := make([]byte, 2048)
			for i := 0; time.Now().Before(deadline) && i < 200000; i++ {
				name, blocked := fmt.Sprintf("h%d.ok.test.", i%50), false
				if i%3 == 0 {
					name, blocked = fmt.Sprintf("x%d.malware.test.", i%7), true
				}
				q := new(dns.Msg)
				q.SetQuestion(name, dns.TypeA)
				q.Id = uint16(i)
				p, _ := q.Pack()
				sent.Add(1)
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := conn.Write(p); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				n, err := conn.Read(buf)
				var m dns.Msg
				if err == nil {
					err = m.Unpack(buf[:n])
				}
				if err == nil && (m.Id != q.Id || (blocked && m.Rcode != dns.RcodeNameError) || (!blocked && firstA(&m) != "192.0.2.1")) {
					err = fmt.Errorf("query %s: wrong answer %v", name, &m)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}(c)
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d queries failed during %d swaps; first: %v", failed.Load(), sent.Load(), swaps.Load(), firstErr.Load())
	}
	if swaps.Load() < 10 || sent.Load() < 100 {
		t.Fatalf("only %d swaps and %d queries: the test did not exercise swapping", swaps.Load(), sent.Load())
	}
	t.Logf("%d queries, %d swaps, none lost", sent.Load(), swaps.Load())
}
