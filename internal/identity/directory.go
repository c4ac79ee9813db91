package identity

import (
	"context"
	"fmt"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/db"
)

// Directory answers authz's questions about organizations from the database.
type Directory struct {
	DB *db.DB
}

var _ authz.Directory = (*Directory)(nil)

// OrgInfo returns the organization's kind, status and ancestors in one
// recursive query.
func (d *Directory) OrgInfo(ctx context.Context, orgID string) (authz.OrgInfo, bool, error) {
	rows, err := d.DB.QueryContext(ctx, `WITH RECURSIVE chain(id, kind, status, parent_id, depth) AS (
			SELECT id, kind, status, parent_id, 0 FROM orgs WHERE id = ?
			UNION ALL
			SELECT o.id, o.kind, o.status, o.parent_id, c.depth + 1 FROM orgs o JOIN chain c ON o.id = c.parent_id WHERE c.depth < 16
		) SELECT id, kind, status FROM chain ORDER BY depth`, orgID)
	if err != nil {
		return authz.OrgInfo{}, false, fmt.Errorf("identity: org info: %w", err)
	}
	defer rows.Close()
	var info authz.OrgInfo
	n := 0
	for rows.Next() {
		var id, kind, status string
		if err := rows.Scan(&id, &kind, &status); err != nil {
			return info, false, err
		}
		if n == 0 {
			info = authz.OrgInfo{ID: id, Kind: authz.OrgKind(kind), Active: status == "active"}
		} else {
			info.Ancestors = append(info.Ancestors, id)
		}
		n++
	}
	return info, n > 0, rows.Err()
}

// Descendants returns every organization below orgID.
func (d *Directory) Descendants(ctx context.Context, orgID string) ([]string, error) {
	rows, err := d.DB.QueryContext(ctx, `WITH RECURSIVE below(id, depth) AS (
			SELECT id, 1 FROM orgs WHERE parent_id = ?
			UNION ALL
			SELECT o.id, b.depth + 1 FROM orgs o JOIN below b ON o.parent_id = b.id WHERE b.depth < 16
		) SELECT id FROM below`, orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: descendants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Engaged reports whether provider has an active engagement with agency.
func (d *Directory) Engaged(ctx context.Context, providerID, agencyID string) (bool, error) {
	var n int
	err := d.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM engagements WHERE provider_org_id = ? AND agency_org_id = ? AND ended_at IS NULL`, providerID, agencyID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("identity: engaged: %w", err)
	}
	return n > 0, nil
}

// Engagements returns the agencies a provider actively serves.
func (d *Directory) Engagements(ctx context.Context, providerID string) ([]string, error) {
	rows, err := d.DB.QueryContext(ctx, `SELECT DISTINCT agency_org_id FROM engagements WHERE provider_org_id = ? AND ended_at IS NULL`, providerID)
	if err != nil {
		return nil, fmt.Errorf("identity: engagements: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
