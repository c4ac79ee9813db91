package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/app"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/config"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/identity/password"
	"github.com/qsmo/qsmo/internal/pdns"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
	"github.com/qsmo/qsmo/internal/testenv"
)

// dnsProduct is qsmo serve --demo running in this process with its
// resolver on free loopback ports, HTTPS with the self-signed certificate
// (for DNS over HTTPS) and a loopback upstream.
type dnsProduct struct {
	app      *app.App
	base     string // https://127.0.0.1:port
	dns, dot string
	httpPort string
	world    *demo.World
	up       *upstreamtest.Server
}

func startDNSProduct(t *testing.T) *dnsProduct {
	t.Helper()
	up := upstreamtest.Start(t, upstreamtest.Config{})
	if err := up.Zone().Add("api-denied.example.test. 300 IN A 192.0.2.77"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, _, err := config.Load("serve", []string{"data-dir", "http-addr", "tls-self-signed", "demo", "dns-addr", "dot-addr", "dns-upstream"},
		[]string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--tls-self-signed", "--demo", "--dns-addr", "127.0.0.1:0", "--dot-addr", "127.0.0.1:0",
			"--dns-upstream", up.UDPSpec()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.NewWithDB(ctx, cfg, dbtest.SQLite(t), quietLog(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a.Identity.Hasher, _ = password.NewHasher(password.Options{Params: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	a.DNS.DemoHistory = 2 * time.Hour
	w, _, err := demo.Seed(ctx, a.Identity, "a test demo password", quietLog(), a.DemoLoaders()...)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx) }()
	var addr string
	select {
	case addr = <-a.Listening():
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not listen")
	}
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("graceful stop: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
		_ = a.Close()
	})
	_, port, _ := net.SplitHostPort(addr)
	return &dnsProduct{app: a, base: "https://" + addr, httpPort: port, world: w, up: up,
		dns: a.DNS.Node.Addr(querylog.UDP), dot: a.DNS.Node.Addr(querylog.DoT)}
}

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	answerRE = regexp.MustCompile(`(?m)^\S+\s+\d+\s+IN\s+A\s+(\S+)$`)
)

// lookup runs dig or kdig and returns the response code and the answer's
// A record ("" if none).
func lookup(t *testing.T, prog string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput() // #nosec G204 -- the test's own dig and kdig
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	// dig prints "status: NOERROR," and kdig "status: NOERROR;".
	m := statusRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%s printed no status:\n%s", prog, out)
	}
	a := ""
	if am := answerRE.FindStringSubmatch(string(out)); am != nil {
		a = am[1]
	}
	return m[1], a
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

// transports returns, for a source address, how to ask over each transport.
func (p *dnsProduct) transports(t *testing.T, source, token string) map[string]func(name string) (string, string) {
	dig, kdig := testenv.LookPath(t, "dig"), testenv.LookPath(t, "kdig")
	h, port := hostPort(p.dns)
	dh, dport := hostPort(p.dot)
	doh := "+https=/dns-query"
	if token != "" {
		doh += "/" + token
	}
	return map[string]func(string) (string, string){
		"udp": func(n string) (string, string) {
			return lookup(t, dig, "@"+h, "-p", port, "-b", source, n, "A", "+tries=1", "+time=3")
		},
		"tcp": func(n string) (string, string) {
			return lookup(t, dig, "@"+h, "-p", port, "-b", source, n, "A", "+tcp", "+tries=1", "+time=3")
		},
		"dot": func(n string) (string, string) {
			return lookup(t, kdig, "@"+dh, "-p", dport, "-b", source, "+tls", n, "A", "+retry=0", "+time=3")
		},
		"doh": func(n string) (string, string) {
			return lookup(t, kdig, "@127.0.0.1", "-p", p.httpPort, "-b", source, doh, n, "A", "+retry=0", "+time=3")
		},
	}
}

func (p *dnsProduct) eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDNSWithRealClients runs qsmo serve --demo in process and asks it with
// dig (UDP, TCP) and kdig (DNS over TLS, DNS over HTTPS): the demo block,
// each agency's policy by source address and by DoH token, and a policy
// change made through the API reaching every transport.
func TestDNSWithRealClients(t *testing.T) {
	p := startDNSProduct(t)
	ctx := actor.With(context.Background(), actor.Actor{Label: "test"})
	agriculture := p.world.Agencies["agriculture"]
	officeAdmin := &authz.Principal{Memberships: []authz.Membership{{OrgID: p.world.Office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	pol, err := p.app.DNS.GetPolicy(ctx, officeAdmin, agriculture.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A name from the demo malware feed; every sample agency blocks malware.
	const malware = "sg1932.craftum.io"
	if err := p.up.Zone().Add(malware + ". 300 IN A 192.0.2.66"); err != nil {
		t.Fatal(err)
	}

	t.Run("blocked.qsmo.test in one dig", func(t *testing.T) {
		for tr, ask := range p.transports(t, "127.0.0.1", "") {
			if rc, _ := ask("blocked.qsmo.test"); rc != "NXDOMAIN" {
				t.Errorf("%s: %s", tr, rc)
			}
			if rc, a := ask("www.example.test"); rc != "NOERROR" || a != "192.0.2.10" {
				t.Errorf("%s: allowed name gave %s %q", tr, rc, a)
			}
		}
	})
	t.Run("each agency gets its own answer", func(t *testing.T) {
		cases := []struct {
			who, source, token, rcode, a string
		}{
			{"the demo agency on loopback: NXDOMAIN", "127.0.0.1", "", "NXDOMAIN", ""},
			{"the Treasury on 127.0.0.2: the block page", "127.0.0.2", "", "NOERROR", "192.0.2.80"},
			{"Agriculture on 127.0.0.3: REFUSED", "127.0.0.3", "", "REFUSED", ""},
			{"Agriculture's DoH token from the demo agency's address", "127.0.0.1", pol.DoHToken, "REFUSED", ""},
		}
		for _, c := range cases {
			for tr, ask := range p.transports(t, c.source, c.token) {
				if c.token != "" && tr != "doh" {
					continue
				}
				p.eventually(t, c.who+" over "+tr, func() string {
					if rc, a := ask(malware); rc != c.rcode || a != c.a {
						return fmt.Sprintf("%s %q, want %s %q", rc, a, c.rcode, c.a)
					}
					return ""
				})
			}
		}
		if rc, _ := lookup(t, testenv.LookPath(t, "kdig"), "@127.0.0.1", "-p", p.httpPort, "+https=/dns-query/not-a-real-token-at-all", "www.example.test", "+retry=0"); rc != "REFUSED" {
			t.Errorf("unknown DoH token: %s", rc)
		}
	})
	t.Run("a policy change through the API reaches every transport", func(t *testing.T) {
		tok, err := p.app.Identity.CreateTokenSystem(ctx, identity.TokenInput{OrgID: agriculture.ID, Role: authz.AgencyAdmin, Name: "dns test"})
		if err != nil {
			t.Fatal(err)
		}
		for tr, ask := range p.transports(t, "127.0.0.3", "") {
			if rc, a := ask("api-denied.example.test"); rc != "NOERROR" || a != "192.0.2.77" {
				t.Fatalf("before the change, %s: %s %q", tr, rc, a)
			}
		}
		body := `{"deny_list":["api-denied.example.test"]}`
		req, _ := http.NewRequest(http.MethodPatch, p.base+"/api/v1/dns/agencies/agriculture/policy", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := insecureClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got pdns.DNSPolicyJSON
		_ = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if res.StatusCode != 200 || len(got.DenyList) != 1 || got.BlockMode != pdns.ModeRefused || len(got.EgressNetworks) != 2 {
			t.Fatalf("PATCH: %d %+v", res.StatusCode, got)
		}
		for tr, ask := range p.transports(t, "127.0.0.3", "") {
			p.eventually(t, tr, func() string {
				if rc, _ := ask("api-denied.example.test"); rc != "REFUSED" {
					return "not blocked yet: " + rc
				}
				return ""
			})
		}
		// DoH with the agency's token from anywhere, and other agencies unaffected.
		if rc, _ := p.transports(t, "127.0.0.1", pol.DoHToken)["doh"]("api-denied.example.test"); rc != "REFUSED" {
			t.Errorf("DoH with Agriculture's token: %s", rc)
		}
		if rc, a := p.transports(t, "127.0.0.2", "")["udp"]("api-denied.example.test"); rc != "NOERROR" || a != "192.0.2.77" {
			t.Errorf("the Treasury is blocked by Agriculture's list: %s %q", rc, a)
		}
	})
	t.Run("the queries are in the agency's log", func(t *testing.T) {
		p.eventually(t, "query log", func() string {
			page, err := p.app.DNS.SearchQueries(ctx, officeAdmin, agriculture.ID, querylog.Filter{Domain: "api-denied.example.test", Match: querylog.MatchExact,
				Actions: []querylog.Action{querylog.Blocked}, Limit: 100})
			if err != nil {
				return err.Error()
			}
			seen := map[querylog.Transport]bool{}
			for _, r := range page.Records {
				seen[r.Transport] = true
			}
			if len(seen) != 4 {
				return fmt.Sprintf("transports logged: %v", seen)
			}
			return ""
		})
	})
}

// insecureClient trusts the test server's self-signed certificate.
func insecureClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec G402 -- the test's own self-signed certificate
}

// TestDNSOff: an empty --dns-addr runs no resolver in the process (no DoH
// route, no query log); the pages still manage the policy that other
// resolver nodes serve.
func TestDNSOff(t *testing.T) {
	cfg, _, err := config.Load("serve", []string{"data-dir", "dns-addr"}, []string{"--data-dir", t.TempDir(), "--dns-addr", ""},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.NewWithDB(context.Background(), cfg, dbtest.SQLite(t), quietLog(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.DNS.Node != nil || a.DNS.QueryLog != nil {
		t.Fatal("a resolver runs with --dns-addr \"\"")
	}
	for _, rt := range a.Kit.Router.Routes() {
		if strings.HasPrefix(rt.Path, "/dns-query") {
			t.Fatalf("route %s without a resolver", rt.Pattern())
		}
	}
	ctx := actor.With(context.Background(), actor.Actor{Label: "test"})
	office, err := a.Identity.CreateOffice(ctx, "Office")
	if err != nil {
		t.Fatal(err)
	}
	admin := &authz.Principal{Memberships: []authz.Membership{{OrgID: office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	ag, err := a.Identity.CreateOrg(ctx, admin, identity.OrgInput{Name: "Department of State", Slug: "state", Kind: authz.Agency})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DNS.ProvisionAgency(ctx, admin, ag.ID); err != nil {
		t.Fatalf("provisioning without a local resolver: %v", err)
	}
	if _, err := a.DNS.SearchQueries(ctx, admin, ag.ID, querylog.Filter{}); err != pdns.ErrNoQueryLog {
		t.Fatalf("search without a query log: %v", err)
	}
}

// TestDNSNodeServesDoHBesideItsPages runs the resolver role alone (qsmo
// dns) with TLS on the portal's database: its listener answers DNS over
// HTTPS to kdig and to Go's HTTP/2 client, GET and POST, with the shared
// agencies (the Treasury's egress 127.0.0.2 is served, an unknown address
// refused; the demo's loopback agency is the portal's alone), and serves
// health, readiness and metrics beside it, over HTTP/2 and HTTP/1.1.
func TestDNSNodeServesDoHBesideItsPages(t *testing.T) {
	p := startDNSProduct(t)
	cfg, _, err := config.Load("dns", []string{"data-dir", "http-addr", "tls-self-signed", "dns-addr", "dot-addr", "dns-upstream"},
		[]string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--tls-self-signed", "--dns-addr", "127.0.0.1:0", "--dot-addr", "127.0.0.1:0",
			"--dns-upstream", p.up.UDPSpec()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	node, err := app.NewWithDB(context.Background(), cfg, p.app.DB, quietLog(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.ServeDNS(ctx) }()
	var addr string
	select {
	case addr = <-node.Listening():
	case err := <-done:
		t.Fatalf("qsmo dns: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("qsmo dns did not listen")
	}
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("graceful stop: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("qsmo dns did not stop")
		}
	}()
	base := "https://" + addr

	t.Run("kdig, GET and POST", func(t *testing.T) {
		kdig := testenv.LookPath(t, "kdig")
		host, port := hostPort(addr)
		for _, method := range []string{"+https", "+https-get"} {
			if rc, a := lookup(t, kdig, "@"+host, "-p", port, "-b", "127.0.0.2", method, "www.example.test", "A", "+retry=0", "+time=3"); rc != "NOERROR" || a != "192.0.2.10" {
				t.Errorf("%s: the Treasury got %s %q", method, rc, a)
			}
			if rc, _ := lookup(t, kdig, "@"+host, "-p", port, "-b", "127.0.0.5", method, "www.example.test", "A", "+retry=0", "+time=3"); rc != "REFUSED" {
				t.Errorf("%s: an unknown address got %s", method, rc)
			}
		}
	})
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: h2, // #nosec G402 -- the test's own self-signed certificate
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		proto := map[bool]int{true: 2, false: 1}[h2]
		get := func(t *testing.T, path string) (int, string) {
			t.Helper()
			res, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.ProtoMajor != proto {
				t.Fatalf("%s: served as HTTP/%d", path, res.ProtoMajor)
			}
			return res.StatusCode, string(b)
		}
		t.Run(fmt.Sprintf("HTTP/%d pages", proto), func(t *testing.T) {
			if st, b := get(t, "/healthz"); st != 200 || b != "ok\n" {
				t.Errorf("/healthz: %d %q", st, b)
			}
			if st, b := get(t, "/readyz"); st != 200 || b != "ready\n" {
				t.Errorf("/readyz: %d %q", st, b)
			}
			if st, b := get(t, "/metrics"); st != 200 || !strings.Contains(b, "qsmo_dns_queries_total") {
				t.Errorf("/metrics: %d, %d bytes", st, len(b))
			}
			if st, _ := get(t, "/nothing-here"); st != 404 {
				t.Errorf("/nothing-here: %d", st)
			}
		})
		t.Run(fmt.Sprintf("HTTP/%d DoH POST", proto), func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("www.example.test.", dns.TypeA)
			q, _ := m.Pack()
			res, err := c.Post(base+"/dns-query", "application/dns-message", bytes.NewReader(q))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var r dns.Msg
			if res.StatusCode != 200 || res.ProtoMajor != proto || res.Header.Get("Content-Type") != "application/dns-message" || r.Unpack(b) != nil ||
				r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.10" {
				t.Errorf("%d HTTP/%d %q: %v", res.StatusCode, res.ProtoMajor, res.Header.Get("Content-Type"), &r)
			}
		})
	}
}
