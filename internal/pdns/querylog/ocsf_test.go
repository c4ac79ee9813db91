package querylog

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ocsfSamples covers every action, transport and address family.
func ocsfSamples() []Record {
	base := time.Date(2026, 3, 14, 15, 9, 26, 535_897_000, time.UTC).UnixNano()
	mk := func(i int, f func(r *Record)) Record {
		r := Record{Time: base + int64(i)*1e9, Tenant: "org-7f3a", QType: 1, QClass: 1, Latency: 1234}
		r.Client = netip.MustParseAddr("192.0.2.10")
		r.SetQNameString("www.example.com.")
		f(&r)
		return r
	}
	return []Record{
		mk(0, func(r *Record) { r.Action, r.Cache, r.Upstream = Allowed, Miss, "quad9-dot" }),
		mk(1, func(r *Record) {
			r.Action, r.Cache, r.Transport, r.RCode = Blocked, None, DoH, 3
			r.Rule, r.Feed, r.Category = "evil.example", "CISA AIS", "c2"
			r.SetQNameString("beacon.evil.example.")
			r.QType = 16
		}),
		mk(2, func(r *Record) {
			r.Action, r.Cache, r.Transport = Sinkholed, None, DoT
			r.Rule, r.Feed, r.Category = "dropper.example", "agency deny list", "malware"
			r.SetQNameString("cdn.dropper.example")
			r.Client = netip.MustParseAddr("2001:db8::42")
			r.QType = 28
		}),
		mk(3, func(r *Record) {
			r.Action, r.Cache, r.Transport, r.RCode, r.Tenant = Refused, None, TCP, 5, ""
			r.Client = netip.MustParseAddr("198.51.100.77")
		}),
		mk(4, func(r *Record) { r.Action, r.Cache, r.Transport, r.RCode = RateLimited, None, UDP, 5 }),
		mk(5, func(r *Record) {
			r.Action, r.Cache, r.Transport, r.RCode, r.Upstream = Failed, Miss, DoQ, 2, "resolver-b"
			r.Client = netip.MustParseAddr("::ffff:10.1.2.3")
		}),
		mk(6, func(r *Record) {
			r.Action, r.Cache, r.RCode = LocalData, None, 0
			r.SetQNameString("intranet.agency.example")
			r.QType, r.QClass = 65280, 0
		}),
		mk(7, func(r *Record) {
			r.Action, r.Cache, r.RCode = Allowed, Stale, 3841
			r.Rule, r.Category = "", "nrd" // category without a rule: no firewall_rule
		}),
	}
}

func TestOCSFGolden(t *testing.T) {
	var buf bytes.Buffer
	enc := NewNDJSONEncoder(&buf)
	for _, r := range ocsfSamples() {
		if err := enc.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ocsf_dns_activity.golden.ndjson")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("OCSF output differs from %s (go test -run TestOCSFGolden -update to accept):\n%s", golden, buf.String())
	}
}

// TestOCSFInvariants checks schema rules on every sample rather than only
// the bytes: the type_uid formula, the required attributes, the enums.
func TestOCSFInvariants(t *testing.T) {
	for _, r := range ocsfSamples() {
		line, err := json.Marshal(OCSF(&r))
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		json.Unmarshal(line, &ev)
		num := func(k string) int { v, _ := ev[k].(float64); return int(v) }
		if num("type_uid") != num("class_uid")*100+num("activity_id") || num("class_uid") != 4003 || num("category_uid") != 4 {
			t.Errorf("%s: class/type ids wrong: %s", r.Action, line)
		}
		for _, k := range []string{"time", "severity_id", "metadata", "query", "rcode_id", "disposition_id", "action_id"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("%s: required or recommended attribute %q missing", r.Action, k)
			}
		}
		if md := ev["metadata"].(map[string]any); md["version"] != "1.8.0" {
			t.Errorf("metadata.version = %v", md["version"])
		}
		if int64(num("time")) != r.Time/1e6 {
			t.Errorf("time is not milliseconds: %v", ev["time"])
		}
		blocked := r.Action.IsBlock()
		if blocked != (num("disposition_id") == 2) || blocked != (ev["firewall_rule"] != nil) {
			t.Errorf("%s: disposition %d firewall_rule %v", r.Action, num("disposition_id"), ev["firewall_rule"])
		}
	}
}

func TestOCSFRCodeClasses(t *testing.T) {
	tests := []struct {
		rc   uint16
		id   int
		name string
	}{
		{0, 0, "NoError"}, {3, 3, "NXDomain"}, {11, 11, "DSOTYPENI"}, {12, 24, "Unassigned"},
		{16, 16, "BADSIG_VERS"}, {23, 23, "BADCOOKIE"}, {24, 24, "Unassigned"}, {3840, 24, "Unassigned"},
		{3841, 25, "Reserved"}, {4095, 25, "Reserved"}, {4096, 24, "Unassigned"}, {65535, 25, "Reserved"},
	}
	for _, tt := range tests {
		if id, name := ocsfRCode(tt.rc); id != tt.id || name != tt.name {
			t.Errorf("rcode %d -> %d %q, want %d %q", tt.rc, id, name, tt.id, tt.name)
		}
	}
}

func TestStreamNDJSONFollowsPages(t *testing.T) {
	clk := &fakeClock{t: t0.Add(3 * time.Hour)}
	s := openTestStore(t, t.TempDir(), clk, StoreOptions{})
	defer s.Close()
	all := fixture()
	writeAll(t, s, all)
	var buf bytes.Buffer
	f := Filter{Tenant: "org-b", Limit: 5}
	n, err := StreamNDJSON(context.Background(), &buf, s, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := countWhere(all, func(r *Record) bool { return r.Tenant == "org-b" })
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if n != want || len(lines) != want {
		t.Fatalf("streamed %d records in %d lines, want %d", n, len(lines), want)
	}
	for _, l := range lines {
		var ev OCSFEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Metadata.TenantUID != "org-b" {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	buf.Reset()
	if n, err := StreamNDJSON(context.Background(), &buf, s, f, 12); err != nil || n != 12 || strings.Count(buf.String(), "\n") != 12 {
		t.Errorf("limited stream wrote %d records, %d lines, err %v", n, strings.Count(buf.String(), "\n"), err)
	}
}
