package marketplace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/demo"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// The demo marketplace is built through the service's own methods, with
// the database clock moved through the past year so that orders, usage and
// statements have a history. The Department of the Treasury never orders
// from Northwind: Treasury is the "other agency" of the tenant-isolation
// tests, whose Northwind users must not see it.

// demoOffering describes a sample offering.
type demoOffering struct {
	key, provider, area, name, summary string
	ptype                              ProviderType
	vehicle                            string
	prereq                             []string
	days                               int
	tiers                              []maturity.Tier
	prices                             func(t maturity.Tier) []money.Line
	status                             lifecycle.State // final status
}

const (
	demoVehicle = "GSA MAS SIN 54151HACS"
	cdmVehicle  = "CDM DEFEND task order"
)

func rank(t maturity.Tier) int64 { return int64(t.Rank()) }

func flat(base int64) func(maturity.Tier) []money.Line {
	return func(t maturity.Tier) []money.Line {
		return []money.Line{{Kind: money.Recurring, Unit: "month", Quantity: 1, UnitPrice: base * rank(t)}}
	}
}

func withOnboarding(f func(maturity.Tier) []money.Line, fee int64) func(maturity.Tier) []money.Line {
	return func(t maturity.Tier) []money.Line {
		return append(f(t), money.Line{Kind: money.OneTime, Unit: "each", Quantity: 1, UnitPrice: fee, Description: "Onboarding"})
	}
}

func metered(base int64, unit string, included, price int64) func(maturity.Tier) []money.Line {
	return func(t maturity.Tier) []money.Line {
		ls := []money.Line{}
		if base > 0 {
			ls = append(ls, money.Line{Kind: money.Recurring, Unit: "month", Quantity: 1, UnitPrice: base * rank(t)})
		}
		if included > 0 {
			ls = append(ls, money.Line{Kind: money.Usage, Unit: unit, UnitPrice: 0, Description: "Included"},
				money.Line{Kind: money.Usage, Unit: unit, FromUnits: included * rank(t), UnitPrice: price})
		} else {
			ls = append(ls, money.Line{Kind: money.Usage, Unit: unit, UnitPrice: price})
		}
		return ls
	}
}

func perSeat(price int64) func(maturity.Tier) []money.Line {
	return func(t maturity.Tier) []money.Line {
		return []money.Line{{Kind: money.Recurring, Unit: "seat", Quantity: 1, UnitPrice: price + price*(rank(t)-1)/2}}
	}
}

var (
	fia = []maturity.Tier{maturity.Foundational, maturity.Intermediate, maturity.Advanced}
	fi  = []maturity.Tier{maturity.Foundational, maturity.Intermediate}
	ia  = []maturity.Tier{maturity.Intermediate, maturity.Advanced}
	onI = []maturity.Tier{maturity.Intermediate}
	onF = []maturity.Tier{maturity.Foundational}
	onA = []maturity.Tier{maturity.Advanced}
)

