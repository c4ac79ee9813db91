package pdns

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/feed"
	"github.com/qsmo/qsmo/internal/pdns/resolver"
)

// Feed numbers of the shared list's rules: 0 is none, 1 the office's
// global blocks, feeds from 2 on, assigned on first sight and kept for the
// life of the process.
const (
	globalFeedNum = 1
	firstFeedNum  = 2
	// GlobalFeedName is what the query log names the office's global
	// blocks as.
	GlobalFeedName = "office blocks"
	// bigList is the list size from which memory is returned to the
	// system after a rebuild.
	bigList = 100_000
)

// feedNum returns the rule number of a feed, assigning one on first use.
func (n *Node) feedNum(fid string) (uint16, error) {
	if num, ok := n.feedNums[fid]; ok {
		return num, nil
	}
	if n.nextFeedNum == 0 { // wrapped around
		return 0, fmt.Errorf("pdns: more than %d feeds since the start", 1<<16-firstFeedNum)
	}
	num := n.nextFeedNum
	n.feedNums[fid] = num
	n.nextFeedNum++
	return num, nil
}

// releaseMemory returns the garbage of a large list build to the system,
// so the resident size shows what the lists keep rather than twice that
// until the heap grows into it. Call it when the feed entries of the build
// are no longer referenced. Returning every free page at once holds the
// processor for tens of milliseconds without a pause (the runtime does it
// in one piece), so while queries arrive the node leaves the pages to the
// runtime's background scavenger, which returns them bit by bit.
func (n *Node) releaseMemory() {
	if n.bigBuild {
		n.bigBuild = false
		if !n.engine.Busy() {
			debug.FreeOSMemory()
		}
	}
}

// pauseGC turns the garbage collector off for a large rebuild and returns
// the function that turns it on again once the new snapshot is installed.
// The build makes short-lived garbage only, and collecting while the list
// grows would cost more than the memory it frees. Worse, on a busy node
// with one core, a collection that starts while the loop still allocates
// makes the loop assist it for many milliseconds without a pause, and the
// queries wait; so while queries arrive the loop waits for one collection
// at the end, allocating nothing, and the collector's own workers (which
// give way to the network) do the marking.
func (n *Node) pauseGC() func() {
	prev := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(prev)
		if n.engine.Busy() {
			runtime.GC()
		}
	}
}

func entryCount(replace map[string][]feed.Entry) int {
	total := 0
	for _, entries := range replace {
		total += len(entries)
	}
	return total
}

// rebuild installs a new snapshot built from n.st. replace holds new
// versions of some feeds; the list is rebuilt when they are given, when
// the feeds or global blocks changed, or when all is set; otherwise only
// the tenants change and the current list is reused.
func (n *Node) rebuild(replace map[string][]feed.Entry, all bool) error {
	cats := map[uint16]uint32{}
	names := []string{"", GlobalFeedName}
	var sig strings.Builder
	for _, f := range n.st.Feeds {
		if !f.Enabled {
			continue
		}
		num, err := n.feedNum(f.ID)
		if err != nil {
			n.log.Error("dns: feed left out", "feed", f.Name, "err", err)
			continue
		}
		c, ok := CategoryByName(f.Category)
		if !ok {
			continue
		}
		cats[num] = 1 << c.Bit
		for len(names) <= int(num) {
			names = append(names, "")
		}
		names[num] = f.Name
		fmt.Fprintf(&sig, "%d=%d;", num, c.Bit)
	}
	globals := make([]string, 0, len(n.st.Global))
	for _, g := range n.st.Global {
		globals = append(globals, g.Name)
	}
	sort.Strings(globals)
	sig.WriteString(strings.Join(globals, ","))

	var listTime time.Duration
	if all || n.list == nil || len(replace) > 0 || sig.String() != n.listSig {
		if n.list.Len()+entryCount(replace) >= bigList {
			defer n.pauseGC()()
		}
		start := time.Now()
		l, skipped, err := n.buildList(replace, cats)
		if err != nil {
			n.metrics.buildFailed()
			return err
		}
		listTime = time.Since(start)
		if skipped > 0 {
			n.log.Warn("dns: list entries left out", "skipped", skipped)
		}
		n.list, n.listSig, n.listTime = l, sig.String(), listTime
		inList := map[string]bool{}
		for _, f := range n.st.Feeds {
			if _, replaced := replace[f.ID]; f.Enabled && (n.inList[f.ID] || replaced) {
				inList[f.ID] = true
			}
		}
		n.inList = inList
		n.log.Info("dns: shared list built", "names", l.Len(), "seconds", listTime.Seconds())
		// Building a large list leaves as much garbage as the list itself
		// (and the feed entries it came from); the loop gives it back to
		// the system once it has dropped them.
		n.bigBuild = l.Len() >= bigList
	}
	snap, err := n.snapshot(names, listTime)
	if err != nil {
		n.metrics.buildFailed()
		return err
	}
	n.engine.SetSnapshot(snap)
	n.metrics.built(n.st.Version, listTime)
	return nil
}

