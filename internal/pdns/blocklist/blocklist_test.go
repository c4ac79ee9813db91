package blocklist

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/feed"
)

const (
	catMalware  = 1 << 0
	catPhishing = 1 << 1
	catNRD      = 1 << 4
	catGlobal   = 1 << 31
)

func mustBuild(t testing.TB, add func(b *Builder)) *List {
	t.Helper()
	b := NewBuilder(0)
	add(b)
	l, err := b.Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return l
}

func mustAdd(t testing.TB, b *Builder, name string, r Rule) {
	t.Helper()
	if err := b.Add(name, r); err != nil {
		t.Fatalf("add %q: %v", name, err)
	}
}

func TestLookup(t *testing.T) {
	local, _ := dns.NewRR("x. 60 IN A 192.0.2.7")
	l := mustBuild(t, func(b *Builder) {
		mustAdd(t, b, "Evil.Example.", Rule{Feed: 1, Category: catMalware, Action: Block})
		mustAdd(t, b, "exact.test", Rule{Feed: 2, Category: catPhishing, Action: NXDomain, Exact: true})
		mustAdd(t, b, "*.wild.test", Rule{Feed: 2, Category: catPhishing, Action: NoData})
		mustAdd(t, b, "nrd.test", Rule{Feed: 3, Category: catNRD, Action: Block})
		mustAdd(t, b, "ok.nrd.test", Rule{Feed: 4, Category: catNRD, Action: Passthru})
		mustAdd(t, b, "both.test", Rule{Feed: 5, Category: catMalware, Action: Block})
		mustAdd(t, b, "both.test", Rule{Feed: 6, Category: catPhishing, Action: NXDomain})
		mustAdd(t, b, "local.test", Rule{Feed: 7, Category: catGlobal, Action: LocalData, Local: []dns.RR{local}})
	})
	all := uint32(0xffffffff)
	tests := []struct {
		name      string
		q         string
		mask      uint32
		wantName  string
		wantFeed  uint16
		wantSub   bool
		wantFound bool
	}{
		{"exact name, case folded at build", "evil.example", all, "evil.example", 1, false, true},
		{"trailing dot accepted", "evil.example.", all, "evil.example", 1, false, true},
		{"subdomain of plain entry", "a.b.evil.example", all, "evil.example", 1, true, true},
		{"category outside mask", "evil.example", catPhishing, "", 0, false, false},
		{"unrelated name", "example", all, "", 0, false, false},
		{"suffix that is not a label boundary", "notevil.example", all, "", 0, false, false},
		{"exact-only rule on itself", "exact.test", all, "exact.test", 2, false, true},
		{"exact-only rule never on subdomain", "a.exact.test", all, "", 0, false, false},
		{"wildcard never on itself", "wild.test", all, "", 0, false, false},
		{"wildcard on subdomain", "x.wild.test", all, "wild.test", 2, true, true},
		{"more specific passthru wins", "ok.nrd.test", all, "ok.nrd.test", 4, false, true},
		{"passthru covers its subdomains", "a.ok.nrd.test", all, "ok.nrd.test", 4, true, true},
		{"parent still blocks siblings", "bad.nrd.test", all, "nrd.test", 3, true, true},
		{"two rules on one name: stronger action wins", "both.test", all, "both.test", 6, false, true},
		{"two rules on one name: mask picks", "both.test", catMalware, "both.test", 5, false, true},
		{"local data", "local.test", catGlobal, "local.test", 7, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := l.LookupString(tc.q, tc.mask)
			if ok != tc.wantFound {
				t.Fatalf("found = %v, want %v (match %+v)", ok, tc.wantFound, m)
			}
			if !ok {
				return
			}
			if m.Name != tc.wantName || m.Rule.Feed != tc.wantFeed || m.Subdomain != tc.wantSub {
				t.Errorf("got name %q feed %d sub %v, want %q %d %v", m.Name, m.Rule.Feed, m.Subdomain, tc.wantName, tc.wantFeed, tc.wantSub)
			}
		})
	}
	if l.Len() != 7 {
		t.Errorf("Len = %d, want 7 distinct names", l.Len())
	}
}

func TestAddRejectsBadInput(t *testing.T) {
	b := NewBuilder(0)
	bad := []string{"", ".", "a..b", "exa mple.com", "bad\\.com", strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 130) + "com"}
	for _, n := range bad {
		if err := b.Add(n, Rule{Category: 1, Action: Block}); err == nil {
			t.Errorf("Add(%q) accepted a malformed name", n)
		}
	}
	if err := b.Add("ok.test", Rule{Category: 0, Action: Block}); err == nil {
		t.Error("Add accepted a rule without category")
	}
	if err := b.Add("ok.test", Rule{Category: 1, Action: LocalData}); err == nil {
		t.Error("Add accepted local data without records")
	}
	if b.Len() != 0 {
		t.Errorf("rejected names were kept: Len = %d", b.Len())
	}
}