var demoOfferings = []demoOffering{
	{"pdns", "office", "protective-dns", "Protective DNS", "The office's protective resolver: blocks malicious domains and logs every query for your investigations.", OfficeOperated, "", nil, 7, fia,
		metered(0, "dns_queries", 0, 85), lifecycle.Listed},
	{"vdp", "office", "vulnerability-management", "Vulnerability Disclosure Platform", "A hosted disclosure policy and intake for researchers, with triage and KEV-driven remediation tracking.", OfficeOperated, "", nil, 14, fi,
		metered(50_000, "reports", 0, 15_000), lifecycle.Listed},
	{"soc", "office", "soc", "SOC as a Service", "The office's security operations: standard log collection, detections, alert triage and cases.", OfficeOperated, "", []string{"central_logging"}, 30, fia,
		metered(600_000, "bytes_ingested", 100_000_000_000, 9), lifecycle.Listed},
	{"nw-soc", "northwind", "soc", "Northwind Managed SOC", "24x7 managed detection and response with your EDR and logs.", Commercial, demoVehicle, []string{"central_logging", "edr"}, 45, ia,
		withOnboarding(metered(900_000, "bytes_ingested", 200_000_000_000, 12), 1_500_000), lifecycle.Listed},
	{"nw-net", "northwind", "network-defense", "Northwind Network Defense", "Managed next-generation firewalls and segmentation for agency networks.", Commercial, demoVehicle, []string{"perimeter_inventory"}, 30, fi,
		withOnboarding(flat(350_000), 500_000), lifecycle.Listed},
	{"nw-ips", "northwind", "intrusion-detection", "Northwind Intrusion Prevention", "Network sensors with signatures tuned to federal threats, monitored around the clock.", Commercial, demoVehicle, []string{"sensor_points"}, 30, ia,
		flat(420_000), lifecycle.Listed},
	{"nw-mobile", "northwind", "mobile-security", "Northwind Mobile Shield", "Mobile threat defense for managed phones and tablets.", Commercial, demoVehicle, []string{"mdm"}, 21, fi,
		perSeat(900), lifecycle.Listed},
	{"nw-idp", "northwind", "identity-access", "Northwind Identity Hub", "A managed identity provider with phishing-resistant authentication.", Commercial, demoVehicle, nil, 30, onI,
		perSeat(1_200), lifecycle.InReview},
	{"nw-dns", "northwind", "protective-dns", "Northwind DNS Firewall", "Commercial DNS filtering with custom categories and API-driven policy.", Commercial, demoVehicle, []string{"central_dns"}, 14, ia,
		metered(200_000, "dns_queries", 500_000_000, 60), lifecycle.Listed},
	{"nw-dlp", "northwind", "data-protection", "Northwind Data Loss Prevention", "Data-loss prevention across email, web and endpoints.", Commercial, demoVehicle, []string{"classification"}, 30, fi,
		perSeat(700), lifecycle.Listed},
	{"fc-soc", "fcssc", "soc", "FCSSC SOC Shared Service", "A federal shared SOC with standard detections and incident handling for small agencies.", FederalSSP, "", nil, 40, fi,
		metered(450_000, "bytes_ingested", 50_000_000_000, 10), lifecycle.Listed},
	{"fc-vm", "fcssc", "vulnerability-management", "FCSSC Vulnerability Management", "Authenticated scanning, KEV prioritisation and remediation reporting.", FederalSSP, "", []string{"asset_inventory"}, 21, fia,
		metered(100_000, "assets", 0, 250), lifecycle.Listed},
	{"fc-ir", "fcssc", "incident-management", "FCSSC Incident Response", "Incident responders on call, forensics and recovery support.", FederalSSP, "", nil, 10, fi,
		metered(150_000, "hours", 0, 22_500), lifecycle.Listed},
	{"fc-asset", "fcssc", "asset-management", "FCSSC Asset Discovery", "Continuous discovery of hardware, software and cloud assets, reported to CDM.", FederalSSP, "", nil, 21, fi,
		metered(80_000, "assets", 0, 120), lifecycle.Listed},
	{"fc-backup", "fcssc", "data-protection", "FCSSC Data Backup", "Immutable backups with quarterly restore tests.", FederalSSP, "", nil, 21, onI,
		flat(300_000), lifecycle.Paused},
	{"bw-ti", "bluewater", "threat-intelligence", "Bluewater Threat Intelligence", "Curated reports and machine-readable indicator feeds for federal networks.", Commercial, cdmVehicle, nil, 7, fia,
		flat(250_000), lifecycle.Listed},
	{"bw-ir", "bluewater", "incident-management", "Bluewater Incident Response Retainer", "A retainer for complex incidents, with specialists on site within a day.", Commercial, cdmVehicle, []string{"ir_plan"}, 7, ia,
		withOnboarding(metered(300_000, "hours", 0, 27_500), 250_000), lifecycle.Listed},
	{"bw-scrm", "bluewater", "supply-chain-risk", "Bluewater Supply-Chain Watch", "Supplier assessments and SBOM monitoring for critical software.", Commercial, cdmVehicle, nil, 21, fi,
		flat(380_000), lifecycle.Listed},
	{"bw-pentest", "bluewater", "vulnerability-management", "Bluewater Penetration Testing", "Scoped penetration tests with retests of every finding.", Commercial, cdmVehicle, []string{"asset_inventory"}, 14, ia,
		metered(0, "reports", 0, 1_850_000), lifecycle.Listed},
	{"bw-id", "bluewater", "identity-access", "Bluewater Identity Governance", "Access reviews and entitlement analytics at scale.", Commercial, cdmVehicle, []string{"sso"}, 30, onA,
		perSeat(400), lifecycle.Listed},
	{"bw-soclite", "bluewater", "soc", "Bluewater SOC Lite", "Business-hours monitoring for small bureaus.", Commercial, cdmVehicle, nil, 20, onF,
		flat(200_000), lifecycle.Draft},
	{"bw-mtd", "bluewater", "mobile-security", "Bluewater Mobile Threat Defense", "Mobile threat defense (retired in favour of partners' offerings).", Commercial, cdmVehicle, nil, 14, onI,
		perSeat(800), lifecycle.Retired},
}

// demoRequirements are the requirements of each area's standard, version 1.
// Codes are stable so later versions can change them.
func demoRequirements(area string) []RequirementInput {
	prefix := map[string]string{"protective-dns": "PDNS", "vulnerability-management": "VDP", "soc": "SOC", "network-defense": "NET", "incident-management": "IR",
		"threat-intelligence": "TI", "intrusion-detection": "IDS", "supply-chain-risk": "SCR", "asset-management": "AM", "identity-access": "IAM",
		"data-protection": "DP", "mobile-security": "MOB"}[area]
	common := []RequirementInput{
		{Code: prefix + "-01", Text: "Runs on infrastructure with a FedRAMP Moderate (or higher) authorization, or is operated by the office itself.", Mandatory: true, Tiers: fia},
		{Code: prefix + "-02", Text: "Reports security incidents affecting agency data to the agency and the office within one hour of discovery.", Mandatory: true, Tiers: fia},
		{Code: prefix + "-03", Text: "Gives the agency its data and logs in open formats on request and at the end of service.", Mandatory: true, Tiers: ia},
		{Code: prefix + "-04", Text: "Publishes monthly service-level and coverage reports to the agency.", Mandatory: false, Tiers: fia},
	}
	switch area {
	case "protective-dns":
		common = append(common, RequirementInput{Code: "PDNS-05", Text: "Blocks domains on the office's threat feeds within 15 minutes of their publication.", Mandatory: true, Tiers: fia})
	case "soc":
		common = append(common, RequirementInput{Code: "SOC-05", Text: "Normalizes events to the office's common event schema (OCSF) and runs the standard detections.", Mandatory: true, Tiers: ia})
	case "vulnerability-management":
		common = append(common, RequirementInput{Code: "VDP-05", Text: "Tracks remediation of known exploited vulnerabilities against BOD 22-01 deadlines.", Mandatory: true, Tiers: fia})
	}
	return common
}

