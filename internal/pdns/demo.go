package pdns

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

//go:embed demodata/*.txt
var demoFS embed.FS

// demoPolicy is a sample agency's policy.
type demoPolicy struct {
	slug       string
	categories []string
	mode       string
	egress     []string
	deny       []string
	allow      []string
	blockedIPs []string
	clients    int // devices in the generated history
	perHour    int // queries per device and hour at the daily peak
}

// DemoAgency is the agency that owns loopback clients in demo mode.
const DemoAgency = "energy"

var demoPolicies = []demoPolicy{
	{slug: "energy", categories: []string{"malware", "phishing", "c2", "cryptomining", "newly_registered"}, mode: ModeNXDomain,
		egress: []string{"198.51.100.0/24", "2001:db8:e::/48"}, deny: []string{"*.free-vpn-download.example", "filesharing.example"},
		allow: []string{"intranet.energy.example.gov"}, blockedIPs: []string{"10.0.0.0/8"}, clients: 24, perHour: 9},
	{slug: "treasury", categories: []string{"malware", "phishing", "c2", "cryptomining", "newly_registered", "ads"}, mode: ModeSinkhole,
		egress: []string{"203.0.113.0/25", "127.0.0.2"}, deny: []string{"gambling.example"}, clients: 18, perHour: 8},
	{slug: "agriculture", categories: []string{"malware", "c2"}, mode: ModeRefused,
		egress: []string{"203.0.113.128/25", "127.0.0.3"}, clients: 10, perHour: 6},
	{slug: "interior", categories: []string{"malware", "phishing", "c2"}, mode: ModeNoData,
		egress: []string{"192.0.2.0/26"}, clients: 12, perHour: 7},
	{slug: "energy-nnsa", categories: []string{"malware", "phishing", "c2", "cryptomining", "newly_registered", "ads"}, mode: ModeNXDomain,
		egress: []string{"198.18.0.0/24"}, clients: 6, perHour: 5},
	{slug: "commerce", categories: DefaultCategories, mode: ModeNXDomain},
}

// demoFeeds are the office's sample feeds, from demodata/.
var demoFeeds = []struct{ file, name, category string }{
	{"demo-malware.txt", "Malware sample (malicious-domains)", "malware"},
	{"demo-phishing.txt", "Phishing sample (malicious-domains)", "phishing"},
}

// DemoLoader returns the sample data loader: policies for several agencies
// (the Department of Energy owns loopback clients), the demo feeds copied
// into the feeds folder, global blocks, the block page address, and a week
// of query history written through the query log (when this process keeps
// one).
func (s *Service) DemoLoader() demo.Loader {
	return func(ctx context.Context, w *demo.World) error {
		system := &authz.Principal{Email: "demo", Memberships: []authz.Membership{{OrgID: w.Office.ID, OrgKind: authz.Office, Role: authz.OfficeAdmin}}}
		if err := s.demoSettings(ctx, w); err != nil {
			return err
		}
		for _, dp := range demoPolicies {
			o, ok := w.Agencies[dp.slug]
			if !ok {
				continue
			}
			if err := s.DB.InTx(ctx, func(tx *db.Tx) error { _, err := (Provisioner{}).Provision(ctx, tx, o.ID); return err }); err != nil {
				return fmt.Errorf("pdns: demo: provision %s: %w", dp.slug, err)
			}
			in := PolicyInput{Categories: dp.categories, Mode: dp.mode, CNAMEInspection: true, Egress: dp.egress, Deny: dp.deny, Allow: dp.allow, BlockedAnswers: dp.blockedIPs}
			if _, err := s.UpdatePolicy(ctx, system, o.ID, in); err != nil {
				return fmt.Errorf("pdns: demo: policy of %s: %w", dp.slug, err)
			}
		}
		feedNames := map[string]string{}
		for _, f := range demoFeeds {
			body, err := demoFS.ReadFile("demodata/" + f.file)
			if err != nil {
				return err
			}
			if s.FeedsDir != "" {
				if err := os.MkdirAll(s.FeedsDir, 0o700); err != nil {
					return fmt.Errorf("pdns: demo: %w", err)
				}
				if err := os.WriteFile(filepath.Join(s.FeedsDir, f.file), body, 0o600); err != nil {
					return fmt.Errorf("pdns: demo: %w", err)
				}
			}
			if _, err := s.CreateFeed(ctx, system, FeedInput{Name: f.name, Source: f.file, Format: "plain", Category: f.category, Interval: time.Hour, Enabled: true}); err != nil {
				return fmt.Errorf("pdns: demo: feed %s: %w", f.name, err)
			}
			feedNames[f.category] = f.name
		}
		for _, g := range []struct{ name, reason string }{
			{"*.xyz-cryptominer.example", "Mining pool seen in an incident at two agencies"},
			{"pastebin-exfil.example", "Exfiltration endpoint reported by a partner CERT"},
		} {
			if _, err := s.AddGlobalBlock(ctx, system, g.name, g.reason); err != nil {
				return fmt.Errorf("pdns: demo: global block: %w", err)
			}
		}
		if s.QueryLog != nil {
			return s.demoHistory(w, feedNames)
		}
		return nil
	}
}

