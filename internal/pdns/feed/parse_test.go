package feed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// describe renders an entry compactly for comparisons: name, '=' when it
// matches the name itself, '*' when it matches subdomains, the action and
// the local data types.
func describe(e Entry) string {
	flags := ""
	if e.Exact {
		flags += "="
	}
	if e.Subdomains {
		flags += "*"
	}
	s := e.Name + " " + flags + " " + e.Action.String()
	for _, rr := range e.Local {
		s += " " + dns.TypeToString[rr.Header().Rrtype]
	}
	return s
}

func describeAll(entries []Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = describe(e)
	}
	return out
}

func parseFile(t *testing.T, name string, opts ParseOptions) ([]Entry, Report) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, rep, err := Parse(f, opts)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	checkReport(t, entries, rep)
	return entries, rep
}

// checkReport asserts the invariants every successful parse keeps.
func checkReport(t *testing.T, entries []Entry, rep Report) {
	t.Helper()
	if rep.Entries != len(entries) {
		t.Errorf("report says %d entries, got %d", rep.Entries, len(entries))
	}
	if sum := rep.Entries + rep.Merged + rep.Duplicates + rep.Invalid + rep.Skipped; sum != rep.Rules {
		t.Errorf("rules %d != entries %d + merged %d + duplicates %d + invalid %d + skipped %d",
			rep.Rules, rep.Entries, rep.Merged, rep.Duplicates, rep.Invalid, rep.Skipped)
	}
	skipped := 0
	for _, n := range rep.SkippedBy {
		skipped += n
	}
	if skipped != rep.Skipped {
		t.Errorf("skipped by reason sums to %d, report says %d", skipped, rep.Skipped)
	}
	if len(rep.Errors) > rep.Invalid {
		t.Errorf("%d line errors for %d invalid rules", len(rep.Errors), rep.Invalid)
	}
}

type wantReport struct {
	lines, rules, entries, merged, duplicates, invalid int
	skippedBy                                          map[string]int
}

func compareReport(t *testing.T, got Report, want wantReport) {
	t.Helper()
	g := wantReport{got.Lines, got.Rules, got.Entries, got.Merged, got.Duplicates, got.Invalid, got.SkippedBy}
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("report\n got %+v\nwant %+v\nerrors: %v", g, want, got.Errors)
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		file    string
		opts    ParseOptions
		entries []string
		report  wantReport
		errors  []string // "line: reason substring" of the kept line errors
	}{
		{
			file: "plain.txt",
			opts: ParseOptions{Format: FormatPlain},
			entries: []string{
				"sg1932.craftum.io =* block",
				"paket.info.158-158-1-61.cpanel.site =* block",
				"contacts.digitals.vu =* block",
				"v4kr6wn.hair =* block",
				"updatenetfx.fr =* block",
				"secure-one-week--onlyesu.replit.app * block",
				"spotify-accounts-login.callora.cz =* block",
				"xn--bcher-login-thb.example =* block",
			},
			report: wantReport{lines: 18, rules: 13, entries: 8, duplicates: 1, invalid: 4},
			errors: []string{
				"15: IP address",
				"16: invalid character ':'",
				"17: empty label",
				"18: more than one field",
			},
		},
		{
			file: "hosts.txt",
			opts: ParseOptions{Format: FormatHosts},
			entries: []string{
				"sg1932.craftum.io =* block",
				"paket.info.158-158-1-61.cpanel.site =* block",
				"contacts.digitals.vu =* block",
				"v4kr6wn.hair =* block",
				"updatenetfx.fr =* block",
				"spotify-accounts-login.callora.cz =* block",
				"securetrackibg.atlasr.mg =* block",
			},
			report: wantReport{lines: 23, rules: 21, entries: 7, duplicates: 1, invalid: 3,
				skippedBy: map[string]int{SkipLocalHost: 10}},
			errors: []string{
				"21: address without host names",
				`22: "example.org" is not an IP address`,
				"23: invalid character '!'",
			},
		},
		{
			file: "adblock.txt",
			opts: ParseOptions{Format: FormatAdBlock},
			entries: []string{
				"sg1932.craftum.io =* block",
				"paket.info.158-158-1-61.cpanel.site =* block",
				"contacts.digitals.vu =* block",
				"v4kr6wn.hair =* block",
				"secure-one-week--onlyesu.replit.app =* block",
			},
			report: wantReport{lines: 23, rules: 18, entries: 5, duplicates: 1, invalid: 1,
				skippedBy: map[string]int{SkipOption: 2, SkipException: 1, SkipCosmetic: 3, SkipPattern: 4, SkipRegexp: 1}},
			errors: []string{"22: empty label"},
		},
		{
			file: "policy.rpz",
			opts: ParseOptions{Format: FormatRPZ, Origin: "rpz.example"},
			entries: []string{
				"sg1932.craftum.io = nxdomain",
				"sg1932.craftum.io * nxdomain",
				"paket.info.158-158-1-61.cpanel.site = nodata",
				"contacts.digitals.vu = passthru",
				"v4kr6wn.hair = nxdomain",
				"updatenetfx.fr = localdata CNAME",
				"spotify-accounts-login.callora.cz = localdata A AAAA TXT",
				"legacy-ok.example = passthru",
				"securetrackibg.atlasr.mg = nxdomain",
				"conflict.example = nxdomain",
			},
			report: wantReport{lines: 37, rules: 22, entries: 10, merged: 2, duplicates: 1, invalid: 4,
				skippedBy: map[string]int{SkipRPZAction: 1, SkipTrigger: 4}},
			errors: []string{
				"33: record without data",
				"35: conflicts with an earlier nxdomain rule",
				"36: outside the policy zone rpz.example.",
				"37: $INCLUDE is not allowed",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			entries, rep := parseFile(t, tt.file, tt.opts)
			if got := describeAll(entries); !slices.Equal(got, tt.entries) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.entries)
			}
			compareReport(t, rep, tt.report)
			if len(rep.Errors) != len(tt.errors) {
				t.Fatalf("line errors %v; want %d", rep.Errors, len(tt.errors))
			}
			for i, want := range tt.errors {
				line, reason, _ := strings.Cut(want, ": ")
				got := rep.Errors[i]
				if fmt.Sprint(got.Line) != line || !strings.Contains(got.Reason, reason) {
					t.Errorf("line error %d = %v; want line %s with %q", i, got, line, reason)
				}
			}
			// The same file detected automatically gives the same result
			// (the RPZ origin still comes from the options).
			auto := tt.opts
			auto.Format = FormatAuto
			autoEntries, autoRep := parseFile(t, tt.file, auto)
			if autoRep.Format != tt.opts.Format {
				t.Errorf("detected %v; want %v", autoRep.Format, tt.opts.Format)
			}
			if !slices.Equal(describeAll(autoEntries), tt.entries) {
				t.Errorf("auto-detected parse differs: %q", describeAll(autoEntries))
			}
		})
	}
}

