package querylog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// t0 is 2026-01-01T10:00:00Z, the start of an hour.
var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func openTestStore(t *testing.T, dir string, clk *fakeClock, opt StoreOptions) *Store {
	t.Helper()
	opt.Now = clk.Now
	if opt.Logger == nil {
		opt.Logger = quietLog
	}
	s, err := OpenStore(dir, opt)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

// rec builds a record at t0+offset.
func rec(offset time.Duration, tenant, client, qname string, a Action) Record {
	var r Record
	r.Time = t0.Add(offset).UnixNano()
	r.Tenant = tenant
	r.Client = netip.MustParseAddr(client)
	r.QType = 1
	r.QClass = 1
	r.Action = a
	r.SetQNameString(qname)
	if a.IsBlock() {
		r.Rule = qname
		r.Feed = "test feed"
		r.Category = "phishing"
	}
	return r
}

// fixture is a day of traffic for two tenants across three hours.
func fixture() []Record {
	var out []Record
	for i := 0; i < 180; i++ {
		off := time.Duration(i) * time.Minute // 10:00 .. 12:59
		out = append(out, rec(off, "org-a", "10.0.0.1", "www.example.com", Allowed))
		if i%3 == 0 {
			out = append(out, rec(off+time.Second, "org-a", "10.0.0.2", "ads.tracker.example", Blocked))
		}
		if i%10 == 0 {
			r := rec(off+2*time.Second, "org-a", "10.0.1.7", "c2.evil.example", Sinkholed)
			r.Category = "c2"
			out = append(out, r)
		}
		if i%5 == 0 {
			out = append(out, rec(off+3*time.Second, "org-b", "2001:db8::5", "mail.example.org", Allowed))
		}
		if i%30 == 0 {
			out = append(out, rec(off+4*time.Second, "", "198.51.100.9", "probe.example", Refused))
		}
	}
	return out
}

func writeAll(t *testing.T, s *Store, recs []Record) {
	t.Helper()
	batch := append([]Record(nil), recs...)
	for len(batch) > 0 {
		n := min(len(batch), 97)
		if err := s.WriteBatch(batch[:n]); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		batch = batch[n:]
	}
}

func searchAll(t *testing.T, s *Store, f Filter) []Record {
	t.Helper()
	var out []Record
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		p, err := s.Search(context.Background(), f)
		if err != nil {
			t.Fatalf("Search(%+v): %v", f, err)
		}
		out = append(out, p.Records...)
		if p.Next == "" {
			return out
		}
		f.Cursor = p.Next
	}
}

func countWhere(recs []Record, keep func(*Record) bool) int {
	n := 0
	for i := range recs {
		if keep(&recs[i]) {
			n++
		}
	}
	return n
}