// demoSettings sets the block page and names the demo agency.
func (s *Service) demoSettings(ctx context.Context, w *demo.World) error {
	o, ok := w.Agencies[DemoAgency]
	if !ok {
		return nil
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE dns_state SET sinkhole_v4 = ?, sinkhole_v6 = ?, demo_org_id = ? WHERE id = 1", "192.0.2.80", "2001:db8::80", o.ID); err != nil {
			return fmt.Errorf("pdns: demo settings: %w", err)
		}
		if err := audit.Append(ctx, tx, audit.Event{Action: "dns.settings.update", TargetType: "dns_settings", TargetID: "block_page",
			Summary: "Set the demo block page addresses and gave loopback clients to " + o.Name,
			After:   map[string]string{"sinkhole_v4": "192.0.2.80", "sinkhole_v6": "2001:db8::80", "demo_org_id": o.ID}}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return err
	}
	s.changed()
	return nil
}

// Everyday names of the generated history.
var demoNames = []string{
	"www.google.com", "outlook.office365.com", "login.microsoftonline.com", "teams.microsoft.com", "www.usa.gov", "www.energy.gov",
	"update.googleapis.com", "clients4.google.com", "www.wikipedia.org", "api.github.com", "slack.com", "zoom.us", "www.weather.gov",
	"cdn.jsdelivr.net", "fonts.gstatic.com", "ocsp.digicert.com", "www.nist.gov", "www.cisa.gov", "time.windows.com", "s3.amazonaws.com",
	"docs.google.com", "www.linkedin.com", "www.youtube.com", "news.ycombinator.com", "www.nytimes.com", "apple.com", "icloud.com",
	"ctldl.windowsupdate.com", "settings-win.data.microsoft.com", "www.login.gov", "sam.gov", "www.irs.gov", "intranet.energy.example.gov",
}

