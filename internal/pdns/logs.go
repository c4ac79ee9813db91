package pdns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/pdns/dnsname"
	"github.com/qsmo/qsmo/internal/pdns/querylog"
)

// ErrNoQueryLog is returned when this process keeps no query log (DNS is
// off here, or the log is turned off).
var ErrNoQueryLog = apperr.New(apperr.Conflict, "This server keeps no DNS query log: its resolver is off or runs without a query log.")

// Query log search limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
	MaxExport       = 1_000_000
)

// ParseQueryFilter reads a query-log search from URL query values, as the
// search form and the API send it:
//
//	domain   a name; match=exact (default suffix: the name and its subdomains) or contains
//	client   an address or network
//	action   allowed, blocked (blocked and sinkholed), sinkholed, local_data, refused, rate_limited, failed; repeatable
//	qtype    A, AAAA, MX…; repeatable
//	from, to RFC 3339 times, or yyyy-mm-ddThh:mm in loc (the viewer's zone); from defaults to 24 hours before now
//	limit    1 to maxLimit (default DefaultPageSize)
//	cursor   the next page's cursor
//
// Problems come back per parameter; the filter is then unusable.
func ParseQueryFilter(v url.Values, loc *time.Location, now time.Time, maxLimit int) (querylog.Filter, map[string]string) {
	errs := map[string]string{}
	var f querylog.Filter
	if loc == nil {
		loc = time.UTC
	}
	if d := strings.TrimSpace(v.Get("domain")); d != "" {
		switch v.Get("match") {
		case "exact":
			f.Match = querylog.MatchExact
		case "", "suffix":
			f.Match = querylog.MatchSuffix
		case "contains":
			f.Match = querylog.MatchSubstring
		default:
			errs["match"] = "Choose how to match the name: exact, suffix or contains."
		}
		if f.Match == querylog.MatchSubstring {
			if len(d) > dnsname.MaxNameLen || strings.ContainsAny(d, " \t\r\n") {
				errs["domain"] = "Enter part of a domain name, without blanks."
			}
			f.Domain = strings.ToLower(d)
		} else {
			n, err := dnsname.Normalize(strings.TrimPrefix(d, "*."))
			if err != nil {
				errs["domain"] = "Enter a domain name, such as example.com."
			}
			f.Domain = n
		}
	}
	if c := strings.TrimSpace(v.Get("client")); c != "" {
		p, err := parseNetwork(c)
		if err != nil {
			errs["client"] = "Enter a client address (192.0.2.7) or network (192.0.2.0/24)."
		}
		f.Client = p
	}
	for _, a := range v["action"] {
		switch a = strings.TrimSpace(a); a {
		case "":
		case "blocked":
			f.Actions = append(f.Actions, querylog.Blocked, querylog.Sinkholed)
		default:
			act, err := querylog.ParseAction(a)
			if err != nil {
				errs["action"] = fmt.Sprintf("“%s” is not an action.", clip(a))
				continue
			}
			f.Actions = append(f.Actions, act)
		}
	}
	for _, q := range v["qtype"] {
		q = strings.ToUpper(strings.TrimSpace(q))
		if q == "" {
			continue
		}
		t, ok := dns.StringToType[q]
		if !ok {
			errs["qtype"] = fmt.Sprintf("“%s” is not a query type.", clip(q))
			continue
		}
		f.QTypes = append(f.QTypes, t)
	}
	var err error
	if f.From, err = parseTime(v.Get("from"), loc); err != nil {
		errs["from"] = "Enter the start as a date and time, like 2026-11-22T08:00."
	}
	if f.To, err = parseTime(v.Get("to"), loc); err != nil {
		errs["to"] = "Enter the end as a date and time, like 2026-11-22T18:00."
	}
	if f.From.IsZero() {
		f.From = now.Add(-24 * time.Hour)
	}
	if !f.To.IsZero() && !f.To.After(f.From) {
		errs["to"] = "The end must be after the start."
	}
	f.Limit = DefaultPageSize
	if l := strings.TrimSpace(v.Get("limit")); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			errs["limit"] = fmt.Sprintf("The limit is a number from 1 to %d.", maxLimit)
		}
		f.Limit = n
	}
	f.Cursor = strings.TrimSpace(v.Get("cursor"))
	if len(f.Cursor) > 200 {
		errs["cursor"] = "The cursor is not valid; start the search again."
	}
	return f, errs
}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("bad time")
}

