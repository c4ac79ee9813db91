// Command qsmodns runs the resolver engine for the DNS benchmark until the
// product's "qsmo dns" command exists: listeners, upstreams, a blocklist
// file and a fixed multi-tenant policy, with the query log written to disk.
// SIGHUP reloads the blocklist and swaps the whole snapshot.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"
	"unsafe"

	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/resolver"
	"github.com/qsmo/qsmo/internal/pdns/upstream"
)

const (
	catMalware  = 1 << 0
	catPhishing = 1 << 1
	catGlobal   = 1 << 31
)

func main() {
	dnsAddr := flag.String("dns-addr", "127.0.0.1:5300", "UDP and TCP listen address")
	dotAddr := flag.String("dot-addr", "", "DNS over TLS listen address (off when empty)")
	dohAddr := flag.String("doh-addr", "", "DNS over HTTPS listen address (off when empty)")
	ups := flag.String("dns-upstream", "127.0.0.1:5399", "comma-separated upstreams")
	list := flag.String("blocklist", "", "file of blocked names, one per line")
	qlogDir := flag.String("querylog-dir", "", "write the query log here (off when empty)")
	sockets := flag.Int("udp-sockets", 0, "SO_REUSEPORT UDP sockets (0: one per GOMAXPROCS)")
	readers := flag.Int("udp-readers", 1, "goroutines reading each UDP socket")
	batch := flag.Int("udp-batch", 32, "datagrams per recvmmsg/sendmmsg (1: one system call per datagram)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	flag.Parse()

	start := time.Now()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	specs, err := upstream.ParseSpecs(*ups)
	if err != nil {
		log.Fatal(err)
	}
	pool, err := upstream.New(specs, upstream.Options{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	pool.Start(context.Background())
	defer pool.Close()
	// The build makes short-lived garbage only; collecting it while the
	// list grows would cost more than the memory it frees.
	gc := debug.SetGCPercent(-1)
	snap, err := buildSnapshot(*list, false)
	debug.SetGCPercent(gc)
	if err != nil {
		log.Fatal(err)
	}
	cfg := resolver.Config{
		UDPAddr: *dnsAddr, TCPAddr: *dnsAddr, DoTAddr: *dotAddr, DoHAddr: *dohAddr,
		Upstream: pool, Logger: logger, UDPSockets: *sockets, UDPReaders: *readers, UDPBatch: *batch,
		TCPMaxConns: 10000,
	}
	if *dotAddr != "" || *dohAddr != "" {
		cfg.TLS = selfSigned()
	}
	var writer *querylog.Writer
	if *qlogDir != "" {
		store, err := querylog.OpenStore(*qlogDir, querylog.StoreOptions{Logger: logger})
		if err != nil {
			log.Fatal(err)
		}
		cfg.QueryLog = querylog.NewQueue(0)
		writer = querylog.NewWriter(cfg.QueryLog, store, querylog.WriterOptions{Logger: logger})
		if err := writer.Start(context.Background()); err != nil {
			log.Fatal(err)
		}
	}
	e, err := resolver.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	e.SetSnapshot(snap)
	if err := e.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	debug.FreeOSMemory() // return the build's garbage: RSS shows what the lists keep
	fmt.Printf("serving names=%d load_seconds=%.3f\n", snap.ListNames(), time.Since(start).Seconds())

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	for s := range sig {
		if s == syscall.SIGHUP {
			t := time.Now()
			gc := debug.SetGCPercent(-1)
			snap, err := buildSnapshot(*list, true)
			debug.SetGCPercent(gc)
			if err != nil {
				log.Printf("reload: %v", err)
				continue
			}
			e.SetSnapshot(snap)
			// No FreeOSMemory here: returning the build's pages in one go
			// holds the only P for tens of milliseconds; the runtime's
			// background scavenger returns them gradually instead.
			fmt.Printf("reloaded names=%d seconds=%.3f\n", snap.ListNames(), time.Since(t).Seconds())
			continue
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.Shutdown(ctx)
	if writer != nil {
		_ = writer.Close()
	}
}

// buildSnapshot loads the list and the benchmark's tenants: two on
// 127.0.0.1 and 127.0.0.2 with their own allow and deny lists, and 200
// more on 127.1.x.0/24 so that the source lookup is not trivial.
//
// A reload (yield) pauses briefly every few thousand names: with one core,
// that lets the query goroutines in between instead of waiting for the
// scheduler's 10 ms time slice.
func buildSnapshot(path string, yield bool) (*resolver.Snapshot, error) {
	t := time.Now()
	b := blocklist.NewBuilder(1 << 20)
	if path != "" {
		// One read and names sliced out of it: no allocation per line.
		// The bytes stay reachable until Build has copied the names.
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for i := 0; len(data) > 0; i++ {
			if yield && i&2047 == 2047 {
				pause()
			}
			line := data
			if j := bytes.IndexByte(data, '\n'); j >= 0 {
				line, data = data[:j], data[j+1:]
			} else {
				data = nil
			}
			if len(line) == 0 {
				continue
			}
			// The generator writes valid names; anything else is skipped.
			_ = b.Add(unsafe.String(&line[0], len(line)), blocklist.Rule{Feed: 1, Category: catMalware, Action: blocklist.Block})
		}
	}
	if yield {
		b.Yield = pause
	}
	l, err := b.Build()
	if err != nil {
		return nil, err
	}
	deny := make([]string, 1000)
	for i := range deny {
		deny[i] = fmt.Sprintf("deny%d.qsmo-bench.org", i)
	}
	allow := make([]string, 100)
	for i := range allow {
		allow[i] = fmt.Sprintf("allow%d.qsmo-bench.org", i)
	}
	tenants := []resolver.TenantConfig{
		{ID: "bench-a", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Categories: catMalware | catPhishing, Deny: deny, Allow: allow},
		{ID: "bench-b", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("::1/128")}, Categories: catPhishing,
			Mode: resolver.BlockSinkhole, SinkholeV4: netip.MustParseAddr("192.0.2.99")},
	}
	for i := 0; i < 200; i++ {
		tenants = append(tenants, resolver.TenantConfig{ID: fmt.Sprintf("filler-%d", i),
			Sources: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 1, byte(i), 0}), 24)}, Categories: catMalware, Deny: deny[:10]})
	}
	cats := [32]string{0: "malware", 1: "phishing", 31: "global"}
	return resolver.NewSnapshot(resolver.SnapshotConfig{List: l, Feeds: []string{"", "bench"}, Categories: cats, Global: catGlobal,
		Tenants: tenants, ListLoadTime: time.Since(t)})
}

func selfSigned() *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func pause() { time.Sleep(20 * time.Microsecond) }
