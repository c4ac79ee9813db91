// Package cx is the office's customer-experience loop, the voice of the
// customer: OMB Circular A-11 Section 280 surveys sent at each lifecycle
// stage of a service, feedback items that agencies and providers submit and
// follow, "you said, we did" entries that close the loop, and the trust
// scores and reports built from them.
//
// The marketplace plugs in through small interfaces: it calls Stage inside
// its own transaction at each lifecycle step, implements
// SubscriptionLister for the quarterly delivery survey and Catalog to name
// service areas and offerings, and reads trust scores with Scores and
// OfferingTrust.
package cx

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/cx/a11"
	"github.com/qsmo/qsmo/internal/db"
)

// Stage is the point of a service's lifecycle a survey asks about.
type Stage string

// The lifecycle stages.
const (
	StageNeeds       Stage = "needs"       // after a maturity assessment
	StageProcurement Stage = "procurement" // after ordering
	StageExecution   Stage = "execution"   // after onboarding
	StageDelivery    Stage = "delivery"    // quarterly while a subscription is active
)

// Stages lists the stages in lifecycle order.
var Stages = []Stage{StageNeeds, StageProcurement, StageExecution, StageDelivery}

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool {
	for _, x := range Stages {
		if x == s {
			return true
		}
	}
	return false
}

// Label names the stage for people.
func (s Stage) Label() string {
	switch s {
	case StageNeeds:
		return "Needs"
	case StageProcurement:
		return "Procurement"
	case StageExecution:
		return "Execution"
	case StageDelivery:
		return "Delivery"
	}
	return string(s)
}

// About says what the stage covers, in a phrase that follows "how did ... go".
func (s Stage) About() string {
	switch s {
	case StageNeeds:
		return "assessing your needs"
	case StageProcurement:
		return "ordering"
	case StageExecution:
		return "onboarding"
	case StageDelivery:
		return "the service this quarter"
	}
	return string(s)
}

// Question is the survey's heading: "How did onboarding go?".
func (s Stage) Question(subject string) string {
	if s == StageDelivery {
		return "How is " + subject + " working for you?"
	}
	return "How did " + s.About() + " go?"
}

// Sentence says what the survey asks about, to follow "would like to know":
// "how onboarding to Protective DNS went".
func (s Stage) Sentence(subject string) string {
	switch s {
	case StageNeeds:
		return "how assessing your needs for " + subject + " went"
	case StageProcurement:
		return "how ordering " + subject + " went"
	case StageExecution:
		return "how onboarding to " + subject + " went"
	case StageDelivery:
		return "how " + subject + " worked for you this quarter"
	}
	return "how " + subject + " went"
}

// Hint describes the stage for forms.
func (s Stage) Hint() string {
	switch s {
	case StageNeeds:
		return "After a maturity assessment: understanding what the organization needs."
	case StageProcurement:
		return "After ordering: comparing, requesting, quoting and agreeing."
	case StageExecution:
		return "After onboarding: provisioning and getting started."
	case StageDelivery:
		return "Every quarter while a subscription is active: the service itself."
	}
	return ""
}

// Channel is how a response arrived.
type Channel string

// Response channels.
const (
	ChannelWeb   Channel = "web"   // signed in, from the portal
	ChannelEmail Channel = "email" // from the one-time link in the invitation email
	ChannelAPI   Channel = "api"   // through the JSON API
)

// Label names the channel for people.
func (c Channel) Label() string {
	switch c {
	case ChannelWeb:
		return "Portal"
	case ChannelEmail:
		return "Email link"
	case ChannelAPI:
		return "API"
	}
	return string(c)
}

// Survey is one survey sent to an organization about one service at one
// stage; each person asked gets an Invitation.
type Survey struct {
	ID             string
	OrgID          string // the organization asked
	OrgName        string
	Stage          Stage
	ServiceArea    string
	ServiceName    string
	OfferingID     string
	OfferingName   string
	ProviderID     string
	ProviderName   string
	OrderID        string
	SubscriptionID string
	// TrustQuestion is the trust statement as it was asked.
	TrustQuestion string
	// Classic says whether the classic five-point items were asked.
	Classic   bool
	Source    string // lifecycle or office
	Quarter   a11.Quarter
	CreatedBy string
	CreatedAt time.Time
	ClosesAt  time.Time
	// Offered and Responses count invitations and their responses.
	Offered   int
	Responses int
}

// Subject is what the survey is about, for sentences: "Protective DNS",
// "SOC as a service from Northwind Security" or, when the catalog names the
// offering, "Managed SOC, tier 2 from Northwind Security".
func (s Survey) Subject() string {
	subject := s.ServiceName
	if s.OfferingName != "" {
		subject = s.OfferingName
	}
	if s.ProviderName != "" {
		subject += " from " + s.ProviderName
	}
	return subject
}

// Question is the survey's heading.
func (s Survey) Question() string { return s.Stage.Question(s.Subject()) }

// ServiceLabel fills the classic items' [service] placeholder.
func (s Survey) ServiceLabel() string {
	if s.OfferingName != "" {
		return s.OfferingName
	}
	return s.ServiceName
}

