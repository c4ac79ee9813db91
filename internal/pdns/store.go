package pdns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/apperr"
	"github.com/qsmo/qsmo/internal/db"
)

// The SQL of the service. Every function takes the transaction or handle
// it runs on, so service methods compose them inside one db.InTx.

// bumpVersion raises the policy version in tx: resolver nodes rebuild
// their snapshot when they see it move.
func bumpVersion(ctx context.Context, tx *db.Tx) error {
	if _, err := tx.ExecContext(ctx, "UPDATE dns_state SET version = version + 1 WHERE id = 1"); err != nil {
		return fmt.Errorf("pdns: bump policy version: %w", err)
	}
	return nil
}

// PolicyVersion returns the current policy version.
func PolicyVersion(ctx context.Context, q db.Queryer) (int64, error) {
	var v int64
	if err := q.QueryRowContext(ctx, "SELECT version FROM dns_state WHERE id = 1").Scan(&v); err != nil {
		return 0, fmt.Errorf("pdns: policy version: %w", err)
	}
	return v, nil
}

// lockPolicies serializes the changes that must see every agency's egress
// networks at once (the overlap check): SQLite write transactions are
// serial already; PostgreSQL takes a transaction-scoped advisory lock.
func lockPolicies(ctx context.Context, tx *db.Tx) error {
	if tx.Dialect() != db.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7264)"); err != nil {
		return fmt.Errorf("pdns: lock policies: %w", err)
	}
	return nil
}

const policyColumns = "org_id, categories, block_mode, cname_inspection, doh_token, created_at, updated_at"

func scanPolicy(row interface{ Scan(...any) error }) (Policy, error) {
	var p Policy
	var cats string
	err := row.Scan(&p.OrgID, &cats, &p.Mode, &p.CNAMEInspection, &p.DoHToken, (*db.Time)(&p.CreatedAt), (*db.Time)(&p.UpdatedAt))
	p.Categories = splitCategories(cats)
	return p, err
}