// queryLogErr maps the query log's errors to the product's codes.
func queryLogErr(err error) error {
	if errors.Is(err, querylog.ErrInvalid) {
		return apperr.New(apperr.Invalid, "The search is not valid: %s. Start it again.", strings.TrimPrefix(err.Error(), "querylog: "))
	}
	return err
}

// SearchQueries returns a page of an agency's query log, newest first.
// Callers need dns.read on the agency. Errors: not_found, invalid,
// conflict (ErrNoQueryLog).
func (s *Service) SearchQueries(ctx context.Context, p *authz.Principal, orgID string, f querylog.Filter) (querylog.Page, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSRead, orgID); err != nil {
		return querylog.Page{}, err
	}
	if s.QueryLog == nil {
		return querylog.Page{}, ErrNoQueryLog
	}
	f.Tenant, f.AllTenants = orgID, false
	page, err := s.QueryLog.Search(ctx, f)
	return page, queryLogErr(err)
}

// ExportOCSF writes an agency's queries matching f as OCSF 1.8 DNS Activity
// events, one JSON object a line, newest first, up to limit. Callers need
// dns.read on the agency.
func (s *Service) ExportOCSF(ctx context.Context, p *authz.Principal, orgID string, w io.Writer, f querylog.Filter, limit int) (int, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSRead, orgID); err != nil {
		return 0, err
	}
	if s.QueryLog == nil {
		return 0, ErrNoQueryLog
	}
	f.Tenant, f.AllTenants, f.Cursor = orgID, false, ""
	f.Limit = 1000
	n, err := querylog.StreamNDJSON(ctx, w, s.QueryLog, f, limit)
	return n, queryLogErr(err)
}

// Dashboard is an agency's activity over a time range.
type Dashboard struct {
	From, To   time.Time
	Step       time.Duration
	Totals     querylog.Counts
	Series     []querylog.Point
	TopBlocked []querylog.DomainCount
	Suspects   []querylog.SuspectedClient
	// Reported holds the devices the agency was told about in the range
	// (they crossed SuspectThreshold within an hour), with the last time.
	Reported map[string]time.Time
}

// DashboardStep picks a chart step for a range: about 24 to 48 bars.
func DashboardStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour} {
		if span/s <= 48 {
			return s
		}
	}
	return 24 * time.Hour
}

// Dashboard returns an agency's queries and blocks over time, its most
// blocked names and its suspected infected clients. Callers need dns.read
// on the agency.
func (s *Service) Dashboard(ctx context.Context, p *authz.Principal, orgID string, from, to time.Time) (Dashboard, error) {
	if err := s.Authz.Check(ctx, p, authz.DNSRead, orgID); err != nil {
		return Dashboard{}, err
	}
	if s.QueryLog == nil {
		return Dashboard{}, ErrNoQueryLog
	}
	step := DashboardStep(to.Sub(from))
	from = from.UTC().Truncate(step)
	d := Dashboard{From: from, To: to, Step: step}
	var err error
	if d.Series, err = s.QueryLog.Series(orgID, from, to, step); err != nil {
		return Dashboard{}, queryLogErr(err)
	}
	for _, pt := range d.Series {
		d.Totals.Add(pt.Counts)
	}
	if d.TopBlocked, err = s.QueryLog.TopBlocked(orgID, from, to, 10); err != nil {
		return Dashboard{}, queryLogErr(err)
	}
	if d.Suspects, err = s.QueryLog.SuspectedClients(orgID, from, to); err != nil {
		return Dashboard{}, queryLogErr(err)
	}
	if d.Reported, err = reportedClients(ctx, s.DB, orgID, from); err != nil {
		return Dashboard{}, err
	}
	return d, nil
}