// Invitation asks one person to answer a survey.
type Invitation struct {
	ID          string
	SurveyID    string
	OrgID       string
	UserID      string
	UserName    string
	UserEmail   string
	Quarter     a11.Quarter
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RespondedAt time.Time
	Survey      Survey
}

// Open reports whether the invitation can still be answered at now.
func (i Invitation) Open(now time.Time) bool {
	return i.RespondedAt.IsZero() && now.Before(i.ExpiresAt)
}

// Response is one answered invitation.
type Response struct {
	ID           string
	InvitationID string
	SurveyID     string
	OrgID        string
	OrgName      string
	Channel      Channel
	Answer       a11.Answer
	Quarter      a11.Quarter
	SubmittedAt  time.Time
}

// Service runs the customer-experience loop. Methods that change state
// check access through Authz and write an audit record in the same
// transaction.
type Service struct {
	DB      *db.DB
	Authz   *authz.Authorizer
	Catalog Catalog
	// OfficeName fills the trust question's [office] placeholder.
	OfficeName string
	// PublicURL returns the portal's external URL, for links in email.
	PublicURL func() string
	Log       *slog.Logger
	// InvitationTTL is how long a survey link can be answered.
	InvitationTTL time.Duration
	// MaxRecipients bounds the people one survey asks.
	MaxRecipients int
	// RepeatGuard is how long the office must wait before sending the same
	// organization the same survey again by hand (survey fatigue).
	RepeatGuard time.Duration

	trust trustCache // see trustByOffering
}

// New returns a Service with defaults.
func New(d *db.DB, az *authz.Authorizer, log *slog.Logger) *Service {
	return &Service{DB: d, Authz: az, Catalog: StaticCatalog{}, Log: log, OfficeName: "the office",
		PublicURL:     func() string { return "http://127.0.0.1:8080" },
		InvitationTTL: 30 * 24 * time.Hour, MaxRecipients: 25, RepeatGuard: 7 * 24 * time.Hour}
}

// hashSecret is how survey link secrets are stored: they carry 160 random
// bits, so a plain SHA-256 is enough and lets the lookup be an equality.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// officeID returns the office organization's ID.
func (s *Service) officeID(ctx context.Context, q db.Queryer) (string, error) {
	var oid string
	err := q.QueryRowContext(ctx, "SELECT id FROM orgs WHERE kind = 'office' ORDER BY created_at LIMIT 1").Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.NotFoundf("Office organization")
	}
	if err != nil {
		return "", fmt.Errorf("cx: office id: %w", err)
	}
	return oid, nil
}

// checkOffice checks perm on the office organization: the permissions that
// concern every organization at once (export, settings, lists).
// A principal none of whose roles grants perm gets Forbidden, not the
// not-found answer Check gives for organizations out of reach: the office
// exists for everyone, and the page is simply not theirs.
func (s *Service) checkOffice(ctx context.Context, p *authz.Principal, perm authz.Permission) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "Sign in to continue.")
	}
	if !authz.CanAnywhere(p, perm) {
		return apperr.New(apperr.Forbidden, "This is for the office's staff.")
	}
	oid, err := s.officeID(ctx, s.DB)
	if err != nil {
		return err
	}
	return s.Authz.Check(ctx, p, perm, oid)
}

// orgRef is the little the service needs to know about an organization.
type orgRef struct {
	ID, Name, Kind, Status, ParentID string
}

func getOrgRef(ctx context.Context, q db.Queryer, orgID string) (orgRef, error) {
	var o orgRef
	err := q.QueryRowContext(ctx, "SELECT id, name, kind, status, COALESCE(parent_id, '') FROM orgs WHERE id = ?", orgID).Scan(&o.ID, &o.Name, &o.Kind, &o.Status, &o.ParentID)
	if errors.Is(err, sql.ErrNoRows) {
		return o, apperr.NotFoundf("Organization")
	}
	if err != nil {
		return o, fmt.Errorf("cx: get org: %w", err)
	}
	return o, nil
}

// ownScope is the set of organizations where p holds perm through a role in
// an agency or provider: the office holds every permission everywhere, but
// it does not answer surveys or submit feedback for other organizations.
func (s *Service) ownScope(ctx context.Context, p *authz.Principal, perm authz.Permission) (authz.Scope, error) {
	if p == nil {
		return authz.Scope{OrgIDs: []string{}}, nil
	}
	own := *p
	own.Memberships = nil
	for _, m := range p.Memberships {
		if m.OrgKind != authz.Office {
			own.Memberships = append(own.Memberships, m)
		}
	}
	return s.Authz.ScopeFor(ctx, &own, perm)
}

// inClause returns "col IN (?, ?, ...)" and its arguments; an empty list
// matches nothing.
func inClause(col string, ids []string) (string, []any) {
	if len(ids) == 0 {
		return "1 = 0", nil
	}
	args := make([]any, len(ids))
	for i, v := range ids {
		args[i] = v
	}
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
