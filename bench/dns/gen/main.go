// Command gen writes the inputs of the DNS benchmark: the blocklist both
// resolvers load (real threat names padded with synthetic ones), the same
// list as Unbound local-zone lines, and the dnsperf query files.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	real := flag.String("real", "", "file of real threat names, one per line (optional)")
	total := flag.Int("names", 1_000_000, "names in the blocklist")
	goodNames := flag.Int("good", 10_000, "distinct allowed names in the query files")
	mixLines := flag.Int("mix", 200_000, "lines of the 10%-blocked query file")
	out := flag.String("out", ".", "output directory")
	flag.Parse()

	names := make([]string, 0, *total)
	seen := make(map[string]bool, *total)
	if *real != "" {
		f, err := os.Open(*real)
		if err != nil {
			log.Printf("gen: warning: %v; using synthetic names only", err)
		} else {
			sc := bufio.NewScanner(f)
			for sc.Scan() && len(names) < *total {
				n := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(sc.Text()), "."))
				if valid(n) && !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
			f.Close()
		}
	}
	realCount := len(names)
	r := rand.New(rand.NewPCG(42, 42))
	tlds := []string{"com", "net", "org", "info", "xyz", "top", "ru", "cn", "site", "online"}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	for i := 0; len(names) < *total; i++ {
		var sb strings.Builder
		for j, k := 0, 6+r.IntN(10); j < k; j++ {
			sb.WriteByte(letters[r.IntN(len(letters))])
		}
		n := fmt.Sprintf("%s%d.%s", sb.String(), i, tlds[i%len(tlds)])
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	log.Printf("gen: %d names (%d real, %d synthetic)", len(names), realCount, len(names)-realCount)

	write(filepath.Join(*out, "blocklist.txt"), func(w *bufio.Writer) {
		for _, n := range names {
			w.WriteString(n)
			w.WriteByte('\n')
		}
	})
	write(filepath.Join(*out, "unbound-blocklist.conf"), func(w *bufio.Writer) {
		w.WriteString("server:\n")
		for _, n := range names {
			fmt.Fprintf(w, "local-zone: \"%s.\" always_nxdomain\n", n)
		}
	})
	good := make([]string, *goodNames)
	for i := range good {
		good[i] = fmt.Sprintf("h%d.qsmo-bench.net", i)
	}
	write(filepath.Join(*out, "queries-hit.txt"), func(w *bufio.Writer) {
		for _, n := range good {
			fmt.Fprintf(w, "%s A\n", n)
		}
	})
	write(filepath.Join(*out, "queries-mix.txt"), func(w *bufio.Writer) {
		for i := 0; i < *mixLines; i++ {
			if i%10 == 9 {
				n := names[r.IntN(len(names))]
				if r.IntN(2) == 0 {
					n = "www." + n
				}
				fmt.Fprintf(w, "%s A\n", n)
				continue
			}
			fmt.Fprintf(w, "%s A\n", good[r.IntN(len(good))])
		}
	})
}

// valid keeps names both resolvers accept as written.
func valid(n string) bool {
	if n == "" || len(n) > 253 || !strings.Contains(n, ".") {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func write(path string, fill func(*bufio.Writer)) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatalf("gen: %v", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		log.Fatalf("gen: %v", err)
	}
	if err := f.Close(); err != nil {
		log.Fatalf("gen: %v", err)
	}
}
