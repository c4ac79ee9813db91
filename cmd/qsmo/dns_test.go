package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/pdns"
	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
	"github.com/qsmo/qsmo/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDNSCommands provisions an agency on the command line, runs the
// resolver role alone (qsmo dns) on the same database, asks it with dig,
// and turns the agency off again: its queries are refused from then on.
func TestDNSCommands(t *testing.T) {
	dig := testenv.LookPath(t, "dig")
	dir := t.TempDir()
	dd := []string{"--data-dir", dir, "--log-format", "text", "--log-level", "error"}
	if code, _, errs := qsmo(t, append([]string{"migrate"}, dd...)...); code != 0 {
		t.Fatalf("migrate: %s", errs)
	}
	state := openPortal(t, dir)
	if code, _, errs := qsmo(t, append([]string{"dns", "provision", "--org", "nope"}, dd...)...); code != 1 || !strings.Contains(errs, `no organization with the short name "nope"`) {
		t.Fatalf("unknown org: %d %q", code, errs)
	}
	if code, _, errs := qsmo(t, append([]string{"dns", "provision", "--org", "office"}, dd...)...); code != 1 || !strings.Contains(errs, "serves agencies") {
		t.Fatalf("the office provisioned: %d %q", code, errs)
	}

	up := upstreamtest.Start(t, upstreamtest.Config{})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"dns", "--dns-addr", "127.0.0.1:0", "--dot-addr", "", "--http-addr", "127.0.0.1:0", "--dns-upstream", up.UDPSpec()}, dd...),
			func(string) string { return "" }, &out, &bytes.Buffer{})
	}()
	var port string
	deadline := time.Now().Add(20 * time.Second)
	for port == "" {
		if m := regexp.MustCompile(`dns\s+127\.0\.0\.1:(\d+) \(UDP and TCP\)`).FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("qsmo dns exited with %d: %s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("qsmo dns did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	status := func() string {
		b, err := exec.Command(dig, "@127.0.0.1", "-p", port, "www.example.test", "A", "+tries=1", "+time=2").CombinedOutput() // #nosec G204 -- the test's own dig
		if err != nil {
			t.Fatalf("dig: %v %s", err, b)
		}
		return regexp.MustCompile(`status: ([A-Z]+)`).FindStringSubmatch(string(b))[1]
	}
	if s := status(); s != "REFUSED" {
		t.Fatalf("no agency yet: %s", s)
	}
	// An agency made in the portal, provisioned on the command line; its
	// admin then registers its network.
	state.createAgency("state", "Department of State")
	if code, out, errs := qsmo(t, append([]string{"dns", "provision", "--org", "state"}, dd...)...); code != 0 || !strings.Contains(out, "Protective DNS is set up for Department of State") {
		t.Fatalf("provision: %d %q %q", code, out, errs)
	}
	state.setEgress("state", "127.0.0.1/32")
	waitFor(t, func() bool { return status() == "NOERROR" }, "the new agency's query is answered")
	if code, out, _ := qsmo(t, append([]string{"dns", "provision", "--org", "state", "--deprovision"}, dd...)...); code != 0 || !strings.Contains(out, "Protective DNS is off") {
		t.Fatalf("deprovision: %d %q", code, out)
	}
	waitFor(t, func() bool { return status() == "REFUSED" }, "the turned-off agency's query is refused")
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("qsmo dns exited with %d: %s", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("qsmo dns did not stop")
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// portal changes the shared database as the portal would, while qsmo dns
// runs on it.
type portal struct {
	t      *testing.T
	ctx    context.Context
	ids    *identity.Service
	dns    *pdns.Service
	office *authz.Principal
}

func openPortal(t *testing.T, dir string) *portal {
	t.Helper()
	ctx := actor.With(context.Background(), actor.Actor{Label: "test"})
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := identity.New(d, log)
	office, err := ids.CreateOffice(ctx, "Office")
	if err != nil {
		t.Fatal(err)
	}
	return &portal{t: t, ctx: ctx, ids: ids, dns: pdns.NewService(d, ids.Authz, log),
		office: &authz.Principal{Memberships: []authz.Membership{{OrgID: office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}}
}

func (p *portal) createAgency(slug, name string) {
	if _, err := p.ids.CreateOrg(p.ctx, p.office, identity.OrgInput{Name: name, Slug: slug, Kind: authz.Agency}); err != nil {
		p.t.Fatal(err)
	}
}

func (p *portal) setEgress(slug, cidr string) {
	o, err := p.ids.LookupOrg(p.ctx, slug)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.dns.UpdatePolicy(p.ctx, p.office, o.ID, pdns.PolicyInput{Mode: pdns.ModeNXDomain, Egress: []string{cidr}}); err != nil {
		p.t.Fatal(err)
	}
}