func TestNilListIsEmpty(t *testing.T) {
	var l *List
	if _, ok := l.LookupString("a.test", 1); ok || l.Len() != 0 || l.Contains("a.test") {
		t.Fatal("nil list matched")
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	l := mustBuild(t, func(b *Builder) {
		mustAdd(t, b, "evil.example", Rule{Feed: 1, Category: catMalware, Action: Block})
	})
	q := []byte("a.b.c.evil.example.")
	miss := []byte("www.good.example.")
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := l.Lookup(q, catMalware); !ok {
			t.Fatal("no match")
		}
		if _, ok := l.Lookup(miss, catMalware); ok {
			t.Fatal("false match")
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %.1f times", allocs)
	}
}

// reference is the obvious implementation Lookup must agree with.
type reference map[string][]Rule

func (ref reference) lookup(q string, mask uint32) (string, *Rule, bool) {
	q = strings.TrimSuffix(q, ".")
	labels := strings.Split(q, ".")
	for i := range labels {
		name := strings.Join(labels[i:], ".")
		var best *Rule
		for k := range ref[name] {
			r := &ref[name][k]
			if r.Category&mask == 0 || (i == 0 && !r.Exact) || (i > 0 && !r.Subdomains) {
				continue
			}
			if best == nil || precedence(r, best) < 0 {
				best = r
			}
		}
		if best != nil {
			return name, best, true
		}
	}
	return "", nil, false
}

func randomName(r *rand.Rand, depth int) string {
	labels := []string{"a", "b", "c", "evil", "x-y", "d0", "e_f"}
	parts := make([]string, depth)
	for i := range parts {
		parts[i] = labels[r.IntN(len(labels))]
	}
	return strings.Join(parts, ".")
}

func TestLookupAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		ref := reference{}
		b := NewBuilder(0)
		for i := 0; i < 200; i++ {
			name := randomName(r, 1+r.IntN(4))
			rule := Rule{Feed: uint16(r.IntN(4)), Category: 1 << r.IntN(5), Action: Action(1 + r.IntN(5))}
			if rule.Action == LocalData {
				rule.Action = Block
			}
			switch r.IntN(3) {
			case 0:
				rule.Exact = true
			case 1:
				rule.Subdomains = true
			}
			if err := b.Add(name, rule); err != nil {
				t.Fatal(err)
			}
			if !rule.Exact && !rule.Subdomains {
				rule.Exact, rule.Subdomains = true, true
			}
			ref[name] = append(ref[name], rule)
		}
		l, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 500; i++ {
			q := randomName(r, 1+r.IntN(6))
			mask := uint32(r.IntN(32))
			checkAgainst(t, l, ref, q, mask)
		}
	}
}

func checkAgainst(t *testing.T, l *List, ref reference, q string, mask uint32) {
	t.Helper()
	wantName, wantRule, wantOK := ref.lookup(q, mask)
	m, ok := l.LookupString(q, mask)
	if ok != wantOK {
		t.Fatalf("Lookup(%q, %b) found=%v, reference %v", q, mask, ok, wantOK)
	}
	if !ok {
		return
	}
	if m.Name != wantName || m.Rule.Action != wantRule.Action || m.Rule.Feed != wantRule.Feed || m.Rule.Category&mask == 0 {
		t.Fatalf("Lookup(%q, %b) = %q %+v, reference %q %+v", q, mask, m.Name, *m.Rule, wantName, *wantRule)
	}
}

func FuzzLookup(f *testing.F) {
	f.Add("a.evil.b", "evil.b", uint32(1), uint8(0))
	f.Add("evil.b.", "*.b", uint32(3), uint8(1))
	f.Add("x..y", "y", uint32(1), uint8(2))
	f.Fuzz(func(t *testing.T, q, listed string, mask uint32, flags uint8) {
		ref := reference{}
		b := NewBuilder(0)
		rule := Rule{Feed: uint16(flags >> 4), Category: uint32(flags&3) + 1, Action: Block, Exact: flags&4 != 0, Subdomains: flags&8 != 0}
		for _, name := range []string{listed, "evil.b", "b"} {
			if err := b.Add(name, rule); err != nil {
				continue
			}
			n, wild, _ := normalize(name)
			rr := rule
			if wild {
				rr.Exact, rr.Subdomains = false, true
			} else if !rr.Exact && !rr.Subdomains {
				rr.Exact, rr.Subdomains = true, true
			}
			ref[n] = append(ref[n], rr)
		}
		l, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		q = strings.ToLower(q)
		if len(q) > 255 || strings.Contains(q, "..") || strings.HasPrefix(q, ".") {
			l.LookupString(q, mask) // must not panic
			return
		}
		checkAgainst(t, l, ref, q, mask)
	})
}

