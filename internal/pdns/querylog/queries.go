package querylog

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Point is one step of a Series.
type Point struct {
	Start  time.Time // start of the step (UTC)
	Counts Counts
}

// TenantCounts is the number of queries of one tenant.
type TenantCounts struct {
	Tenant string // "" collects queries from unknown clients (refused)
	Counts Counts
}

// DomainCount is a blocked name and how often it was blocked.
type DomainCount struct {
	Domain   string
	Count    uint64
	Category string // category of the rule that blocked it most recently
}

// SuspectedClient is a client that queried c2 or malware names.
type SuspectedClient struct {
	Tenant  string
	Client  netip.Addr
	C2      uint64    // queries of "c2" names
	Malware uint64    // queries of "malware" names
	First   time.Time // first such query in the range
	Last    time.Time // last such query in the range
}

const (
	maxSeriesPoints = 10_000
	maxTopBlocked   = 1_000
)

func checkRange(from, to time.Time) error {
	if from.IsZero() || to.IsZero() {
		return fmt.Errorf("querylog: %w: from and to are required", ErrInvalid)
	}
	if !from.Before(to) {
		return fmt.Errorf("querylog: %w: from must be before to", ErrInvalid)
	}
	return nil
}

// sectionKey names one tenant's section of a sealed part's rollup file.
type sectionKey struct {
	part   partKey
	tenant string
}

// tenantView is one tenant's rollup in one part.
type tenantView struct {
	hour   int64
	tenant string
	totals Counts                      // the whole hour
	threat uint64                      // c2 and malware queries in the hour
	detail func() (*tenantRoll, error) // minutes, blocked names, suspects
}