func TestRPZLocalData(t *testing.T) {
	entries, _ := parseFile(t, "policy.rpz", ParseOptions{Format: FormatRPZ, Origin: "rpz.example."})
	var spotify, garden *Entry
	for i := range entries {
		switch entries[i].Name {
		case "spotify-accounts-login.callora.cz":
			spotify = &entries[i]
		case "updatenetfx.fr":
			garden = &entries[i]
		}
	}
	if spotify == nil || garden == nil {
		t.Fatal("local data entries missing")
	}
	want := []string{
		"spotify-accounts-login.callora.cz.\t300\tIN\tA\t192.0.2.10",
		"spotify-accounts-login.callora.cz.\t300\tIN\tAAAA\t2001:db8::10",
		"spotify-accounts-login.callora.cz.\t300\tIN\tTXT\t\"blocked by policy\"",
	}
	for i, rr := range spotify.Local {
		if rr.String() != want[i] {
			t.Errorf("local record %d = %q; want %q", i, rr.String(), want[i])
		}
	}
	if got := garden.Local[0].String(); got != "updatenetfx.fr.\t300\tIN\tCNAME\twalled-garden.example." {
		t.Errorf("walled garden record = %q", got)
	}
}

func TestRPZOrigin(t *testing.T) {
	tests := []struct {
		name string
		zone string
		opts ParseOptions
		want []string
	}{
		{
			name: "SOA owner names the zone",
			zone: "rpz.example. 60 IN SOA ns. host. 1 2 3 4 5\nbad.example.rpz.example. CNAME .\n",
			want: []string{"bad.example = nxdomain"},
		},
		{
			name: "$ORIGIN names the zone when there is no SOA",
			zone: "$ORIGIN rpz.example.\nbad.example CNAME .\n*.bad.example CNAME .\n",
			want: []string{"bad.example = nxdomain", "bad.example * nxdomain"},
		},
		{
			name: "relative $ORIGIN changes relative names, not the zone",
			zone: "$ORIGIN rpz.example.\n@ SOA ns. host. 1 2 3 4 5\n$ORIGIN example\nbad CNAME .\n",
			want: []string{"bad.example = nxdomain"},
		},
		{
			name: "SOA after $ORIGIN still names the zone",
			zone: "$ORIGIN example.\nrpz.example. SOA ns. host. 1 2 3 4 5\nbad.rpz.example. CNAME .\n",
			want: []string{"bad = nxdomain"},
		},
		{
			name: "configured origin wins over $ORIGIN without SOA",
			zone: "$ORIGIN rpz.example.\nbad.example CNAME .\n",
			opts: ParseOptions{Origin: "example."},
			want: []string{"bad.example.rpz = nxdomain"},
		},
		{
			name: "no origin at all: owners are the triggers",
			zone: "bad.example CNAME .\nok.example CNAME rpz-passthru.\n",
			want: []string{"bad.example = nxdomain", "ok.example = passthru"},
		},
		{
			name: "configured origin",
			zone: "bad.example CNAME .\n",
			opts: ParseOptions{Origin: "policy.example"},
			want: []string{"bad.example = nxdomain"},
		},
		{
			name: "zone transfer dump ends with the SOA again",
			zone: "rpz.example. SOA ns. host. 1 2 3 4 5\nx.example.rpz.example. CNAME *.\nrpz.example. SOA ns. host. 1 2 3 4 5\n",
			want: []string{"x.example = nodata"},
		},
		{
			name: "wildcard CNAME rewrite and other record types are skipped",
			zone: "a.example CNAME *.garden.example.\nb.example DNAME c.example.\nc.example A 192.0.2.1\n",
			want: []string{"c.example = localdata A"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Format = FormatRPZ
			entries, rep, err := Parse(strings.NewReader(tt.zone), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, entries, rep)
			if got := describeAll(entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries %q; want %q (errors %v)", got, tt.want, rep.Errors)
			}
		})
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		sample string
		want   Format
	}{
		{"", FormatPlain},
		{"# only comments\n! here\n", FormatPlain},
		{"example.com\nexample.net\n", FormatPlain},
		{"# hosts\n0.0.0.0 a.example\n127.0.0.1 b.example c.example\n", FormatHosts},
		{"! Title: x\n||a.example^\n||b.example^$important\n", FormatAdBlock},
		{"[Adblock Plus 2.0]\nexample.com\n", FormatAdBlock},
		{"$TTL 60\na CNAME .\n", FormatRPZ},
		{"@ IN SOA ns. host. 1 2 3 4 5\n", FormatRPZ},
		{"; zone\na.example CNAME .\nb.example 60 IN A 192.0.2.1\n", FormatRPZ},
		{"a.example\n0.0.0.0 b.example\n0.0.0.0 c.example\n", FormatHosts},
	}
	for _, tt := range tests {
		if got := DetectFormat([]byte(tt.sample)); got != tt.want {
			t.Errorf("DetectFormat(%q) = %v; want %v", tt.sample, got, tt.want)
		}
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("too many entries fails the parse", func(t *testing.T) {
		in := "a.example\nb.example\nc.example\n"
		entries, _, err := Parse(strings.NewReader(in), ParseOptions{Format: FormatPlain, MaxEntries: 2})
		if !errors.Is(err, ErrTooManyEntries) || entries != nil {
			t.Fatalf("Parse = %d entries, %v; want ErrTooManyEntries and no entries", len(entries), err)
		}
	})
	t.Run("duplicates do not count toward the cap", func(t *testing.T) {
		in := "a.example\na.example\nA.example.\n"
		entries, _, err := Parse(strings.NewReader(in), ParseOptions{Format: FormatPlain, MaxEntries: 1})
		if err != nil || len(entries) != 1 {
			t.Fatalf("Parse = %d entries, %v; want 1 entry", len(entries), err)
		}
	})
	t.Run("a long line is one invalid line", func(t *testing.T) {
		for _, n := range []int{200, 100_000} { // shorter and longer than the read buffer
			in := "a.example\n" + strings.Repeat("x", n) + "\nb.example\n"
			entries, rep, err := Parse(strings.NewReader(in), ParseOptions{Format: FormatPlain, MaxLineLength: 100})
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, entries, rep)
			if len(entries) != 2 || rep.Invalid != 1 || rep.Lines != 3 || rep.Errors[0].Line != 2 ||
				!strings.Contains(rep.Errors[0].Reason, "longer than 100") {
				t.Fatalf("line of %d bytes: entries %q, report %+v", n, describeAll(entries), rep)
			}
		}
	})
	t.Run("line errors are capped, counts are not", func(t *testing.T) {
		in := strings.Repeat("bad..name\n", 50)
		_, rep, err := Parse(strings.NewReader(in), ParseOptions{Format: FormatPlain, MaxLineErrors: 3})
		if err != nil || rep.Invalid != 50 || len(rep.Errors) != 3 {
			t.Fatalf("invalid %d, kept %d, err %v; want 50, 3", rep.Invalid, len(rep.Errors), err)
		}
	})
	t.Run("read error fails the parse", func(t *testing.T) {
		r := &failingReader{data: "a.example\nb.exa", err: errors.New("connection reset")}
		_, _, err := Parse(r, ParseOptions{Format: FormatPlain})
		if err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("err = %v; want the read error", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []ParseOptions{{MaxEntries: -1}, {MaxLineLength: 3}, {Format: 9}, {Origin: "a..b"}} {
			if _, _, err := Parse(strings.NewReader("a.example\n"), o); err == nil {
				t.Errorf("Parse with %+v succeeded", o)
			}
		}
	})
	t.Run("windows line endings and byte order mark", func(t *testing.T) {
		in := "\xef\xbb\xbfa.example\r\nb.example\r\n"
		entries, rep, err := Parse(strings.NewReader(in), ParseOptions{})
		if err != nil || len(entries) != 2 || rep.Invalid != 0 || entries[0].Name != "a.example" {
			t.Fatalf("entries %q, report %+v, err %v", describeAll(entries), rep, err)
		}
	})
	t.Run("RPZ record spanning lines and unclosed parenthesis", func(t *testing.T) {
		in := "a.example TXT ( \"one\" ; note\n \"two\" )\nb.example TXT ( \"x\"\n"
		entries, rep, err := Parse(strings.NewReader(in), ParseOptions{Format: FormatRPZ})
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, entries, rep)
		if len(entries) != 1 || entries[0].Local[0].String() != "a.example.\t3600\tIN\tTXT\t\"one\" \"two\"" ||
			rep.Invalid != 1 || rep.Errors[0].Line != 3 {
			t.Fatalf("entries %v, report %+v", entries, rep)
		}
	})
}

