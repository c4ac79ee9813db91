package pdns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// Service is the Protective DNS service. Every method that changes state
// checks access through Authz, writes an audit record and raises the policy
// version in the same transaction, then tells this process's resolver to
// rebuild (other resolver nodes see the version move).
type Service struct {
	DB    *db.DB
	Authz *authz.Authorizer
	Log   *slog.Logger
	// PublicURL is the portal's base URL, for DoH URLs and links in
	// notifications.
	PublicURL string
	// FeedsDir is where file feeds live (DATA_DIR/feeds); file sources
	// are names inside it.
	FeedsDir string
	// QueryLog is the query log of this process's resolver; nil when this
	// process keeps none.
	QueryLog *querylog.Store
	// Node is this process's resolver node; nil when DNS is off here.
	Node *Node
	// Demo reports demo mode: loopback clients belong to the demo agency.
	Demo bool
	// DemoHistory is how much query history the demo data writes (default
	// seven days; tests that only need some take less, since every hour is
	// a sealed file).
	DemoHistory time.Duration
}

// NewService returns the service.
func NewService(d *db.DB, az *authz.Authorizer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{DB: d, Authz: az, Log: log, PublicURL: "http://127.0.0.1:8080"}
}

// ErrNotProvisioned is returned for an agency that does not have the
// service (code not_found: there is no policy to show).
var ErrNotProvisioned = apperr.New(apperr.NotFound, "Protective DNS is not set up for this agency.")

// changed tells this process's resolver that the policy moved. Call it
// after the transaction committed.
func (s *Service) changed() {
	if s.Node != nil {
		s.Node.Trigger()
	}
}

// PolicyInput is what an agency admin sets. Lists hold one entry each
// (SplitList turns a text box into entries).
type PolicyInput struct {
	Categories      []string
	Mode            string
	CNAMEInspection bool
	Egress          []string
	Allow           []string
	Deny            []string
	BlockedAnswers  []string
}

// InputOf returns the input that would keep p as it is.
func InputOf(p Policy) PolicyInput {
	in := PolicyInput{Categories: p.Categories, Mode: p.Mode, CNAMEInspection: p.CNAMEInspection, Allow: p.Allow, Deny: p.Deny}
	for _, n := range p.Egress {
		in.Egress = append(in.Egress, n.String())
	}
	for _, n := range p.BlockedAnswers {
		in.BlockedAnswers = append(in.BlockedAnswers, n.String())
	}
	return in
}

// validate turns the input into a policy's settings, or field errors.
func (in PolicyInput) validate() (Policy, map[string]string) {
	errs := map[string]string{}
	var p Policy
	for _, c := range in.Categories {
		c = strings.TrimSpace(c)
		if _, ok := CategoryByName(c); !ok {
			errs["categories"] = fmt.Sprintf("“%s” is not a threat category.", clip(c))
			break
		}
		if !slices.Contains(p.Categories, c) {
			p.Categories = append(p.Categories, c)
		}
	}
	slices.SortFunc(p.Categories, func(a, b string) int {
		ca, _ := CategoryByName(a)
		cb, _ := CategoryByName(b)
		return int(ca.Bit) - int(cb.Bit)
	})
	p.Mode = strings.TrimSpace(in.Mode)
	switch p.Mode {
	case ModeNXDomain, ModeRefused, ModeNoData, ModeSinkhole:
	default:
		errs["mode"] = "Choose how blocked names are answered."
	}
	p.CNAMEInspection = in.CNAMEInspection
	var err error
	if p.Egress, err = ParseNetworks(in.Egress, Egress); err != nil {
		errs["egress"] = err.Error()
	}
	if p.BlockedAnswers, err = ParseNetworks(in.BlockedAnswers, BlockedAnswers); err != nil {
		errs["blocked_answers"] = err.Error()
	}
	if p.Allow, err = ParseDomains(in.Allow); err != nil {
		errs["allow"] = err.Error()
	}
	if p.Deny, err = ParseDomains(in.Deny); err != nil {
		errs["deny"] = err.Error()
	}
	return p, errs
}

// policyView is the audited form of a policy: everything but the DoH token.
func policyView(p Policy) map[string]any {
	nets := func(ps []netip.Prefix) []string {
		out := []string{}
		for _, n := range ps {
			out = append(out, n.String())
		}
		return out
	}
	return map[string]any{"categories": p.Categories, "mode": p.Mode, "cname_inspection": p.CNAMEInspection,
		"egress": nets(p.Egress), "blocked_answers": nets(p.BlockedAnswers), "allow": p.Allow, "deny": p.Deny}
}