func TestStoreSearchFiltersAndPaging(t *testing.T) {
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	all := fixture()
	writeAll(t, s, all)

	tests := []struct {
		name string
		f    Filter
		keep func(*Record) bool
	}{
		{"tenant only", Filter{Tenant: "org-a"}, func(r *Record) bool { return r.Tenant == "org-a" }},
		{"other tenant never leaks", Filter{Tenant: "org-b", Domain: "www.example.com"}, func(r *Record) bool { return false }},
		{"all tenants for the office", Filter{AllTenants: true}, func(r *Record) bool { return true }},
		{"exact domain", Filter{Tenant: "org-a", Domain: "WWW.example.com."}, func(r *Record) bool {
			return r.Tenant == "org-a" && r.QName() == "www.example.com"
		}},
		{"suffix matches subdomains only at a label boundary", Filter{Tenant: "org-a", Domain: "evil.example", Match: MatchSuffix}, func(r *Record) bool {
			return r.Tenant == "org-a" && r.QName() == "c2.evil.example"
		}},
		{"suffix does not match inside a label", Filter{Tenant: "org-a", Domain: "l.example", Match: MatchSuffix}, func(r *Record) bool { return false }},
		{"substring", Filter{Tenant: "org-a", Domain: "tracker", Match: MatchSubstring}, func(r *Record) bool {
			return r.Tenant == "org-a" && r.QName() == "ads.tracker.example"
		}},
		{"client address", Filter{Tenant: "org-a", Client: netip.MustParsePrefix("10.0.0.2/32")}, func(r *Record) bool {
			return r.Tenant == "org-a" && r.Client == netip.MustParseAddr("10.0.0.2")
		}},
		{"client network", Filter{Tenant: "org-a", Client: netip.MustParsePrefix("10.0.0.0/24")}, func(r *Record) bool {
			return r.Tenant == "org-a" && netip.MustParsePrefix("10.0.0.0/24").Contains(r.Client)
		}},
		{"ipv6 client", Filter{Tenant: "org-b", Client: netip.MustParsePrefix("2001:db8::/64")}, func(r *Record) bool { return r.Tenant == "org-b" }},
		{"actions", Filter{Tenant: "org-a", Actions: []Action{Blocked, Sinkholed}}, func(r *Record) bool {
			return r.Tenant == "org-a" && r.Action.IsBlock()
		}},
		{"qtype", Filter{Tenant: "org-a", QTypes: []uint16{28}}, func(r *Record) bool { return false }},
		{"time range", Filter{Tenant: "org-a", From: t0.Add(70 * time.Minute), To: t0.Add(75 * time.Minute)}, func(r *Record) bool {
			return r.Tenant == "org-a" && r.Time >= t0.Add(70*time.Minute).UnixNano() && r.Time < t0.Add(75*time.Minute).UnixNano()
		}},
		{"refused queries have no tenant", Filter{AllTenants: true, Actions: []Action{Refused}}, func(r *Record) bool { return r.Action == Refused }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, limit := range []int{0, 7} {
				f := tt.f
				f.Limit = limit
				got := searchAll(t, s, f)
				if want := countWhere(all, tt.keep); len(got) != want {
					t.Fatalf("limit %d: %d records, want %d", limit, len(got), want)
				}
				for i := range got {
					if !tt.keep(&got[i]) {
						t.Fatalf("limit %d: record %d does not match: %+v", limit, i, got[i])
					}
					if i > 0 && got[i].Time > got[i-1].Time {
						t.Fatalf("limit %d: not newest first at %d", limit, i)
					}
				}
			}
		})
	}
}