// DemoLoader fills the marketplace with sample data: published standards
// (with a second version and a draft), offerings in every status, maturity
// assessments, orders in every state, active subscriptions with metered
// usage, issued statements, baselines, modifications and exception
// requests.
func (s *Service) DemoLoader(ctx context.Context, w *demo.World) error {
	l := &demoLoad{s: s, w: w, ctx: ctx, people: map[string]*authz.Principal{}, offerings: map[string]Offering{}}
	queued, err := outboxIDs(ctx, s)
	if err != nil {
		return err
	}
	realNow := s.DB.Now
	defer func() { s.DB.Now = realNow }()
	l.end = realNow().UTC().Truncate(time.Second)
	l.at = l.end.AddDate(-1, 0, -20)
	s.DB.Now = func() time.Time { return l.at }
	for _, step := range []struct {
		name string
		run  func() error
	}{{"codes", l.codes}, {"standards", l.standards}, {"catalog", l.catalog}, {"baselines", l.baselines}, {"assessments", l.assessments}, {"orders", l.orders}, {"exceptions", l.exceptions}} {
		if err := step.run(); err != nil {
			return fmt.Errorf("marketplace demo: %s: %w", step.name, err)
		}
	}
	l.at = l.end
	if err := l.usageAndStatements(); err != nil {
		return fmt.Errorf("marketplace demo: %w", err)
	}
	// The history is notified in the app, where people see it; its email
	// is not kept, so a demo with SMTP configured does not send a year of
	// past notifications.
	now, err := outboxIDs(ctx, s)
	if err != nil {
		return err
	}
	for id := range now {
		if !queued[id] {
			if _, err := s.DB.ExecContext(ctx, "DELETE FROM outbox WHERE id = ? AND sent_at IS NULL", id); err != nil {
				return fmt.Errorf("marketplace demo: clear history email: %w", err)
			}
		}
	}
	s.InvalidateDashboard()
	return nil
}