// GetPolicy returns an agency's policy. Callers need dns.read on the
// agency; the DoH token is left empty unless they also hold dns.connect.
// Errors: not_found (no such agency visible, or ErrNotProvisioned).
func (s *Service) GetPolicy(ctx context.Context, p *authz.Principal, orgID string) (Policy, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSRead, orgID); err != nil {
		return Policy{}, err
	}
	pol, found, err := getPolicy(ctx, s.DB, orgID)
	if err != nil {
		return Policy{}, err
	}
	if !found {
		return Policy{}, ErrNotProvisioned
	}
	if !s.Authz.Can(ctx, p, authz.DNSConnect, orgID) {
		pol.DoHToken = ""
	}
	return pol, nil
}

// UpdatePolicy replaces an agency's policy settings and lists. Callers need
// dns.manage. Errors: invalid (with fields; an egress network overlapping
// another agency's is named), not_found.
func (s *Service) UpdatePolicy(ctx context.Context, p *authz.Principal, orgID string, in PolicyInput) (Policy, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSManage, orgID); err != nil {
		return Policy{}, err
	}
	next, errs := in.validate()
	if len(errs) > 0 {
		return Policy{}, apperr.Validation(errs)
	}
	office := p.IsOffice()
	var saved Policy
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := lockPolicies(ctx, tx); err != nil {
			return err
		}
		before, found, err := getPolicy(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotProvisioned
		}
		if next.Mode == ModeSinkhole {
			st, err := loadStateRow(ctx, tx)
			if err != nil {
				return err
			}
			if !st.Settings.SinkholeV4.IsValid() && !st.Settings.SinkholeV6.IsValid() {
				return apperr.Validation(map[string]string{"mode": "The office has not set up a block page yet; choose another way to answer blocked names."})
			}
		}
		conflicts, err := egressConflicts(ctx, tx, orgID, next.Egress)
		if err != nil {
			return err
		}
		if len(conflicts) > 0 {
			return apperr.Validation(map[string]string{"egress": conflictMessage(conflicts, office)})
		}
		saved = before
		saved.Categories, saved.Mode, saved.CNAMEInspection = next.Categories, next.Mode, next.CNAMEInspection
		saved.Egress, saved.BlockedAnswers, saved.Allow, saved.Deny = next.Egress, next.BlockedAnswers, next.Allow, next.Deny
		saved.UpdatedAt = tx.Now()
		if err := updatePolicy(ctx, tx, saved); err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "dns.policy.update", TargetType: "dns_policy", TargetID: orgID,
			Summary: "Changed the Protective DNS policy", Before: policyView(before), After: policyView(saved)}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return Policy{}, err
	}
	s.changed()
	if !s.Authz.Can(ctx, p, authz.DNSConnect, orgID) {
		saved.DoHToken = ""
	}
	return saved, nil
}

// conflictMessage explains overlapping egress networks. The office sees
// which agency holds them; an agency only learns that another agency does,
// so that one agency's networks are not disclosed to another.
func conflictMessage(cs []egressOwner, office bool) string {
	var parts []string
	more := 0
	for _, c := range cs {
		part := fmt.Sprintf("%s overlaps a network registered by another agency", c.Mine)
		if office {
			part = fmt.Sprintf("%s overlaps %s of %s", c.Mine, c.Network, c.OrgName)
		}
		switch {
		case slices.Contains(parts, part):
		case len(parts) == 3:
			more++
		default:
			parts = append(parts, part)
		}
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	msg := strings.Join(parts, "; ") + "."
	if !office {
		msg += " Each network can belong to one agency only; ask the office if this network is yours."
	}
	return msg
}

// RotateToken gives an agency a new DoH token; the old one stops working at
// once. Callers need dns.manage.
func (s *Service) RotateToken(ctx context.Context, p *authz.Principal, orgID string) (Policy, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSManage, orgID); err != nil {
		return Policy{}, err
	}
	var pol Policy
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		before, found, err := getPolicy(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotProvisioned
		}
		pol = before
		pol.DoHToken, pol.UpdatedAt = NewDoHToken(), tx.Now()
		if err := updatePolicy(ctx, tx, pol); err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "dns.token.rotate", TargetType: "dns_policy", TargetID: orgID,
			Summary: "Replaced the DNS over HTTPS token; the old one no longer works"}); err != nil {
			return err
		}
		return bumpVersion(ctx, tx)
	})
	if err != nil {
		return Policy{}, err
	}
	s.changed()
	if !s.Authz.Can(ctx, p, authz.DNSConnect, orgID) {
		pol.DoHToken = ""
	}
	return pol, nil
}

