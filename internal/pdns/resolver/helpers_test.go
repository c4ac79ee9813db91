package resolver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/pdns/blocklist"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/upstream"
)

// fakeUpstream answers every name with an A record (or what answers says),
// in process: for unit tests and benchmarks of the query path itself.
type fakeUpstream struct {
	calls   atomic.Int64
	mu      sync.Mutex
	answers map[string][]string
	err     error
	delay   time.Duration
}

func (f *fakeUpstream) set(name string, rrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[string][]string{}
	}
	f.answers[name] = rrs
}

func (f *fakeUpstream) ResolveFrom(ctx context.Context, q upstream.Question) (*dns.Msg, upstream.Info, error) {
	f.calls.Add(1)
	f.mu.Lock()
	rrs, ok := f.answers[q.Name]
	err, delay := f.err, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, upstream.Info{}, upstream.ErrAllUnavailable
		}
	}
	if err != nil {
		return nil, upstream.Info{}, err
	}
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Type)
	m.Response, m.RecursionAvailable = true, true
	if !ok && q.Type == dns.TypeA {
		rrs = []string{q.Name + " 300 IN A 192.0.2.1"}
	}
	for _, s := range rrs {
		if s == "NXDOMAIN" {
			m.Rcode = dns.RcodeNameError
			continue
		}
		rr, err := dns.NewRR(s)
		if err != nil {
			return nil, upstream.Info{}, err
		}
		m.Answer = append(m.Answer, rr)
	}
	return m, upstream.Info{Upstream: "fake"}, nil
}

// Categories used by the tests.
const (
	catMalware  = 1 << 0
	catPhishing = 1 << 1
	catC2       = 1 << 2
	catGlobal   = 1 << 31
)

func testList(t testing.TB, entries map[string]uint32) *blocklist.List {
	t.Helper()
	b := blocklist.NewBuilder(len(entries))
	for name, cat := range entries {
		if err := b.Add(name, blocklist.Rule{Feed: 1, Category: cat, Action: blocklist.Block}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustSnapshot(t testing.TB, cfg SnapshotConfig) *Snapshot {
	t.Helper()
	if cfg.Feeds == nil {
		cfg.Feeds = []string{"none", "test-feed"}
	}
	cfg.Categories[0], cfg.Categories[1], cfg.Categories[2], cfg.Categories[31] = "malware", "phishing", "c2", "global"
	s, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// twoTenants is the policy most tests use: tenant-a (127.0.0.2) blocks
// malware with NXDOMAIN and denies denied-a.test; tenant-b (127.0.0.3)
// blocks phishing with a sinkhole and allows ok.malware.test.
func twoTenants(t testing.TB) *Snapshot {
	return mustSnapshot(t, SnapshotConfig{
		List:   testList(t, map[string]uint32{"malware.test": catMalware, "phish.test": catPhishing, "office.test": catGlobal}),
		Global: catGlobal,
		Tenants: []TenantConfig{
			{ID: "tenant-a", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, Categories: catMalware,
				Deny: []string{"denied-a.test"}, DoHTokens: []string{"token-aaaaaaaaaaaaaaaa"}},
			{ID: "tenant-b", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32"), netip.MustParsePrefix("::1/128")}, Categories: catPhishing,
				Allow: []string{"ok.malware.test"}, Mode: BlockSinkhole, SinkholeV4: netip.MustParseAddr("192.0.2.99"),
				SinkholeV6: netip.MustParseAddr("2001:db8::99"), DoHTokens: []string{"token-bbbbbbbbbbbbbbbb"}},
		},
	})
}

func selfSignedTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "resolver.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"resolver.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// startEngine runs an engine on loopback ports with every transport.
func startEngine(t testing.TB, up Upstream, snap *Snapshot, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{
		UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", DoTAddr: "127.0.0.1:0", DoHAddr: "127.0.0.1:0",
		TLS: selfSignedTLS(t), Upstream: up, QueryLog: querylog.NewQueue(1 << 12),
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if snap != nil {
		e.SetSnapshot(snap)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

// exchange sends one query from a given loopback source over UDP or TCP.
func exchange(t testing.TB, e *Engine, netw, src, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m, err := tryExchange(e, netw, src, name, qtype)
	if err != nil {
		t.Fatalf("%s query %s from %s: %v", netw, name, src, err)
	}
	return m
}

func tryExchange(e *Engine, netw, src, name string, qtype uint16) (*dns.Msg, error) {
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
	tr := querylog.UDP
	if netw == "tcp" {
		tr = querylog.TCP
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	} else {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	m, _, err := c.Exchange(q, e.Addr(tr))
	return m, err
}

func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			return rr.A.String()
		case *dns.AAAA:
			return rr.AAAA.String()
		}
	}
	return ""
}
