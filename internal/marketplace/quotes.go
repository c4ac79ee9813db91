package marketplace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/lifecycle"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Quote is a provider's priced answer to an approved request.
type Quote struct {
	ID         string
	OrderID    string
	Version    int
	Status     string // sent, accepted, returned
	Notes      string
	ValidUntil time.Time
	Monthly    int64
	OneTime    int64
	CreatedBy  string
	CreatedAt  time.Time
	Lines      []money.Line
}

// StatusLabel names the quote's status.
func (q Quote) StatusLabel() string {
	switch q.Status {
	case "sent":
		return "Awaiting the agency"
	case "accepted":
		return "Accepted"
	case "returned":
		return "Returned"
	}
	return q.Status
}

// FirstYear estimates the first year's cost: twelve months plus one-time
// charges (usage is billed as metered and not included).
func (q Quote) FirstYear() int64 {
	y, _ := money.Mul(q.Monthly, 12)
	t, _ := money.Add(y, q.OneTime)
	return t
}

// Quotes returns an order's quotes, newest first.
func (s *Service) Quotes(ctx context.Context, p *authz.Principal, orderID string) ([]Quote, error) {
	if _, err := s.GetOrder(ctx, p, orderID); err != nil {
		return nil, err
	}
	return loadQuotes(ctx, s.DB, orderID)
}