// reportedClients returns the devices of an agency reported as suspected
// infected since from, with the start of the last window reported.
func reportedClients(ctx context.Context, q db.Queryer, orgID string, from time.Time) (map[string]time.Time, error) {
	rows, err := q.QueryContext(ctx, "SELECT client, MAX(window_start) FROM dns_suspect_alerts WHERE org_id = ? AND window_start >= ? GROUP BY client",
		orgID, db.TS(from.Truncate(time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("pdns: reported clients: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var c string
		var t time.Time
		if err := rows.Scan(&c, (*db.Time)(&t)); err != nil {
			return nil, fmt.Errorf("pdns: scan reported client: %w", err)
		}
		out[c] = t
	}
	return out, rows.Err()
}

// AgencySummary is one agency's line on the office's overview.
type AgencySummary struct {
	OrgID       string
	Name        string
	Provisioned bool
	Mode        string
	Networks    int
	Counts      querylog.Counts
}

// AgencySummaries returns every agency the principal may read with its
// policy's outline and its queries in [from, to), by name. Callers need
// dns.read (office roles see every agency).
func (s *Service) AgencySummaries(ctx context.Context, p *authz.Principal, from, to time.Time) ([]AgencySummary, error) {
	scope, err := s.Authz.ScopeFor(ctx, p, authz.DNSRead)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT o.id, o.name, COALESCE(d.block_mode, ''),
		(SELECT COUNT(*) FROM dns_networks n WHERE n.org_id = o.id AND n.kind = 'egress')
		FROM orgs o LEFT JOIN dns_policies d ON d.org_id = o.id WHERE o.kind = 'agency' ORDER BY LOWER(o.name)`)
	if err != nil {
		return nil, fmt.Errorf("pdns: agency summaries: %w", err)
	}
	defer rows.Close()
	var out []AgencySummary
	for rows.Next() {
		var a AgencySummary
		if err := rows.Scan(&a.OrgID, &a.Name, &a.Mode, &a.Networks); err != nil {
			return nil, fmt.Errorf("pdns: scan agency summary: %w", err)
		}
		if !scope.Contains(a.OrgID) {
			continue
		}
		a.Provisioned = a.Mode != ""
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if s.QueryLog != nil {
		totals, err := s.QueryLog.Totals(from, to)
		if err != nil {
			return nil, queryLogErr(err)
		}
		byTenant := map[string]querylog.Counts{}
		for _, t := range totals {
			byTenant[t.Tenant] = t.Counts
		}
		for i := range out {
			out[i].Counts = byTenant[out[i].OrgID]
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Provisioned && !out[j].Provisioned })
	return out, nil
}

// MonthlyUsage returns the queries each agency made in the calendar month
// (UTC) holding month, from this node's query log, for chargeback
// metering. Queries from unknown clients (refused, no agency) are left out.
func (s *Service) MonthlyUsage(month time.Time) (map[string]uint64, error) {
	if s.QueryLog == nil {
		return nil, ErrNoQueryLog
	}
	return MonthlyUsage(s.QueryLog, month)
}

// MonthlyUsage returns the queries per agency in the calendar month (UTC)
// holding month, from a query log store.
func MonthlyUsage(store *querylog.Store, month time.Time) (map[string]uint64, error) {
	counts, err := store.MonthlyCounts(month)
	if err != nil {
		return nil, fmt.Errorf("pdns: monthly usage: %w", err)
	}
	out := map[string]uint64{}
	for _, c := range counts {
		if c.Tenant != "" {
			out[c.Tenant] = c.Counts.Queries
		}
	}
	return out, nil
}