func TestStoreSearchPagingIsExact(t *testing.T) {
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	// Many records with the same time: the cursor must still not skip or
	// repeat any of them.
	var recs []Record
	for i := 0; i < 300; i++ {
		r := rec(time.Duration(i/50)*time.Second, "org-a", "10.0.0.1", "same.example", Allowed)
		r.Latency = uint32(i)
		recs = append(recs, r)
	}
	writeAll(t, s, recs)
	seen := make(map[uint32]bool)
	f := Filter{Tenant: "org-a", Limit: 11}
	pages := 0
	for {
		p, err := s.Search(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range p.Records {
			if seen[r.Latency] {
				t.Fatalf("record %d returned twice", r.Latency)
			}
			seen[r.Latency] = true
		}
		if p.Next == "" {
			break
		}
		if len(p.Records) != 11 {
			t.Fatalf("page %d has %d records and a next cursor", pages, len(p.Records))
		}
		f.Cursor = p.Next
	}
	if len(seen) != 300 || pages != 28 {
		t.Errorf("saw %d records in %d pages, want 300 in 28", len(seen), pages)
	}
}

func TestStoreSearchReadsOnlyOverlappingParts(t *testing.T) {
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	writeAll(t, s, fixture()) // hours 10, 11, 12
	p, err := s.Search(context.Background(), Filter{Tenant: "org-a", From: t0.Add(65 * time.Minute), To: t0.Add(70 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stats.Parts != 1 {
		t.Errorf("read %d parts for a range inside one hour, want 1", p.Stats.Parts)
	}
	// The newest page needs only the newest blocks of the newest hour.
	p, err = s.Search(context.Background(), Filter{Tenant: "org-a", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stats.Parts != 1 || len(p.Records) != 5 {
		t.Errorf("newest 5 records read %d parts (%d records), want 1", p.Stats.Parts, len(p.Records))
	}
}

func TestStoreSearchRejectsBadFilters(t *testing.T) {
	clk := &fakeClock{t: t0}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	bad := []Filter{
		{},
		{Tenant: "org-a", AllTenants: true},
		{Tenant: "org-a", Limit: MaxSearchLimit + 1},
		{Tenant: "org-a", Limit: -1},
		{Tenant: "org-a", From: t0, To: t0},
		{Tenant: "org-a", Cursor: "not a cursor"},
		{Tenant: "org-a", Cursor: "AQ"},
		{Tenant: "org-a", Actions: []Action{NumActions}},
		{Tenant: "org-a", Match: 9},
		{Tenant: "org-a", Domain: "."},
	}
	for _, f := range bad {
		if _, err := s.Search(context.Background(), f); !errors.Is(err, ErrInvalid) {
			t.Errorf("Search(%+v) err = %v, want ErrInvalid", f, err)
		}
	}
}

// rollupView gathers every rollup answer for comparison before and after a
// restart.
type rollupView struct {
	Series    []Point
	AllSeries []Point
	Top       []DomainCount
	Suspects  []SuspectedClient
	Totals    []TenantCounts
	Monthly   []TenantCounts
}

func viewRollups(t *testing.T, s *Store) rollupView {
	t.Helper()
	var v rollupView
	var err error
	from, to := t0, t0.Add(3*time.Hour)
	if v.Series, err = s.Series("org-a", from, to, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if v.AllSeries, err = s.Series("", from, to, time.Hour); err != nil {
		t.Fatal(err)
	}
	if v.Top, err = s.TopBlocked("org-a", from, to, 10); err != nil {
		t.Fatal(err)
	}
	if v.Suspects, err = s.SuspectedClients("org-a", from, to); err != nil {
		t.Fatal(err)
	}
	if v.Totals, err = s.Totals(from, to); err != nil {
		t.Fatal(err)
	}
	if v.Monthly, err = s.MonthlyCounts(t0); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStoreRollups(t *testing.T) {
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	all := fixture()
	writeAll(t, s, all)
	v := viewRollups(t, s)

	if len(v.Series) != 12 {
		t.Fatalf("series has %d points, want 12", len(v.Series))
	}
	var q, blocked uint64
	for _, p := range v.Series {
		q += p.Counts.Queries
		blocked += p.Counts.Blocked()
	}
	wantQ := countWhere(all, func(r *Record) bool { return r.Tenant == "org-a" })
	wantB := countWhere(all, func(r *Record) bool { return r.Tenant == "org-a" && r.Action.IsBlock() })
	if q != uint64(wantQ) || blocked != uint64(wantB) {
		t.Errorf("series sums to %d queries, %d blocked; want %d, %d", q, blocked, wantQ, wantB)
	}
	// First 15 minutes: 15 allowed, 5 blocked (i%3), 2 sinkholed (i%10).
	if c := v.Series[0].Counts; c.Queries != 22 || c.ByAction[Allowed] != 15 || c.ByAction[Blocked] != 5 || c.ByAction[Sinkholed] != 2 {
		t.Errorf("first point = %+v", c)
	}
	if len(v.AllSeries) != 3 || v.AllSeries[0].Counts.Queries+v.AllSeries[1].Counts.Queries+v.AllSeries[2].Counts.Queries != uint64(len(all)) {
		t.Errorf("all-tenant hourly series = %+v", v.AllSeries)
	}
	wantTop := []DomainCount{{"ads.tracker.example", 60, "phishing"}, {"c2.evil.example", 18, "c2"}}
	if !reflect.DeepEqual(v.Top, wantTop) {
		t.Errorf("TopBlocked = %+v, want %+v", v.Top, wantTop)
	}
	if len(v.Suspects) != 1 || v.Suspects[0].Client != netip.MustParseAddr("10.0.1.7") || v.Suspects[0].C2 != 18 || v.Suspects[0].Malware != 0 {
		t.Errorf("SuspectedClients = %+v", v.Suspects)
	}
	if !v.Suspects[0].First.Equal(t0.Add(2*time.Second)) || !v.Suspects[0].Last.Equal(t0.Add(170*time.Minute+2*time.Second)) {
		t.Errorf("suspect first/last = %v / %v", v.Suspects[0].First, v.Suspects[0].Last)
	}
	wantTotals := map[string]int{
		"":      countWhere(all, func(r *Record) bool { return r.Tenant == "" }),
		"org-a": wantQ,
		"org-b": countWhere(all, func(r *Record) bool { return r.Tenant == "org-b" }),
	}
	for _, list := range [][]TenantCounts{v.Totals, v.Monthly} {
		if len(list) != 3 {
			t.Fatalf("per-tenant counts = %+v", list)
		}
		for _, tc := range list {
			if tc.Counts.Queries != uint64(wantTotals[tc.Tenant]) {
				t.Errorf("tenant %q: %d queries, want %d", tc.Tenant, tc.Counts.Queries, wantTotals[tc.Tenant])
			}
		}
	}
	// Totals honour minute boundaries.
	tot, err := s.Totals(t0.Add(10*time.Minute), t0.Add(20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tot {
		if tc.Tenant == "org-a" && tc.Counts.ByAction[Allowed] != 10 {
			t.Errorf("org-a allowed in 10 minutes = %d, want 10", tc.Counts.ByAction[Allowed])
		}
	}
	for _, bad := range []func() error{
		func() error { _, err := s.Series("org-a", t0, t0, time.Minute); return err },
		func() error { _, err := s.Series("org-a", t0, t0.Add(time.Hour), 90*time.Second); return err },
		func() error { _, err := s.Series("org-a", t0, t0.Add(365*24*time.Hour), time.Minute); return err },
		func() error { _, err := s.TopBlocked("org-a", t0, t0.Add(time.Hour), 0); return err },
		func() error { _, err := s.Totals(time.Time{}, t0); return err },
	} {
		if err := bad(); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad rollup query: err = %v, want ErrInvalid", err)
		}
	}
}

func TestStoreRollupsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, dir, clk, StoreOptions{})
	writeAll(t, s, fixture())
	before := viewRollups(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, clk, StoreOptions{})
	defer s.Close()
	after := viewRollups(t, s)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("rollups changed across restart:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := searchAll(t, s, Filter{AllTenants: true}); len(got) != len(fixture()) {
		t.Errorf("after restart search finds %d records, want %d", len(got), len(fixture()))
	}
	// A second restart must not count the parts into the month again.
	s.Close()
	s = openTestStore(t, dir, clk, StoreOptions{})
	if again := viewRollups(t, s); !reflect.DeepEqual(before.Monthly, again.Monthly) {
		t.Errorf("monthly counts changed on a second restart: %+v", again.Monthly)
	}
}

func TestStoreRebuildsDamagedRollupFile(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, dir, clk, StoreOptions{})
	writeAll(t, s, fixture())
	want := viewRollups(t, s)
	s.Close()

	// Damage a section of one rollup file (the index stays valid) and the
	// index of another.
	sum11 := filepath.Join(dir, "qlog-20260101T11-0001.sum")
	data, _ := os.ReadFile(sum11)
	ps, err := readSummary(readerAt(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	data[ps.base+ps.tenants["org-a"].off+1] ^= 0xff // read by viewRollups
	os.WriteFile(sum11, data, 0o640)
	sum12 := filepath.Join(dir, "qlog-20260101T12-0001.sum")
	data, _ = os.ReadFile(sum12)
	data[20] ^= 0xff
	os.WriteFile(sum12, data, 0o640)

	s = openTestStore(t, dir, clk, StoreOptions{})
	defer s.Close()
	if got := viewRollups(t, s); !reflect.DeepEqual(want, got) {
		t.Errorf("rollups from damaged files differ:\nwant %+v\ngot  %+v", want, got)
	}
	for _, p := range []string{sum11, sum12} {
		data, _ := os.ReadFile(p)
		if _, err := decodeRollupFile(data); err != nil {
			t.Errorf("%s was not rewritten: %v", filepath.Base(p), err)
		}
	}
}

// crash abandons a store as a killed process would: files are closed but no
// part is sealed and no rollup or monthly count is written.
func crash(s *Store) {
	s.mu.Lock()
	s.closed = true
	for _, p := range s.open {
		p.f.Close()
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
}

func TestStoreRecoversAfterCrashWithTornTail(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, dir, clk, StoreOptions{})
	all := fixture()
	writeAll(t, s, all)
	want := viewRollups(t, s)
	crash(s)

	// The crash tore a block being appended to the newest part.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(segs)
	last := segs[len(segs)-1]
	e := newSegEncoder()
	torn := e.appendBlock(nil, ptrs(sampleRecords(40)))
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn[:len(torn)/2])
	f.Close()
	if sums, _ := filepath.Glob(filepath.Join(dir, "*.sum")); len(sums) != 0 {
		t.Fatalf("crashed store left rollup files %v", sums)
	}

	s = openTestStore(t, dir, clk, StoreOptions{})
	defer s.Close()
	got := viewRollups(t, s)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("rollups after crash recovery differ:\nwant %+v\ngot  %+v", want, got)
	}
	if recs := searchAll(t, s, Filter{AllTenants: true}); len(recs) != len(all) {
		t.Errorf("after recovery search finds %d records, want %d", len(recs), len(all))
	}
	// New writes after recovery go to new parts and are found too.
	writeAll(t, s, []Record{rec(179*time.Minute+30*time.Second, "org-a", "10.0.0.9", "after.example", Allowed)})
	if recs := searchAll(t, s, Filter{Tenant: "org-a", Domain: "after.example"}); len(recs) != 1 {
		t.Errorf("record written after recovery found %d times", len(recs))
	}
}

func TestStoreSealsAndReopensLateHours(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0.Add(30 * time.Minute)}
	s := openTestStore(t, dir, clk, StoreOptions{SealGrace: time.Minute})
	defer s.Close()
	writeAll(t, s, []Record{rec(time.Minute, "org-a", "10.0.0.1", "a.example", Allowed)})
	s.maintain(t0.Add(30 * time.Minute))
	if st := s.Stats(); st.OpenParts != 1 {
		t.Fatalf("part sealed before its hour ended: %+v", st)
	}
	clk.Set(t0.Add(62 * time.Minute))
	s.maintain(clk.Now())
	if st := s.Stats(); st.OpenParts != 0 {
		t.Fatalf("part still open after hour and grace: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "qlog-20260101T10-0001.sum")); err != nil {
		t.Fatalf("no rollup beside the sealed part: %v", err)
	}
	// A late record for the sealed hour opens a second part of that hour.
	writeAll(t, s, []Record{rec(59*time.Minute, "org-a", "10.0.0.1", "late.example", Allowed)})
	if _, err := os.Stat(filepath.Join(dir, "qlog-20260101T10-0002.seg")); err != nil {
		t.Fatalf("late record did not open part 2: %v", err)
	}
	got := searchAll(t, s, Filter{Tenant: "org-a"})
	if len(got) != 2 || got[0].QName() != "late.example" {
		t.Errorf("search over both parts = %d records, first %q", len(got), got[0].QName())
	}
	series, err := s.Series("org-a", t0, t0.Add(time.Hour), time.Hour)
	if err != nil || series[0].Counts.Queries != 2 {
		t.Errorf("series over both parts = %+v, %v", series, err)
	}
}

func TestStoreRetention(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, dir, clk, StoreOptions{Retention: 48 * time.Hour})
	defer s.Close()
	writeAll(t, s, fixture())
	monthly, _ := s.MonthlyCounts(t0)

	// Two days after hour 10 ended, only hours 11 and 12 remain.
	clk.Set(t0.Add(time.Hour + 48*time.Hour + time.Minute))
	s.maintain(clk.Now())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sums, _ := filepath.Glob(filepath.Join(dir, "*.sum"))
	if len(segs) != 2 || len(sums) != 2 {
		t.Fatalf("after retention: %d segments, %d rollups; want 2 and 2", len(segs), len(sums))
	}
	for _, r := range searchAll(t, s, Filter{AllTenants: true}) {
		if r.Time < t0.Add(time.Hour).UnixNano() {
			t.Fatalf("record of a deleted hour still found: %v", time.Unix(0, r.Time))
		}
	}
	after, _ := s.MonthlyCounts(t0)
	if !reflect.DeepEqual(monthly, after) {
		t.Errorf("monthly counts changed by retention:\nbefore %+v\nafter  %+v", monthly, after)
	}
	clk.Set(t0.Add(4*time.Hour + 48*time.Hour))
	s.maintain(clk.Now())
	if st := s.Stats(); st.Parts != 0 || st.DeletedParts != 3 {
		t.Errorf("stats after full retention = %+v", st)
	}
}

func TestStoreSuspectHook(t *testing.T) {
	clk := &fakeClock{t: t0.Add(time.Hour)}
	events := make(chan SuspectEvent, 10)
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{Suspect: SuspectOptions{
		Threshold: 3,
		Window:    time.Hour,
		Notify:    func(ev SuspectEvent) { events <- ev },
	}})
	hit := func(off time.Duration, client string) Record {
		r := rec(off, "org-a", client, "cnc.evil.example", Blocked)
		r.Category = "Malware"
		return r
	}
	var batch []Record
	for i := 0; i < 6; i++ {
		batch = append(batch, hit(time.Duration(i)*time.Minute, "10.9.9.9"))
	}
	batch = append(batch, hit(0, "10.8.8.8"), hit(time.Minute, "10.8.8.8")) // below threshold
	// The next window counts afresh.
	batch = append(batch, hit(61*time.Minute, "10.9.9.9"), hit(62*time.Minute, "10.9.9.9"), hit(63*time.Minute, "10.9.9.9"))
	writeAll(t, s, batch)
	if err := s.Close(); err != nil { // delivers queued notifications
		t.Fatal(err)
	}
	close(events)
	var got []SuspectEvent
	for ev := range events {
		got = append(got, ev)
	}
	if len(got) != 2 {
		t.Fatalf("got %d notifications, want 2 (once per client and window): %+v", len(got), got)
	}
	ev := got[0]
	if ev.Tenant != "org-a" || ev.Client != netip.MustParseAddr("10.9.9.9") || ev.Hits != 3 || !ev.WindowStart.Equal(t0) ||
		!ev.Time.Equal(t0.Add(2*time.Minute)) || ev.QName != "cnc.evil.example" {
		t.Errorf("first notification = %+v", ev)
	}
	if !got[1].WindowStart.Equal(t0.Add(time.Hour)) {
		t.Errorf("second notification window = %v", got[1].WindowStart)
	}
}

// TestStoreFailedBatchIsUndone makes the second of two parts written by a
// batch fail: the first part's block is cut back, the broken part is sealed
// at its last good length, and the retried batch is stored exactly once.
func TestStoreFailedBatchIsUndone(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0.Add(90 * time.Minute)}
	s := openTestStore(t, dir, clk, StoreOptions{})
	writeAll(t, s, []Record{
		rec(10*time.Minute, "org-a", "10.0.0.1", "first.example", Allowed),
		rec(70*time.Minute, "org-a", "10.0.0.1", "second.example", Allowed),
	})
	s.mu.Lock()
	s.open[t0.Add(time.Hour).UnixNano()].f.Close() // the disk under hour 11 fails
	s.mu.Unlock()

	batch := []Record{
		rec(20*time.Minute, "org-a", "10.0.0.1", "retry-a.example", Blocked),
		rec(80*time.Minute, "org-a", "10.0.0.1", "retry-b.example", Blocked),
	}
	if err := s.WriteBatch(append([]Record(nil), batch...)); err == nil {
		t.Fatal("WriteBatch into a failed file reported success")
	}
	if got := searchAll(t, s, Filter{Tenant: "org-a"}); len(got) != 2 {
		t.Fatalf("a failed batch left %d records visible, want the 2 earlier ones", len(got))
	}
	if err := s.WriteBatch(append([]Record(nil), batch...)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := searchAll(t, s, Filter{Tenant: "org-a"})
	if len(got) != 4 {
		t.Fatalf("after retry %d records, want 4", len(got))
	}
	top, _ := s.TopBlocked("org-a", t0, t0.Add(2*time.Hour), 10)
	if len(top) != 2 || top[0].Count != 1 || top[1].Count != 1 {
		t.Errorf("blocked counts after retry = %+v, want each name once", top)
	}
	s.Close()
	s = openTestStore(t, dir, clk, StoreOptions{})
	defer s.Close()
	if got := searchAll(t, s, Filter{Tenant: "org-a"}); len(got) != 4 {
		t.Errorf("after restart %d records, want 4", len(got))
	}
	tot, _ := s.Totals(t0, t0.Add(2*time.Hour))
	if len(tot) != 1 || tot[0].Counts.Queries != 4 {
		t.Errorf("totals after restart = %+v", tot)
	}
}

func TestStoreClampsAbsurdTimes(t *testing.T) {
	clk := &fakeClock{t: t0}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	r := rec(0, "org-a", "10.0.0.1", "a.example", Allowed)
	r.Time = 0
	writeAll(t, s, []Record{r})
	got := searchAll(t, s, Filter{Tenant: "org-a"})
	if len(got) != 1 || got[0].Time != t0.UnixNano() || s.Stats().ClampedTimes != 1 {
		t.Errorf("record with time 0 stored as %+v (stats %+v)", got, s.Stats())
	}
}

func TestStoreClosed(t *testing.T) {
	clk := &fakeClock{t: t0}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	s.Close()
	if err := s.WriteBatch([]Record{rec(0, "a", "10.0.0.1", "x.example", Allowed)}); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteBatch after Close: %v", err)
	}
	if _, err := s.Search(context.Background(), Filter{Tenant: "a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