func loadQuotes(ctx context.Context, q db.Queryer, orderID string) ([]Quote, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, order_id, version, status, notes, valid_until, monthly_cents, one_time_cents, created_by, created_at
		FROM market_quotes WHERE order_id = ? ORDER BY version DESC`, orderID)
	if err != nil {
		return nil, fmt.Errorf("marketplace: quotes: %w", err)
	}
	var out []Quote
	for rows.Next() {
		var x Quote
		if err := rows.Scan(&x.ID, &x.OrderID, &x.Version, &x.Status, &x.Notes, (*db.Time)(&x.ValidUntil), &x.Monthly, &x.OneTime, &x.CreatedBy, (*db.Time)(&x.CreatedAt)); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Lines, err = loadLines(ctx, q, "market_quote_lines", "quote_id", out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadLines reads price lines from a quote, rates or similar table.
func loadLines(ctx context.Context, q db.Queryer, table, key, value string) ([]money.Line, error) {
	rows, err := q.QueryContext(ctx, "SELECT kind, unit, description, quantity, from_units, unit_price_cents FROM "+table+" WHERE "+key+" = ? ORDER BY seq", value)
	if err != nil {
		return nil, fmt.Errorf("marketplace: lines: %w", err)
	}
	defer rows.Close()
	var out []money.Line
	for rows.Next() {
		var l money.Line
		var kind string
		if err := rows.Scan(&kind, &l.Unit, &l.Description, &l.Quantity, &l.FromUnits, &l.UnitPrice); err != nil {
			return nil, err
		}
		l.Kind = money.Kind(kind)
		out = append(out, l)
	}
	return out, rows.Err()
}

func insertLines(ctx context.Context, tx *db.Tx, table, key, value string, lines []money.Line) error {
	for i, l := range lines {
		_, err := tx.ExecContext(ctx, "INSERT INTO "+table+" ("+key+", seq, kind, unit, description, quantity, from_units, unit_price_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			value, i+1, string(l.Kind), l.Unit, l.Description, l.Quantity, l.FromUnits, l.UnitPrice)
		if err != nil {
			return fmt.Errorf("marketplace: insert line: %w", err)
		}
	}
	return nil
}

// acceptedQuote returns the order's accepted quote.
func acceptedQuote(ctx context.Context, q db.Queryer, orderID string) (Quote, error) {
	qs, err := loadQuotes(ctx, q, orderID)
	if err != nil {
		return Quote{}, err
	}
	for _, x := range qs {
		if x.Status == "accepted" {
			return x, nil
		}
	}
	return Quote{}, apperr.New(apperr.Conflict, "The order has no accepted quote.")
}

// SuggestedQuote prefills a quote from the offering's price book at the
// ordered tier, with per-seat lines at the ordered quantity.
func (s *Service) SuggestedQuote(ctx context.Context, p *authz.Principal, o Order) ([]money.Line, error) {
	off, err := loadOffering(ctx, s.DB, o.OfferingID)
	if err != nil {
		return nil, err
	}
	t, _ := off.Tier(o.Tier)
	lines := append([]money.Line(nil), t.Prices...)
	for i := range lines {
		if lines[i].Kind == money.Recurring && lines[i].Unit == "seat" {
			lines[i].Quantity = o.Quantity
		}
	}
	return lines, nil
}

// QuoteInput is a provider's quote.
type QuoteInput struct {
	Lines      []money.Line
	Notes      string
	ValidUntil time.Time
}

// SubmitQuote is the provider quoting an approved request.
func (s *Service) SubmitQuote(ctx context.Context, p *authz.Principal, orderID string, in QuoteInput) (Order, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Order{}, err
	}
	if _, err := s.orderParty(ctx, p, o, lifecycle.Quote, ""); err != nil {
		return Order{}, err
	}
	in.Notes = strings.TrimSpace(in.Notes)
	if len(in.Lines) > 0 {
		if err := checkPriceLines(in.Lines); err != nil {
			return Order{}, err
		}
	}
	now := s.now()
	switch {
	case !textOK(in.Notes, 0, 4000):
		return Order{}, apperr.Validation(map[string]string{"notes": "The notes are at most 4,000 characters."})
	case in.ValidUntil.IsZero():
		in.ValidUntil = now.AddDate(0, 0, 30)
	case !in.ValidUntil.After(now) || in.ValidUntil.After(now.AddDate(1, 0, 0)):
		return Order{}, apperr.Validation(map[string]string{"valid_until": "The quote must be valid for some time, up to a year."})
	}
	monthly, _ := money.Monthly(in.Lines)
	oneTime, _ := money.OneTimeTotal(in.Lines)
	return s.orderStep(ctx, p, orderID, lifecycle.Quote, "", "",
		func(context.Context, *db.Tx, Order) (lifecycle.Facts, error) {
			return lifecycle.Facts{QuoteLines: len(in.Lines)}, nil
		},
		func(ctx context.Context, sc *stepCtx) error {
			var version int
			if err := sc.tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM market_quotes WHERE order_id = ?", orderID).Scan(&version); err != nil {
				return err
			}
			qid := id.New("quo")
			_, err := sc.tx.ExecContext(ctx, `INSERT INTO market_quotes (id, order_id, version, status, notes, valid_until, monthly_cents, one_time_cents, created_by, created_at)
				VALUES (?, ?, ?, 'sent', ?, ?, ?, ?, ?, ?)`, qid, orderID, version+1, in.Notes, db.TS(in.ValidUntil), monthly, oneTime, actorLabel(p), db.TS(sc.now))
			if err != nil {
				return fmt.Errorf("marketplace: insert quote: %w", err)
			}
			sc.note = fmt.Sprintf("Quote %d: %s a month, %s one-time", version+1, money.Format(monthly), money.Format(oneTime))
			return insertLines(ctx, sc.tx, "market_quote_lines", "quote_id", qid, in.Lines)
		})
}

// FundingInput is what the agency commits when it accepts a quote: the
// funding section of the order (7600B).
type FundingInput struct {
	TAS         string // Treasury account symbol
	ObjectClass string
	Obligated   int64 // cents
	FundsExpire time.Time
}

func (in *FundingInput) check(firstYear int64) map[string]string {
	in.TAS = strings.TrimSpace(in.TAS)
	in.ObjectClass = strings.TrimSpace(in.ObjectClass)
	errs := map[string]string{}
	if !tasPattern.MatchString(in.TAS) {
		errs["tas"] = "Give the Treasury account symbol, such as 089-X-0228 or 020-2026/2027-0110."
	}
	if in.ObjectClass != "" && !objectClassPattern.MatchString(in.ObjectClass) {
		errs["object_class"] = "Give the object class as digits, such as 25.3."
	}
	if in.Obligated <= 0 {
		errs["obligated"] = "Give the amount to obligate."
	} else if in.Obligated < firstYear/12 {
		errs["obligated"] = fmt.Sprintf("Obligate at least one month of the quote (%s).", money.Format(firstYear/12))
	}
	return errs
}

// AcceptQuote is the agency's approver accepting the quote and giving the
// funding; the agreement is drafted from the order, the quote and both
// organizations' codes.
func (s *Service) AcceptQuote(ctx context.Context, p *authz.Principal, orderID string, in FundingInput) (Order, error) {
	o, err := s.GetOrder(ctx, p, orderID)
	if err != nil {
		return Order{}, err
	}
	if _, err := s.orderParty(ctx, p, o, lifecycle.Accept, ""); err != nil {
		return Order{}, err
	}
	qs, err := loadQuotes(ctx, s.DB, orderID)
	if err != nil {
		return Order{}, err
	}
	if len(qs) == 0 || qs[0].Status != "sent" {
		return Order{}, apperr.New(apperr.Conflict, "There is no quote to accept.")
	}
	if errs := in.check(qs[0].FirstYear()); len(errs) > 0 {
		return Order{}, apperr.Validation(errs)
	}
	return s.orderStep(ctx, p, orderID, lifecycle.Accept, "", "", nil, func(ctx context.Context, sc *stepCtx) error {
		q := qs[0]
		if q.ValidUntil.Before(sc.now) {
			return apperr.New(apperr.Conflict, "The quote expired on %s; return it so the provider sends a new one.", q.ValidUntil.Format("January 2, 2006"))
		}
		res, err := sc.tx.ExecContext(ctx, "UPDATE market_quotes SET status = 'accepted' WHERE id = ? AND status = 'sent'", q.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "The quote changed meanwhile; reload the page.")
		}
		sc.note = fmt.Sprintf("Accepted quote %d", q.Version)
		return s.draftAgreement(ctx, sc, q, in)
	})
}

// ReturnQuote is the agency's approver sending the quote back with a
// reason; the provider quotes again.
func (s *Service) ReturnQuote(ctx context.Context, p *authz.Principal, orderID, reason string) (Order, error) {
	return s.orderStep(ctx, p, orderID, lifecycle.ReturnQuote, "", reason, nil, func(ctx context.Context, sc *stepCtx) error {
		_, err := sc.tx.ExecContext(ctx, "UPDATE market_quotes SET status = 'returned' WHERE order_id = ? AND status = 'sent'", orderID)
		return err
	})
}

// nextNumber draws the next value of a named counter inside tx.
func nextNumber(ctx context.Context, tx *db.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT value FROM market_counters WHERE name = ?", name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		v = 1
		_, err = tx.ExecContext(ctx, "INSERT INTO market_counters (name, value) VALUES (?, ?)", name, v)
	case err == nil:
		v++
		_, err = tx.ExecContext(ctx, "UPDATE market_counters SET value = ? WHERE name = ?", v, name)
	}
	if err != nil {
		return 0, fmt.Errorf("marketplace: counter %s: %w", name, err)
	}
	return v, nil
}
