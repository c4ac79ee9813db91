package marketplace

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/actor"
	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/audit"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/id"
	"github.com/qsmo/qsmo/internal/marketplace/money"
)

// Statement is an agency's monthly chargeback statement.
type Statement struct {
	ID          string
	AgencyOrgID string
	AgencyName  string
	Period      string // YYYY-MM
	Total       int64
	IssuedAt    time.Time
	IssuedBy    string
	Sections    []StatementSection
	// Estimate marks a statement computed for the running month, not issued.
	Estimate bool
}

// PeriodLabel names the statement's month.
func (st Statement) PeriodLabel() string {
	t, err := time.Parse("2006-01", st.Period)
	if err != nil {
		return st.Period
	}
	return t.Format("January 2006")
}

// ShortPeriod names the month compactly, for chart axes: "Mar 2026".
func (st Statement) ShortPeriod() string {
	t, err := time.Parse("2006-01", st.Period)
	if err != nil {
		return st.Period
	}
	return t.Format("Jan 2006")
}

// StatementSection is one subscription's part of a statement.
type StatementSection struct {
	SubscriptionID string
	OfferingID     string
	OfferingName   string
	ProviderName   string
	AreaID         string
	Tier           string
	ActiveDays     int
	MonthDays      int
	Amount         int64
	Lines          []StatementLine
}

// StatementLine is one charge.
type StatementLine struct {
	Kind        money.Kind
	Description string
	Quantity    int64
	Unit        string
	UnitPrice   int64
	Amount      int64
}

// UnitLabel names the line's unit with its pricing basis.
func (l StatementLine) UnitLabel() string {
	if u, ok := money.Units[l.Unit]; ok {
		return u.Per
	}
	return l.Unit
}

