package resolver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// model is a naive restatement of the policy rules the engine must follow.
type model struct {
	shared  map[string][]blocklist.Rule
	tenants []modelTenant
	chain   map[string]string // name -> CNAME target (upstream answers)
	ip      map[string]netip.Addr
}

type modelTenant struct {
	cfg         TenantConfig
	allow, deny map[string]bool
}

// verdict returns "allow", "block" or "" for name alone.
func (m *model) verdict(t *modelTenant, name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for i := range labels {
		if t.allow[strings.Join(labels[i:], ".")] {
			return "allow"
		}
	}
	for i := range labels {
		if t.deny[strings.Join(labels[i:], ".")] {
			return "block"
		}
	}
	for i := range labels {
		best := ""
		for _, r := range m.shared[strings.Join(labels[i:], ".")] {
			if r.Category&(t.cfg.Categories|catGlobal) == 0 || (i == 0 && !r.Exact) || (i > 0 && !r.Subdomains) {
				continue
			}
			if r.Action == blocklist.Passthru {
				best = "allow"
			} else if best == "" {
				best = "block"
			}
		}
		if best != "" {
			return best
		}
	}
	return ""
}

// blocked says whether tenant t must see a block for qname.
func (m *model) blocked(t *modelTenant, qname string) bool {
	switch m.verdict(t, qname) {
	case "allow":
		return false
	case "block":
		return true
	}
	name := qname
	for target, ok := m.chain[name]; ok; target, ok = m.chain[name] {
		if !t.cfg.NoCNAMEInspection && m.verdict(t, target) == "block" {
			return true
		}
		name = target
	}
	for _, p := range t.cfg.BlockedIPs {
		if p.Contains(m.ip[name]) {
			return true
		}
	}
	return false
}

func (m *model) final(name string) string {
	for target, ok := m.chain[name]; ok; target, ok = m.chain[name] {
		name = target
	}
	return name
}

func randomModel(r *rand.Rand, names []string) *model {
	m := &model{shared: map[string][]blocklist.Rule{}, chain: map[string]string{}, ip: map[string]netip.Addr{}}
	for i, n := range names {
		m.ip[n] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		if r.IntN(4) == 0 && i+1 < len(names) {
			m.chain[n] = names[i+1+r.IntN(len(names)-i-1)]
		}
		if r.IntN(3) == 0 {
			rule := blocklist.Rule{Feed: 1, Category: 1 << r.IntN(4), Action: blocklist.Block}
			switch r.IntN(6) {
			case 0:
				rule.Action = blocklist.Passthru
			case 1:
				rule.Exact = true
			case 2:
				rule.Subdomains = true
			}
			if !rule.Exact && !rule.Subdomains {
				rule.Exact, rule.Subdomains = true, true
			}
			base := strings.TrimSuffix(n, ".")
			m.shared[base] = append(m.shared[base], rule)
		}
	}
	for i := 0; i < 4; i++ {
		tc := TenantConfig{
			ID:         fmt.Sprintf("t%d", i),
			Sources:    []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(10 + i)}), 32)},
			Categories: uint32(r.IntN(16)),
			Mode:       BlockMode(r.IntN(4)),
			SinkholeV4: netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}),
		}
		tc.NoCNAMEInspection = r.IntN(3) == 0
		if r.IntN(3) == 0 {
			tc.BlockedIPs = []netip.Prefix{netip.PrefixFrom(m.ip[names[r.IntN(len(names))]], 32)}
		}
		mt := modelTenant{allow: map[string]bool{}, deny: map[string]bool{}}
		for _, n := range names {
			base := strings.TrimSuffix(n, ".")
			switch r.IntN(12) {
			case 0:
				tc.Allow = append(tc.Allow, base)
				mt.allow[base] = true
			case 1:
				tc.Deny = append(tc.Deny, base)
				mt.deny[base] = true
			}
		}
		mt.cfg = tc
		m.tenants = append(m.tenants, mt)
	}
	return m
}

