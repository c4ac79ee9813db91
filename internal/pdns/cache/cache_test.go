package cache

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var policy = TTLPolicy{MinTTL: 5, MaxTTL: 3600, NegativeTTL: 30, NegativeMaxTTL: 900, StaleFor: time.Hour}

func answer(t testing.TB, rcode int, rrs ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("a.test.", dns.TypeA)
	m.Response = true
	m.Rcode = rcode
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			m.Ns = append(m.Ns, rr)
		} else {
			m.Answer = append(m.Answer, rr)
		}
	}
	m.SetEdns0(1232, false)
	return m
}

func TestNewEntryClampsAndCollects(t *testing.T) {
	now := time.Now().UnixNano()
	e, err := NewEntry(answer(t, 0, "a.test. 1 IN CNAME B.test.", "b.test. 99999 IN A 192.0.2.1", "b.test. 300 IN AAAA 2001:db8::1"), "a.test.", dns.TypeA, dns.ClassINET, now, policy, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if e.TTL != 5 {
		t.Errorf("entry TTL = %d, want the min TTL clamp 5", e.TTL)
	}
	if len(e.Chain) != 1 || e.Chain[0] != "b.test." {
		t.Errorf("chain = %v", e.Chain)
	}
	if len(e.IPs) != 2 || e.IPs[0].String() != "192.0.2.1" || e.IPs[1].String() != "2001:db8::1" {
		t.Errorf("IPs = %v", e.IPs)
	}
	if e.AR != 0 {
		t.Errorf("upstream OPT kept: AR = %d", e.AR)
	}
	want := []uint32{5, 3600, 300}
	for i, ttl := range e.TTLs {
		if ttl != want[i] || binary.BigEndian.Uint32(e.Msg[e.TTLOffsets[i]:]) != want[i] {
			t.Errorf("record %d TTL %d, want %d", i, ttl, want[i])
		}
	}
}

func TestNegativeTTLFromSOA(t *testing.T) {
	now := time.Now().UnixNano()
	e, err := NewEntry(answer(t, dns.RcodeNameError, "test. 600 IN SOA ns.test. h.test. 1 2 3 4 120"), "a.test.", dns.TypeA, 1, now, policy, "")
	if err != nil {
		t.Fatal(err)
	}
	if e.TTL != 120 || e.TTLs[0] != 120 {
		t.Errorf("negative TTL = %d (SOA record %d), want min(SOA TTL, minimum) = 120", e.TTL, e.TTLs[0])
	}
	e, _ = NewEntry(answer(t, dns.RcodeSuccess), "a.test.", dns.TypeA, 1, now, policy, "")
	if e.TTL != 30 {
		t.Errorf("NODATA without SOA TTL = %d, want 30", e.TTL)
	}
	if _, err := NewEntry(answer(t, dns.RcodeServerFailure), "a.test.", dns.TypeA, 1, now, policy, ""); err == nil {
		t.Error("SERVFAIL made an entry")
	}
}

func TestAppendBodyAgesTTLs(t *testing.T) {
	now := time.Now().UnixNano()
	e, _ := NewEntry(answer(t, 0, "a.test. 300 IN A 192.0.2.1"), "a.test.", dns.TypeA, 1, now, policy, "")
	out := append([]byte(nil), e.Msg[:e.QEnd]...)
	out = e.AppendBody(out, 0, now+int64(100*time.Second), 0)
	var m dns.Msg
	if err := m.Unpack(out); err != nil {
		t.Fatal(err)
	}
	if got := m.Answer[0].Header().Ttl; got != 200 {
		t.Errorf("aged TTL = %d, want 200", got)
	}
	out = e.AppendBody(out[:e.QEnd], 0, now+int64(time.Hour), 30)
	_ = m.Unpack(out)
	if got := m.Answer[0].Header().Ttl; got != 30 {
		t.Errorf("stale TTL = %d, want 30", got)
	}
}

func TestCacheEvictsWithinBudget(t *testing.T) {
	c := New(64 * 4096)
	now := time.Now().UnixNano()
	e, _ := NewEntry(answer(t, 0, "a.test. 300 IN A 192.0.2.1"), "a.test.", dns.TypeA, 1, now, policy, "")
	hot := AppendKey(nil, []byte("hot.test."), 1, 1)
	c.Set(hot, e)
	for i := 0; i < 20000; i++ {
		c.Set(AppendKey(nil, fmt.Appendf(nil, "n%d.test.", i), 1, 1), e)
		if c.Get(hot) == nil {
			t.Fatalf("a hot entry was evicted after %d inserts", i)
		}
	}
	st := c.Stats()
	if st.Bytes > 64*4096 || st.Evictions == 0 {
		t.Fatalf("stats %+v exceed the budget", st)
	}
}

func TestGetDoesNotAllocate(t *testing.T) {
	c := New(1 << 20)
	e, _ := NewEntry(answer(t, 0, "a.test. 300 IN A 192.0.2.1"), "a.test.", dns.TypeA, 1, 0, policy, "")
	key := AppendKey(nil, []byte("a.test."), 1, 1)
	c.Set(key, e)
	if n := testing.AllocsPerRun(100, func() { c.Get(key) }); n != 0 {
		t.Fatalf("Get allocates %.0f times", n)
	}
}