// visitTenants calls fn for every tenant (all = true) or for one tenant in
// every part whose hour overlaps [from, to). Views of open parts are visited
// under the store lock: fn must be quick and must not call the Store. For
// sealed parts, detail reads the tenant's section from disk (cached).
func (s *Store) visitTenants(from, to int64, tenant string, all bool, fn func(v tenantView) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	var sealed []tenantView
	var err error
	for _, m := range s.parts {
		if m.key.hour+hourNs <= from || m.key.hour >= to {
			continue
		}
		if m.open != nil {
			ro := m.open.roll
			for name, tr := range ro.tenants {
				if (all || name == tenant) && err == nil {
					tr := tr
					err = fn(tenantView{hour: ro.hour, tenant: name, totals: tr.total(), threat: tr.threatHits(), detail: func() (*tenantRoll, error) { return tr, nil }})
				}
			}
			continue
		}
		if m.sum == nil {
			continue
		}
		ps, name := m.sum, m.name // ps is immutable; a rebuild replaces m.sum
		add := func(tenant string, ts *tenantSummary) {
			key := sectionKey{m.key, tenant}
			sealed = append(sealed, tenantView{hour: ps.hour, tenant: tenant, totals: ts.totals, threat: ts.threat, detail: func() (*tenantRoll, error) {
				return s.section(name, ps, key, ts)
			}})
		}
		if all {
			for name, ts := range m.sum.tenants {
				add(name, ts)
			}
		} else if ts := m.sum.tenants[tenant]; ts != nil {
			add(tenant, ts)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, v := range sealed {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// section returns a tenant's section of a sealed part, from the cache or
// the rollup file. A damaged file is rebuilt from the segment.
func (s *Store) section(name string, ps *partSummary, key sectionKey, ts *tenantSummary) (*tenantRoll, error) {
	if ts.mem != nil {
		return ts.mem, nil
	}
	if tr, ok := s.sections.get(key); ok {
		return tr, nil
	}
	f, err := os.Open(filepath.Join(s.dir, name+".sum"))
	if errors.Is(err, fs.ErrNotExist) {
		return &tenantRoll{}, nil // removed by retention since the list was taken
	}
	if err != nil {
		return nil, fmt.Errorf("querylog: open rollup file: %w", err)
	}
	defer f.Close()
	tr, err := readSection(f, ps, ts)
	if errors.Is(err, errCorrupt) {
		return s.rebuildSection(name, key, err)
	}
	if err != nil {
		return nil, err
	}
	s.sections.put(key, tr)
	return tr, nil
}

// rebuildSection recounts a part whose rollup file is damaged and returns
// the asked tenant's section from the new rollup.
func (s *Store) rebuildSection(name string, key sectionKey, cause error) (*tenantRoll, error) {
	s.log.Warn("querylog: damaged rollup file rebuilt from its segment", "file", name, "err", cause)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	meta := s.parts[key.part]
	if meta == nil {
		return &tenantRoll{}, nil // removed by retention
	}
	if err := s.recoverPart(meta); err != nil {
		return nil, err
	}
	if meta.sum == nil {
		return &tenantRoll{}, nil
	}
	ts := meta.sum.tenants[key.tenant]
	if ts == nil {
		return &tenantRoll{}, nil
	}
	if ts.mem != nil {
		return ts.mem, nil
	}
	if tr, ok := s.sections.get(key); ok {
		return tr, nil
	}
	return nil, fmt.Errorf("querylog: rollup of %s unavailable after rebuild", meta.name)
}

// minuteRange returns the minutes of a part's hour that fall in [from, to).
func minuteRange(hour, from, to int64) (lo, hi int) {
	lo, hi = 0, 60
	if from > hour {
		lo = int((from - hour + 60e9 - 1) / 60e9)
	}
	if to < hour+hourNs {
		hi = int((to - hour + 60e9 - 1) / 60e9)
	}
	return max(lo, 0), min(hi, 60)
}

// Series returns the queries of a tenant in steps of step from from to to,
// one Point per step (the last may be shorter). step is a whole number of
// minutes, the rollups' resolution. tenant "" means all tenants together,
// for the office view; agency callers must pass their organization ID.
func (s *Store) Series(tenant string, from, to time.Time, step time.Duration) ([]Point, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	if step < time.Minute || step%time.Minute != 0 {
		return nil, fmt.Errorf("querylog: %w: step must be a whole number of minutes", ErrInvalid)
	}
	n := (to.Sub(from) + step - 1) / step
	if n > maxSeriesPoints {
		return nil, fmt.Errorf("querylog: %w: %d points requested, at most %d", ErrInvalid, n, maxSeriesPoints)
	}
	pts := make([]Point, n)
	for i := range pts {
		pts[i].Start = from.Add(time.Duration(i) * step).UTC()
	}
	f, t, st := from.UnixNano(), to.UnixNano(), int64(step)
	err := s.visitTenants(f, t, tenant, tenant == "", func(v tenantView) error {
		if v.hour >= f && v.hour+hourNs <= t && (v.hour-f)/st == (v.hour+hourNs-1-f)/st {
			pts[(v.hour-f)/st].Counts.Add(v.totals) // the whole hour falls in one step
			return nil
		}
		tr, err := v.detail()
		if err != nil {
			return err
		}
		lo, hi := minuteRange(v.hour, f, t)
		for m := lo; m < hi; m++ {
			if tr.minutes[m].Queries > 0 {
				pts[(v.hour+int64(m)*60e9-f)/st].Counts.Add(tr.minutes[m])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pts, nil
}

// Totals returns the queries of every tenant in [from, to), for the office
// view, sorted by tenant. Resolution is one minute.
func (s *Store) Totals(from, to time.Time) ([]TenantCounts, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	f, t := from.UnixNano(), to.UnixNano()
	sum := make(map[string]*Counts)
	err := s.visitTenants(f, t, "", true, func(v tenantView) error {
		c := sum[v.tenant]
		if c == nil {
			c = &Counts{}
			sum[v.tenant] = c
		}
		if v.hour >= f && v.hour+hourNs <= t {
			c.Add(v.totals)
			return nil
		}
		tr, err := v.detail()
		if err != nil {
			return err
		}
		lo, hi := minuteRange(v.hour, f, t)
		for m := lo; m < hi; m++ {
			c.Add(tr.minutes[m])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]TenantCounts, 0, len(sum))
	for name, c := range sum {
		if c.Queries > 0 {
			out = append(out, TenantCounts{Tenant: name, Counts: *c})
		}
	}
	slices.SortFunc(out, func(a, b TenantCounts) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out, nil
}

// TopBlocked returns the n names most often blocked for a tenant in the
// hours overlapping [from, to), most blocked first. The resolution is one
// hour: an hour partly inside the range counts whole. Each hour keeps its
// 256 most blocked names per tenant, so a count is exact for a name that is
// in every hour's list and a lower bound otherwise. tenant "" means all
// tenants together, for the office view.
func (s *Store) TopBlocked(tenant string, from, to time.Time, n int) ([]DomainCount, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	if n < 1 || n > maxTopBlocked {
		return nil, fmt.Errorf("querylog: %w: n must be between 1 and %d", ErrInvalid, maxTopBlocked)
	}
	type acc struct {
		count    uint64
		category string
		hour     int64
	}
	sum := make(map[string]*acc)
	add := func(hour int64, tr *tenantRoll) {
		for name, e := range tr.top {
			a := sum[name]
			if a == nil {
				a = &acc{}
				sum[name] = a
			}
			a.count += e.count
			if hour >= a.hour {
				a.category, a.hour = e.category, hour
			}
		}
	}
	err := s.visitTenants(from.UnixNano(), to.UnixNano(), tenant, tenant == "", func(v tenantView) error {
		if v.totals.Blocked() == 0 {
			return nil
		}
		tr, err := v.detail()
		if err != nil {
			return err
		}
		add(v.hour, tr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]DomainCount, 0, len(sum))
	for name, a := range sum {
		out = append(out, DomainCount{Domain: name, Count: a.count, Category: a.category})
	}
	slices.SortFunc(out, func(a, b DomainCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Domain, b.Domain)
	})
	return out[:min(n, len(out))], nil
}

// SuspectedClients returns the clients of a tenant that queried names of
// the "c2" or "malware" categories in the hours overlapping [from, to), most
// hits first. The resolution is one hour. tenant "" means all tenants, for
// the office view.
func (s *Store) SuspectedClients(tenant string, from, to time.Time) ([]SuspectedClient, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	type key struct {
		tenant string
		client netip.Addr
	}
	sum := make(map[key]*SuspectedClient)
	add := func(name string, tr *tenantRoll) {
		for a, st := range tr.suspects {
			k := key{name, a}
			c := sum[k]
			if c == nil {
				c = &SuspectedClient{Tenant: name, Client: a, First: time.Unix(0, st.first).UTC(), Last: time.Unix(0, st.last).UTC()}
				sum[k] = c
			}
			c.C2 += st.c2
			c.Malware += st.malware
			if f := time.Unix(0, st.first).UTC(); f.Before(c.First) {
				c.First = f
			}
			if l := time.Unix(0, st.last).UTC(); l.After(c.Last) {
				c.Last = l
			}
		}
	}
	err := s.visitTenants(from.UnixNano(), to.UnixNano(), tenant, tenant == "", func(v tenantView) error {
		if v.threat == 0 {
			return nil
		}
		tr, err := v.detail()
		if err != nil {
			return err
		}
		add(v.tenant, tr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]SuspectedClient, 0, len(sum))
	for _, c := range sum {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b SuspectedClient) int {
		if c := cmp.Compare(b.C2+b.Malware, a.C2+a.Malware); c != 0 {
			return c
		}
		if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		return a.Client.Compare(b.Client)
	})
	return out, nil
}

// MonthlyCounts returns the queries of every tenant in the calendar month
// (UTC) that contains month, for chargeback metering, sorted by tenant.
// Counts survive segment retention: they are kept for StoreOptions.MonthsKept
// months.
func (s *Store) MonthlyCounts(month time.Time) ([]TenantCounts, error) {
	if month.IsZero() {
		return nil, fmt.Errorf("querylog: %w: month is required", ErrInvalid)
	}
	mk := monthKey(month)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	sum := make(map[string]Counts)
	for t, c := range s.book.Months[mk] {
		sum[t] = c
	}
	// Open parts are booked when sealed; add them live.
	for _, p := range s.open {
		if monthKey(time.Unix(0, p.roll.hour)) != mk {
			continue
		}
		for t, c := range p.roll.totals() {
			cur := sum[t]
			cur.Add(c)
			sum[t] = cur
		}
	}
	out := make([]TenantCounts, 0, len(sum))
	for t, c := range sum {
		out = append(out, TenantCounts{Tenant: t, Counts: c})
	}
	slices.SortFunc(out, func(a, b TenantCounts) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out, nil
}
