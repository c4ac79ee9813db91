package feed

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// realNames is the shared set of 131,072 real malicious names; benchmarks
// pad it with synthetic names one label deeper to reach their size.
const realNames = "../../../../shared/data/threat-domains/malicious-domains.txt"

func loadNames(b *testing.B, n int) []string {
	b.Helper()
	f, err := os.Open(realNames)
	if err != nil {
		b.Skipf("real names not available: %v", err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(names) < n {
		names = append(names, sc.Text())
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	real := len(names)
	for i := 0; len(names) < n; i++ {
		if name := "s" + strconv.Itoa(i) + "." + names[i%real]; len(name) <= 253 {
			names = append(names, name)
		}
	}
	return names
}

// feedText renders names in a format, one rule a line.
func feedText(names []string, format Format) []byte {
	var buf bytes.Buffer
	if format == FormatRPZ {
		buf.WriteString("$TTL 300\n@ SOA ns.rpz.example. hostmaster.rpz.example. 1 3600 600 432000 60\n@ NS localhost.\n")
	}
	for _, n := range names {
		switch format {
		case FormatPlain:
			buf.WriteString(n)
		case FormatHosts:
			buf.WriteString("0.0.0.0 " + n)
		case FormatAdBlock:
			buf.WriteString("||" + n + "^")
		case FormatRPZ:
			buf.WriteString(n + " CNAME .")
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func benchmarkParse(b *testing.B, format Format, n int) {
	names := loadNames(b, n)
	data := feedText(names, format)
	opts := ParseOptions{Format: format, Origin: "rpz.example."}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		entries, rep, err := Parse(bytes.NewReader(data), opts)
		if err != nil {
			b.Fatal(err)
		}
		// The real list holds a few names twice, so count every rule.
		if rep.Entries+rep.Duplicates != n || rep.Invalid != 0 || len(entries) != rep.Entries {
			b.Fatalf("parsed %d entries, %d duplicates, %d invalid from %d names", rep.Entries, rep.Duplicates, rep.Invalid, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/name")
}

// BenchmarkParse1M parses one million names (the 131,072 real names and
// synthetic ones) in each list format, beside a baseline that only splits
// lines, lower-cases them and puts them in a Go map: the least any loader
// of such a list does. The target for plain lists is well under a second
// per parse on one core (run with -cpu 1); compare the sub-benchmarks'
// ratios, as the machine may be noisy.
func BenchmarkParse1M(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkParse(b, FormatPlain, 1<<20) })
	b.Run("hosts", func(b *testing.B) { benchmarkParse(b, FormatHosts, 1<<20) })
	b.Run("adblock", func(b *testing.B) { benchmarkParse(b, FormatAdBlock, 1<<20) })
	b.Run("baseline-scanner-map", func(b *testing.B) {
		data := feedText(loadNames(b, 1<<20), FormatPlain)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			seen := make(map[string]struct{})
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				seen[strings.ToLower(sc.Text())] = struct{}{}
			}
			if len(seen) != 1<<20 {
				b.Fatalf("%d names", len(seen))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(1<<20), "ns/name")
	})
}

// BenchmarkParseRPZ128K parses the real names as RPZ rules; every record
// goes through the zone parser, so RPZ costs more per name.
func BenchmarkParseRPZ128K(b *testing.B) { benchmarkParse(b, FormatRPZ, 1<<17) }