func outboxIDs(ctx context.Context, s *Service) (map[string]bool, error) {
	rows, err := s.DB.QueryContext(ctx, "SELECT id FROM outbox")
	if err != nil {
		return nil, fmt.Errorf("marketplace demo: outbox: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

type demoLoad struct {
	s         *Service
	w         *demo.World
	ctx       context.Context
	at, end   time.Time
	people    map[string]*authz.Principal
	offerings map[string]Offering
	subs      []Subscription
}

// p returns a demo person's principal from their memberships.
func (l *demoLoad) p(email string) (*authz.Principal, error) {
	if p, ok := l.people[email]; ok {
		return p, nil
	}
	uid, ok := l.w.Users[email]
	if !ok {
		return nil, fmt.Errorf("no demo user %s", email)
	}
	rows, err := l.s.DB.QueryContext(l.ctx, `SELECT m.org_id, o.kind, o.name, o.slug, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ?`, uid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p := &authz.Principal{UserID: uid, Email: email, Name: email}
	for rows.Next() {
		var m authz.Membership
		var kind, role string
		if err := rows.Scan(&m.OrgID, &kind, &m.OrgName, &m.OrgSlug, &role); err != nil {
			return nil, err
		}
		m.OrgKind, m.Role = authz.OrgKind(kind), authz.Role(role)
		p.Memberships = append(p.Memberships, m)
		p.ActiveOrgID = m.OrgID
	}
	var name string
	if err := l.s.DB.QueryRowContext(l.ctx, "SELECT name FROM users WHERE id = ?", uid).Scan(&name); err == nil {
		p.Name = name
	}
	l.people[email] = p
	return p, rows.Err()
}

func (l *demoLoad) must(email string) *authz.Principal {
	p, err := l.p(email)
	if err != nil {
		panic(err) // the demo people are created by demo.Seed before loaders run
	}
	return p
}

func (l *demoLoad) advance(d time.Duration) { l.at = l.at.Add(d) }

// providerEmail is the admin (or analyst) of a sample provider, or the
// office for the office's own offerings.
func (l *demoLoad) providerEmail(provider string, analyst bool) string {
	if provider == "office" {
		if analyst {
			return "analyst@office.example.gov"
		}
		return "admin@office.example.gov"
	}
	if analyst {
		return "analyst@" + provider + ".example.com"
	}
	return "admin@" + provider + ".example.com"
}

func (l *demoLoad) providerID(provider string) string {
	if provider == "office" {
		return l.w.Office.ID
	}
	return l.w.Providers[provider].ID
}

// codes gives the office and the federal shared service provider the
// agency codes and ALCs that agreements carry.
func (l *demoLoad) codes() error {
	_, err := l.s.DB.ExecContext(l.ctx, "UPDATE orgs SET agency_code = ?, alc = ? WHERE id = ?", "070", "70000099", l.w.Office.ID)
	if err != nil {
		return err
	}
	if fc, ok := l.w.Providers["fcssc"]; ok {
		_, err = l.s.DB.ExecContext(l.ctx, "UPDATE orgs SET agency_code = ?, alc = ? WHERE id = ?", "047", "47000050", fc.ID)
	}
	return err
}

func (l *demoLoad) standards() error {
	lead := l.must("standards@office.example.gov")
	areas, err := l.s.Areas(l.ctx)
	if err != nil {
		return err
	}
	for _, a := range areas {
		st, err := l.s.CreateDraftStandard(l.ctx, lead, a.ID)
		if err != nil {
			return err
		}
		for _, r := range demoRequirements(a.ID) {
			if _, err := l.s.AddRequirement(l.ctx, lead, st.ID, r); err != nil {
				return err
			}
		}
		if _, err := l.s.UpdateStandard(l.ctx, lead, st.ID, StandardInput{Title: a.Name + " standard", Summary: "First version: the baseline every offering in this area meets."}); err != nil {
			return err
		}
		if _, _, err := l.s.PublishStandard(l.ctx, lead, st.ID); err != nil {
			return err
		}
	}
	l.advance(2 * time.Hour)
	return nil
}

// catalog creates the offerings, prices them, answers and reviews their
// requirements, and takes each to its status.
func (l *demoLoad) catalog() error {
	lead := l.must("standards@office.example.gov")
	office := l.must("analyst@office.example.gov")
	for _, d := range demoOfferings {
		if d.provider != "office" {
			if _, ok := l.w.Providers[d.provider]; !ok {
				continue
			}
		}
		admin := l.must(l.providerEmail(d.provider, false))
		var tiers []TierInput
		for _, t := range d.tiers {
			tiers = append(tiers, TierInput{Tier: t, AvailabilityBP: int(9900 + 30*rank(t)), ResponseMinutes: int(240 / rank(t)), SupportHours: map[bool]string{true: "24x7", false: "Mon-Fri 8:00-18:00 ET"}[t != maturity.Foundational],
				Description: map[maturity.Tier]string{maturity.Foundational: "Managed for you, with onboarding help.", maturity.Intermediate: "Co-managed with your team.", maturity.Advanced: "Integrated with your own operations."}[t]})
		}
		o, err := l.s.CreateOffering(l.ctx, admin, OfferingInput{ProviderOrgID: l.providerID(d.provider), AreaID: d.area, Name: d.name, Summary: d.summary,
			Description: d.summary + " Delivered to the office's standard for its service area.", ProviderType: d.ptype, ContractVehicle: d.vehicle,
			Prerequisites: d.prereq, OnboardingDays: d.days, Tiers: tiers})
		if err != nil {
			return fmt.Errorf("offering %s: %w", d.key, err)
		}
		for _, t := range d.tiers {
			if _, err := l.s.SetPrices(l.ctx, admin, o.ID, t, d.prices(t)); err != nil {
				return fmt.Errorf("prices of %s: %w", d.key, err)
			}
		}
		if err := l.s.SetOnboardingSteps(l.ctx, admin, o.ID, []Step{
			{"Kick-off call with the agency", "Agree contacts, schedule and the systems in scope."},
			{"Exchange network and access details", "Addresses, accounts and the agency's change window."},
			{"Configure the " + strings.ToLower(d.tiers[0].Label()) + " service", "Apply the agency's settings for the ordered tier."},
			{"Agency confirms the service works", "The agency's contact signs off."}}); err != nil {
			return err
		}
		l.offerings[d.key] = o
		if d.status == lifecycle.Draft {
			continue
		}
		st, ok, err := currentStandard(l.ctx, l.s.DB, d.area)
		if err != nil || !ok {
			return fmt.Errorf("standard of %s: %v", d.area, err)
		}
		for i, r := range st.Requirements {
			status, evidence := AnswerMet, fmt.Sprintf("%s: see the service description, section %d, and the attached authorization letter.", r.Code, i+2)
			if !r.Mandatory && d.key == "nw-soc" {
				status, evidence = AnswerPartial, "Monthly reports cover SLAs; coverage reporting arrives next quarter."
			}
			if _, err := l.s.SaveAnswer(l.ctx, admin, o.ID, r.ID, AnswerInput{Status: status, Evidence: evidence}); err != nil {
				return fmt.Errorf("answer %s of %s: %w", r.Code, d.key, err)
			}
			if d.status == lifecycle.InReview && i >= 2 {
				continue // left for the standards lead's review queue
			}
			if _, err := l.s.ReviewAnswer(l.ctx, lead, o.ID, r.ID, true, ""); err != nil {
				return err
			}
		}
		if _, err := l.s.OfferingAction(l.ctx, admin, o.ID, lifecycle.SubmitOffering, "", nil); err != nil {
			return fmt.Errorf("submit %s: %w", d.key, err)
		}
		if d.status == lifecycle.InReview {
			continue
		}
		l.advance(3 * time.Hour)
		if o, err = l.s.OfferingAction(l.ctx, office, o.ID, lifecycle.ListOffering, "", nil); err != nil {
			return fmt.Errorf("list %s: %w", d.key, err)
		}
		switch d.status {
		case lifecycle.Paused:
			if o, err = l.s.OfferingAction(l.ctx, office, o.ID, lifecycle.PauseOffering, "Paused while the provider renews its authorization.", nil); err != nil {
				return err
			}
		case lifecycle.Retired:
			if o, err = l.s.OfferingAction(l.ctx, admin, o.ID, lifecycle.RetireOffering, "Replaced by partners' offerings.", nil); err != nil {
				return err
			}
		}
		l.offerings[d.key] = o
	}
	// Two areas move to a second version of their standard: SOC adds a
	// retention requirement (offerings answer it), Protective DNS tightens
	// the feed latency. A third version of SOC stays a draft.
	l.advance(60 * 24 * time.Hour)
	if err := l.secondVersions(lead); err != nil {
		return fmt.Errorf("second versions: %w", err)
	}
	return nil
}

func (l *demoLoad) secondVersions(lead *authz.Principal) error {
	for _, area := range []string{"soc", "protective-dns"} {
		st, err := l.s.CreateDraftStandard(l.ctx, lead, area)
		if err != nil {
			return err
		}
		switch area {
		case "soc":
			if _, err := l.s.AddRequirement(l.ctx, lead, st.ID, RequirementInput{Code: "SOC-06", Text: "Keeps agency events searchable for 12 months, per OMB M-21-31.", Mandatory: true, Tiers: ia}); err != nil {
				return err
			}
			if _, err := l.s.UpdateStandard(l.ctx, lead, st.ID, StandardInput{Title: "SOC as a service standard", Summary: "Adds 12-month event retention (SOC-06) for the intermediate and advanced tiers."}); err != nil {
				return err
			}
		case "protective-dns":
			for _, r := range st.Requirements {
				if r.Code == "PDNS-04" {
					if _, err := l.s.UpdateRequirement(l.ctx, lead, r.ID, RequirementInput{Code: "PDNS-04", Text: "Publishes weekly service-level and blocking reports to the agency.", Mandatory: false, Tiers: fia}); err != nil {
						return err
					}
				}
			}
			if _, err := l.s.UpdateStandard(l.ctx, lead, st.ID, StandardInput{Title: "Protective DNS standard", Summary: "Reports become weekly (PDNS-04)."}); err != nil {
				return err
			}
		}
		// Providers answer the new requirement before it is published, as
		// the office announces drafts ahead of publication.
		if _, _, err := l.s.PublishStandard(l.ctx, lead, st.ID); err != nil {
			return err
		}
		if err := l.reanswer(area, lead); err != nil {
			return fmt.Errorf("answers to the new %s standard: %w", area, err)
		}
	}
	draft, err := l.s.CreateDraftStandard(l.ctx, lead, "soc")
	if err != nil {
		return err
	}
	if _, err := l.s.AddRequirement(l.ctx, lead, draft.ID, RequirementInput{Code: "SOC-07", Text: "Shares detections' hit counts with the office monthly to tune the standard detections.", Mandatory: false, Tiers: fia}); err != nil {
		return err
	}
	_, err = l.s.UpdateStandard(l.ctx, lead, draft.ID, StandardInput{Title: "SOC as a service standard", Summary: "Draft: detection feedback to the office (SOC-07)."})
	return err
}

// reanswer answers what a new version added or changed for the listed
// offerings of an area and relists tiers it had unlisted.
func (l *demoLoad) reanswer(area string, lead *authz.Principal) error {
	office := l.must("analyst@office.example.gov")
	for _, d := range demoOfferings {
		o, ok := l.offerings[d.key]
		if !ok || d.area != area || (o.Status != lifecycle.Listed && o.Status != lifecycle.Paused) {
			continue
		}
		admin := l.must(l.providerEmail(d.provider, false))
		o, err := loadOffering(l.ctx, l.s.DB, o.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		c, err := l.s.conformanceOf(l.ctx, l.s.DB, o, false)
		if err != nil || c.Standard == nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		for _, row := range c.Rows {
			if row.Answer.Status != "" {
				continue
			}
			if _, err := l.s.SaveAnswer(l.ctx, admin, o.ID, row.Requirement.ID, AnswerInput{Status: AnswerMet, Evidence: row.Requirement.Code + ": retention configured for 13 months; see the architecture document."}); err != nil {
				return fmt.Errorf("%s: %w", d.key, err)
			}
			if _, err := l.s.ReviewAnswer(l.ctx, lead, o.ID, row.Requirement.ID, true, ""); err != nil {
				return fmt.Errorf("%s: %w", d.key, err)
			}
		}
		o, err = loadOffering(l.ctx, l.s.DB, o.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		if o.Status == lifecycle.Paused && d.status == lifecycle.Listed {
			if o, err = l.s.OfferingAction(l.ctx, office, o.ID, lifecycle.ResumeOffering, "", nil); err != nil {
				return fmt.Errorf("%s: %w", d.key, err)
			}
		}
		if o.Status == lifecycle.Listed && len(o.ListedTiers()) < len(o.Tiers) {
			var want []maturity.Tier
			for _, t := range o.Tiers {
				if !t.Listed {
					want = append(want, t.Tier)
				}
			}
			if _, err := l.s.ListTiers(l.ctx, office, o.ID, want); err != nil {
				return fmt.Errorf("%s: %w", d.key, err)
			}
		}
		if o, err = loadOffering(l.ctx, l.s.DB, o.ID); err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		l.offerings[d.key] = o
	}
	return nil
}

func (l *demoLoad) baselines() error {
	admin := l.must("admin@office.example.gov")
	base := map[string]int64{"protective-dns": 450_000, "vulnerability-management": 600_000, "soc": 2_400_000, "network-defense": 900_000, "incident-management": 700_000,
		"threat-intelligence": 500_000, "intrusion-detection": 1_100_000, "supply-chain-risk": 750_000, "asset-management": 400_000, "identity-access": 650_000,
		"data-protection": 800_000, "mobile-security": 300_000}
	for area, m := range base {
		for _, t := range maturity.Tiers() {
			if err := l.s.SetBaseline(l.ctx, admin, area, t, m*rank(t)*3/2, "Median of agencies' own contracts for comparable scope, FY2025 data call."); err != nil {
				return err
			}
		}
	}
	return nil
}

// answers are sample questionnaire answers by maturity.
var demoAnswers = map[string]map[string]map[string]string{
	"protective-dns": {
		"low":  {"resolution": "isp", "logging": "none", "siem": "none", "egress": "no", "sites": "many", "encrypted": "no"},
		"mid":  {"resolution": "local", "logging": "short", "siem": "partial", "egress": "some", "sites": "some", "encrypted": "browser"},
		"high": {"resolution": "filtered", "logging": "long", "siem": "siem", "egress": "yes", "sites": "some", "encrypted": "managed"},
	},
	"soc": {
		"low":  {"collection": "none", "m2131": "el0", "edr": "no", "hours": "none", "ir": "no"},
		"mid":  {"collection": "all", "m2131": "el1", "edr": "some", "hours": "business", "ir": "informal"},
		"high": {"collection": "all", "m2131": "el2", "edr": "all", "hours": "247", "ir": "yes"},
	},
	"vulnerability-management": {
		"low":  {"policy": "none", "inventory": "no", "scanning": "none", "triage": "nobody", "fix": "email"},
		"mid":  {"policy": "published", "inventory": "partial", "scanning": "external", "triage": "adhoc", "fix": "spreadsheet"},
		"high": {"policy": "published", "inventory": "yes", "scanning": "authenticated", "triage": "team", "fix": "tickets"},
	},
}

// assessments: each department assesses three areas at its level; Energy
// and the Treasury retake after improving, so trends show.
func (l *demoLoad) assessments() error {
	levels := map[string][2]string{"energy": {"mid", "high"}, "treasury": {"low", "mid"}, "agriculture": {"low", "low"}, "interior": {"mid", "mid"},
		"labor": {"low", "mid"}, "education": {"mid", "high"}, "commerce": {"high", "high"}, "sba": {"low", "low"}, "ssa": {"mid", "mid"}, "gsa": {"high", "high"}}
	start := l.at
	for slug, lv := range levels {
		if _, ok := l.w.Agencies[slug]; !ok {
			continue
		}
		buyer := l.must("buyer@" + slug + ".example.gov")
		for _, area := range []string{"protective-dns", "soc", "vulnerability-management"} {
			l.at = start.Add(30 * 24 * time.Hour)
			answers := demoAnswers[area][lv[0]]
			if _, err := l.s.TakeAssessment(l.ctx, buyer, l.w.Agencies[slug].ID, area, l.answersFor(area, answers)); err != nil {
				return fmt.Errorf("assessment %s %s: %w", slug, area, err)
			}
			if lv[1] != lv[0] {
				l.at = l.end.Add(-20 * 24 * time.Hour)
				if _, err := l.s.TakeAssessment(l.ctx, buyer, l.w.Agencies[slug].ID, area, l.answersFor(area, demoAnswers[area][lv[1]])); err != nil {
					return err
				}
			}
		}
	}
	l.at = start
	return nil
}

// answersFor keeps the answers the latest questionnaire asks.
func (l *demoLoad) answersFor(area string, all map[string]string) map[string]string {
	q, _ := l.s.Questionnaires.Latest(area)
	out := map[string]string{}
	for _, qu := range q.Questions {
		out[qu.ID] = all[qu.ID]
	}
	return out
}

// demoOrder is a sample order: who, what, how far it got and when it
// started.
type demoOrder struct {
	agency, offering string
	tier             maturity.Tier
	qty              int64
	state            lifecycle.State
	daysAgo          int
	late             bool // some steps miss their service level
	by               string
}

var demoOrders = []demoOrder{
	{"energy", "pdns", maturity.Intermediate, 1, lifecycle.Active, 330, false, ""},
	{"energy", "nw-soc", maturity.Advanced, 1, lifecycle.Active, 300, true, ""},
	{"energy", "vulnerability-management", maturity.Foundational, 1, lifecycle.Active, 250, false, ""},
	{"energy", "nw-mobile", maturity.Intermediate, 400, lifecycle.Active, 200, false, ""},
	{"energy", "fc-ir", maturity.Foundational, 1, lifecycle.Cancelled, 280, false, ""},
	{"energy-nnsa", "pdns", maturity.Foundational, 1, lifecycle.Active, 60, false, "admin@energy-nnsa.example.gov"},
	{"treasury", "pdns", maturity.Foundational, 1, lifecycle.Active, 320, false, ""},
	{"treasury", "fc-soc", maturity.Foundational, 1, lifecycle.Active, 260, true, ""},
	{"treasury", "bw-ti", maturity.Intermediate, 1, lifecycle.Active, 240, false, ""},
	{"treasury", "fc-vm", maturity.Intermediate, 1, lifecycle.Provisioning, 45, true, ""},
	{"treasury", "bw-pentest", maturity.Intermediate, 1, lifecycle.Signing, 12, false, ""},
	{"agriculture", "pdns", maturity.Foundational, 1, lifecycle.Active, 200, false, ""},
	{"agriculture", "fc-soc", maturity.Foundational, 1, lifecycle.Quoted, 9, false, ""},
	{"interior", "pdns", maturity.Intermediate, 1, lifecycle.Active, 180, true, ""},
	{"interior", "nw-net", maturity.Intermediate, 1, lifecycle.Active, 150, false, ""},
	{"interior", "bw-scrm", maturity.Foundational, 1, lifecycle.Requested, 8, false, ""},
	{"labor", "pdns", maturity.Foundational, 1, lifecycle.Active, 150, false, ""},
	{"labor", "fc-asset", maturity.Foundational, 1, lifecycle.Approved, 4, false, ""},
	{"education", "soc", maturity.Intermediate, 1, lifecycle.Active, 160, true, ""},
	{"education", "bw-ir", maturity.Intermediate, 1, lifecycle.AgreementDraft, 10, false, ""},
	{"commerce", "nw-dns", maturity.Advanced, 1, lifecycle.Active, 210, false, ""},
	{"commerce", "nw-ips", maturity.Advanced, 1, lifecycle.Active, 120, false, ""},
	{"commerce", "bw-id", maturity.Advanced, 1, lifecycle.Declined, 40, false, ""},
	{"sba", "pdns", maturity.Foundational, 1, lifecycle.Active, 100, false, ""},
	{"sba", "fc-soc", maturity.Foundational, 1, lifecycle.Withdrawn, 70, false, ""},
	{"ssa", "vulnerability-management", maturity.Intermediate, 1, lifecycle.Active, 90, false, ""},
	{"ssa", "nw-dlp", maturity.Intermediate, 800, lifecycle.Active, 80, false, ""},
	{"ssa", "fc-vm", maturity.Intermediate, 1, lifecycle.Signing, 20, true, ""},
	{"gsa", "soc", maturity.Advanced, 1, lifecycle.Active, 250, false, ""},
	{"gsa", "nw-soc", maturity.Advanced, 1, lifecycle.Requested, 1, false, ""},
}

// demoFunding is each agency's sample funding: its agency code in the TAS.
func demoFunding(code string, q Quote) FundingInput {
	if code == "" {
		code = "070"
	}
	return FundingInput{TAS: code + "-X-0228", ObjectClass: "25.3", Obligated: max(q.FirstYear(), 100)}
}

func (l *demoLoad) orders() error {
	for i, d := range demoOrders {
		if err := l.order(i, d); err != nil {
			return fmt.Errorf("order %s/%s: %w", d.agency, d.offering, err)
		}
	}
	return nil
}

func (l *demoLoad) order(i int, d demoOrder) error {
	ag, ok := l.w.Agencies[d.agency]
	off, ok2 := l.offerings[d.offering]
	if !ok || !ok2 || !off.Orderable() {
		return nil
	}
	var prov string
	for _, x := range demoOfferings {
		if x.key == d.offering {
			prov = x.provider
		}
	}
	top := strings.SplitN(d.agency, "-", 2)[0]
	buyerEmail, approverEmail := "buyer@"+top+".example.gov", "approver@"+top+".example.gov"
	if d.by != "" {
		buyerEmail, approverEmail = d.by, d.by
	}
	buyer, approver := l.must(buyerEmail), l.must(approverEmail)
	provAdmin, provAnalyst := l.must(l.providerEmail(prov, false)), l.must(l.providerEmail(prov, true))
	office := l.must("analyst@office.example.gov")
	day := 24 * time.Hour
	wait := func(normal, late int) {
		n := normal
		if d.late && i%2 == 0 {
			n = late
		}
		l.advance(time.Duration(n)*day + time.Duration(i*37)*time.Minute)
	}
	l.at = l.end.Add(-time.Duration(d.daysAgo) * day).Add(time.Duration(9+i%8) * time.Hour)
	o, err := l.s.RequestOrder(l.ctx, buyer, OrderInput{AgencyOrgID: ag.ID, OfferingID: off.ID, Tier: d.tier, Quantity: d.qty,
		Needs: fmt.Sprintf("%s for %s: headquarters and field networks, starting this quarter.", off.Name, ag.Name)})
	if err != nil {
		return err
	}
	if d.state == lifecycle.Requested {
		return nil
	}
	wait(1, 5)
	if d.state == lifecycle.Declined {
		_, err := l.s.DeclineOrder(l.ctx, office, o.ID, "Duplicative: the agency's identity governance is covered by its existing enterprise agreement until 2027.")
		return err
	}
	if o, err = l.s.ApproveOrder(l.ctx, office, o.ID, ""); err != nil || d.state == lifecycle.Approved {
		return err
	}
	wait(3, 8)
	lines, err := l.s.SuggestedQuote(l.ctx, provAnalyst, o)
	if err != nil {
		return err
	}
	if o, err = l.s.SubmitQuote(l.ctx, provAnalyst, o.ID, QuoteInput{Lines: lines, Notes: "Priced from our published price book for this tier."}); err != nil || d.state == lifecycle.Quoted {
		return err
	}
	if d.state == lifecycle.Withdrawn {
		wait(4, 4)
		_, err := l.s.WithdrawOrder(l.ctx, buyer, o.ID, "Our budget moved to next fiscal year.")
		return err
	}
	wait(4, 12)
	qs, err := loadQuotes(l.ctx, l.s.DB, o.ID)
	if err != nil {
		return err
	}
	if o, err = l.s.AcceptQuote(l.ctx, approver, o.ID, demoFunding(ag.AgencyCode, qs[0])); err != nil || d.state == lifecycle.AgreementDraft {
		return err
	}
	wait(2, 7)
	if o, err = l.s.SendAgreement(l.ctx, provAdmin, o.ID); err != nil {
		return err
	}
	wait(2, 12)
	if o, err = l.s.SignAgreement(l.ctx, approver, o.ID, SignInput{Title: "Chief Information Officer", Tracking: fmt.Sprintf("%s-IAA-%03d", strings.ToUpper(top[:3]), i+1)}); err != nil || d.state == lifecycle.Signing {
		return err
	}
	wait(1, 3)
	if o, err = l.s.SignAgreement(l.ctx, provAdmin, o.ID, SignInput{Title: "Contracting Officer", Tracking: fmt.Sprintf("SVC-%04d", 100+i)}); err != nil {
		return err
	}
	// A service with a provisioner (the office's Protective DNS) is active
	// once signed; the others work their onboarding checklist.
	if o.State != lifecycle.Active {
		tasks, err := loadTasks(l.ctx, l.s.DB, o.ID)
		if err != nil {
			return err
		}
		for k, t := range tasks {
			if d.state == lifecycle.Provisioning && k >= 2 {
				break
			}
			wait(max(1, off.OnboardingDays/(len(tasks)+1)), off.OnboardingDays/len(tasks)+6)
			if _, err := l.s.SetTask(l.ctx, provAnalyst, o.ID, t.ID, true, ""); err != nil {
				return err
			}
		}
		if d.state == lifecycle.Provisioning {
			return nil
		}
		if o, err = l.s.CompleteOnboarding(l.ctx, provAnalyst, o.ID); err != nil {
			return err
		}
	}
	sub, err := loadSubscription(l.ctx, l.s.DB, o.SubscriptionID, l.at)
	if err != nil {
		return err
	}
	if d.state == lifecycle.Cancelled {
		l.at = l.end.Add(-time.Duration(d.daysAgo-150) * day)
		_, err := l.s.CancelSubscription(l.ctx, approver, sub.ID, "The department's own responders took the work back in house.")
		if err == nil {
			sub, err = loadSubscription(l.ctx, l.s.DB, sub.ID, l.at)
		}
		l.subs = append(l.subs, sub)
		return err
	}
	l.subs = append(l.subs, sub)
	switch {
	case d.agency == "treasury" && d.offering == "fc-soc":
		// The provider proposes a step up; the agency has not decided.
		l.at = l.end.Add(-3 * day)
		_, err = l.s.ProposeModification(l.ctx, provAdmin, sub.ID, ModificationInput{Tier: maturity.Intermediate, Quantity: 1, Lines: demoOfferingLines("fc-soc", maturity.Intermediate),
			Note: "Your log volume has doubled; the intermediate tier includes 100 GB a month and co-managed triage.", Tracking: "FCSSC-MOD-7"})
	case d.agency == "energy" && d.offering == "nw-mobile":
		// The agency added devices; Northwind approved.
		l.at = l.end.Add(-40 * day)
		var m Modification
		lines := []money.Line{{Kind: money.Recurring, Unit: "seat", Quantity: 550, UnitPrice: 1_350}}
		if m, err = l.s.ProposeModification(l.ctx, approver, sub.ID, ModificationInput{Tier: maturity.Intermediate, Quantity: 550, Lines: lines,
			Note: "Adds the 150 field laptops' tethered phones.", Tracking: "ENE-MOD-2"}); err == nil {
			l.advance(2 * day)
			_, err = l.s.DecideModification(l.ctx, provAdmin, m.ID, lifecycle.ApproveModification, "NW-CHG-31", "Agreed at the listed seat price.")
		}
	}
	return err
}

func demoOfferingLines(key string, t maturity.Tier) []money.Line {
	for _, d := range demoOfferings {
		if d.key == key {
			return d.prices(t)
		}
	}
	return nil
}

func (l *demoLoad) exceptions() error {
	office := l.must("admin@office.example.gov")
	reqs := []struct {
		agency, area, vendor, desc, why string
		cost                            int64
		decide                          lifecycle.Action
		reason                          string
		daysAgo                         int
	}{
		{"treasury", "mobile-security", "Acme Secure Mobility", "Mobile threat defense for 6,000 devices in the classified enclave.",
			"No listed offering is accredited for our classified mobile enclave; Acme holds the only authorization at that level.", 14_000_000, lifecycle.Approve, "Approved for the enclave only; revisit when a listed offering is accredited.", 90},
		{"interior", "threat-intelligence", "OpenIntel Pro", "A threat-intelligence subscription for the parks' OT networks.",
			"We need OT-specific indicators that the listed feeds do not cover for industrial control systems in remote parks.", 3_000_000, lifecycle.Decline, "Bluewater Threat Intelligence covers OT indicators at its advanced tier since March; order it instead.", 50},
		{"labor", "identity-access", "Contoso Identity", "Single sign-on and MFA for 17,000 staff.",
			"Our unions' agreement requires an on-premises identity store, which the listed identity offerings do not support.", 9_500_000, "", "", 6},
	}
	for _, r := range reqs {
		ag, ok := l.w.Agencies[r.agency]
		if !ok {
			continue
		}
		l.at = l.end.Add(-time.Duration(r.daysAgo) * 24 * time.Hour)
		e, err := l.s.RequestException(l.ctx, l.must("buyer@"+r.agency+".example.gov"), ExceptionInput{AgencyOrgID: ag.ID, AreaID: r.area, Vendor: r.vendor,
			Description: r.desc, Justification: r.why, AnnualCost: r.cost})
		if err != nil {
			return err
		}
		if r.decide != "" {
			l.advance(5 * 24 * time.Hour)
			if _, err := l.s.DecideException(l.ctx, office, e.ID, r.decide, r.reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// usageAndStatements records a month of metered usage per subscription
// and issues every ended month's statements.
func (l *demoLoad) usageAndStatements() error {
	size := map[string]int64{"dns_queries": 120_000_000, "bytes_ingested": 320_000_000_000, "reports": 6, "assets": 1_800, "hours": 14}
	first := l.end
	for k, sub := range l.subs {
		if sub.StartedAt.Before(first) {
			first = sub.StartedAt
		}
		metrics := map[string]bool{}
		for _, r := range sub.Rates {
			if r.Kind == money.Usage {
				metrics[r.Unit] = true
			}
		}
		for m := range metrics {
			start, _ := monthBounds(sub.StartedAt)
			for month := start; month.Before(l.end); month = month.AddDate(0, 1, 0) {
				at := month.AddDate(0, 0, 14).Add(12 * time.Hour)
				if at.Before(sub.StartedAt) {
					at = sub.StartedAt.Add(time.Hour)
				}
				if !sub.EndedAt.IsZero() && at.After(sub.EndedAt) || at.After(l.end.Add(-time.Hour)) {
					continue
				}
				q := size[m] * int64(70+(k*13+int(month.Month())*7)%60) / 100
				if _, _, err := l.s.RecordUsage(l.ctx, UsageRecord{SubscriptionID: sub.ID, Metric: m, Quantity: q, OccurredAt: at,
					IdempotencyKey: "demo-" + m + "-" + month.Format("2006-01")}); err != nil {
					return fmt.Errorf("usage of %s: %w", sub.OfferingName, err)
				}
			}
		}
	}
	admin := l.must("admin@office.example.gov")
	start, _ := monthBounds(first)
	last, _ := monthBounds(l.end)
	for month := start; month.Before(last); month = month.AddDate(0, 1, 0) {
		if _, err := l.s.IssueStatements(l.ctx, admin, month); err != nil {
			return fmt.Errorf("statements of %s: %w", month.Format("2006-01"), err)
		}
	}
	return nil
}
