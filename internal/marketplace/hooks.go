package marketplace

import (
	"context"
	"time"

	"github.com/qsmo/qsmo/internal/db"
)

// Stage is a step of an agency's journey with a service, as the
// customer-experience area surveys it.
type Stage string

// Lifecycle stages.
const (
	StageNeeds       Stage = "needs"       // the agency completed a maturity assessment
	StageProcurement Stage = "procurement" // the agency submitted an order
	StageExecution   Stage = "execution"   // onboarding completed: the subscription became active
	StageDelivery    Stage = "delivery"    // quarterly, while a subscription is active
)

// LifecycleEvent is one stage reached by an agency.
type LifecycleEvent struct {
	Stage          Stage
	AgencyID       string
	ServiceArea    string
	OfferingID     string // empty at the needs stage
	ProviderID     string // empty at the needs stage
	OrderID        string // procurement and later
	SubscriptionID string // execution and delivery
	// UserID is the agency person closest to the stage (who took the
	// assessment or requested the order); empty when unknown.
	UserID string
	At     time.Time
}

// LifecycleHook is told of each stage inside the transaction that reached
// it, so what it records (e.g. a survey invitation) commits or rolls back
// with the change. An error aborts the change: a hook should fail only for
// its own storage errors.
type LifecycleHook interface {
	Stage(ctx context.Context, tx *db.Tx, ev LifecycleEvent) error
}

// NopHook ignores every stage; it is the default until another area plugs
// in.
type NopHook struct{}

// Stage does nothing.
func (NopHook) Stage(context.Context, *db.Tx, LifecycleEvent) error { return nil }

// CXScore is an offering's customer-experience figure: the share of
// respondents who trust the service, in percent, from Responses answers.
type CXScore struct {
	TrustPercent int
	Responses    int
}

// CXScores answers trust scores for offerings. Offerings without responses
// are absent from the map and shown as "no ratings yet".
type CXScores interface {
	TrustByOffering(ctx context.Context, offeringIDs []string) (map[string]CXScore, error)
}

// cxScores asks the CX area, if any, and never fails a page for it: a
// broken score source shows "no ratings yet" and logs.
func (s *Service) cxScores(ctx context.Context, ids []string) map[string]CXScore {
	if s.CX == nil || len(ids) == 0 {
		return map[string]CXScore{}
	}
	m, err := s.CX.TrustByOffering(ctx, ids)
	if err != nil {
		s.Log.Warn("marketplace: cx scores", "err", err)
		return map[string]CXScore{}
	}
	if m == nil {
		return map[string]CXScore{}
	}
	return m
}

// Provisioner sets a built-in service up for a subscription when its order
// completes, and takes it down when the subscription ends. Both run inside
// the transaction that activates or cancels the subscription: an error
// leaves the order where it was.
type Provisioner interface {
	Provision(ctx context.Context, tx *db.Tx, sub Subscription) error
	Deprovision(ctx context.Context, tx *db.Tx, sub Subscription) error
}

// RegisterProvisioner makes p provision the office-operated offerings of a
// service area (e.g. Protective DNS creating the agency's resolver policy).
// Offerings of other providers in the area keep onboarding checklists.
func (s *Service) RegisterProvisioner(serviceArea string, p Provisioner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provisioners["area:"+serviceArea] = p
}

// RegisterOfferingProvisioner makes p provision one offering.
func (s *Service) RegisterOfferingProvisioner(offeringID string, p Provisioner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provisioners["offering:"+offeringID] = p
}

// provisionerFor returns the provisioner of an offering, if any.
func (s *Service) provisionerFor(offeringID, area string, officeOperated bool) Provisioner {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p, ok := s.provisioners["offering:"+offeringID]; ok {
		return p
	}
	if officeOperated {
		return s.provisioners["area:"+area]
	}
	return nil
}

// Ref names a marketplace record that other areas link to (a "you said, we
// did" entry points at an offering or a standard version).
type Ref struct {
	Kind  string // "offering" or "standard"
	ID    string
	Title string
	URL   string // stable path of its page; the API twin is /api/v1 + the same path minus /marketplace
}

// OfferingURL is the stable page of an offering.
func OfferingURL(id string) string { return "/marketplace/offerings/" + id }

// StandardURL is the stable page of a standard version.
func StandardURL(id string) string { return "/marketplace/standards/" + id }

// Describe returns the reference of an offering or standard version by ID,
// without an access check: the title and link of a public catalog record.
// Drafts are not described (they are not public); they answer NotFound.
func (s *Service) Describe(ctx context.Context, id string) (Ref, error) {
	switch {
	case len(id) > 4 && id[:4] == "off_":
		var name, status string
		err := s.DB.QueryRowContext(ctx, "SELECT name, status FROM market_offerings WHERE id = ?", id).Scan(&name, &status)
		if err != nil || status == "draft" || status == "in_review" {
			return Ref{}, notFound("Offering")
		}
		return Ref{Kind: "offering", ID: id, Title: name, URL: OfferingURL(id)}, nil
	case len(id) > 4 && id[:4] == "std_":
		var title, status string
		var version int
		err := s.DB.QueryRowContext(ctx, "SELECT title, version, status FROM market_standards WHERE id = ?", id).Scan(&title, &version, &status)
		if err != nil || status == "draft" {
			return Ref{}, notFound("Standard")
		}
		return Ref{Kind: "standard", ID: id, Title: title + " v" + itoa(version), URL: StandardURL(id)}, nil
	}
	return Ref{}, notFound("Record")
}