// TestPolicyNeverCrossesTenants runs random policies and random query
// sequences of several tenants through one shared cache: every answer must
// be exactly what the asking tenant's own policy says.
func TestPolicyNeverCrossesTenants(t *testing.T) {
	names := []string{"a.x.test.", "b.a.x.test.", "c.x.test.", "d.y.test.", "e.d.y.test.", "f.y.test.", "g.z.test.", "h.g.z.test.", "i.z.test.", "j.z.test."}
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for round := 0; round < rounds; round++ {
		r := rand.New(rand.NewPCG(uint64(round), 99))
		m := randomModel(r, names)
		up := &fakeUpstream{}
		for _, n := range names {
			if target, ok := m.chain[n]; ok {
				// The upstream returns the whole chain, as a recursive resolver does.
				var rrs []string
				cur := n
				for next, ok := m.chain[cur]; ok; next, ok = m.chain[cur] {
					rrs = append(rrs, fmt.Sprintf("%s 300 IN CNAME %s", cur, next))
					cur = next
				}
				rrs = append(rrs, fmt.Sprintf("%s 300 IN A %s", cur, m.ip[cur]))
				_ = target
				up.set(n, rrs...)
			} else {
				up.set(n, fmt.Sprintf("%s 300 IN A %s", n, m.ip[n]))
			}
		}
		b := blocklist.NewBuilder(0)
		for name, rules := range m.shared {
			for _, rule := range rules {
				if err := b.Add(name, rule); err != nil {
					t.Fatal(err)
				}
			}
		}
		list, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		var tcs []TenantConfig
		for _, mt := range m.tenants {
			tcs = append(tcs, mt.cfg)
		}
		e, err := New(Config{Upstream: up, QueryLog: querylog.NewQueue(1 << 12)})
		if err != nil {
			t.Fatal(err)
		}
		e.SetSnapshot(mustSnapshot(t, SnapshotConfig{List: list, Global: catGlobal, Tenants: tcs}))
		w := newWorker(e, 0)
		for i := 0; i < 300; i++ {
			ti := r.IntN(len(m.tenants))
			mt := &m.tenants[ti]
			qname := names[r.IntN(len(names))]
			req := request{pkt: packed(t, qname, dns.TypeA), src: netip.AddrPortFrom(mt.cfg.Sources[0].Addr(), 5353), tr: querylog.UDP, wait: true}
			resp, _ := w.answer(&req)
			var got dns.Msg
			if err := got.Unpack(resp); err != nil {
				t.Fatal(err)
			}
			want := m.blocked(mt, qname)
			desc := fmt.Sprintf("round %d query %d: tenant %s (mode %s) asks %s", round, i, mt.cfg.ID, mt.cfg.Mode, qname)
			if want {
				checkBlocked(t, desc, &got, mt.cfg)
				continue
			}
			wantIP := m.ip[m.final(qname)].String()
			if got.Rcode != dns.RcodeSuccess || lastA(&got) != wantIP {
				t.Fatalf("%s: got rcode %s address %q, want the upstream answer %s", desc, dns.RcodeToString[got.Rcode], lastA(&got), wantIP)
			}
		}
	}
}

func lastA(m *dns.Msg) string {
	s := ""
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			s = a.A.String()
		}
	}
	return s
}

func checkBlocked(t *testing.T, desc string, got *dns.Msg, tc TenantConfig) {
	t.Helper()
	ok := false
	switch tc.Mode {
	case BlockNXDomain:
		ok = got.Rcode == dns.RcodeNameError
	case BlockRefused:
		ok = got.Rcode == dns.RcodeRefused
	case BlockNoData:
		ok = got.Rcode == dns.RcodeSuccess && len(got.Answer) == 0
	case BlockSinkhole:
		ok = got.Rcode == dns.RcodeSuccess && len(got.Answer) == 1 && lastA(got) == tc.SinkholeV4.String()
	}
	if !ok {
		t.Fatalf("%s: got rcode %s answers %v, want this tenant's block", desc, dns.RcodeToString[got.Rcode], got.Answer)
	}
}
