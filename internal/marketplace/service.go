// Package marketplace is the office's storefront of cybersecurity services:
// service areas and offerings with tiers, SLAs and price books; versioned
// standards and offerings' conformance with them; maturity assessments and
// explained recommendations; orders through office review, quotes,
// interagency agreements and two signatures to provisioning and active
// subscriptions; metered usage, monthly chargeback statements and the
// cost-avoidance report; and the dashboards over all of it.
//
// The pure parts live in sub-packages: lifecycle (the state machines),
// money (cents arithmetic and rating) and maturity (questionnaires as
// data). See README.md for how the pieces fit.
package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/marketplace/maturity"
)

// Service is the marketplace. Every method that a person or token calls
// takes the principal, checks access through Authz and changes state in one
// transaction together with its audit record and notifications.
type Service struct {
	DB    *db.DB
	Authz *authz.Authorizer
	Log   *slog.Logger
	// PublicURL prefixes links in emailed notifications.
	PublicURL string
	// Questionnaires are the maturity questionnaires.
	Questionnaires *maturity.Catalog
	// Hook is told of lifecycle stages (needs, procurement, execution,
	// delivery); the customer-experience area plugs in here. Never nil.
	Hook LifecycleHook
	// CX answers offerings' trust scores; nil means no ratings are shown.
	CX CXScores
	// MaxFileBytes bounds an uploaded document or evidence file.
	MaxFileBytes int64
	// DashboardTTL is how long the office dashboard's figures are reused
	// before they are computed again.
	DashboardTTL time.Duration

	mu           sync.RWMutex
	provisioners map[string]Provisioner // by "area:" + area ID or "offering:" + offering ID
	areas        []ServiceArea          // loaded once: they change only by migration
	officeID     string
	dash         dashCache
	catalog      *catalogIndex // storefront index, see catalog_index.go
}

// New returns a marketplace service with defaults.
func New(d *db.DB, az *authz.Authorizer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		DB: d, Authz: az, Log: log, PublicURL: "http://127.0.0.1:8080",
		Questionnaires: maturity.MustLoad(), Hook: NopHook{},
		MaxFileBytes: 5 << 20, DashboardTTL: 30 * time.Second,
		provisioners: map[string]Provisioner{},
	}
}

func (s *Service) now() time.Time { return s.DB.Now().UTC() }

// OfficeID returns the office organization's ID (cached: there is one
// office and it is never deleted).
func (s *Service) OfficeID(ctx context.Context) (string, error) {
	s.mu.RLock()
	id := s.officeID
	s.mu.RUnlock()
	if id != "" {
		return id, nil
	}
	err := s.DB.QueryRowContext(ctx, "SELECT id FROM orgs WHERE kind = 'office' ORDER BY created_at LIMIT 1").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.NotFoundf("Office organization")
	}
	if err != nil {
		return "", fmt.Errorf("marketplace: office id: %w", err)
	}
	s.mu.Lock()
	s.officeID = id
	s.mu.Unlock()
	return id, nil
}

// orgInfo is what the marketplace reads about an organization.
type orgInfo struct {
	ID, Name, Kind, ParentID, AgencyCode, ALC, Status string
}

func getOrgInfo(ctx context.Context, q db.Queryer, orgID string) (orgInfo, error) {
	var o orgInfo
	err := q.QueryRowContext(ctx, `SELECT id, name, kind, COALESCE(parent_id, ''), agency_code, alc, status FROM orgs WHERE id = ?`, orgID).
		Scan(&o.ID, &o.Name, &o.Kind, &o.ParentID, &o.AgencyCode, &o.ALC, &o.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return o, apperr.NotFoundf("Organization")
	}
	if err != nil {
		return o, fmt.Errorf("marketplace: org: %w", err)
	}
	return o, nil
}

// financialCodes returns an organization's agency code and ALC, taken from
// its nearest ancestor that has them when a sub-organization has none.
func financialCodes(ctx context.Context, q db.Queryer, orgID string) (code, alc string, err error) {
	for depth := 0; orgID != "" && depth < 16; depth++ {
		o, err := getOrgInfo(ctx, q, orgID)
		if err != nil {
			return "", "", err
		}
		if code == "" {
			code = o.AgencyCode
		}
		if alc == "" {
			alc = o.ALC
		}
		if code != "" && alc != "" {
			break
		}
		orgID = o.ParentID
	}
	return code, alc, nil
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anyArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return db.TS(t)
}

// actorLabel is who acts, for the records the marketplace keeps (history,
// signatures); the audit log records the full actor itself.
func actorLabel(p *authz.Principal) string {
	switch {
	case p == nil:
		return "qsmo"
	case p.TokenID != "":
		return "API token " + p.Name
	case p.Name != "":
		return p.Name
	default:
		return p.Email
	}
}

// scopeClause returns a SQL condition limiting column to the principal's
// scope for perm, with its arguments; all is true for office-wide scope.
func (s *Service) scopeClause(ctx context.Context, p *authz.Principal, perm authz.Permission, column string) (clause string, args []any, none bool, err error) {
	sc, err := s.Authz.ScopeFor(ctx, p, perm)
	if err != nil {
		return "", nil, false, err
	}
	if sc.All {
		return "1 = 1", nil, false, nil
	}
	if len(sc.OrgIDs) == 0 {
		return "", nil, true, nil
	}
	return column + " IN (" + placeholders(len(sc.OrgIDs)) + ")", anyArgs(sc.OrgIDs), false, nil
}

// checkEither allows perm when the principal holds it on either
// organization (an order is the agency's and the provider's). It returns
// NotFound when neither is visible, so another organization's record looks
// missing, and Forbidden when one is visible but the role lacks perm.
func (s *Service) checkEither(ctx context.Context, p *authz.Principal, perm authz.Permission, orgA, orgB string) error {
	errA := s.Authz.Check(ctx, p, perm, orgA)
	if errA == nil {
		return nil
	}
	errB := s.Authz.Check(ctx, p, perm, orgB)
	if errB == nil {
		return nil
	}
	if apperr.Is(errA, apperr.Forbidden) {
		return errA
	}
	return errB
}

// actFor checks that p acts for org with perm, for a record p is already
// known to see: not being of that organization is then a matter of role
// (forbidden), not of visibility.
func (s *Service) actFor(ctx context.Context, p *authz.Principal, perm authz.Permission, orgID, msg string) error {
	err := s.Authz.CheckMember(ctx, p, perm, orgID)
	if apperr.Is(err, apperr.NotFound) {
		return apperr.New(apperr.Forbidden, "%s", msg)
	}
	return err
}
