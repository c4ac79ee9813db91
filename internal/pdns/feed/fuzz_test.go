package feed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/pdns/dnsname"
)

func FuzzParsePlain(f *testing.F) {
	fuzzFormat(f, FormatPlain, "plain.txt", "#", "a.example\n*.B.example.\nbücher.example # x\n! c\n1.2.3.4\n")
}

func FuzzParseHosts(f *testing.F) {
	fuzzFormat(f, FormatHosts, "hosts.txt", "#", "0.0.0.0 a.example b.example\n::1 localhost\n127.0.0.1\n")
}

func FuzzParseAdBlock(f *testing.F) {
	fuzzFormat(f, FormatAdBlock, "adblock.txt", "!", "||a.example^$important\n@@||b.example^\n##.ad\n||c.example^$third-party\n")
}

func FuzzParseRPZ(f *testing.F) {
	fuzzFormat(f, FormatRPZ, "policy.rpz", ";",
		"$ORIGIN rpz.example.\n@ SOA ns. h. 1 2 3 4 5\na CNAME .\n*.a CNAME *.\nb A 192.0.2.1\n  TXT \"x\"\n1.2.rpz-ip CNAME .\n")
}

func FuzzParseAuto(f *testing.F) {
	fuzzFormat(f, FormatAuto, "plain.txt", "", "0.0.0.0 a.example\n||b.example^\n")
}

// fuzzFormat checks, for any input: parsing succeeds; the report's counts
// add up; every entry is canonical, valid and distinct; and the same input
// with every line commented out yields no rule at all.
func fuzzFormat(f *testing.F, format Format, file, comment, seed string) {
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add(seed)
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		opts := ParseOptions{Format: format, MaxLineLength: 256}
		entries, rep, err := Parse(strings.NewReader(in), opts)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		checkReport(t, entries, rep)
		if format != FormatAuto && rep.Format != format {
			t.Fatalf("report format %v; want %v", rep.Format, format)
		}
		checkEntries(t, rep.Format, entries)
		if comment == "" {
			return
		}
		lines := strings.Split(in, "\n")
		long := 0
		for i, l := range lines {
			lines[i] = comment + l
			if len(strings.TrimSuffix(lines[i], "\r")) > opts.MaxLineLength && (i < len(lines)-1 || lines[i] != comment) {
				long++
			}
		}
		entries, rep, err = Parse(strings.NewReader(strings.Join(lines, "\n")), opts)
		if err != nil || len(entries) != 0 || rep.Rules != long || rep.Invalid != long {
			t.Fatalf("commented input gave %d entries, %d rules (%d over-long lines), err %v: %v",
				len(entries), rep.Rules, long, err, rep.Errors)
		}
	})
}

func checkEntries(t *testing.T, format Format, entries []Entry) {
	t.Helper()
	type key struct {
		name string
		wild bool
	}
	seen := make(map[key]bool, len(entries))
	for _, e := range entries {
		if !dnsname.IsNormalized(e.Name) {
			t.Fatalf("entry name %q is not canonical", e.Name)
		}
		if got, err := dnsname.Normalize(e.Name); err != nil || got != e.Name {
			t.Fatalf("entry name %q does not normalize to itself: %q, %v", e.Name, got, err)
		}
		if !e.Exact && !e.Subdomains {
			t.Fatalf("entry %q matches nothing", e.Name)
		}
		if e.Action < Passthru || e.Action > Block {
			t.Fatalf("entry %q has action %v", e.Name, e.Action)
		}
		if (e.Action == LocalData) != (len(e.Local) > 0) {
			t.Fatalf("entry %q: action %v with %d local records", e.Name, e.Action, len(e.Local))
		}
		k := key{e.Name, false}
		if format == FormatRPZ {
			if e.Exact == e.Subdomains {
				t.Fatalf("RPZ entry %q has exact=%v subdomains=%v", e.Name, e.Exact, e.Subdomains)
			}
			k.wild = e.Subdomains
		} else if e.Action != Block || !e.Subdomains {
			t.Fatalf("list entry %q: action %v, subdomains %v", e.Name, e.Action, e.Subdomains)
		}
		if seen[k] {
			t.Fatalf("entry %q (wildcard %v) appears twice", e.Name, k.wild)
		}
		seen[k] = true
	}
}
