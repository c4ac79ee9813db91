package pdns

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
)

// ask sends one query from a loopback source address and returns the
// response code and the first A record ("" if none).
func ask(t *testing.T, server, source, name, network string) (string, string) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	if network == "tcp" {
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	} else {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(source)}}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s from %s: %v", name, source, err)
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return dns.RcodeToString[r.Rcode], a.A.String()
		}
	}
	return dns.RcodeToString[r.Rcode], ""
}

// eventually retries check until it returns "" or two seconds pass, and
// fails with its last complaint.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func expect(t *testing.T, server, source, name, wantRcode, wantA string) {
	t.Helper()
	eventually(t, func() string {
		rc, a := ask(t, server, source, name, "udp")
		if rc != wantRcode || a != wantA {
			return fmt.Sprintf("%s from %s: %s %q, want %s %q", name, source, rc, a, wantRcode, wantA)
		}
		return ""
	})
}

func startNode(t *testing.T, d *db.DB, dataDir, upstream string, reg prometheus.Registerer) *Node {
	t.Helper()
	n, err := OpenNode(NodeConfig{DB: d, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DataDir: dataDir, DNSAddr: "127.0.0.1:0",
		Upstreams: upstream, QueryLog: true, PollInterval: 50 * time.Millisecond, Hostname: "test-node", Version: "test", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNodeFollowsThePolicy runs a resolver node against the database and
// a loopback upstream, and checks with a DNS client that policy, feeds and
// global blocks reach it: changes made in this process at once, changes
// made elsewhere within the poll interval; that the query log is written
// and flushed at shutdown; and that a restart blocks from the kept feed
// version before fetching anything.
func TestNodeFollowsThePolicy(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d)
		up := upstreamtest.Start(t, upstreamtest.Config{})
		if err := up.Zone().Add("bad.feed.test. 300 IN A 192.0.2.99", "new.feed.test. 300 IN A 192.0.2.97", "deny.example.test. 300 IN A 192.0.2.98",
			"hop.example.test. 300 IN CNAME bad.feed.test.", "inside.example.test. 300 IN A 10.1.2.3", "gone.example.test. 300 IN A 192.0.2.96"); err != nil {
			t.Fatal(err)
		}
		dataDir := t.TempDir()
		w.svc.FeedsDir = filepath.Join(dataDir, "feeds")
		if err := os.MkdirAll(w.svc.FeedsDir, 0o700); err != nil {
			t.Fatal(err)
		}
		feedFile := filepath.Join(w.svc.FeedsDir, "threats.txt")
		if err := os.WriteFile(feedFile, []byte("bad.feed.test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		w.provision(w.energy, w.treasury)
		if _, err := w.svc.UpdatePolicy(w.ctx, w.officeAdmin, w.energy, PolicyInput{Categories: []string{"malware"}, Mode: ModeNXDomain, CNAMEInspection: true,
			Egress: []string{"127.0.0.1"}, BlockedAnswers: []string{"10.0.0.0/8"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.UpdatePolicy(w.ctx, w.officeAdmin, w.treasury, PolicyInput{Categories: []string{"phishing"}, Mode: ModeRefused, CNAMEInspection: true,
			Egress: []string{"127.0.0.2"}}); err != nil {
			t.Fatal(err)
		}
		fd, err := w.svc.CreateFeed(w.ctx, w.officeAdmin, FeedInput{Name: "Threats", Source: "threats.txt", Format: "plain", Category: "malware", Interval: time.Hour, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		n := startNode(t, d, dataDir, up.UDPSpec(), reg)
		w.svc.Node, w.svc.QueryLog = n, n.Store()
		addr := n.Addr(querylog.UDP)

		expect(t, addr, "127.0.0.1", "www.example.test", "NOERROR", "192.0.2.10")
		expect(t, addr, "127.0.0.1", "bad.feed.test", "NXDOMAIN", "")       // the feed, once fetched
		expect(t, addr, "127.0.0.1", "hop.example.test", "NXDOMAIN", "")    // CNAME chain into the feed
		expect(t, addr, "127.0.0.1", "inside.example.test", "NXDOMAIN", "") // answer in a blocked network
		expect(t, addr, "127.0.0.2", "bad.feed.test", "NOERROR", "192.0.2.99")
		expect(t, addr, "127.0.0.9", "www.example.test", "REFUSED", "")
		if rc, _ := ask(t, addr, "127.0.0.1", "bad.feed.test", "tcp"); rc != "NXDOMAIN" {
			t.Fatalf("over TCP: %s", rc)
		}

		t.Run("a change made here applies at once", func(t *testing.T) {
			if _, err := w.svc.UpdatePolicy(w.ctx, w.energyAdmin, w.energy, PolicyInput{Categories: []string{"malware"}, Mode: ModeNXDomain, CNAMEInspection: true,
				Egress: []string{"127.0.0.1"}, Deny: []string{"deny.example.test"}, BlockedAnswers: []string{"10.0.0.0/8"}}); err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.1", "deny.example.test", "NXDOMAIN", "")
			expect(t, addr, "127.0.0.2", "deny.example.test", "NOERROR", "192.0.2.98")
		})
		t.Run("a change made by another process arrives with the poll", func(t *testing.T) {
			other := NewService(d, w.svc.Authz, w.svc.Log) // no node: only the database moves
			if _, err := other.UpdatePolicy(w.ctx, w.treasuryAdmin, w.treasury, PolicyInput{Categories: []string{"malware"}, Mode: ModeRefused, CNAMEInspection: true,
				Egress: []string{"127.0.0.2"}}); err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.2", "bad.feed.test", "REFUSED", "")
		})
		t.Run("a refreshed feed swaps in and its status reaches the database", func(t *testing.T) {
			if err := os.WriteFile(feedFile, []byte("bad.feed.test\nnew.feed.test\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.RefreshFeed(w.ctx, w.officeAdmin, fd.ID); err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.1", "new.feed.test", "NXDOMAIN", "")
			eventually(t, func() string {
				f, err := w.svc.GetFeed(w.ctx, w.officeAnalyst, fd.ID)
				if err != nil || len(f.Status) != 1 || f.Status[0].State != "ok" || f.Status[0].Entries != 2 || f.Status[0].Hostname != "test-node" {
					return fmt.Sprintf("feed status %+v (%v)", f.Status, err)
				}
				return ""
			})
		})
		t.Run("global blocks reach every agency", func(t *testing.T) {
			g, err := w.svc.AddGlobalBlock(w.ctx, w.officeAdmin, "gone.example.test", "")
			if err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.1", "gone.example.test", "NXDOMAIN", "")
			expect(t, addr, "127.0.0.2", "gone.example.test", "REFUSED", "")
			if err := w.svc.RemoveGlobalBlock(w.ctx, w.officeAdmin, g.ID); err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.2", "gone.example.test", "NOERROR", "192.0.2.96")
		})
		t.Run("a disabled feed stops blocking, enabled again it blocks", func(t *testing.T) {
			if _, err := w.svc.SetFeedEnabled(w.ctx, w.officeAdmin, fd.ID, false); err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.1", "bad.feed.test", "NOERROR", "192.0.2.99")
			if _, err := w.svc.SetFeedEnabled(w.ctx, w.officeAdmin, fd.ID, true); err != nil {
				t.Fatal(err)
			}
			expect(t, addr, "127.0.0.1", "bad.feed.test", "NXDOMAIN", "")
		})
		t.Run("the query log has the queries", func(t *testing.T) {
			eventually(t, func() string {
				page, err := w.svc.SearchQueries(w.ctx, w.energyAnalyst, w.energy, querylog.Filter{Domain: "deny.example.test", Match: querylog.MatchExact, Actions: []querylog.Action{querylog.Blocked}})
				if err != nil || len(page.Records) == 0 || page.Records[0].Rule != "deny.example.test" {
					return fmt.Sprintf("search: %v %d", err, len(page.Records))
				}
				return ""
			})
			if page, _ := w.svc.SearchQueries(w.ctx, w.treasuryAdmin, w.treasury, querylog.Filter{Domain: "deny.example.test", Match: querylog.MatchExact, Actions: []querylog.Action{querylog.Blocked}}); len(page.Records) != 0 {
				t.Fatalf("treasury sees energy's blocks: %d", len(page.Records))
			}
		})
		t.Run("metrics cover the engine, the upstreams, the feeds and the node", func(t *testing.T) {
			eventually(t, func() string {
				mfs, err := reg.Gather()
				if err != nil {
					return err.Error()
				}
				seen := map[string]bool{}
				for _, mf := range mfs {
					seen[mf.GetName()] = true
				}
				for _, name := range []string{"qsmo_dns_queries_total", "qsmo_dns_upstream_queries_total", "qsmo_dns_feed_entries", "qsmo_dns_policy_version",
					"qsmo_dns_querylog_dropped_total", "qsmo_dns_querylog_written_total", "qsmo_dns_snapshot_builds_total", "qsmo_dns_list_reload_seconds"} {
					if !seen[name] {
						return "no metric " + name
					}
				}
				return ""
			})
		})

		// Shut down: the query log is flushed; then start again without the
		// feed's file: the kept version blocks before any fetch.
		expect(t, addr, "127.0.0.1", "deny.example.test", "NXDOMAIN", "")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(feedFile); err != nil {
			t.Fatal(err)
		}
		n2 := startNode(t, d, dataDir, up.UDPSpec(), nil)
		defer n2.Shutdown(context.Background())
		addr2 := n2.Addr(querylog.UDP)
		if rc, _ := ask(t, addr2, "127.0.0.1", "new.feed.test", "udp"); rc != "NXDOMAIN" {
			t.Fatalf("after a restart the kept feed version does not block: %s", rc)
		}
		w.svc.QueryLog = n2.Store()
		page, err := w.svc.SearchQueries(w.ctx, w.energyAnalyst, w.energy, querylog.Filter{Domain: "deny.example.test", Match: querylog.MatchExact})
		if err != nil || len(page.Records) < 2 {
			t.Fatalf("queries answered just before the shutdown are missing: %v %d", err, len(page.Records))
		}
		eventually(t, func() string {
			f, _ := w.svc.GetFeed(w.ctx, w.officeAnalyst, fd.ID)
			if len(f.Status) != 1 || f.Status[0].State != "error" || f.Status[0].Entries != 2 || !strings.Contains(f.Status[0].Reason, "threats.txt") {
				return fmt.Sprintf("status after the file went: %+v", f.Status)
			}
			return ""
		})
	})
}
