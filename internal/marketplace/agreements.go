package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Agreement is an order's interagency agreement: the general terms and
// conditions (the data of Treasury form 7600A) and the order (7600B), with
// both parties' signatures and tracking numbers.
type Agreement struct {
	ID          string
	OrderID     string
	Status      string // draft, signing, signed
	GTCNumber   string // assigned when sent for signature
	OrderNumber string

	RequestingName       string
	RequestingAgencyCode string
	RequestingALC        string
	RequestingTracking   string
	ServicingName        string
	ServicingAgencyCode  string
	ServicingALC         string
	ServicingTracking    string
	ContractVehicle      string

	AgreementTerms

	AgencySigner        string
	AgencySignerTitle   string
	AgencySignedAt      time.Time
	ProviderSigner      string
	ProviderSignerTitle string
	ProviderSignedAt    time.Time
	SentAt              time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// AgreementTerms are the editable terms of an agreement.
type AgreementTerms struct {
	PeriodStart       time.Time
	PeriodEnd         time.Time
	Recurring         bool
	Authority         string
	AuthorityCitation string
	Advance           bool // advance payment; otherwise reimbursable
	TerminationDays   int
	Requirements      string
	TAS               string
	ObjectClass       string
	Obligated         int64
	FundsExpire       time.Time
}

// Authorities are the statutory authorities an agreement may cite.
var Authorities = map[string]string{
	"economy_act":      "Economy Act (31 U.S.C. 1535)",
	"franchise_fund":   "Franchise fund authority",
	"revolving_fund":   "Revolving fund authority",
	"contract_vehicle": "Order under a contract vehicle",
	"other":            "Other statutory authority (cite it)",
}

// AuthorityLabel names the agreement's authority.
func (a Agreement) AuthorityLabel() string {
	if l, ok := Authorities[a.Authority]; ok {
		if a.AuthorityCitation != "" {
			return l + ": " + a.AuthorityCitation
		}
		return l
	}
	return a.Authority
}

// StatusLabel names the agreement's status.
func (a Agreement) StatusLabel() string {
	switch a.Status {
	case "draft":
		return "Draft"
	case "signing":
		return "Awaiting signatures"
	case "signed":
		return "Signed by both parties"
	}
	return a.Status
}

var (
	tasPattern         = regexp.MustCompile(`^[0-9]{3}-(X|[0-9]{4}(/[0-9]{4})?)-[0-9]{4}(-[0-9]{3})?$`)
	objectClassPattern = regexp.MustCompile(`^[0-9]{2}(\.[0-9]{1,2})?$`)
	trackingPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9./_-]{2,39}$`)
	signerTitlePattern = regexp.MustCompile(`^[\p{L}\p{N} ,.&'()/-]{2,100}$`)
)

// check validates the terms; complete is what sending for signature needs.
func (t *AgreementTerms) check() map[string]string {
	t.Authority = strings.TrimSpace(t.Authority)
	t.AuthorityCitation = strings.TrimSpace(t.AuthorityCitation)
	t.Requirements = strings.TrimSpace(t.Requirements)
	t.TAS = strings.TrimSpace(t.TAS)
	t.ObjectClass = strings.TrimSpace(t.ObjectClass)
	errs := map[string]string{}
	switch {
	case t.PeriodStart.IsZero():
		errs["period_start"] = "Give the agreement's start date."
	case t.PeriodEnd.IsZero() || !t.PeriodEnd.After(t.PeriodStart):
		errs["period_end"] = "Give an end date after the start date."
	case t.PeriodEnd.After(t.PeriodStart.AddDate(10, 0, 0)):
		errs["period_end"] = "An agreement runs at most ten years."
	}
	if _, ok := Authorities[t.Authority]; !ok {
		errs["authority"] = "Choose the statutory authority."
	} else if t.Authority == "other" && !textOK(t.AuthorityCitation, 3, 200) {
		errs["authority_citation"] = "Cite the authority."
	}
	if !textOK(t.AuthorityCitation, 0, 200) {
		errs["authority_citation"] = "The citation is at most 200 characters."
	}
	if t.TerminationDays < 0 || t.TerminationDays > 365 {
		errs["termination_days"] = "Give the termination notice in days, 0 to 365."
	}
	if !textOK(t.Requirements, 10, 8000) {
		errs["requirements"] = "Describe the requirements (10 to 8,000 characters)."
	}
	if !tasPattern.MatchString(t.TAS) {
		errs["tas"] = "Give the Treasury account symbol, such as 089-X-0228 or 020-2026/2027-0110."
	}
	if t.ObjectClass != "" && !objectClassPattern.MatchString(t.ObjectClass) {
		errs["object_class"] = "Give the object class as digits, such as 25.3."
	}
	if t.Obligated <= 0 || t.Obligated > money.MaxAmount {
		errs["obligated"] = "Give the amount to obligate."
	}
	if !t.FundsExpire.IsZero() && t.FundsExpire.Before(t.PeriodStart) {
		errs["funds_expire"] = "Funds cannot expire before the agreement starts."
	}
	return errs
}

const agreementColumns = `id, order_id, status, gtc_number, order_number, requesting_name, requesting_agency_code, requesting_alc, requesting_tracking,
	servicing_name, servicing_agency_code, servicing_alc, servicing_tracking, contract_vehicle, period_start, period_end, recurring, authority, authority_citation,
	advance, termination_days, requirements, tas, object_class, obligated_cents, funds_expire, agency_signer, agency_signer_title, agency_signed_at,
	provider_signer, provider_signer_title, provider_signed_at, sent_at, created_at, updated_at`

func loadAgreement(ctx context.Context, q db.Queryer, orderID string) (Agreement, error) {
	var a Agreement
	var start, end, expire string
	err := q.QueryRowContext(ctx, "SELECT "+agreementColumns+" FROM market_agreements WHERE order_id = ?", orderID).Scan(
		&a.ID, &a.OrderID, &a.Status, &a.GTCNumber, &a.OrderNumber, &a.RequestingName, &a.RequestingAgencyCode, &a.RequestingALC, &a.RequestingTracking,
		&a.ServicingName, &a.ServicingAgencyCode, &a.ServicingALC, &a.ServicingTracking, &a.ContractVehicle, &start, &end, &a.Recurring, &a.Authority, &a.AuthorityCitation,
		&a.Advance, &a.TerminationDays, &a.Requirements, &a.TAS, &a.ObjectClass, &a.Obligated, &expire, &a.AgencySigner, &a.AgencySignerTitle, (*db.Time)(&a.AgencySignedAt),
		&a.ProviderSigner, &a.ProviderSignerTitle, (*db.Time)(&a.ProviderSignedAt), (*db.Time)(&a.SentAt), (*db.Time)(&a.CreatedAt), (*db.Time)(&a.UpdatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("Agreement")
	}
	if err != nil {
		return a, fmt.Errorf("marketplace: agreement: %w", err)
	}
	a.PeriodStart, a.PeriodEnd, a.FundsExpire = parseDate(start), parseDate(end), parseDate(expire)
	return a, nil
}

func parseDate(s string) time.Time {
	t, _ := time.Parse("2006-01-02", s)
	return t
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// GetAgreement returns an order's agreement.
func (s *Service) GetAgreement(ctx context.Context, p *authz.Principal, orderID string) (Order, Agreement, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return o, Agreement{}, err
	}
	a, err := loadAgreement(ctx, s.DB, orderID)
	return o, a, err
}

// draftAgreement creates the agreement when the agency accepts a quote,
// prefilled from the order, the quote and both organizations.
func (s *Service) draftAgreement(ctx context.Context, sc *stepCtx, q Quote, fund FundingInput) error {
	o := sc.order
	tx := sc.tx
	reqCode, reqALC, err := financialCodes(ctx, tx, o.AgencyOrgID)
	if err != nil {
		return err
	}
	svcCode, svcALC, err := financialCodes(ctx, tx, o.ProviderOrgID)
	if err != nil {
		return err
	}
	off, err := loadOffering(ctx, tx, o.OfferingID)
	if err != nil {
		return err
	}
	start := time.Date(sc.now.Year(), sc.now.Month(), sc.now.Day(), 0, 0, 0, 0, time.UTC)
	authority := "economy_act"
	if off.ProviderType == Commercial {
		authority = "contract_vehicle"
	}
	var lines []string
	for _, l := range q.Lines {
		lines = append(lines, "- "+lineText(l))
	}
	reqs := fmt.Sprintf("%s, %s tier, quantity %d.\n\nAgency's needs: %s\n\nPriced per quote %d:\n%s", o.OfferingName, o.Tier.Label(), o.Quantity, o.Needs, q.Version, strings.Join(lines, "\n"))
	if len(reqs) > 8000 {
		reqs = reqs[:8000]
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO market_agreements (id, order_id, status, requesting_name, requesting_agency_code, requesting_alc,
		servicing_name, servicing_agency_code, servicing_alc, contract_vehicle, period_start, period_end, recurring, authority, advance, termination_days,
		requirements, tas, object_class, obligated_cents, funds_expire, created_at, updated_at)
		VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, 30, ?, ?, ?, ?, ?, ?, ?)`,
		id.New("agr"), o.ID, o.AgencyName, reqCode, reqALC, o.ProviderName, svcCode, svcALC, off.ContractVehicle,
		dateText(start), dateText(start.AddDate(1, 0, -1)), q.Monthly > 0, authority, reqs, fund.TAS, fund.ObjectClass, fund.Obligated, dateText(fund.FundsExpire),
		db.TS(sc.now), db.TS(sc.now))
	if err != nil {
		return fmt.Errorf("marketplace: draft agreement: %w", err)
	}
	return nil
}

// lineText describes a price line in a sentence.
func lineText(l money.Line) string {
	u := money.Units[l.Unit]
	desc := l.Label()
	switch l.Kind {
	case money.Usage:
		band := ""
		if l.FromUnits > 0 {
			band = fmt.Sprintf(" above %s %s", formatInt(l.FromUnits), u.Label)
		}
		return fmt.Sprintf("%s: %s %s%s", desc, money.Format(l.UnitPrice), u.Per, band)
	case money.OneTime:
		return fmt.Sprintf("%s: %d × %s one-time", desc, l.Quantity, money.Format(l.UnitPrice))
	default:
		return fmt.Sprintf("%s: %d × %s %s", desc, l.Quantity, money.Format(l.UnitPrice), u.Per)
	}
}

func formatInt(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// UpdateAgreement edits a draft agreement's terms. Either party's people
// may, before it is sent for signature: the agency (approvers) for its
// funding, the provider for the terms.
func (s *Service) UpdateAgreement(ctx context.Context, p *authz.Principal, orderID string, t AgreementTerms) (Agreement, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Agreement{}, err
	}
	if s.Authz.CheckMember(ctx, p, authz.MarketOrderFulfil, o.ProviderOrgID) != nil && s.Authz.CheckMember(ctx, p, authz.MarketOrderApprove, o.AgencyOrgID) != nil {
		return Agreement{}, apperr.New(apperr.Forbidden, "Only the agency's approvers and the provider's people edit the agreement.")
	}
	if o.State != lifecycle.AgreementDraft {
		return Agreement{}, apperr.New(apperr.Conflict, "The agreement can be edited only before it is sent for signature.")
	}
	if errs := t.check(); len(errs) > 0 {
		return Agreement{}, apperr.Validation(errs)
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := lockOrder(ctx, tx, orderID); err != nil {
			return err
		}
		before, err := loadAgreement(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if before.Status != "draft" {
			return apperr.New(apperr.Conflict, "The agreement was sent for signature meanwhile.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE market_agreements SET period_start = ?, period_end = ?, recurring = ?, authority = ?, authority_citation = ?, advance = ?,
			termination_days = ?, requirements = ?, tas = ?, object_class = ?, obligated_cents = ?, funds_expire = ?, updated_at = ? WHERE order_id = ?`,
			dateText(t.PeriodStart), dateText(t.PeriodEnd), t.Recurring, t.Authority, t.AuthorityCitation, t.Advance, t.TerminationDays, t.Requirements,
			t.TAS, t.ObjectClass, t.Obligated, dateText(t.FundsExpire), db.TS(s.now()), orderID)
		if err != nil {
			return fmt.Errorf("marketplace: update agreement: %w", err)
		}
		return audit.Append(ctx, tx, audit.Event{OrgID: o.AgencyOrgID, Action: "market.agreement.update", TargetType: "order", TargetID: o.ID,
			Summary: fmt.Sprintf("Edited the agreement for “%s”", o.OfferingName), Before: before.AgreementTerms, After: t})
	})
	if err != nil {
		return Agreement{}, err
	}
	return loadAgreement(ctx, s.DB, orderID)
}