// NewDoHToken returns a fresh DoH token: 160 random bits in lowercase
// base32 (32 characters), safe in a URL path.
func NewDoHToken() string { return id.Secret(20) }

// Provisioner turns the service on and off for an agency inside a caller's
// transaction: the marketplace calls it when an order for the office's
// Protective DNS offering starts or ends. Access is the caller's duty. The
// change reaches the resolvers when they next poll the policy version
// (within two seconds of the commit).
type Provisioner struct{}

// Provision creates the agency's default policy (the default threat
// categories, NXDOMAIN, CNAME inspection on, a new DoH token, no networks
// and no lists). An agency that has the service already is left as it is.
// Errors: invalid when orgID is not an agency, not_found when it does not
// exist.
func (pr Provisioner) Provision(ctx context.Context, tx *db.Tx, orgID string) (Policy, error) {
	var kind, name string
	err := tx.QueryRowContext(ctx, "SELECT kind, name FROM orgs WHERE id = ?", orgID).Scan(&kind, &name)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Policy{}, apperr.NotFoundf("Organization")
		}
		return Policy{}, fmt.Errorf("pdns: provision: %w", err)
	}
	if kind != string(authz.Agency) {
		return Policy{}, apperr.New(apperr.Invalid, "Protective DNS serves agencies; %s is not one.", name)
	}
	if pol, found, err := getPolicy(ctx, tx, orgID); err != nil || found {
		return pol, err
	}
	now := tx.Now()
	pol := Policy{OrgID: orgID, Categories: append([]string(nil), DefaultCategories...), Mode: ModeNXDomain, CNAMEInspection: true,
		DoHToken: NewDoHToken(), CreatedAt: now, UpdatedAt: now}
	if err := insertPolicy(ctx, tx, pol); err != nil {
		return Policy{}, err
	}
	if err := audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "dns.provision", TargetType: "dns_policy", TargetID: orgID,
		Summary: fmt.Sprintf("Set up Protective DNS for %s with the default policy", name), After: policyView(pol)}); err != nil {
		return Policy{}, err
	}
	return pol, bumpVersion(ctx, tx)
}

// Deprovision removes the agency's policy: its queries are refused from
// then on. Its query log stays until retention removes it. An agency
// without the service is left as it is.
func (pr Provisioner) Deprovision(ctx context.Context, tx *db.Tx, orgID string) error {
	before, found, err := getPolicy(ctx, tx, orgID)
	if err != nil || !found {
		return err
	}
	if err := deletePolicy(ctx, tx, orgID); err != nil {
		return err
	}
	if err := audit.Append(ctx, tx, audit.Event{OrgID: orgID, Action: "dns.deprovision", TargetType: "dns_policy", TargetID: orgID,
		Summary: "Turned off Protective DNS: the agency's queries are refused from now on", Before: policyView(before)}); err != nil {
		return err
	}
	return bumpVersion(ctx, tx)
}

// ProvisionAgency turns the service on for an agency from the portal.
// Callers need dns.provision (office admins).
func (s *Service) ProvisionAgency(ctx context.Context, p *authz.Principal, orgID string) (Policy, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSProvision, orgID); err != nil {
		return Policy{}, err
	}
	var pol Policy
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		pol, err = Provisioner{}.Provision(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return Policy{}, err
	}
	s.changed()
	return pol, nil
}

// DeprovisionAgency turns the service off for an agency from the portal.
// Callers need dns.provision.
func (s *Service) DeprovisionAgency(ctx context.Context, p *authz.Principal, orgID string) error {
	if err := s.Authz.Check(ctx, p, authz.DNSProvision, orgID); err != nil {
		return err
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		return Provisioner{}.Deprovision(ctx, tx, orgID)
	})
	if err != nil {
		return err
	}
	s.changed()
	return nil
}
