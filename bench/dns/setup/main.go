// Command setup prepares the data directories the DNS benchmark runs
// "qsmo dns" on: the office, the benchmark's agencies with their policies
// (two on 127.0.0.1 and 127.0.0.2 with their own allow and deny lists, 200
// more on 127.1.x.0/24 so that finding the tenant is not trivial), the
// block page address and, in the "list" directory, the 1M-name blocklist as
// a file feed. It writes the database through the product's own services,
// as the portal would.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/identity"
	"github.com/qsmo/qsmo/internal/pdns"
)

func main() {
	out := flag.String("out", ".", "parent of the data directories list/ and nolist/")
	blocklist := flag.String("blocklist", "", "file of blocked names, one per line, used as a feed in list/")
	fillers := flag.Int("fillers", 200, "agencies besides the two the load comes from")
	flag.Parse()
	for _, withList := range []bool{false, true} {
		dir := filepath.Join(*out, map[bool]string{false: "nolist", true: "list"}[withList])
		if err := prepare(dir, *blocklist, *fillers, withList); err != nil {
			log.Fatalf("setup %s: %v", dir, err)
		}
	}
}

func prepare(dir, blocklist string, fillers int, withList bool) error {
	ctx := actor.With(context.Background(), actor.Actor{Label: "benchmark setup"})
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := identity.New(d, logger)
	office, err := ids.CreateOffice(ctx, "Benchmark Office")
	if err != nil {
		return err
	}
	admin := &authz.Principal{Memberships: []authz.Membership{{OrgID: office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
	svc := pdns.NewService(d, ids.Authz, logger)
	svc.FeedsDir = filepath.Join(dir, "feeds")
	if _, err := svc.UpdateSettings(ctx, admin, "192.0.2.99", ""); err != nil {
		return err
	}
	deny := make([]string, 1000)
	for i := range deny {
		deny[i] = fmt.Sprintf("deny%d.qsmo-bench.org", i)
	}
	allow := make([]string, 100)
	for i := range allow {
		allow[i] = fmt.Sprintf("allow%d.qsmo-bench.org", i)
	}
	agency := func(slug string, in pdns.PolicyInput) error {
		o, err := ids.CreateOrg(ctx, admin, identity.OrgInput{Name: "Agency " + slug, Slug: slug, Kind: authz.Agency})
		if err != nil {
			return err
		}
		if _, err := svc.ProvisionAgency(ctx, admin, o.ID); err != nil {
			return err
		}
		_, err = svc.UpdatePolicy(ctx, admin, o.ID, in)
		return err
	}
	if err := agency("bench-a", pdns.PolicyInput{Categories: []string{"malware", "phishing"}, Mode: pdns.ModeNXDomain, CNAMEInspection: true,
		Egress: []string{"127.0.0.1"}, Deny: deny, Allow: allow}); err != nil {
		return err
	}
	if err := agency("bench-b", pdns.PolicyInput{Categories: []string{"phishing"}, Mode: pdns.ModeSinkhole, CNAMEInspection: true,
		Egress: []string{"127.0.0.2", "::1"}}); err != nil {
		return err
	}
	for i := 0; i < fillers; i++ {
		if err := agency(fmt.Sprintf("filler-%d", i), pdns.PolicyInput{Categories: []string{"malware"}, Mode: pdns.ModeNXDomain, CNAMEInspection: true,
			Egress: []string{fmt.Sprintf("127.1.%d.0/24", i)}, Deny: deny[:10]}); err != nil {
			return err
		}
	}
	if !withList {
		return nil
	}
	if err := os.MkdirAll(svc.FeedsDir, 0o700); err != nil {
		return err
	}
	// A hard link (or a copy) of the generated list, as an office would
	// drop a file in the feeds folder.
	dst := filepath.Join(svc.FeedsDir, "blocklist.txt")
	if err := os.Link(blocklist, dst); err != nil {
		b, err := os.ReadFile(blocklist)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return err
		}
	}
	_, err = svc.CreateFeed(ctx, admin, pdns.FeedInput{Name: "bench", Source: "blocklist.txt", Format: "plain", Category: "malware",
		Interval: 24 * time.Hour, Enabled: true})
	return err
}
