package pdns

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/pdns/feed"
)

func TestFeedCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a, _ := dns.NewRR("garden.example. 300 IN A 192.0.2.1")
	txt, _ := dns.NewRR(`garden.example. 300 IN TXT "blocked by policy; see\ttab" "two"`)
	c := cachedFeed{FeedID: "fed_x", Source: "vendor.rpz", Format: "rpz",
		Version: feed.Version{Validators: feed.Validators{ETag: `"v1"`, ModTime: time.Unix(1700000000, 0).UTC(), Size: 42}, Hash: "ab", Entries: 3, Format: feed.FormatRPZ, FetchedAt: time.Unix(1700000001, 0).UTC()},
		Entries: []feed.Entry{
			{Name: "bad.example", Exact: true, Subdomains: true, Action: feed.Block},
			{Name: "wild.example", Subdomains: true, Action: feed.NXDomain},
			{Name: "garden.example", Exact: true, Action: feed.LocalData, Local: []dns.RR{a, txt}},
		}}
	if err := writeFeedCache(dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := readFeedCache(feedCachePath(dir, "fed_x"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != c.Source || got.Format != c.Format || got.Version.ETag != `"v1"` || !got.Version.ModTime.Equal(c.Version.ModTime) || got.Version.Entries != 3 {
		t.Fatalf("header %+v", got)
	}
	if len(got.Entries) != 3 {
		t.Fatalf("entries %+v", got.Entries)
	}
	for i, e := range got.Entries {
		w := c.Entries[i]
		if e.Name != w.Name || e.Exact != w.Exact || e.Subdomains != w.Subdomains || e.Action != w.Action || len(e.Local) != len(w.Local) {
			t.Fatalf("entry %d: %+v, want %+v", i, e, w)
		}
		for j := range e.Local {
			if e.Local[j].String() != w.Local[j].String() {
				t.Fatalf("record %s, want %s", e.Local[j], w.Local[j])
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

// A file cut short (a crash while writing, a full disk) or edited by hand
// is not used: the feed is fetched again instead.
func TestFeedCacheRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	c := cachedFeed{FeedID: "fed_y", Source: "x.txt", Format: "plain", Entries: []feed.Entry{{Name: "a.example", Exact: true, Subdomains: true, Action: feed.Block}, {Name: "b.example", Exact: true, Subdomains: true, Action: feed.Block}}}
	if err := writeFeedCache(dir, c); err != nil {
		t.Fatal(err)
	}
	path := feedCachePath(dir, "fed_y")
	full, _ := os.ReadFile(path)
	for name, body := range map[string][]byte{
		"cut":          full[:len(full)-10],
		"no end":       full[:len(full)-len("end 2\n")],
		"wrong count":  append(append([]byte{}, full[:len(full)-len("end 2\n")]...), "end 3\n"...),
		"bad action":   []byte(feedCacheMagic + "\n{}\n9es a.example\nend 1\n"),
		"record first": []byte(feedCacheMagic + "\n{}\n\ta.example. 1 IN A 192.0.2.1\nend 0\n"),
		"other format": []byte("qsmo-feed-cache 2\n{}\nend 0\n"),
		"bad header":   []byte(feedCacheMagic + "\n{\nend 0\n"),
		"bad record":   []byte(feedCacheMagic + "\n{}\n2e- a.example\n\tnot a record\nend 1\n"),
		"empty":        nil,
	} {
		p := filepath.Join(dir, "damaged")
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readFeedCache(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