// synthetic returns n distinct plausible domain names.
func synthetic(n int) []string {
	tlds := []string{"com", "net", "org", "info", "xyz", "top", "ru", "cn"}
	r := rand.New(rand.NewPCG(7, 9))
	out := make([]string, n)
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var sb strings.Builder
	for i := range out {
		sb.Reset()
		k := 8 + r.IntN(10)
		for j := 0; j < k; j++ {
			sb.WriteByte(letters[r.IntN(len(letters))])
		}
		fmt.Fprintf(&sb, "%d.%s", i, tlds[i%len(tlds)])
		out[i] = sb.String()
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkBuild1M builds a list of one million names with subdomain
// matching and reports the build time and the heap the list keeps.
func BenchmarkBuild1M(b *testing.B) {
	names := synthetic(1_000_000)
	var l *List
	for i := 0; i < b.N; i++ {
		l = nil
		before := heapInUse()
		start := time.Now()
		bl := NewBuilder(len(names))
		for j, n := range names {
			if err := bl.Add(n, Rule{Feed: uint16(j % 3), Category: 1 << (j % 5), Action: Block}); err != nil {
				b.Fatal(err)
			}
		}
		var err error
		l, err = bl.Build()
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		bl = nil
		after := heapInUse()
		b.ReportMetric(elapsed.Seconds(), "build-s")
		b.ReportMetric(float64(after-before)/(1<<20), "heap-MB")
	}
	runtime.KeepAlive(l)
}

func BenchmarkLookup1M(b *testing.B) {
	names := synthetic(1_000_000)
	bl := NewBuilder(len(names))
	for _, n := range names {
		_ = bl.Add(n, Rule{Feed: 1, Category: catMalware, Action: Block})
	}
	l, _ := bl.Build()
	queries := make([][]byte, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range queries {
		if i%10 == 0 {
			queries[i] = []byte("www." + names[r.IntN(len(names))] + ".")
		} else {
			queries[i] = []byte(fmt.Sprintf("cdn%d.static.good-site%d.example.com.", i, r.IntN(1000)))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		if _, ok := l.Lookup(queries[i&4095], catMalware|catGlobal); ok {
			hits++
		}
	}
	b.StopTimer()
	if hits == 0 {
		b.Fatal("no hits")
	}
}

func TestEscapedDotIsNotALabelBoundary(t *testing.T) {
	l := mustBuild(t, func(b *Builder) {
		mustAdd(t, b, "example", Rule{Feed: 1, Category: catMalware, Action: Block})
	})
	if m, ok := l.LookupString(`evil\.example.`, catMalware); ok {
		t.Fatalf("one label holding a dot matched %q", m.Name)
	}
	if _, ok := l.LookupString(`a\\.example.`, catMalware); !ok {
		t.Fatal(`an escaped backslash before a real dot hid the parent name`)
	}
}

func TestAddEntryKeepsFeedFlags(t *testing.T) {
	b := NewBuilder(0)
	if err := b.AddEntry(3, catPhishing, feed.Entry{Name: "rpz.test", Subdomains: true, Action: feed.NXDomain}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddEntry(3, catPhishing, feed.Entry{Name: "none.test", Action: feed.Block}); err == nil {
		t.Fatal("an entry matching neither the name nor its subdomains was accepted")
	}
	l, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.LookupString("rpz.test", catPhishing); ok {
		t.Error("a subdomains-only entry matched the name itself")
	}
	m, ok := l.LookupString("a.rpz.test", catPhishing)
	if !ok || m.Rule.Action != NXDomain || m.Rule.Feed != 3 {
		t.Errorf("got %+v %v, want the NXDOMAIN rule of feed 3", m, ok)
	}
}

func TestBuildYieldsWhileItWorks(t *testing.T) {
	b := NewBuilder(0)
	calls := 0
	b.Yield = func() { calls++ }
	const n = 20_000
	for i := 0; i < n; i++ {
		if err := b.Add(fmt.Sprintf("n%d.test", i), Rule{Feed: 1, Category: catMalware, Action: Block}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// Two loops over the names at nameStep, three over integers at cheapStep.
	if want := 2*(n/nameStep) + 2*(n/cheapStep); calls < want || l.Len() != n {
		t.Fatalf("Yield called %d times (want at least %d), %d names", calls, want, l.Len())
	}
}

// FuzzNormalize checks normalize's fast path against the byte-by-byte
// check: the same name or the same rejection for any input, and a result
// that is canonical (lowercase, valid, stable under a second pass).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"evil.example", "Evil.Example.", "*.a.b", "a..b", ".a", "a.", "exa mple.com", "bad\\.com",
		strings.Repeat("a", 64) + ".b", strings.Repeat("a", 63), "_dmarc.x-y.z", "xn--bcher-kva.example", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, wild, err := normalize(in)
		name := strings.TrimPrefix(in, "*.")
		if wild != (name != in) && err == nil {
			t.Fatalf("normalize(%q): wildcard %v", in, wild)
		}
		name = strings.TrimSuffix(name, ".")
		var want string
		var werr error
		if len(name) == 0 || len(name) > 253 {
			werr = errorf("too long or empty")
		} else {
			want, werr = checkName(name)
		}
		if (err == nil) != (werr == nil) || got != want {
			t.Fatalf("normalize(%q) = %q, %v; the check gives %q, %v", in, got, err, want, werr)
		}
		if err != nil {
			return
		}
		if again, _, err := normalize(got); err != nil || again != got || strings.ToLower(got) != got {
			t.Fatalf("normalize(%q) = %q, which normalizes to %q, %v", in, got, again, err)
		}
	})
}