// demoHistory writes a week of plausible queries for the sample agencies
// straight into the query log: a daily rhythm, mostly cache hits, a few
// percent of blocks from the demo feeds, and one device at the Department
// of Energy that keeps asking for malware names (a suspected infection).
func (s *Service) demoHistory(w *demo.World, feedNames map[string]string) error {
	blocked := map[string][]string{}
	for _, f := range demoFeeds {
		body, _ := demoFS.ReadFile("demodata/" + f.file)
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				blocked[f.category] = append(blocked[f.category], line)
			}
		}
	}
	r := rand.New(rand.NewPCG(2026, 11)) // #nosec G404 -- the same sample history every time, not a secret
	now := time.Now().UTC()
	span := s.DemoHistory
	if span <= 0 {
		span = 7 * 24 * time.Hour
	}
	start := now.Add(-span).Truncate(time.Hour)
	var batch []querylog.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.QueryLog.WriteBatch(batch)
		batch = batch[:0]
		return err
	}
	infected := netip.MustParseAddr("198.51.100.23")
	type agencyGen struct {
		dp      demoPolicy
		org     string
		clients []netip.Addr
		mask    map[string]bool
	}
	var gens []agencyGen
	for _, dp := range demoPolicies {
		o, ok := w.Agencies[dp.slug]
		if !ok || len(dp.egress) == 0 {
			continue
		}
		base, err := netip.ParsePrefix(dp.egress[0])
		if err != nil {
			continue
		}
		g := agencyGen{dp: dp, org: o.ID, clients: make([]netip.Addr, dp.clients), mask: map[string]bool{}}
		a := base.Addr()
		for i := range g.clients {
			a = a.Next()
			g.clients[i] = a
		}
		for _, c := range dp.categories {
			g.mask[c] = true
		}
		gens = append(gens, g)
	}
	// Hour by hour, so that each hour of the log is written once (one
	// segment file per hour, as a live resolver writes it).
	for h := start; h.Before(now); h = h.Add(time.Hour) {
		// Busy in office hours (Eastern), quiet at night and at weekends.
		local := h.Add(-5 * time.Hour)
		load := 0.15
		if local.Hour() >= 8 && local.Hour() < 18 {
			load = 1
		} else if local.Hour() >= 6 && local.Hour() < 21 {
			load = 0.5
		}
		if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
			load *= 0.3
		}
		for _, g := range gens {
			n := int(float64(g.dp.perHour*g.dp.clients) * load * (0.8 + 0.4*r.Float64()))
			for range n {
				t := h.Add(time.Duration(r.Int64N(int64(time.Hour))))
				if t.After(now) {
					continue
				}
				batch = append(batch, s.demoRecord(r, g.org, g.clients[r.IntN(len(g.clients))], t, g.dp, g.mask, blocked, feedNames))
			}
			// The infected device: bursts of malware lookups on two days.
			if g.dp.slug == "energy" && (now.Sub(h) < 26*time.Hour && now.Sub(h) > 25*time.Hour || now.Sub(h) < 4*time.Hour && now.Sub(h) > 3*time.Hour) {
				for i := range 7 {
					name := blocked["malware"][(i*37+h.Hour())%len(blocked["malware"])]
					rec := querylog.Record{Time: h.Add(time.Duration(i) * 7 * time.Minute).UnixNano(), Tenant: g.org, Client: infected, Transport: querylog.UDP,
						QType: dns.TypeA, QClass: dns.ClassINET, RCode: dns.RcodeNameError, Action: querylog.Blocked, Cache: querylog.None,
						Rule: name, Feed: feedNames["malware"], Category: "malware", Latency: 40}
					rec.SetQNameString(name)
					batch = append(batch, rec)
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return flush()
}

func (s *Service) demoRecord(r *rand.Rand, org string, client netip.Addr, t time.Time, dp demoPolicy, mask map[string]bool,
	blocked map[string][]string, feedNames map[string]string) querylog.Record {
	rec := querylog.Record{Time: t.UnixNano(), Tenant: org, Client: client, QClass: dns.ClassINET, QType: dns.TypeA}
	switch x := r.IntN(100); {
	case x < 80:
		rec.Transport = querylog.UDP
	case x < 88:
		rec.Transport = querylog.TCP
	case x < 94:
		rec.Transport = querylog.DoT
	default:
		rec.Transport = querylog.DoH
	}
	switch x := r.IntN(100); {
	case x < 30:
		rec.QType = dns.TypeAAAA
	case x < 35:
		rec.QType = dns.TypeHTTPS
	case x < 37:
		rec.QType = dns.TypeTXT
	}
	name := demoNames[r.IntN(len(demoNames))]
	// About 1% of lookups hit a phishing name (a link in an email) and
	// 0.2% a malware name (a stray download or advert).
	if x := r.IntN(1000); x < 12 {
		cat := "phishing"
		if x < 2 {
			cat = "malware"
		}
		if mask[cat] && len(blocked[cat]) > 0 {
			name = blocked[cat][r.IntN(len(blocked[cat]))]
			rec.Action, rec.Cache, rec.Rule, rec.Feed, rec.Category = querylog.Blocked, querylog.None, name, feedNames[cat], cat
			switch dp.mode {
			case ModeRefused:
				rec.RCode = dns.RcodeRefused
			case ModeNoData:
				rec.RCode = dns.RcodeSuccess
			case ModeSinkhole:
				rec.Action = querylog.Sinkholed
			default:
				rec.RCode = dns.RcodeNameError
			}
			rec.Latency = uint32(30 + r.IntN(80))
			rec.SetQNameString(name)
			return rec
		}
	}
	rec.Action = querylog.Allowed
	if r.IntN(100) < 72 {
		rec.Cache, rec.Latency = querylog.Hit, uint32(40+r.IntN(200))
	} else {
		rec.Cache, rec.Upstream, rec.Latency = querylog.Miss, "192.0.2.53:53", uint32(4000+r.IntN(40000))
	}
	if r.IntN(100) < 2 {
		name = "wwww." + name
		rec.RCode = dns.RcodeNameError
	}
	rec.SetQNameString(name)
	return rec
}