func splitCategories(s string) []string {
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// getPolicy loads one agency's policy with its lists; found is false when
// the agency does not have the service.
func getPolicy(ctx context.Context, q db.Queryer, orgID string) (Policy, bool, error) {
	p, err := scanPolicy(q.QueryRowContext(ctx, "SELECT "+policyColumns+" FROM dns_policies WHERE org_id = ?", orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, false, nil
	}
	if err != nil {
		return Policy{}, false, fmt.Errorf("pdns: get policy: %w", err)
	}
	ps := []*Policy{&p}
	if err := loadNetworks(ctx, q, ps, "WHERE org_id = ?", orgID); err != nil {
		return Policy{}, false, err
	}
	if err := loadNames(ctx, q, ps, "WHERE org_id = ?", orgID); err != nil {
		return Policy{}, false, err
	}
	return p, true, nil
}

// listPolicies loads every policy with its lists, by organization ID.
func listPolicies(ctx context.Context, q db.Queryer) ([]Policy, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+policyColumns+" FROM dns_policies ORDER BY org_id")
	if err != nil {
		return nil, fmt.Errorf("pdns: list policies: %w", err)
	}
	var out []Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("pdns: scan policy: %w", err)
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pdns: list policies: %w", err)
	}
	ps := make([]*Policy, len(out))
	for i := range out {
		ps[i] = &out[i]
	}
	if err := loadNetworks(ctx, q, ps, ""); err != nil {
		return nil, err
	}
	if err := loadNames(ctx, q, ps, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func byOrg(ps []*Policy) map[string]*Policy {
	m := make(map[string]*Policy, len(ps))
	for _, p := range ps {
		m[p.OrgID] = p
	}
	return m
}

func loadNetworks(ctx context.Context, q db.Queryer, ps []*Policy, where string, args ...any) error {
	rows, err := q.QueryContext(ctx, "SELECT org_id, kind, cidr FROM dns_networks "+where+" ORDER BY org_id, kind, cidr", args...)
	if err != nil {
		return fmt.Errorf("pdns: load networks: %w", err)
	}
	defer rows.Close()
	m := byOrg(ps)
	for rows.Next() {
		var org, kind, cidr string
		if err := rows.Scan(&org, &kind, &cidr); err != nil {
			return fmt.Errorf("pdns: scan network: %w", err)
		}
		p, ok := m[org]
		if !ok {
			continue
		}
		pfx, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("pdns: stored network %q of %s: %w", cidr, org, err)
		}
		if kind == "egress" {
			p.Egress = append(p.Egress, pfx)
		} else {
			p.BlockedAnswers = append(p.BlockedAnswers, pfx)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pdns: load networks: %w", err)
	}
	for _, p := range ps {
		slices.SortFunc(p.Egress, comparePrefix)
		slices.SortFunc(p.BlockedAnswers, comparePrefix)
	}
	return nil
}

func loadNames(ctx context.Context, q db.Queryer, ps []*Policy, where string, args ...any) error {
	rows, err := q.QueryContext(ctx, "SELECT org_id, list, name FROM dns_names "+where+" ORDER BY org_id, list, name", args...)
	if err != nil {
		return fmt.Errorf("pdns: load names: %w", err)
	}
	defer rows.Close()
	m := byOrg(ps)
	for rows.Next() {
		var org, list, name string
		if err := rows.Scan(&org, &list, &name); err != nil {
			return fmt.Errorf("pdns: scan name: %w", err)
		}
		p, ok := m[org]
		if !ok {
			continue
		}
		if list == "allow" {
			p.Allow = append(p.Allow, name)
		} else {
			p.Deny = append(p.Deny, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pdns: load names: %w", err)
	}
	return nil
}

// insertPolicy stores a new policy with its lists.
func insertPolicy(ctx context.Context, tx *db.Tx, p Policy) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO dns_policies ("+policyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		p.OrgID, strings.Join(p.Categories, ","), p.Mode, p.CNAMEInspection, p.DoHToken, db.TS(p.CreatedAt), db.TS(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("pdns: insert policy: %w", err)
	}
	return replaceLists(ctx, tx, p)
}

// updatePolicy stores a changed policy and replaces its lists.
func updatePolicy(ctx context.Context, tx *db.Tx, p Policy) error {
	_, err := tx.ExecContext(ctx, "UPDATE dns_policies SET categories = ?, block_mode = ?, cname_inspection = ?, doh_token = ?, updated_at = ? WHERE org_id = ?",
		strings.Join(p.Categories, ","), p.Mode, p.CNAMEInspection, p.DoHToken, db.TS(p.UpdatedAt), p.OrgID)
	if err != nil {
		return fmt.Errorf("pdns: update policy: %w", err)
	}
	return replaceLists(ctx, tx, p)
}

func replaceLists(ctx context.Context, tx *db.Tx, p Policy) error {
	for _, q := range []string{"DELETE FROM dns_networks WHERE org_id = ?", "DELETE FROM dns_names WHERE org_id = ?"} {
		if _, err := tx.ExecContext(ctx, q, p.OrgID); err != nil {
			return fmt.Errorf("pdns: clear lists: %w", err)
		}
	}
	for _, set := range []struct {
		kind string
		nets []netip.Prefix
	}{{"egress", p.Egress}, {"blocked_answer", p.BlockedAnswers}} {
		for _, n := range set.nets {
			if _, err := tx.ExecContext(ctx, "INSERT INTO dns_networks (org_id, kind, cidr) VALUES (?, ?, ?)", p.OrgID, set.kind, n.String()); err != nil {
				return fmt.Errorf("pdns: insert network: %w", err)
			}
		}
	}
	for _, set := range []struct {
		list  string
		names []string
	}{{"allow", p.Allow}, {"deny", p.Deny}} {
		if err := insertNames(ctx, tx, p.OrgID, set.list, set.names); err != nil {
			return err
		}
	}
	return nil
}

// insertNames writes a list in statements of up to 200 rows: a list of ten
// thousand names then costs 50 round trips, not ten thousand.
func insertNames(ctx context.Context, tx *db.Tx, orgID, list string, names []string) error {
	const chunk = 200
	for len(names) > 0 {
		n := min(chunk, len(names))
		var sb strings.Builder
		sb.WriteString("INSERT INTO dns_names (org_id, list, name) VALUES ")
		args := make([]any, 0, 3*n)
		for i, name := range names[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, orgID, list, name)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("pdns: insert names: %w", err)
		}
		names = names[n:]
	}
	return nil
}

// deletePolicy removes a policy and its lists.
func deletePolicy(ctx context.Context, tx *db.Tx, orgID string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM dns_policies WHERE org_id = ?", orgID); err != nil {
		return fmt.Errorf("pdns: delete policy: %w", err)
	}
	return nil
}

// egressOwner is another organization's egress network that overlaps one
// being saved.
type egressOwner struct {
	OrgID, OrgName string
	Network        netip.Prefix
	Mine           netip.Prefix
}

// egressConflicts returns the egress networks of other agencies that
// overlap nets. Call it after lockPolicies.
func egressConflicts(ctx context.Context, tx *db.Tx, orgID string, nets []netip.Prefix) ([]egressOwner, error) {
	if len(nets) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT n.org_id, o.name, n.cidr FROM dns_networks n JOIN orgs o ON o.id = n.org_id
		WHERE n.kind = 'egress' AND n.org_id <> ? ORDER BY o.name, n.cidr`, orgID)
	if err != nil {
		return nil, fmt.Errorf("pdns: egress networks: %w", err)
	}
	defer rows.Close()
	var out []egressOwner
	for rows.Next() {
		var o egressOwner
		var cidr string
		if err := rows.Scan(&o.OrgID, &o.OrgName, &cidr); err != nil {
			return nil, fmt.Errorf("pdns: scan egress network: %w", err)
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		for _, n := range nets {
			if n.Overlaps(p) {
				o.Network, o.Mine = p, n
				out = append(out, o)
			}
		}
	}
	return out, rows.Err()
}

const feedColumns = "id, name, source, format, category, interval_seconds, enabled, refresh_seq, created_at, updated_at"

func scanFeed(row interface{ Scan(...any) error }) (Feed, error) {
	var f Feed
	var secs int64
	err := row.Scan(&f.ID, &f.Name, &f.Source, &f.Format, &f.Category, &secs, &f.Enabled, &f.RefreshSeq, (*db.Time)(&f.CreatedAt), (*db.Time)(&f.UpdatedAt))
	f.Interval = time.Duration(secs) * time.Second
	return f, err
}

func listFeeds(ctx context.Context, q db.Queryer) ([]Feed, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+feedColumns+" FROM dns_feeds ORDER BY LOWER(name), id")
	if err != nil {
		return nil, fmt.Errorf("pdns: list feeds: %w", err)
	}
	defer rows.Close()
	var out []Feed
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			return nil, fmt.Errorf("pdns: scan feed: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func getFeed(ctx context.Context, q db.Queryer, feedID string) (Feed, error) {
	f, err := scanFeed(q.QueryRowContext(ctx, "SELECT "+feedColumns+" FROM dns_feeds WHERE id = ?", feedID))
	if errors.Is(err, sql.ErrNoRows) {
		return Feed{}, apperr.NotFoundf("Feed")
	}
	if err != nil {
		return Feed{}, fmt.Errorf("pdns: get feed: %w", err)
	}
	return f, nil
}

func insertFeed(ctx context.Context, tx *db.Tx, f Feed) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO dns_feeds ("+feedColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		f.ID, f.Name, f.Source, f.Format, f.Category, int64(f.Interval/time.Second), f.Enabled, f.RefreshSeq, db.TS(f.CreatedAt), db.TS(f.UpdatedAt))
	if db.IsUniqueViolation(err) {
		return apperr.Validation(map[string]string{"name": fmt.Sprintf("A feed named “%s” exists already; choose another name.", f.Name)})
	}
	if err != nil {
		return fmt.Errorf("pdns: insert feed: %w", err)
	}
	return nil
}

func updateFeed(ctx context.Context, tx *db.Tx, f Feed) error {
	_, err := tx.ExecContext(ctx, "UPDATE dns_feeds SET name = ?, source = ?, format = ?, category = ?, interval_seconds = ?, enabled = ?, refresh_seq = ?, updated_at = ? WHERE id = ?",
		f.Name, f.Source, f.Format, f.Category, int64(f.Interval/time.Second), f.Enabled, f.RefreshSeq, db.TS(f.UpdatedAt), f.ID)
	if db.IsUniqueViolation(err) {
		return apperr.Validation(map[string]string{"name": fmt.Sprintf("A feed named “%s” exists already; choose another name.", f.Name)})
	}
	if err != nil {
		return fmt.Errorf("pdns: update feed: %w", err)
	}
	return nil
}

// listFeedStatus returns what the nodes seen since seenSince know of a
// feed ("" for every feed): a node that stopped long ago no longer counts.
func listFeedStatus(ctx context.Context, q db.Queryer, feedID string, seenSince time.Time) ([]FeedStatus, error) {
	query := `SELECT s.feed_id, s.node_id, n.hostname, s.state, s.entries, s.format, s.reason, s.failures, s.duration_ms,
		s.last_attempt, s.last_success, s.last_change, s.updated_at FROM dns_feed_status s JOIN dns_nodes n ON n.id = s.node_id
		WHERE n.seen_at >= ?`
	args := []any{db.TS(seenSince)}
	if feedID != "" {
		query += " AND s.feed_id = ?"
		args = append(args, feedID)
	}
	rows, err := q.QueryContext(ctx, query+" ORDER BY s.feed_id, n.hostname, s.node_id", args...)
	if err != nil {
		return nil, fmt.Errorf("pdns: feed status: %w", err)
	}
	defer rows.Close()
	var out []FeedStatus
	for rows.Next() {
		var s FeedStatus
		var ms int64
		if err := rows.Scan(&s.FeedID, &s.NodeID, &s.Hostname, &s.State, &s.Entries, &s.Format, &s.Reason, &s.Failures, &ms,
			(*db.Time)(&s.LastAttempt), (*db.Time)(&s.LastSuccess), (*db.Time)(&s.LastChange), (*db.Time)(&s.UpdatedAt)); err != nil {
			return nil, fmt.Errorf("pdns: scan feed status: %w", err)
		}
		s.Duration = time.Duration(ms) * time.Millisecond
		out = append(out, s)
	}
	return out, rows.Err()
}

func listGlobalBlocks(ctx context.Context, q db.Queryer) ([]GlobalBlock, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, name, reason, created_by, created_at FROM dns_global_blocks ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("pdns: list global blocks: %w", err)
	}
	defer rows.Close()
	var out []GlobalBlock
	for rows.Next() {
		var g GlobalBlock
		if err := rows.Scan(&g.ID, &g.Name, &g.Reason, &g.CreatedBy, (*db.Time)(&g.CreatedAt)); err != nil {
			return nil, fmt.Errorf("pdns: scan global block: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// stateRow is the one row of dns_state.
type stateRow struct {
	Version    int64
	Settings   Settings
	DemoOrgID  string
	sinkholeV4 string
	sinkholeV6 string
}

func loadStateRow(ctx context.Context, q db.Queryer) (stateRow, error) {
	var s stateRow
	err := q.QueryRowContext(ctx, "SELECT version, sinkhole_v4, sinkhole_v6, demo_org_id FROM dns_state WHERE id = 1").Scan(&s.Version, &s.sinkholeV4, &s.sinkholeV6, &s.DemoOrgID)
	if err != nil {
		return s, fmt.Errorf("pdns: load state: %w", err)
	}
	s.Settings.SinkholeV4, _ = netip.ParseAddr(s.sinkholeV4)
	s.Settings.SinkholeV6, _ = netip.ParseAddr(s.sinkholeV6)
	return s, nil
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

const nodeColumns = "id, hostname, dns_addr, dot_addr, doh_url, version, policy_version, list_names, started_at, seen_at"

func listNodes(ctx context.Context, q db.Queryer, seenSince time.Time) ([]NodeInfo, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+nodeColumns+" FROM dns_nodes WHERE seen_at >= ? ORDER BY hostname, id", db.TS(seenSince))
	if err != nil {
		return nil, fmt.Errorf("pdns: list nodes: %w", err)
	}
	defer rows.Close()
	var out []NodeInfo
	for rows.Next() {
		var n NodeInfo
		if err := rows.Scan(&n.ID, &n.Hostname, &n.DNSAddr, &n.DoTAddr, &n.DoHURL, &n.Version, &n.PolicyVersion, &n.ListNames,
			(*db.Time)(&n.StartedAt), (*db.Time)(&n.SeenAt)); err != nil {
			return nil, fmt.Errorf("pdns: scan node: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// officeID returns the office organization's ID.
func officeID(ctx context.Context, q db.Queryer) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM orgs WHERE kind = 'office' ORDER BY created_at LIMIT 1").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.NotFoundf("Office organization")
	}
	if err != nil {
		return "", fmt.Errorf("pdns: office id: %w", err)
	}
	return id, nil
}