// SendAgreement is the provider sending the agreement for signature; the
// GT&C and order tracking numbers are assigned now.
func (s *Service) SendAgreement(ctx context.Context, p *authz.Principal, orderID string) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.SendAgreement, "", "",
		func(ctx context.Context, tx *db.Tx, o Order) (lifecycle.Facts, error) {
			a, err := loadAgreement(ctx, tx, orderID)
			if err != nil {
				return lifecycle.Facts{}, err
			}
			t := a.AgreementTerms
			return lifecycle.Facts{TermsComplete: len(t.check()) == 0}, nil
		},
		func(ctx context.Context, sc *stepCtx) error {
			a, err := loadAgreement(ctx, sc.tx, orderID)
			if err != nil {
				return err
			}
			gtc, order := a.GTCNumber, a.OrderNumber
			if gtc == "" {
				year := sc.now.Year()
				n, err := nextNumber(ctx, sc.tx, fmt.Sprintf("gtc-%d", year))
				if err != nil {
					return err
				}
				gtc = fmt.Sprintf("GTC-%d-%06d", year, n)
				order = gtc + "-001"
			}
			_, err = sc.tx.ExecContext(ctx, `UPDATE market_agreements SET status = 'signing', gtc_number = ?, order_number = ?, sent_at = ?, updated_at = ?,
				agency_signer = '', agency_signer_title = '', agency_signed_at = NULL, provider_signer = '', provider_signer_title = '', provider_signed_at = NULL,
				requesting_tracking = '', servicing_tracking = '' WHERE order_id = ?`, gtc, order, db.TS(sc.now), db.TS(sc.now), orderID)
			sc.note = "Agreement " + gtc + ", order " + order
			return err
		})
}