// buildList makes the shared list: the rules of the current list for
// feeds that are still on and not replaced (with their current category),
// the entries of the replaced feeds, and the office's global blocks. The
// current list is the store of every feed's entries, so no copy of them is
// kept beside it.
func (n *Node) buildList(replace map[string][]feed.Entry, cats map[uint16]uint32) (*blocklist.List, int, error) {
	replaced := map[uint16]bool{}
	size := n.list.Len() + len(n.st.Global)
	for fid, entries := range replace {
		if num, ok := n.feedNums[fid]; ok {
			replaced[num] = true
			size += len(entries)
		}
	}
	b := blocklist.NewBuilder(size)
	// On a busy node with few cores, building a million names must not
	// keep queries waiting for a whole scheduler time slice.
	b.Yield = n.engine.Yield
	skipped, added := 0, 0
	pace := func() {
		if added++; added&2047 == 0 {
			n.engine.Yield()
		}
	}
	n.list.Each(func(name string, r *blocklist.Rule) bool {
		pace()
		if r.Feed == globalFeedNum || replaced[r.Feed] {
			return true
		}
		cat, ok := cats[r.Feed]
		if !ok {
			return true // the feed was turned off or removed
		}
		rule := *r
		rule.Category = cat
		if err := b.Add(name, rule); err != nil {
			skipped++
		}
		return true
	})
	for fid, entries := range replace {
		num, ok := n.feedNums[fid]
		cat := cats[num]
		if !ok || cat == 0 {
			continue
		}
		for _, e := range entries {
			pace()
			if err := b.AddEntry(num, cat, e); err != nil {
				skipped++
			}
		}
	}
	for _, g := range n.st.Global {
		if err := b.Add(g.Name, blocklist.Rule{Feed: globalFeedNum, Category: 1 << globalBit, Action: blocklist.Block}); err != nil {
			skipped++
		}
	}
	l, err := b.Build()
	if err != nil {
		return nil, 0, fmt.Errorf("pdns: build shared list: %w", err)
	}
	return l, skipped, nil
}

// snapshot builds the engine snapshot. A tenant the engine refuses is left
// out with an error in the log, so that one agency's bad data never holds
// back every other agency's changes.
func (n *Node) snapshot(feedNames []string, listTime time.Duration) (*resolver.Snapshot, error) {
	tenants, problems := BuildTenants(n.st, n.cfg.Demo)
	for _, p := range problems {
		n.log.Warn("dns: policy repaired", "problem", p)
	}
	cfg := resolver.SnapshotConfig{List: n.list, Feeds: feedNames, Categories: categoryNames(), Global: 1 << globalBit,
		Tenants: tenants, ListLoadTime: listTime}
	snap, err := resolver.NewSnapshot(cfg)
	if err == nil {
		return snap, nil
	}
	good := tenants[:0:0]
	for _, t := range tenants {
		if _, err := resolver.NewSnapshot(resolver.SnapshotConfig{Categories: cfg.Categories, Tenants: []resolver.TenantConfig{t}}); err != nil {
			n.log.Error("dns: agency left out of the resolver policy", "org_id", t.ID, "err", err)
			continue
		}
		good = append(good, t)
	}
	cfg.Tenants = good
	return resolver.NewSnapshot(cfg)
}

// syncScheduler makes the feed scheduler match the enabled feeds: a new
// scheduler when the set of feeds or their sources changed (each feed
// resumes from its last good version), and an immediate refresh of feeds
// the office asked to refresh.
func (n *Node) syncScheduler() {
	var configs []feed.Config
	var sig strings.Builder
	enabled := map[string]Feed{}
	for _, f := range n.st.Feeds {
		if !f.Enabled {
			continue
		}
		format, err := feed.ParseFormat(f.Format)
		if err != nil {
			n.log.Error("dns: feed left out", "feed", f.Name, "err", err)
			continue
		}
		c := feed.Config{Name: f.ID, Source: sourcePath(f.Source, n.feedsDir()), Format: format, Interval: f.Interval}
		if _, err := feed.NewFeed(c, nil, nil); err != nil {
			n.log.Error("dns: feed left out", "feed", f.Name, "err", err)
			continue
		}
		configs = append(configs, c)
		enabled[f.ID] = f
		fmt.Fprintf(&sig, "%s|%s|%s|%s;", f.ID, f.Source, f.Format, f.Interval)
	}
	for fid := range n.versions {
		if _, ok := n.feedByID(fid); !ok {
			delete(n.versions, fid) // removed: its kept version goes too
			_ = removeFile(feedCachePath(n.cacheDir(), fid))
		}
	}
	if sig.String() != n.schedSig || n.sched == nil {
		s, err := feed.NewScheduler(configs, n.onFeedUpdate, feed.SchedulerOptions{Logger: n.log})
		if err != nil {
			n.log.Error("dns: feed scheduler", "err", err)
			return
		}
		for _, c := range configs {
			f := enabled[c.Name]
			if v, ok := n.versions[c.Name]; ok && v.Source == f.Source && v.Format == f.Format {
				s.Feed(c.Name).Restore(v.Version)
			}
		}
		if n.sched != nil {
			n.sched.Stop()
		}
		n.sched, n.schedSig = s, sig.String()
		if err := s.Start(n.schedCtx); err != nil {
			n.log.Error("dns: start feed scheduler", "err", err)
		}
		for fid, f := range enabled {
			n.refreshSeen[fid] = f.RefreshSeq // a new scheduler fetches every feed at once
		}
		return
	}
	for fid, f := range enabled {
		if f.RefreshSeq > n.refreshSeen[fid] {
			n.refreshSeen[fid] = f.RefreshSeq
			if err := n.sched.RefreshNow(fid); err != nil {
				n.log.Warn("dns: refresh feed now", "feed", f.Name, "err", err)
			}
		}
	}
}