// buildStatement computes an agency's statement for a month from its
// subscriptions' rates and metered usage: recurring charges prorated by the
// days active, one-time charges in the month a subscription started, usage
// rated through its bands. Rates are those in force when it is computed.
func buildStatement(ctx context.Context, q db.Queryer, agencyOrgID string, month time.Time) (Statement, error) {
	start, end := monthBounds(month)
	monthDays := int(end.Sub(start).Hours() / 24)
	st := Statement{AgencyOrgID: agencyOrgID, Period: start.Format("2006-01")}
	ag, err := getOrgInfo(ctx, q, agencyOrgID)
	if err != nil {
		return st, err
	}
	st.AgencyName = ag.Name
	rows, err := q.QueryContext(ctx, "SELECT "+subColumns+subFrom+` WHERE s.agency_org_id = ? AND s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at >= ?)
		ORDER BY off.name, s.id`, agencyOrgID, db.TS(end), db.TS(start))
	if err != nil {
		return st, fmt.Errorf("marketplace: statement subscriptions: %w", err)
	}
	var subs []Subscription
	for rows.Next() {
		x, err := scanSub(rows)
		if err != nil {
			rows.Close()
			return st, err
		}
		subs = append(subs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	for _, sub := range subs {
		rates, err := loadLines(ctx, q, "market_rates", "subscription_id", sub.ID)
		if err != nil {
			return st, err
		}
		sec := StatementSection{SubscriptionID: sub.ID, OfferingID: sub.OfferingID, OfferingName: sub.OfferingName, ProviderName: sub.ProviderName,
			AreaID: sub.AreaID, Tier: string(sub.Tier), MonthDays: monthDays}
		from, to := sub.StartedAt, end
		if from.Before(start) {
			from = start
		}
		if !sub.EndedAt.IsZero() && sub.EndedAt.Before(to) {
			to = sub.EndedAt
		}
		sec.ActiveDays = activeDays(from, to, monthDays)
		for _, l := range rates {
			switch l.Kind {
			case money.Recurring:
				full, err := l.Amount()
				if err != nil {
					return st, err
				}
				amt, err := money.Prorate(full, sec.ActiveDays, monthDays)
				if err != nil {
					return st, err
				}
				desc := lineDesc(l)
				if sec.ActiveDays < monthDays {
					desc += fmt.Sprintf(" (%d of %d days)", sec.ActiveDays, monthDays)
				}
				sec.Lines = append(sec.Lines, StatementLine{Kind: l.Kind, Description: desc, Quantity: l.Quantity, Unit: l.Unit, UnitPrice: l.UnitPrice, Amount: amt})
			case money.OneTime:
				if !sub.StartedAt.Before(start) && sub.StartedAt.Before(end) {
					amt, err := l.Amount()
					if err != nil {
						return st, err
					}
					sec.Lines = append(sec.Lines, StatementLine{Kind: l.Kind, Description: lineDesc(l), Quantity: l.Quantity, Unit: l.Unit, UnitPrice: l.UnitPrice, Amount: amt})
				}
			}
		}
		totals, err := usageTotals(ctx, q, sub.ID, start, end)
		if err != nil {
			return st, err
		}
		for _, t := range totals {
			_, bands, err := money.RateUsage(rates, t.Metric, t.Quantity)
			if err != nil {
				return st, err
			}
			u := money.Units[t.Metric]
			for _, b := range bands {
				desc := u.Label
				if len(bands) > 1 || b.FromUnits > 0 {
					desc = fmt.Sprintf("%s from %s", u.Label, formatInt(b.FromUnits+1))
				}
				if b.UnitPrice == 0 {
					desc += " (included)"
				}
				sec.Lines = append(sec.Lines, StatementLine{Kind: money.Usage, Description: desc, Quantity: b.Units, Unit: t.Metric, UnitPrice: b.UnitPrice, Amount: b.Amount})
			}
		}
		for _, l := range sec.Lines {
			if sec.Amount, err = money.Add(sec.Amount, l.Amount); err != nil {
				return st, err
			}
		}
		if st.Total, err = money.Add(st.Total, sec.Amount); err != nil {
			return st, err
		}
		st.Sections = append(st.Sections, sec)
	}
	return st, nil
}

func lineDesc(l money.Line) string { return l.Label() }

// activeDays counts the calendar days from from to to that fall in the
// month, counting a started day as a whole day.
func activeDays(from, to time.Time, monthDays int) int {
	if !to.After(from) {
		return 0
	}
	d0 := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	d := int(to.Sub(d0).Hours()/24 + 0.999999)
	return max(0, min(d, monthDays))
}

// IssueStatements issues every agency's statement for a month that has
// ended (office billing managers), skipping agencies already issued. It
// returns how many it issued.
func (s *Service) IssueStatements(ctx context.Context, p *authz.Principal, month time.Time) (int, error) {
	office, err := s.OfficeID(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.actFor(ctx, p, authz.MarketBillingManage, office, "The office issues statements."); err != nil {
		return 0, err
	}
	return s.issueStatements(ctx, month, actorLabel(p))
}

// IssueDueStatements issues last month's statements if they are missing;
// the statement worker calls it.
func (s *Service) IssueDueStatements(ctx context.Context) (int, error) {
	ctx = actor.With(ctx, actor.Actor{Label: "statement worker"})
	return s.issueStatements(ctx, s.now().AddDate(0, -1, 0), "qsmo")
}

func (s *Service) issueStatements(ctx context.Context, month time.Time, by string) (int, error) {
	start, end := monthBounds(month)
	if end.After(s.now()) {
		return 0, apperr.Validation(map[string]string{"period": "Statements are issued for months that have ended."})
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT DISTINCT s.agency_org_id FROM market_subscriptions s WHERE s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at >= ?)
		AND NOT EXISTS (SELECT 1 FROM market_statements st WHERE st.agency_org_id = s.agency_org_id AND st.period = ?) ORDER BY s.agency_org_id`,
		db.TS(end), db.TS(start), start.Format("2006-01"))
	if err != nil {
		return 0, fmt.Errorf("marketplace: agencies to bill: %w", err)
	}
	var agencies []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return 0, err
		}
		agencies = append(agencies, a)
	}
	rows.Close()
	n := 0
	for _, a := range agencies {
		err := s.DB.InTx(ctx, func(tx *db.Tx) error {
			st, err := buildStatement(ctx, tx, a, start)
			if err != nil {
				return err
			}
			return s.storeStatement(ctx, tx, st, by)
		})
		if db.IsUniqueViolation(err) {
			continue // issued meanwhile by another worker
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) storeStatement(ctx context.Context, tx *db.Tx, st Statement, by string) error {
	now := s.now()
	st.ID = id.New("stm")
	_, err := tx.ExecContext(ctx, "INSERT INTO market_statements (id, agency_org_id, period, total_cents, issued_at, issued_by) VALUES (?, ?, ?, ?, ?, ?)",
		st.ID, st.AgencyOrgID, st.Period, st.Total, db.TS(now), by)
	if err != nil {
		return err
	}
	seq := 0
	for _, sec := range st.Sections {
		_, err := tx.ExecContext(ctx, `INSERT INTO market_statement_subs (statement_id, subscription_id, offering_id, offering_name, provider_name, service_area_id, tier,
			active_days, month_days, amount_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, st.ID, sec.SubscriptionID, sec.OfferingID, sec.OfferingName, sec.ProviderName,
			sec.AreaID, sec.Tier, sec.ActiveDays, sec.MonthDays, sec.Amount)
		if err != nil {
			return fmt.Errorf("marketplace: statement section: %w", err)
		}
		for _, l := range sec.Lines {
			seq++
			_, err := tx.ExecContext(ctx, `INSERT INTO market_statement_lines (statement_id, seq, subscription_id, kind, description, quantity, unit, unit_price_cents, amount_cents)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, st.ID, seq, sec.SubscriptionID, string(l.Kind), l.Description, l.Quantity, l.Unit, l.UnitPrice, l.Amount)
			if err != nil {
				return fmt.Errorf("marketplace: statement line: %w", err)
			}
		}
	}
	if err := s.notifyRoles(ctx, tx, st.AgencyOrgID, []authz.Role{authz.AgencyAdmin, authz.AgencyApprover}, "",
		fmt.Sprintf("Chargeback statement for %s: %s", st.PeriodLabel(), money.Format(st.Total)),
		"Your agency's marketplace statement is issued.", StatementURL(st.ID)); err != nil {
		return err
	}
	return audit.Append(ctx, tx, audit.Event{OrgID: st.AgencyOrgID, Action: "market.statement.issue", TargetType: "statement", TargetID: st.ID,
		Summary: fmt.Sprintf("Issued the %s statement: %s", st.PeriodLabel(), money.Format(st.Total)), After: map[string]any{"period": st.Period, "total_cents": st.Total}})
}

// StatementURL is a statement's page.
func StatementURL(id string) string { return "/marketplace/statements/" + id }

// GetStatement returns an issued statement the principal may read.
func (s *Service) GetStatement(ctx context.Context, p *authz.Principal, stmID string) (Statement, error) {
	if !id.Valid("stm", stmID) {
		return Statement{}, notFound("Statement")
	}
	var st Statement
	err := s.DB.QueryRowContext(ctx, `SELECT st.id, st.agency_org_id, ag.name, st.period, st.total_cents, st.issued_at, st.issued_by FROM market_statements st
		JOIN orgs ag ON ag.id = st.agency_org_id WHERE st.id = ?`, stmID).Scan(&st.ID, &st.AgencyOrgID, &st.AgencyName, &st.Period, &st.Total, (*db.Time)(&st.IssuedAt), &st.IssuedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return st, notFound("Statement")
	}
	if err != nil {
		return st, fmt.Errorf("marketplace: statement: %w", err)
	}
	if err := s.Authz.Check(ctx, p, authz.MarketBillingRead, st.AgencyOrgID); err != nil {
		return Statement{}, notFoundIfHidden(err, "Statement")
	}
	secs, err := s.DB.QueryContext(ctx, `SELECT subscription_id, offering_id, offering_name, provider_name, service_area_id, tier, active_days, month_days, amount_cents
		FROM market_statement_subs WHERE statement_id = ? ORDER BY offering_name, subscription_id`, st.ID)
	if err != nil {
		return st, err
	}
	idx := map[string]int{}
	for secs.Next() {
		var sec StatementSection
		if err := secs.Scan(&sec.SubscriptionID, &sec.OfferingID, &sec.OfferingName, &sec.ProviderName, &sec.AreaID, &sec.Tier, &sec.ActiveDays, &sec.MonthDays, &sec.Amount); err != nil {
			secs.Close()
			return st, err
		}
		idx[sec.SubscriptionID] = len(st.Sections)
		st.Sections = append(st.Sections, sec)
	}
	secs.Close()
	lines, err := s.DB.QueryContext(ctx, `SELECT subscription_id, kind, description, quantity, unit, unit_price_cents, amount_cents FROM market_statement_lines
		WHERE statement_id = ? ORDER BY seq`, st.ID)
	if err != nil {
		return st, err
	}
	defer lines.Close()
	for lines.Next() {
		var sid, kind string
		var l StatementLine
		if err := lines.Scan(&sid, &kind, &l.Description, &l.Quantity, &l.Unit, &l.UnitPrice, &l.Amount); err != nil {
			return st, err
		}
		l.Kind = money.Kind(kind)
		if i, ok := idx[sid]; ok {
			st.Sections[i].Lines = append(st.Sections[i].Lines, l)
		}
	}
	return st, lines.Err()
}

// ListStatements returns the statements the principal may read, newest
// first, optionally of one month.
func (s *Service) ListStatements(ctx context.Context, p *authz.Principal, period string) ([]Statement, error) {
	clause, args, none, err := s.scopeClause(ctx, p, authz.MarketBillingRead, "st.agency_org_id")
	if err != nil || none {
		return nil, err
	}
	if period != "" {
		clause += " AND st.period = ?"
		args = append(args, period)
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT st.id, st.agency_org_id, ag.name, st.period, st.total_cents, st.issued_at, st.issued_by FROM market_statements st
		JOIN orgs ag ON ag.id = st.agency_org_id WHERE `+clause+` ORDER BY st.period DESC, ag.name LIMIT 500`, args...)
	if err != nil {
		return nil, fmt.Errorf("marketplace: statements: %w", err)
	}
	defer rows.Close()
	var out []Statement
	for rows.Next() {
		var st Statement
		if err := rows.Scan(&st.ID, &st.AgencyOrgID, &st.AgencyName, &st.Period, &st.Total, (*db.Time)(&st.IssuedAt), &st.IssuedBy); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// RunningStatement computes an agency's charges for the current month so
// far, without issuing anything.
func (s *Service) RunningStatement(ctx context.Context, p *authz.Principal, agencyOrgID string) (Statement, error) {
	if err := s.Authz.Check(ctx, p, authz.MarketBillingRead, agencyOrgID); err != nil {
		return Statement{}, err
	}
	st, err := buildStatement(ctx, s.DB, agencyOrgID, s.now())
	st.Estimate = true
	return st, err
}

// WriteCSV writes a statement as CSV: one row per charge, then the total.
func (st Statement) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"period", "agency", "subscription", "offering", "provider", "tier", "kind", "description", "quantity", "unit", "unit_price", "amount"})
	for _, sec := range st.Sections {
		for _, l := range sec.Lines {
			_ = cw.Write([]string{st.Period, csvSafe(st.AgencyName), sec.SubscriptionID, csvSafe(sec.OfferingName), csvSafe(sec.ProviderName), sec.Tier, string(l.Kind),
				csvSafe(l.Description), fmt.Sprint(l.Quantity), l.Unit, money.Decimal(l.UnitPrice), money.Decimal(l.Amount)})
		}
	}
	_ = cw.Write([]string{st.Period, csvSafe(st.AgencyName), "", "", "", "", "total", "", "", "", "", money.Decimal(st.Total)})
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// SpendByMonth returns an agency's issued totals by month, oldest first,
// for the last n months.
func (s *Service) SpendByMonth(ctx context.Context, p *authz.Principal, agencyOrgID string, n int) ([]Statement, error) {
	all, err := s.ListStatements(ctx, p, "")
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, st := range all {
		if st.AgencyOrgID == agencyOrgID {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Period < out[j].Period })
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}
