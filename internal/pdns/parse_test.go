package pdns

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/pdns/resolver"
)

func TestSplitList(t *testing.T) {
	got := SplitList("198.51.100.0/24, 2001:db8::/48\n# a comment\n  192.0.2.7 # the VPN\r\nexample.com;example.org\texample.net")
	want := []string{"198.51.100.0/24", "2001:db8::/48", "192.0.2.7", "example.com", "example.org", "example.net"}
	if !slices.Equal(got, want) {
		t.Fatalf("SplitList = %q, want %q", got, want)
	}
}

func TestParseNetworks(t *testing.T) {
	cases := []struct {
		name    string
		in      []string
		kind    NetworkKind
		want    []string
		problem string // part of the error, "" for none
	}{
		{"networks and single addresses, sorted", []string{"203.0.113.0/24", "192.0.2.7", "2001:db8::/48"}, Egress,
			[]string{"192.0.2.7/32", "203.0.113.0/24", "2001:db8::/48"}, ""},
		{"duplicates once", []string{"192.0.2.0/24", "192.0.2.0/24"}, Egress, []string{"192.0.2.0/24"}, ""},
		{"IPv4-mapped unmapped", []string{"::ffff:192.0.2.0/120"}, Egress, []string{"192.0.2.0/24"}, ""},
		{"blanks ignored", []string{"", "  "}, Egress, nil, ""},
		{"host bits", []string{"192.0.2.7/24"}, Egress, nil, "did you mean 192.0.2.0/24?"},
		{"garbage", []string{"10.0.0.300"}, Egress, nil, "not an IP address or network"},
		{"zone", []string{"fe80::1%eth0"}, Egress, nil, "zone"},
		{"egress too wide", []string{"10.0.0.0/7"}, Egress, nil, "wider than /8"},
		{"egress /0", []string{"::/0"}, Egress, nil, "wider than"},
		{"blocked answers may be wide", []string{"10.0.0.0/7"}, BlockedAnswers, []string{"10.0.0.0/7"}, ""},
		{"blocked answers not everything", []string{"0.0.0.0/0"}, BlockedAnswers, nil, "whole address space"},
		{"nested", []string{"10.0.0.0/8", "10.1.0.0/16"}, Egress, nil, "10.1.0.0/16 lies inside 10.0.0.0/8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseNetworks(c.in, c.kind)
			if c.problem != "" {
				var le *ListError
				if !errors.As(err, &le) || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("error %v, want a list error mentioning %q", err, c.problem)
				}
				if got != nil {
					t.Fatalf("bad input returned %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gs []string
			for _, p := range got {
				gs = append(gs, p.String())
			}
			if !slices.Equal(gs, c.want) {
				t.Fatalf("got %v, want %v", gs, c.want)
			}
		})
	}
}

func TestParseNetworksNamesEveryBadEntry(t *testing.T) {
	_, err := ParseNetworks([]string{"a", "b", "c", "d", "e", "f", "g"}, Egress)
	var le *ListError
	if !errors.As(err, &le) || len(le.Problems) != maxListProblem || le.More != 2 || !strings.Contains(err.Error(), "(and 2 more)") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseDomains(t *testing.T) {
	cases := []struct {
		name    string
		in      []string
		want    []string
		problem string
	}{
		{"normalized and sorted", []string{"WWW.Example.COM.", "*.ads.example", "bücher.example"}, []string{"*.ads.example", "www.example.com", "xn--bcher-kva.example"}, ""},
		{"duplicates once", []string{"example.com", "EXAMPLE.com"}, []string{"example.com"}, ""},
		{"a wildcard TLD on purpose", []string{"*.zip"}, []string{"*.zip"}, ""},
		{"a bare TLD by mistake", []string{"zip"}, nil, "write *.zip if you mean it"},
		{"a URL", []string{"https://evil.example/login"}, nil, "domain name only"},
		{"an inner wildcard", []string{"a.*.example"}, nil, "leading"},
		{"an address", []string{"192.0.2.1"}, nil, "IP address"},
		{"an empty label", []string{"bad..example"}, nil, "empty label"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDomains(c.in)
			if c.problem != "" {
				if err == nil || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("error %v, want one mentioning %q", err, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseDomainsLimit(t *testing.T) {
	names := make([]string, MaxListNames+1)
	for i := range names {
		names[i] = "n" + strings.Repeat("x", i%5) + itoa(i) + ".example"
	}
	if _, err := ParseDomains(names); err == nil || !strings.Contains(err.Error(), "at most 10000") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSinkhole(t *testing.T) {
	for _, c := range []struct {
		in     string
		family int
		want   string
		ok     bool
	}{
		{"", 4, "invalid IP", true}, {"192.0.2.80", 4, "192.0.2.80", true}, {"::ffff:192.0.2.80", 4, "192.0.2.80", true},
		{"2001:db8::80", 6, "2001:db8::80", true}, {"2001:db8::80", 4, "", false}, {"192.0.2.80", 6, "", false},
		{"0.0.0.0", 4, "", false}, {"ff02::1", 6, "", false}, {"block-page", 4, "", false}, {"fe80::1%eth0", 6, "", false},
	} {
		a, err := ParseSinkhole(c.in, c.family)
		if (err == nil) != c.ok || (c.ok && a.String() != c.want) {
			t.Errorf("ParseSinkhole(%q, %d) = %v, %v", c.in, c.family, a, err)
		}
	}
}

// FuzzParseNetworks: whatever is typed, the result is either a clear error
// and nothing, or sorted, distinct, canonical networks that parse back to
// themselves and do not nest.
func FuzzParseNetworks(f *testing.F) {
	for _, s := range []string{"198.51.100.0/24\n2001:db8::/48", "192.0.2.7", "10.0.0.300", "::ffff:1.2.3.4/128", "10.0.0.0/8,10.1.0.0/16", "fe80::1%lo", "0.0.0.0/0"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, blocked bool) {
		kind := Egress
		if blocked {
			kind = BlockedAnswers
		}
		got, err := ParseNetworks(SplitList(text), kind)
		if err != nil {
			if got != nil || err.Error() == "" {
				t.Fatalf("error %v with result %v", err, got)
			}
			return
		}
		for i, p := range got {
			if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("non-canonical %v", p)
			}
			if q, err := netip.ParsePrefix(p.String()); err != nil || q != p {
				t.Fatalf("%v does not parse back: %v", p, err)
			}
			if kind == Egress && (p.Addr().Is4() && p.Bits() < minEgressBits4 || p.Addr().Is6() && p.Bits() < minEgressBits6) {
				t.Fatalf("egress %v too wide", p)
			}
			if i > 0 {
				if comparePrefix(got[i-1], p) >= 0 {
					t.Fatalf("not sorted or duplicated: %v", got)
				}
				for _, q := range got[:i] {
					if q.Overlaps(p) {
						t.Fatalf("%v and %v overlap", q, p)
					}
				}
			}
		}
		again, err := ParseNetworks(func() (s []string) {
			for _, p := range got {
				s = append(s, p.String())
			}
			return
		}(), kind)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("parsing the result again gave %v, %v", again, err)
		}
	})
}

// FuzzParseDomains: a list is refused with a message, or every name is
// normalized, distinct, sorted, acceptable to the engine's list builder and
// unchanged by a second pass.
func FuzzParseDomains(f *testing.F) {
	for _, s := range []string{"example.com\n*.ads.example", "Bücher.Example.", "https://x.example/", "a..b", "*.zip", "zip", "xn--80ak6aa92e.com", "_dmarc.example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := ParseDomains(SplitList(text))
		if err != nil {
			if got != nil {
				t.Fatalf("error with result %q", got)
			}
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("not sorted or duplicated: %q", got)
		}
		for _, n := range got {
			bare := strings.TrimPrefix(n, "*.")
			if bare != strings.ToLower(bare) || strings.HasSuffix(bare, ".") || strings.Contains(bare, "*") || bare == "" {
				t.Fatalf("not canonical: %q", n)
			}
		}
		tenants, _ := BuildTenants(State{Policies: []Policy{{OrgID: "org_x", Mode: ModeNXDomain, Deny: got, Allow: got}}}, false)
		if _, err := resolver.NewSnapshot(resolver.SnapshotConfig{Tenants: tenants}); err != nil {
			t.Fatalf("the engine refuses the list: %v", err)
		}
		again, err := ParseDomains(got)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("second pass gave %q, %v", again, err)
		}
	})
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}