type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestRealNamesSample(t *testing.T) {
	entries, rep := parseFile(t, "malicious-domains-sample.txt", ParseOptions{})
	if rep.Format != FormatPlain || rep.Invalid != 0 || len(entries) != 256 || rep.Lines != 256 {
		t.Fatalf("format %v, %d entries, report %+v", rep.Format, len(entries), rep)
	}
}

func TestFormatNames(t *testing.T) {
	for f := FormatAuto; f <= FormatRPZ; f++ {
		got, err := ParseFormat(strings.ToUpper(f.String()))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
		b, _ := f.MarshalText()
		var back Format
		if err := back.UnmarshalText(b); err != nil || back != f {
			t.Errorf("text round trip of %v gave %v, %v", f, back, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("ParseFormat accepted csv")
	}
}

// TestParseListOrderAcrossBatches: list rules meet the name index in
// batches; entries still come in input order, duplicates and merges are
// found within a batch and across batches, and the entry cap names the
// line that passed it.
func TestParseListOrderAcrossBatches(t *testing.T) {
	var lines, want []string
	for i := 0; i < 3*blockBatch; i++ {
		name := fmt.Sprintf("n%d.example", i)
		switch {
		case i == 4: // a wildcard first, widened by the plain name right after it
			lines = append(lines, "*."+name, name)
		case i == 5: // twice in a row, so within one batch
			lines = append(lines, name, strings.ToUpper(name)+".")
		case i == 2*blockBatch: // an earlier batch's name again
			lines = append(lines, name, "n1.example")
		default:
			lines = append(lines, name)
		}
		want = append(want, name)
	}
	in := strings.Join(lines, "\n") + "\n"
	entries, rep, err := Parse(strings.NewReader(in), ParseOptions{Format: FormatPlain})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) || rep.Entries != len(want) || rep.Merged != 1 || rep.Duplicates != 2 || rep.Rules != len(lines) {
		t.Fatalf("%d entries, report %+v", len(entries), rep)
	}
	for i, e := range entries {
		if e.Name != want[i] || !e.Exact || !e.Subdomains {
			t.Fatalf("entry %d: %+v, want %s exact and subdomains", i, e, want[i])
		}
	}
	_, _, err = Parse(strings.NewReader(in), ParseOptions{Format: FormatPlain, MaxEntries: 3})
	if !errors.Is(err, ErrTooManyEntries) || !strings.Contains(err.Error(), "(line 4)") {
		t.Fatalf("cap of 3: %v, want ErrTooManyEntries at line 4", err)
	}
}