// SignInput is a signature.
type SignInput struct {
	// Side is the party signing, for a person who belongs to both.
	Side     lifecycle.Party
	Title    string // the signer's title
	Tracking string // the signing organization's own tracking number
}

// SignAgreement records one party's signature with its title and the
// organization's own tracking number. The second signature starts
// provisioning.
func (s *Service) SignAgreement(ctx context.Context, p *authz.Principal, orderID string, in SignInput) (Order, error) {
	in.Title, in.Tracking = strings.TrimSpace(in.Title), strings.TrimSpace(in.Tracking)
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Order{}, err
	}
	party, err := s.orderParty(ctx, p, o, lifecycle.Sign, in.Side)
	if err != nil {
		return Order{}, err
	}
	errs := map[string]string{}
	if !signerTitlePattern.MatchString(in.Title) {
		errs["title"] = "Give your title, such as Chief Information Security Officer."
	}
	if !trackingPattern.MatchString(in.Tracking) {
		errs["tracking"] = "Give your organization's tracking number for this agreement (3 to 40 letters, digits, dots, slashes, dashes)."
	}
	if len(errs) > 0 {
		return Order{}, apperr.Validation(errs)
	}
	return s.orderStep(ctx, p, orderID, lifecycle.Sign, party, "",
		func(ctx context.Context, tx *db.Tx, o Order) (lifecycle.Facts, error) {
			return lifecycle.Facts{AgencySigned: o.AgencySigned, ProviderSigned: o.ProviderSigned}, nil
		},
		func(ctx context.Context, sc *stepCtx) error {
			status := "signing"
			if sc.rule.To == lifecycle.Provisioning {
				status = "signed"
			}
			var query string
			if sc.party == lifecycle.Agency {
				query = "UPDATE market_agreements SET agency_signer = ?, agency_signer_title = ?, agency_signed_at = ?, requesting_tracking = ?, status = ?, updated_at = ? WHERE order_id = ? AND agency_signed_at IS NULL"
			} else {
				query = "UPDATE market_agreements SET provider_signer = ?, provider_signer_title = ?, provider_signed_at = ?, servicing_tracking = ?, status = ?, updated_at = ? WHERE order_id = ? AND provider_signed_at IS NULL"
			}
			res, err := sc.tx.ExecContext(ctx, query, actorLabel(p), in.Title, db.TS(sc.now), in.Tracking, status, db.TS(sc.now), orderID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return apperr.New(apperr.Conflict, "This side has already signed.")
			}
			sc.note = fmt.Sprintf("Signed for %s by %s, %s (tracking %s)", sc.party.Label(), actorLabel(p), in.Title, in.Tracking)
			return nil
		})
}

// ReturnAgreement sends an agreement back to draft with a reason; the
// signatures given so far are cleared.
func (s *Service) ReturnAgreement(ctx context.Context, p *authz.Principal, orderID, reason string, side lifecycle.Party) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.ReturnAgreement, side, reason, nil, func(ctx context.Context, sc *stepCtx) error {
		_, err := sc.tx.ExecContext(ctx, `UPDATE market_agreements SET status = 'draft', agency_signer = '', agency_signer_title = '', agency_signed_at = NULL,
			provider_signer = '', provider_signer_title = '', provider_signed_at = NULL, requesting_tracking = '', servicing_tracking = '', updated_at = ? WHERE order_id = ?`,
			db.TS(sc.now), orderID)
		return err
	})
}
